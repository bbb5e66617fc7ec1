//! `ci-secrets exec`: resolve, then run a command with the secrets in its
//! environment. The command never starts when resolution fails or a signal
//! came first; file secrets live in a private directory removed when the
//! command ends; signals are forwarded; the exit status is the command's.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::process::{ExitCode, Stdio};

use ci_secrets_core::deliver::{DeliveryMode, prepare};
use ci_secrets_core::error::{CoreError, EXIT_RESOLUTION};
use ci_secrets_core::mask::MaskSet;
use nix::sys::signal::Signal;
use tracing::Instrument;

use ci_secrets_telemetry::traceparent_of;

use ci_secrets_provider_api::Registry;

use super::{fail, resolve_under_signals};
use crate::args::{ExecArgs, GlobalArgs};
use crate::pump::{ExitNotice, Pump, Stream, write_turns};
use crate::signals::{self, Termination};

pub async fn run(global: &GlobalArgs, registry: &Registry, args: ExecArgs) -> ExitCode {
    let (resolution, mut termination) =
        match resolve_under_signals(global, registry, &args.selection).await {
            Ok(resolved) => resolved,
            Err(code) => return code,
        };

    // Dropped at the end of this function, which removes the secret files.
    let delivery = match prepare(&resolution.secrets, &DeliveryMode::Environment) {
        Ok(delivery) => delivery,
        Err(err) => return fail(&CoreError::from(err)),
    };
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

    if let Some(signal) = termination.received() {
        // Signalled while the files were written or the masker was built:
        // the command never starts, and `delivery` is dropped (its files removed) here.
        return signals::exit_code(signal);
    }

    let Some((program, rest)) = args.command.split_first() else {
        eprintln!("ci-secrets: exec needs a command after --");
        return ExitCode::from(ci_secrets_core::error::EXIT_USAGE);
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(rest)
        .envs(
            delivery
                .environment()
                .iter()
                .map(|var| (var.name(), var.value())),
        )
        .stdin(Stdio::inherit())
        .kill_on_drop(true);
    let group = ProcessGroup::for_stdin();
    if group == ProcessGroup::Own {
        command.process_group(0);
    }
    if masks.is_some() {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    }
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
    let mut copies = match masks
        .map(|masks| Copies::start(&mut child, &masks))
        .transpose()
    {
        Ok(copies) => copies,
        Err(err) => {
            eprintln!("ci-secrets: cannot copy the command's output: {err}");
            let _ = child.start_kill();
            let _ = child.wait().await;
            return ExitCode::from(EXIT_RESOLUTION);
        }
    };
    let status = wait_forwarding(&mut termination, &mut child, group)
        .instrument(span)
        .await;
    drop(delivery); // the command has ended: its files go now, not after the output copy
    if let Some(copies) = copies.as_mut() {
        copies.notice.command_exited();
    }
    if let Some(copies) = copies {
        copies.finish().await;
    }
    match status {
        Ok(status) => exit_code_of(status),
        Err(err) => {
            eprintln!("ci-secrets: waiting for the command failed: {err}");
            ExitCode::from(EXIT_RESOLUTION)
        }
    }
}

/// The masked copies of the command's stdout and stderr.
struct Copies {
    notice: ExitNotice,
    pumps: Vec<(Stream, Pump)>,
}

impl Copies {
    fn start(child: &mut tokio::process::Child, masks: &MaskSet) -> std::io::Result<Self> {
        let stdout = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
        let stderr = std::fs::File::from(std::io::stderr().as_fd().try_clone_to_owned()?);
        let [stdout_turns, stderr_turns] = write_turns(&stdout, &stderr);
        let notice = ExitNotice::new()?;
        let mut pumps = Vec::with_capacity(2);
        if let Some(pipe) = child.stdout.take() {
            let pump = Pump::start(
                Stream::Stdout,
                pipe.into_owned_fd()?,
                stdout,
                masks.stream(),
                stdout_turns,
                &notice,
            )?;
            pumps.push((Stream::Stdout, pump));
        }
        if let Some(pipe) = child.stderr.take() {
            let pump = Pump::start(
                Stream::Stderr,
                pipe.into_owned_fd()?,
                stderr,
                masks.stream(),
                stderr_turns,
                &notice,
            )?;
            pumps.push((Stream::Stderr, pump));
        }
        Ok(Self { notice, pumps })
    }

    /// Waits until every stream is copied to its end.
    async fn finish(self) {
        let Self { notice, pumps } = self;
        let joined = tokio::task::spawn_blocking(move || {
            pumps
                .into_iter()
                .map(|(stream, pump)| (stream, pump.join()))
                .collect::<Vec<_>>()
        })
        .await;
        drop(notice);
        for (stream, outcome) in joined.unwrap_or_default() {
            match outcome {
                Ok(()) => {}
                // Our reader went away: the command saw its pipe close, as in a shell pipeline.
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(err) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "ci-secrets: copying the command's {} failed: {err}",
                        stream.name()
                    );
                }
            }
        }
    }
}

/// Which process group the command runs in.
///
/// In CI (stdin is not a terminal) the command leads a group of its own, so
/// that a signal we pass on reaches everything it started, and no
/// background process keeps running with the secrets after it. When stdin
/// is a terminal the command stays in ours, which is the terminal's
/// foreground group: a command in another group could not read the terminal
/// (it would be stopped by SIGTTIN), and the terminal's own Ctrl-C already
/// reaches every process of the foreground group, grandchildren included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcessGroup {
    Own,
    Shared,
}

impl ProcessGroup {
    fn for_stdin() -> Self {
        if std::io::stdin().is_terminal() {
            Self::Shared
        } else {
            Self::Own
        }
    }
}

/// Waits for the child, passing every termination signal we receive on to
/// it (to its whole group when it leads one).
///
/// When the command exits after such a signal, what is left of its group
/// (a background process that ignores the signal, as `sh` makes its
/// background jobs ignore SIGINT and SIGQUIT) is killed: the run is ending,
/// and nothing it started may go on holding the secrets.
async fn wait_forwarding(
    termination: &mut Termination,
    child: &mut tokio::process::Child,
    group: ProcessGroup,
) -> std::io::Result<std::process::ExitStatus> {
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .map(nix::unistd::Pid::from_raw);
    let mut forwarded_any = false;
    loop {
        let forwarded: Signal = tokio::select! {
            status = child.wait() => {
                if let (true, ProcessGroup::Own, Some(pid)) = (forwarded_any, group, pid) {
                    let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
                }
                return status;
            }
            signal = termination.next() => signal,
        };
        let Some(pid) = pid else { continue };
        tracing::info!(signal = %forwarded, "forwarding signal to the command");
        forwarded_any = true;
        let _ = match group {
            ProcessGroup::Own => nix::sys::signal::killpg(pid, forwarded),
            ProcessGroup::Shared => nix::sys::signal::kill(pid, forwarded),
        };
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
