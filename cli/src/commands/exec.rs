//! `ci-secrets exec`: resolve, then run a command with the secrets in its
//! environment. The command never starts when resolution fails; file
//! secrets live in a private directory removed when the command ends;
//! signals are forwarded; the exit status is the command's.

use std::process::{ExitCode, Stdio};

use std::time::Duration;

use ci_secrets_core::deliver::{SecretFiles, env_text};
use ci_secrets_core::error::{CoreError, EXIT_RESOLUTION};
use ci_secrets_core::mask::{MaskSet, StreamMasker};
use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};
use tracing::Instrument;

use ci_secrets_telemetry::traceparent_of;

use super::{fail, prepare, resolve_job};
use crate::args::{ExecArgs, GlobalArgs};

pub async fn run(global: &GlobalArgs, args: ExecArgs) -> ExitCode {
    let prepared = match prepare(global, &args.selection) {
        Ok(prepared) => prepared,
        Err(err) => return fail(&err),
    };
    let resolution = match resolve_job(global, &prepared).await {
        Ok(resolution) => resolution,
        Err(code) => return code,
    };

    let file_secrets: Vec<_> = resolution.secrets.iter().filter(|s| s.file).collect();
    let deliver = tracing::info_span!(
        "deliver",
        secrets = resolution.secrets.len(),
        files = file_secrets.len(),
        bytes_written = file_secrets.iter().map(|s| s.value.len()).sum::<usize>(),
    );
    let deliver_guard = deliver.enter();
    // Dropped at the end of this function, which removes the directory.
    let mut files = None;
    let mut env: Vec<(String, std::ffi::OsString)> = Vec::new();
    if !file_secrets.is_empty() {
        let mut created = match SecretFiles::ephemeral(None) {
            Ok(files) => files,
            Err(err) => return fail(&CoreError::from(err)),
        };
        tracing::info!(dir = %created.dir().display(), "secret files for the command");
        match created.write_all(file_secrets.iter().map(|s| (s.variable.as_str(), &s.value))) {
            Ok(paths) => {
                for (secret, path) in file_secrets.iter().zip(paths) {
                    env.push((secret.variable.clone(), path.into_os_string()));
                }
            }
            Err(err) => return fail(&CoreError::from(err)),
        }
        files = Some(created);
    }
    for secret in resolution.secrets.iter().filter(|s| !s.file) {
        match env_text(secret) {
            Ok(text) => env.push((secret.variable.clone(), text.into())),
            Err(err) => return fail(&CoreError::from(err)),
        }
    }
    drop(deliver_guard);
    let masks = if args.no_mask {
        None
    } else {
        let (masks, warnings) = MaskSet::new(
            resolution
                .secrets
                .iter()
                .map(|s| (s.variable.as_str(), s.value.expose_bytes())),
        );
        for warning in warnings {
            eprintln!("ci-secrets: warning: {warning}");
        }
        Some(masks).filter(|masks| !masks.is_empty())
    };
    drop(resolution);

    let Some((program, rest)) = args.command.split_first() else {
        eprintln!("ci-secrets: exec needs a command after --");
        return ExitCode::from(ci_secrets_core::error::EXIT_USAGE);
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(rest)
        .envs(env)
        .stdin(Stdio::inherit())
        .kill_on_drop(true);
    if masks.is_some() {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    }
    // Listen before spawning, so no signal slips between the two.
    let signals = match Signals::listen() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("ci-secrets: cannot install signal handlers: {err}");
            return ExitCode::from(EXIT_RESOLUTION);
        }
    };
    let span = tracing::info_span!("exec", program = %program.to_string_lossy());
    // The command's own traces nest under ours.
    if let Some(traceparent) = traceparent_of(&span) {
        command.env("TRACEPARENT", traceparent);
    }
    let spawned = span.in_scope(|| command.spawn());
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            eprintln!(
                "ci-secrets: cannot run {}: {err}",
                program.to_string_lossy()
            );
            return ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    let pumps = masks.map(|masks| {
        let stdout = child
            .stdout
            .take()
            .map(|out| tokio::spawn(masked_copy(out, tokio::io::stdout(), masks.stream())));
        let stderr = child
            .stderr
            .take()
            .map(|err| tokio::spawn(masked_copy(err, tokio::io::stderr(), masks.stream())));
        [stdout, stderr]
    });
    let status = signals.wait_forwarding(&mut child).instrument(span).await;
    drop(files);
    // The child is gone; give the pipes a moment to drain (a background
    // grandchild may hold them open forever).
    for pump in pumps.into_iter().flatten().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
    }
    match status {
        Ok(status) => exit_code_of(status),
        Err(err) => {
            eprintln!("ci-secrets: waiting for the command failed: {err}");
            ExitCode::from(EXIT_RESOLUTION)
        }
    }
}

/// How long the child may be silent before held-back output is flushed.
const PAUSE: Duration = Duration::from_millis(25);

/// Copies a child's stream, masking secrets. Output is flushed whenever the
/// child pauses, so prompts and progress appear without delay.
async fn masked_copy(
    mut reader: impl AsyncRead + Unpin,
    mut writer: impl AsyncWrite + Unpin,
    mut masker: StreamMasker,
) -> std::io::Result<()> {
    let mut buffer = zeroize::Zeroizing::new(vec![0u8; 16 * 1024]);
    let mut waiting = false;
    loop {
        let read = if waiting {
            match tokio::time::timeout(PAUSE, reader.read(&mut buffer)).await {
                Ok(read) => read,
                Err(_) => {
                    waiting = false;
                    writer.write_all(&masker.flush_pause()).await?;
                    writer.flush().await?;
                    continue;
                }
            }
        } else {
            reader.read(&mut buffer).await
        };
        let count = read?;
        if count == 0 {
            writer.write_all(&masker.finish()).await?;
            writer.flush().await?;
            return Ok(());
        }
        writer.write_all(&masker.feed(&buffer[..count])).await?;
        writer.flush().await?;
        waiting = true;
    }
}

/// SIGINT, SIGTERM and SIGHUP, caught so that they reach the child and we
/// live on to remove the secret files.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the child, passing each caught signal on to it.
    async fn wait_forwarding(
        mut self,
        child: &mut tokio::process::Child,
    ) -> std::io::Result<std::process::ExitStatus> {
        loop {
            let forwarded = tokio::select! {
                status = child.wait() => return status,
                _ = self.interrupt.recv() => Signal::SIGINT,
                _ = self.terminate.recv() => Signal::SIGTERM,
                _ = self.hangup.recv() => Signal::SIGHUP,
            };
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                tracing::info!(signal = %forwarded, "forwarding signal to the command");
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), forwarded);
            }
        }
    }
}

/// The child's exit code, or 128 + the signal that killed it (shell convention).
fn exit_code_of(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return ExitCode::from(code as u8);
    }
    let signal = status.signal().unwrap_or(0);
    ExitCode::from((128 + signal) as u8)
}
