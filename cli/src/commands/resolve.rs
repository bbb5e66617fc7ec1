//! `ci-secrets resolve`: resolve and print.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_secrets_core::deliver::{DeliveryMode, OutputFormat, prepare, risky_names};
use ci_secrets_core::dispatch::ResolvedSecret;
use ci_secrets_core::error::{CoreError, EXIT_RESOLUTION, EXIT_USAGE};
use nix::sys::signal::Signal;
use zeroize::Zeroizing;

use ci_secrets_provider_api::Registry;

use super::{fail, resolve_under_signals};
use crate::args::{GlobalArgs, ResolveArgs, ResolveFormat};
use crate::signals::{self, Termination};

pub async fn run(global: &GlobalArgs, registry: &Registry, args: ResolveArgs) -> ExitCode {
    if std::io::stdout().is_terminal() && !args.reveal {
        eprintln!(
            "ci-secrets: refusing to print secret values to a terminal; pipe the output, or pass --reveal"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let (resolution, mut termination) =
        match resolve_under_signals(global, registry, &args.selection).await {
            Ok(resolved) => resolved,
            Err(code) => return code,
        };

    let format = match args.format {
        ResolveFormat::Json => OutputFormat::Json,
        ResolveFormat::Dotenv => OutputFormat::Dotenv,
        ResolveFormat::Shell => OutputFormat::Shell,
        ResolveFormat::GitlabDotenv => OutputFormat::GitlabDotenv,
    };
    let mode = DeliveryMode::Print {
        format,
        files_dir: files_dir(args.files_dir.as_deref()),
    };
    let mut delivery = match prepare(&resolution.secrets, &mode) {
        Ok(delivery) => delivery,
        Err(err) => return fail(&CoreError::from(err)),
    };
    drop(resolution);
    // Dropped uncommitted on any failure below, which removes the files:
    // output cut short names files nobody will use.
    match print_unless_signalled(delivery.take_output(), &mut termination).await {
        Ok(()) => {
            delivery.commit();
            ExitCode::SUCCESS
        }
        Err(PrintFailure::Signalled(signal)) => signals::exit_code(signal),
        Err(PrintFailure::Write(err)) => {
            eprintln!("ci-secrets: cannot write the output: {err}");
            ExitCode::from(EXIT_RESOLUTION)
        }
    }
}

/// Warns, for `resolve` and `exec` alike, about each secret whose name
/// changes how a shell, the loader or an interpreter runs. Printed even with
/// `--quiet`: it is about what the job will do, not about progress.
pub(super) fn warn_risky_names(secrets: &[ResolvedSecret]) {
    for risky in risky_names(secrets) {
        eprintln!("ci-secrets: warning: {risky}");
    }
}

/// Why the output was not printed whole.
enum PrintFailure {
    Signalled(Signal),
    Write(std::io::Error),
}

/// Prints the output, unless a signal comes first (before or while the
/// write waits on a reader that does not read): the caller then removes the
/// files, since output cut short names files nobody will use. The write
/// runs on a blocking thread so that the signal is seen while it waits; a
/// write still blocked is abandoned when the process exits.
async fn print_unless_signalled(
    output: Zeroizing<Vec<u8>>,
    termination: &mut Termination,
) -> Result<(), PrintFailure> {
    if let Some(signal) = termination.received() {
        return Err(PrintFailure::Signalled(signal));
    }
    let write = tokio::task::spawn_blocking(move || {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&output).and_then(|()| stdout.flush())
    });
    tokio::select! {
        // A signal that arrives together with the end of the write still counts.
        biased;
        signal = termination.next() => Err(PrintFailure::Signalled(signal)),
        written = write => match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(PrintFailure::Write(err)),
            Err(join) => Err(PrintFailure::Write(std::io::Error::other(join))),
        },
    }
}

/// `--files-dir`, else `$RUNNER_TEMP_PROJECT_DIR`; without either, the
/// delivery makes a new private directory that outlives this process.
fn files_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("RUNNER_TEMP_PROJECT_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
    })
}
