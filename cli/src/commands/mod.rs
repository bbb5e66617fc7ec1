//! One module per subcommand.

mod config;
mod demo;
mod doctor;
mod emulator;
mod exec;
mod manual;
mod migrate;
mod plan;
mod providers;
mod resolve;
mod validate;

use std::process::ExitCode;

use ci_secrets_core::config::{ConfigSources, LoadedConfig};
use ci_secrets_core::engine::JobSource;
use ci_secrets_core::error::{CoreError, EXIT_RESOLUTION};
use ci_secrets_gitlab::variables::VariableSources;
use ci_secrets_provider_api::Registry;
use tokio_util::sync::CancellationToken;

use ci_secrets_telemetry::{GitLabSection, TerminalProgress};

use crate::args::{Cli, Command, GlobalArgs, LogFormat, SelectionArgs};
use crate::includes::{include_source, warn_skipped};
use crate::signals::{self, Termination};

/// Runs one command. `registry` holds the providers linked into this
/// binary, collected once; every command that needs them gets it from here.
pub async fn dispatch(cli: Cli, registry: &Registry) -> ExitCode {
    let global = cli.global;
    match cli.command {
        Command::Resolve(args) => resolve::run(&global, registry, args).await,
        Command::Exec(args) => exec::run(&global, registry, args).await,
        Command::Validate(args) => validate::run(registry, args),
        Command::Plan(args) => plan::run(&global, registry, args),
        Command::Migrate(args) => migrate::run(registry, args),
        Command::Doctor(args) => doctor::run(&global, registry, args).await,
        Command::Providers(args) => providers::run(registry, args),
        Command::Config(args) => config::run(&global, args),
        Command::Emulator(args) => emulator::run(args).await,
        Command::Demo => demo::run(&global, registry).await,
        Command::Completions(args) => manual::completions(&args),
        Command::Man => manual::man(),
    }
}

/// Prints an error and returns its exit status.
pub fn fail(err: &CoreError) -> ExitCode {
    eprintln!("ci-secrets: {err}");
    ExitCode::from(err.exit_code())
}

/// What `resolve` and `exec` share: the job, variables, config and a
/// cancellation token tied to Ctrl-C.
pub struct Prepared {
    pub source: JobSource,
    pub variables: VariableSources,
    pub config: LoadedConfig,
    pub cancel: CancellationToken,
}

pub fn prepare(global: &GlobalArgs, selection: &SelectionArgs) -> Result<Prepared, CoreError> {
    let variables = VariableSources {
        cli: VariableSources::parse_cli_vars(&selection.vars)?,
        env_file: selection.env_file.clone(),
        process_env: true,
        id_token_source: crate::id_token_sources::detect(
            selection.id_token_command.as_deref(),
            &|name| std::env::var(name).ok(),
        ),
        mint_id_tokens: true,
    };
    let mut flags = Vec::new();
    if let Some(deadline) = selection.deadline {
        flags.push(("deadline_seconds".to_string(), serde_json::json!(deadline)));
    }
    if selection.strict {
        flags.push(("strict".to_string(), serde_json::json!(true)));
    }
    let config = LoadedConfig::load(&ConfigSources {
        explicit: global.config.clone(),
        flags,
        ..ConfigSources::default()
    })?;
    let source = match &selection.secrets {
        Some(path) => JobSource::SecretsFile { path: path.clone() },
        None => JobSource::CiFile {
            path: selection.ci_file.clone(),
            // clap requires --job unless --secrets is given.
            job: selection.job.clone().unwrap_or_default(),
            project_dir: selection.project_dir.clone(),
            changes_base: selection.changes_base.clone(),
            inputs: selection.inputs.iter().cloned().collect(),
            includes: Some(include_source(&selection.includes, config.http_settings()?)),
        },
    };
    Ok(Prepared {
        source,
        variables,
        config,
        cancel: CancellationToken::new(),
    })
}

/// Installs the handlers of every terminating signal, then resolves the
/// selected job with them as its cancellation. From before anything is
/// resolved or written, a signal ends the run through the caller's clean-up
/// paths (never abruptly) and becomes its exit code; the providers still
/// release what they acquired.
pub async fn resolve_under_signals(
    global: &GlobalArgs,
    registry: &Registry,
    selection: &SelectionArgs,
) -> Result<(ci_secrets_core::Resolution, Termination), ExitCode> {
    let termination = Termination::install().map_err(|err| {
        eprintln!("ci-secrets: cannot install signal handlers: {err}");
        ExitCode::from(EXIT_RESOLUTION)
    })?;
    let mut prepared = prepare(global, selection).map_err(|err| fail(&err))?;
    prepared.cancel = termination.cancellation().clone();
    let resolution = resolve_job(global, registry, &prepared)
        .await
        .map_err(|code| termination.received().map_or(code, signals::exit_code))?;
    if let Some(signal) = termination.received() {
        return Err(signals::exit_code(signal));
    }
    Ok((resolution, termination))
}

/// Resolves the prepared job. Inside GitLab the diagnostics go into a
/// collapsible job-log section, closed before any error or child output.
pub async fn resolve_job(
    global: &GlobalArgs,
    registry: &Registry,
    prepared: &Prepared,
) -> Result<ci_secrets_core::Resolution, ExitCode> {
    let section = if global.quiet {
        None
    } else {
        GitLabSection::open_in_gitlab("ci-secrets: resolving secrets")
    };
    let outcome = ci_secrets_core::engine::resolve_with_progress(
        registry.as_slice(),
        &prepared.source,
        &prepared.variables,
        &prepared.config,
        prepared.cancel.clone(),
        TerminalProgress::for_run(!global.quiet),
    )
    .await;
    match outcome {
        Ok(resolution) => {
            print_summary(global, &resolution);
            drop(section);
            resolve::warn_risky_names(&resolution.secrets);
            warn_skipped(&resolution.skipped_includes);
            // Printed even with `--quiet`: a secret read from another path.
            for unset in &resolution.unset_variables {
                eprintln!("ci-secrets: warning: job {}, {unset}", resolution.job);
            }
            for warning in &resolution.rule_warnings {
                eprintln!("ci-secrets: warning: {warning}");
            }
            Ok(resolution)
        }
        Err(err) => {
            drop(section);
            Err(fail(&err))
        }
    }
}

/// Prints the run summary on stderr, unless quiet; as a JSON record with
/// `--log-format json`, for log shippers.
fn print_summary(global: &GlobalArgs, resolution: &ci_secrets_core::Resolution) {
    if global.quiet {
        return;
    }
    match global.log_format {
        LogFormat::Text => eprintln!("{}", resolution.summary()),
        LogFormat::Json => {
            let metrics = resolution.metrics;
            let timestamp = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let record = serde_json::json!({
                "timestamp": timestamp,
                "level": "INFO",
                "target": "ci_secrets::summary",
                "fields": {
                    "message": resolution.summary(),
                    "job": resolution.job,
                    "secrets": resolution.secrets.len(),
                    "providers": resolution.providers,
                    "elapsed_ms": resolution.elapsed.as_millis() as u64,
                    "logins": metrics.logins,
                    "api_calls": metrics.api_calls,
                    "retries": metrics.retries,
                },
            });
            eprintln!("{record}");
        }
    }
}
