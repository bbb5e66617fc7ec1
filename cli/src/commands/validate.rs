//! `ci-secrets validate`: GitLab's rules and messages, no network.

use std::process::ExitCode;

use ci_secrets_core::error::EXIT_INVALID;
use ci_secrets_gitlab::pipeline::{
    LoadOptions, PipelineError, SkippedInclude, UncheckedJob, load_pipeline_for_job_with,
    load_pipeline_with, load_secrets_file,
};
use ci_secrets_gitlab::validate::{validate_job_secrets, validate_pipeline};
use ci_secrets_gitlab::variables::{VariableSources, ci_cd_variables};
use ci_secrets_provider_api::{HttpSettings, ProviderRegistration, Registry};

use crate::args::{ReportFormat, ValidateArgs};
use crate::includes::{include_source, warn_skipped};

pub fn run(registry: &Registry, args: ValidateArgs) -> ExitCode {
    let mut report = check(registry.as_slice(), &args);
    if args.strict {
        report
            .errors
            .extend(report.unchecked.iter().map(ToString::to_string));
    }
    let valid = report.errors.is_empty();
    match args.format {
        ReportFormat::Json => {
            let unchecked: Vec<serde_json::Value> = report
                .unchecked
                .iter()
                .map(|job| {
                    serde_json::json!({"job": job.job, "needs": job.needs, "skipped_includes": job.skipped})
                })
                .collect();
            let warnings: Vec<String> = report.skipped.iter().map(ToString::to_string).collect();
            let json = serde_json::json!({
                "valid": valid,
                "errors": report.errors,
                "warnings": warnings,
                "unchecked": unchecked,
            });
            println!("{json}");
        }
        ReportFormat::Text => {
            warn_skipped(&report.skipped);
            if !args.strict {
                for job in &report.unchecked {
                    eprintln!("ci-secrets: warning: {job}");
                }
            }
            if valid {
                let what = args
                    .secrets
                    .as_ref()
                    .unwrap_or(&args.ci_file)
                    .display()
                    .to_string();
                let unchecked = match report.unchecked.len() {
                    0 => String::new(),
                    count => format!(" ({count} job(s) unchecked)"),
                };
                eprintln!("{what}: valid{unchecked}");
            } else {
                for error in &report.errors {
                    println!("{error}");
                }
            }
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

/// What validation found.
#[derive(Default)]
struct Report {
    errors: Vec<String>,
    skipped: Vec<SkippedInclude>,
    unchecked: Vec<UncheckedJob>,
}

impl Report {
    fn error(message: String) -> Self {
        Self {
            errors: vec![message],
            ..Self::default()
        }
    }
}

fn check(providers: &[&'static ProviderRegistration], args: &ValidateArgs) -> Report {
    let _span = tracing::info_span!("validate").entered();
    if let Some(path) = &args.secrets {
        return match load_secrets_file(path) {
            Ok(job) => Report {
                errors: job
                    .secrets
                    .as_ref()
                    .map(|secrets| validate_job_secrets(providers, &job.name, secrets))
                    .unwrap_or_default(),
                ..Report::default()
            },
            Err(err) => Report::error(err.to_string()),
        };
    }
    // With `--job`, only that job is expanded and checked.
    // Include paths expand with the CI/CD variables: inside a job, the environment.
    let include_variables = match ci_cd_variables(&VariableSources {
        process_env: true,
        ..VariableSources::default()
    }) {
        Ok(variables) => variables,
        Err(err) => return Report::error(err.to_string()),
    };
    let includes = include_source(&args.includes, HttpSettings::default());
    let options = LoadOptions {
        project_dir: args.project_dir.clone(),
        include_variables,
        includes: Some(includes),
        inputs: args.inputs.iter().cloned().collect(),
        // `validate` checks every job whatever changed: `changes:` holds.
        changed_files: None,
    };
    let loaded = match &args.job {
        None => load_pipeline_with(&args.ci_file, &options),
        Some(name) => load_pipeline_for_job_with(&args.ci_file, &options, name),
    };
    let pipeline = match loaded {
        Ok(pipeline) => pipeline,
        Err(PipelineError::Unchecked { job, .. }) => {
            return Report {
                unchecked: vec![job],
                ..Report::default()
            };
        }
        Err(err) => return Report::error(err.to_string()),
    };
    let errors = match &args.job {
        None => validate_pipeline(providers, &pipeline),
        // The loaded pipeline holds that job alone: GitLab's checks of the
        // pipeline are then the job's.
        Some(name) => match pipeline.job(name) {
            Ok(_) => validate_pipeline(providers, &pipeline),
            Err(err) => vec![err.to_string()],
        },
    };
    Report {
        errors,
        skipped: pipeline.skipped_includes,
        unchecked: pipeline.unchecked,
    }
}
