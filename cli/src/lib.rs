//! The `ci-secrets` command line: a thin layer over `ci-secrets-core`.
//!
//! The binary links the providers it ships (see `main.rs`); everything else
//! lives here so that other binaries (such as the end-to-end test binary,
//! which links an extra test provider) run exactly the same code.

pub mod args;
mod commands;
mod id_token_sources;
mod includes;
mod logging;
mod pump;
mod signals;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use tracing::Instrument as _;

use ci_secrets_core::error::{EXIT_INVALID, EXIT_USAGE};
use ci_secrets_provider_api::Registry;

/// Runs the command line with `args` (the program name first) and returns
/// the process exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    // The providers linked into this binary, collected once and passed to
    // every command that needs them.
    let registry = match Registry::collect() {
        Ok(registry) => registry,
        Err(err) => {
            eprintln!("ci-secrets: {err}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let telemetry = logging::init(&cli.global);
    let run_span = logging::run_span(&cli.command);
    let runtime = match runtime_for(&cli.command).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ci-secrets: cannot start the async runtime: {err}");
            return ExitCode::from(ci_secrets_core::error::EXIT_RESOLUTION);
        }
    };
    let code = runtime.block_on(commands::dispatch(cli, &registry).instrument(run_span.clone()));
    // Do not wait for stray blocking tasks (a hung DNS lookup, say).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    // Closes the `run` span and flushes traces, within a bounded time.
    telemetry.finish(run_span, code);
    code
}

/// The async runtime a command runs on. `exec` mostly waits, on the
/// network and then on the command, so it runs on the calling thread: no
/// worker threads to start before the command starts (about 1 ms of CPU
/// less for `exec -- true`), and no wake-up handed from one thread to
/// another. Its output is copied on threads of its own (see `pump`).
/// The other commands keep two workers: `resolve` of a thousand secrets
/// with no network latency is CPU-bound (on both cores it took 15 to 25%
/// less wall time than on one, on a busy machine), the emulator serves connections,
/// `doctor` probes in parallel.
fn runtime_for(command: &args::Command) -> tokio::runtime::Builder {
    match command {
        args::Command::Exec(_) => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
    }
}
