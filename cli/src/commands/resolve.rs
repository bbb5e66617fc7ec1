//! `ci-secrets resolve`: resolve and print.

use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use ci_secrets_core::deliver::{
    EntryKind, OutputEntry, OutputFormat, SecretFiles, env_text, render, risky_names,
};
use ci_secrets_core::dispatch::ResolvedSecret;
use ci_secrets_core::error::{CoreError, EXIT_RESOLUTION, EXIT_USAGE};
use nix::sys::signal::Signal;

use super::{fail, resolve_under_signals};
use crate::args::{GlobalArgs, ResolveArgs, ResolveFormat};
use crate::signals::{self, Termination};

pub async fn run(global: &GlobalArgs, args: ResolveArgs) -> ExitCode {
    if std::io::stdout().is_terminal() && !args.reveal {
        eprintln!(
            "ci-secrets: refusing to print secret values to a terminal; pipe the output, or pass --reveal"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let (resolution, mut termination) = match resolve_under_signals(global, &args.selection).await {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };

    let format = match args.format {
        ResolveFormat::Json => OutputFormat::Json,
        ResolveFormat::Dotenv => OutputFormat::Dotenv,
        ResolveFormat::Shell => OutputFormat::Shell,
    };
    let deliver = tracing::info_span!(
        "deliver",
        format = ?format,
        secrets = resolution.secrets.len(),
        files = tracing::field::Empty,
        bytes_written = tracing::field::Empty,
    );
    let _deliver = deliver.enter();
    // JSON carries every value itself; the other formats put file secrets on disk.
    let file_secrets: Vec<_> = resolution
        .secrets
        .iter()
        .filter(|secret| secret.file && format != OutputFormat::Json)
        .collect();
    let mut files = None;
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    if !file_secrets.is_empty() {
        let mut created = match files_dir(args.files_dir.as_deref()) {
            Ok(files) => files,
            Err(err) => return fail(&err),
        };
        match write_files(&mut created, &file_secrets) {
            Ok(written) => paths = written,
            Err(err) => return fail(&err),
        }
        files = Some(created);
        deliver.record("files", file_secrets.len());
        deliver.record(
            "bytes_written",
            file_secrets.iter().map(|s| s.value.len()).sum::<usize>(),
        );
    }

    let mut entries = Vec::with_capacity(resolution.secrets.len());
    for secret in &resolution.secrets {
        let entry = match paths.iter().find(|(name, _)| *name == secret.variable) {
            // The path exactly as created, even when it is not UTF-8.
            Some((_, path)) => Ok((path.as_os_str().as_bytes(), EntryKind::FilePath)),
            None => env_text(secret).map(|text| (text.as_bytes(), EntryKind::Value)),
        };
        match entry {
            Ok((text, kind)) => entries.push(OutputEntry {
                name: &secret.variable,
                text,
                kind,
            }),
            Err(err) => {
                if let Some(files) = files.as_mut() {
                    files.discard();
                }
                return fail(&CoreError::from(err));
            }
        }
    }
    let output = match render(format, &entries) {
        Ok(output) => output,
        Err(err) => {
            if let Some(files) = files.as_mut() {
                files.discard();
            }
            return fail(&CoreError::from(err));
        }
    };
    if let Err(failure) = print_unless_signalled(output, &mut termination).await {
        if let Some(files) = files.as_mut() {
            files.discard();
        }
        return match failure {
            PrintFailure::Signalled(signal) => signals::exit_code(signal),
            PrintFailure::Write(err) => {
                eprintln!("ci-secrets: cannot write the output: {err}");
                ExitCode::from(EXIT_RESOLUTION)
            }
        };
    }
    if let Some(files) = files {
        files.keep();
    }
    ExitCode::SUCCESS
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
    output: zeroize::Zeroizing<Vec<u8>>,
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

/// `--files-dir`, else `$RUNNER_TEMP_PROJECT_DIR`, else a new private
/// directory (memory-backed where possible) that outlives this process.
fn files_dir(explicit: Option<&std::path::Path>) -> Result<SecretFiles, CoreError> {
    let runner_temp = std::env::var_os("RUNNER_TEMP_PROJECT_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    let files = match explicit.map(std::path::Path::to_path_buf).or(runner_temp) {
        Some(dir) => SecretFiles::existing(&dir)?,
        None => SecretFiles::persistent_new(None)?,
    };
    tracing::info!(dir = %files.dir().display(), "writing secret files");
    Ok(files)
}

/// Writes the file secrets; on failure nothing of this run stays on disk.
fn write_files(
    files: &mut SecretFiles,
    secrets: &[&ResolvedSecret],
) -> Result<Vec<(String, PathBuf)>, CoreError> {
    let written = files.write_all(
        secrets
            .iter()
            .map(|secret| (secret.variable.as_str(), &secret.value)),
    );
    match written {
        Ok(paths) => Ok(secrets
            .iter()
            .zip(paths)
            .map(|(secret, path)| (secret.variable.clone(), path))
            .collect()),
        Err(err) => {
            files.discard();
            Err(err.into())
        }
    }
}
