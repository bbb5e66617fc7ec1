//! `ci-secrets migrate`: the pipeline logic is `ci_secrets_gitlab::migrate`
//! (plan, proof, write); this is the command line around it.

use std::process::ExitCode;

use ci_secrets_core::error::EXIT_INVALID;
use ci_secrets_gitlab::migrate::{self, MigrateOptions, Migration, ScriptShell, Style};
use ci_secrets_gitlab::pipeline::{LoadOptions, load_pipeline_with, project_dir_of};
use ci_secrets_gitlab::variables::{VariableSources, ci_cd_variables};
use ci_secrets_provider_api::{HttpSettings, Registry};

use crate::args::{MigrateArgs, MigrateShell, MigrateStyle, ReportFormat};
use crate::includes::{include_source, warn_skipped};

/// Exit status of `--check` when something would change.
const EXIT_WOULD_CHANGE: u8 = 1;

pub fn run(registry: &Registry, args: MigrateArgs) -> ExitCode {
    match migrate(registry, &args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ci-secrets: {message}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn migrate(registry: &Registry, args: &MigrateArgs) -> Result<ExitCode, String> {
    // Include paths expand with the CI/CD variables, as in `validate`.
    let include_variables = ci_cd_variables(&VariableSources {
        process_env: true,
        ..VariableSources::default()
    })
    .map_err(|err| err.to_string())?;
    let project_dir = args
        .project_dir
        .clone()
        .unwrap_or_else(|| project_dir_of(&args.ci_file));
    let load = LoadOptions {
        project_dir: Some(project_dir.clone()),
        include_variables,
        includes: Some(include_source(&args.includes, HttpSettings::default())),
        inputs: args.inputs.iter().cloned().collect(),
        changed_files: None,
    };
    let pipeline = load_pipeline_with(&args.ci_file, &load).map_err(|err| err.to_string())?;
    warn_skipped(&pipeline.skipped_includes);
    if let Some(job) = pipeline.unchecked.first() {
        return Err(format!(
            "{job}; migrate needs every job (fetch the includes, or drop --offline)"
        ));
    }
    let options = MigrateOptions {
        providers: args.providers.clone(),
        out_dir: args.out_dir.clone(),
        style: match args.style {
            MigrateStyle::Exec => Style::Exec,
            MigrateStyle::Shell => Style::Shell,
        },
        shell: match args.shell {
            MigrateShell::Sh => ScriptShell::Sh,
            MigrateShell::Bash => ScriptShell::Bash,
        },
        command: args.command.clone(),
    };
    let migration =
        migrate::plan(&pipeline, &project_dir, &options).map_err(|err| err.to_string())?;
    migrate::verify(
        &pipeline,
        &migration,
        &args.ci_file,
        &load,
        registry.as_slice(),
    )
    .map_err(|err| err.to_string())?;
    for warning in &migration.warnings {
        eprintln!("ci-secrets: warning: {warning}");
    }
    let written = if args.check || migration.is_empty() {
        Vec::new()
    } else {
        migrate::write(&migration).map_err(|err| err.to_string())?
    };
    match args.format {
        ReportFormat::Json => println!("{}", json_report(&migration, args.check)),
        ReportFormat::Text => print!("{}", text_report(&migration, args.check)),
    }
    if args.show {
        for file in &migration.edited {
            println!("--- {}\n{}", file.relative.display(), file.new);
        }
        for file in &migration.secrets_files {
            println!("--- {}\n{}", file.relative.display(), file.text);
        }
    }
    if !args.check && !written.is_empty() && !args.format.eq(&ReportFormat::Json) {
        eprintln!("ci-secrets: wrote {} file(s)", written.len());
    }
    Ok(if args.check && !migration.is_empty() {
        ExitCode::from(EXIT_WOULD_CHANGE)
    } else {
        ExitCode::SUCCESS
    })
}

fn text_report(migration: &Migration, check: bool) -> String {
    if migration.is_empty() {
        return "nothing to migrate\n".to_owned();
    }
    let (edit, write) = if check {
        ("would edit", "would write")
    } else {
        ("edited", "wrote")
    };
    let mut out = String::new();
    for job in &migration.jobs {
        let (file, line) = &job.script_at;
        let owner = if job.script_owner == job.job {
            String::new()
        } else {
            format!(" of {}", job.script_owner)
        };
        out.push_str(&format!(
            "job {}: {} -> {} (script:{owner} at {}:{line}){}\n",
            job.job,
            job.moved.join(", "),
            job.secrets_file.display(),
            file.display(),
            if job.kept.is_empty() {
                String::new()
            } else {
                format!("; stays for GitLab: {}", job.kept.join(", "))
            }
        ));
    }
    for file in &migration.edited {
        out.push_str(&format!("{edit} {}\n", file.relative.display()));
    }
    for file in &migration.secrets_files {
        out.push_str(&format!("{write} {}\n", file.relative.display()));
    }
    out
}

fn json_report(migration: &Migration, check: bool) -> serde_json::Value {
    let jobs: Vec<serde_json::Value> = migration
        .jobs
        .iter()
        .map(|job| {
            serde_json::json!({
                "job": job.job,
                "secrets_file": job.secrets_file,
                "moved": job.moved,
                "kept": job.kept,
                "script_owner": job.script_owner,
                "script_file": job.script_at.0,
                "script_line": job.script_at.1,
            })
        })
        .collect();
    let secrets_files: Vec<serde_json::Value> = migration
        .secrets_files
        .iter()
        .map(|file| serde_json::json!({"path": file.relative, "jobs": file.jobs}))
        .collect();
    let edited: Vec<_> = migration.edited.iter().map(|file| &file.relative).collect();
    serde_json::json!({
        "changed": !migration.is_empty(),
        "written": !check && !migration.is_empty(),
        "jobs": jobs,
        "edited": edited,
        "secrets_files": secrets_files,
        "warnings": migration.warnings,
    })
}
