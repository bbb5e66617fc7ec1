//! `ci-secrets providers`: what this binary can resolve.

use std::process::ExitCode;

use ci_secrets_provider_api::Registry;

use crate::args::{FormatArgs, ReportFormat};

pub fn run(registry: &Registry, args: FormatArgs) -> ExitCode {
    let providers = registry.as_slice();
    match args.format {
        ReportFormat::Json => {
            let list: Vec<_> = providers
                .iter()
                .map(|registration| {
                    serde_json::json!({
                        "key": registration.key,
                        "description": registration.description,
                        "forms": {
                            "map": registration.forms.map,
                            "string": registration.forms.string,
                            "null": registration.forms.null,
                        },
                        "keys": registration.keys.iter().map(|key| serde_json::json!({
                            "name": key.name,
                            "type": key.key_type.as_str(),
                            "doc": key.doc,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
        }
        ReportFormat::Text => {
            for registration in providers {
                println!("{}: {}", registration.key, registration.description);
                for key in registration.keys {
                    println!(
                        "  {:<28} {:<8} {}",
                        key.name,
                        key.key_type.as_str(),
                        key.doc
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}
