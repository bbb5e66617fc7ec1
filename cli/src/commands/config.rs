//! `ci-secrets config`: the effective configuration with the origin of each value.

use std::process::ExitCode;

use ci_secrets_core::config::{ConfigSources, LoadedConfig};

use super::fail;
use crate::args::{FormatArgs, GlobalArgs, ReportFormat};

pub fn run(global: &GlobalArgs, args: FormatArgs) -> ExitCode {
    let loaded = match LoadedConfig::load(&ConfigSources {
        explicit: global.config.clone(),
        ..ConfigSources::default()
    }) {
        Ok(loaded) => loaded,
        Err(err) => return fail(&err.into()),
    };
    let entries = loaded.describe();
    match args.format {
        ReportFormat::Json => {
            let list: Vec<_> = entries
                .iter()
                .map(|(key, value, origin)| {
                    serde_json::json!({"key": key, "value": value, "origin": origin})
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
        }
        ReportFormat::Text => {
            for (key, value, origin) in &entries {
                println!("{key} = {value}    # {origin}");
            }
        }
    }
    ExitCode::SUCCESS
}
