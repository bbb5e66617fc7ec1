//! `ci-secrets validate`: GitLab's rules and messages, no network.

use std::process::ExitCode;

use ci_secrets_core::error::EXIT_INVALID;
use ci_secrets_gitlab::pipeline::{
    LoadOptions, load_pipeline_for_job_with, load_pipeline_with, load_secrets_file,
};
use ci_secrets_gitlab::validate::{validate_job_secrets, validate_pipeline};
use ci_secrets_gitlab::variables::{VariableSources, ci_cd_variables};
use ci_secrets_provider_api::{ProviderRegistration, Registry};

use crate::args::{ReportFormat, ValidateArgs};

pub fn run(registry: &Registry, args: ValidateArgs) -> ExitCode {
    let errors = collect_errors(registry.as_slice(), &args);
    match args.format {
        ReportFormat::Json => {
            let report = serde_json::json!({"valid": errors.is_empty(), "errors": errors});
            println!("{report}");
        }
        ReportFormat::Text => {
            if errors.is_empty() {
                let what = args
                    .secrets
                    .as_ref()
                    .unwrap_or(&args.ci_file)
                    .display()
                    .to_string();
                eprintln!("{what}: valid");
            } else {
                for error in &errors {
                    println!("{error}");
                }
            }
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

fn collect_errors(providers: &[&'static ProviderRegistration], args: &ValidateArgs) -> Vec<String> {
    let _span = tracing::info_span!("validate").entered();
    if let Some(path) = &args.secrets {
        return match load_secrets_file(path) {
            Ok(job) => job
                .secrets
                .as_ref()
                .map(|secrets| validate_job_secrets(providers, &job.name, secrets))
                .unwrap_or_default(),
            Err(err) => vec![err.to_string()],
        };
    }
    // With `--job`, only that job is expanded and checked.
    // Include paths expand with the CI/CD variables: inside a job, the environment.
    let include_variables = match ci_cd_variables(&VariableSources {
        process_env: true,
        ..VariableSources::default()
    }) {
        Ok(variables) => variables,
        Err(err) => return vec![err.to_string()],
    };
    let options = LoadOptions {
        project_dir: args.project_dir.clone(),
        include_variables,
        inputs: args.inputs.iter().cloned().collect(),
    };
    let loaded = match &args.job {
        None => load_pipeline_with(&args.ci_file, &options),
        Some(name) => load_pipeline_for_job_with(&args.ci_file, &options, name),
    };
    let pipeline = match loaded {
        Ok(pipeline) => pipeline,
        Err(err) => return vec![err.to_string()],
    };
    match &args.job {
        None => validate_pipeline(providers, &pipeline),
        Some(name) => match pipeline.job(name) {
            Ok(job) => job
                .secrets
                .as_ref()
                .map(|secrets| validate_job_secrets(providers, &job.name, secrets))
                .unwrap_or_default(),
            Err(err) => vec![err.to_string()],
        },
    }
}
