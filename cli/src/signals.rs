//! Termination signals for `resolve` and `exec`: caught from the start of
//! the run, so that no signal ends the process while secret files exist or
//! a provider holds a token it has not released.
//!
//! Every signal whose default action ends a process (and that is not a
//! fault of our own, such as SIGSEGV) is treated alike: the run's
//! cancellation token is cancelled, so the providers stop and release what
//! they acquired ([`ci_secrets_provider_api::Provider::finish`]), and the
//! command sees the signal to forward or to end with `128 + signal`.
//!
//! SIGPIPE is not among them: Rust leaves it ignored, so a closed output
//! pipe shows up as a write error where the write happens, and the command
//! that wrote handles it (removing what it wrote).

use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The signals that end a run.
const TERMINATING: [Signal; 13] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
];

/// The run's termination signals, listened to since [`Termination::install`].
#[derive(Debug)]
pub struct Termination {
    cancel: CancellationToken,
    first: Arc<OnceLock<Signal>>,
    arrivals: mpsc::UnboundedReceiver<Signal>,
}

impl Termination {
    /// Installs the handlers (from now on these signals no longer end the
    /// process) and ties them to a new cancellation token. Must be called
    /// inside the tokio runtime.
    pub fn install() -> std::io::Result<Self> {
        let cancel = CancellationToken::new();
        let first = Arc::new(OnceLock::new());
        let (sender, arrivals) = mpsc::unbounded_channel();
        for kind in TERMINATING {
            // Registered here, synchronously: the handler is in place when
            // `install` returns, not when a task first runs.
            let mut stream = signal(SignalKind::from_raw(kind as i32))?;
            let cancel = cancel.clone();
            let first = Arc::clone(&first);
            let sender = sender.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    tracing::info!(signal = %kind, "signal received; ending the run");
                    let _ = first.set(kind);
                    cancel.cancel();
                    if sender.send(kind).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Self {
            cancel,
            first,
            arrivals,
        })
    }

    /// Cancelled when the first signal arrives.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<Signal> {
        self.first.get().copied()
    }

    /// Waits for the next signal (each one, for forwarding).
    pub async fn next(&mut self) -> Signal {
        match self.arrivals.recv().await {
            Some(signal) => signal,
            // The listeners live as long as the runtime; without them no
            // signal can come any more.
            None => std::future::pending().await,
        }
    }
}

/// `128 + signal`, as a shell reports a command ended by that signal.
pub fn exit_code(signal: Signal) -> ExitCode {
    ExitCode::from(128u8.saturating_add(signal as u8))
}
