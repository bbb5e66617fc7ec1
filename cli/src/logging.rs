//! Diagnostics on stderr (`-v`/`-vv`/`--quiet`, `RUST_LOG`, text or JSON)
//! and, when the OpenTelemetry variables ask for it, trace export.
//!
//! Two layers share one subscriber, each with its own filter: stderr
//! follows the verbosity flags, the exporter always takes our INFO spans
//! (see `ci_secrets_telemetry`).

use std::io::Write;
use std::process::ExitCode;

use ci_secrets_telemetry::{TraceExport, suspend_progress};
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::args::{Command, GlobalArgs, LogFormat};

/// Keeps trace export alive for the run. Call [`finish`](Self::finish) at
/// the end; dropping it flushes too, without the exit status.
#[derive(Debug)]
pub struct Telemetry {
    export: Option<TraceExport>,
    quiet: bool,
}

/// Installs the global subscriber and starts trace export if configured.
/// `RUST_LOG`, when set, wins over the flags for stderr, except that no
/// dependency logs below [`DEPENDENCY_MAX_LEVEL`].
pub fn init(global: &GlobalArgs) -> Telemetry {
    let (mut export, setup_error) = match TraceExport::from_env() {
        Ok(export) => (export, None),
        Err(err) => (None, Some(err)),
    };
    let stderr_layer = match global.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(ProgressAwareStderr)
            .with_span_events(FmtSpan::CLOSE)
            .with_current_span(true)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(ProgressAwareStderr)
            .with_target(global.verbose >= 2)
            .with_span_events(if global.verbose >= 2 {
                FmtSpan::CLOSE
            } else {
                FmtSpan::NONE
            })
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(stderr_layer.with_filter(
            stderr_filter(global).and(tracing_subscriber::filter::filter_fn(safe_to_log)),
        ))
        .with(export.as_ref().map(TraceExport::layer))
        .try_init();
    if installed.is_err() {
        // An embedding program installed its own subscriber: our layer
        // would never see a span, so there is nothing to export.
        if let Some(unused) = export.take() {
            let _ = unused.shutdown();
        }
    }
    if let Some(err) = setup_error {
        warn(global.quiet, &format!("traces are not exported: {err}"));
    }
    Telemetry {
        export,
        quiet: global.quiet,
    }
}

/// The root span for `command`, continuing `TRACEPARENT` when set.
pub fn run_span(command: &Command) -> tracing::Span {
    let name = match command {
        Command::Resolve(_) => "resolve",
        Command::Exec(_) => "exec",
        Command::Validate(_) => "validate",
        Command::Plan(_) => "plan",
        Command::Migrate(_) => "migrate",
        Command::Doctor(_) => "doctor",
        Command::Providers(_) => "providers",
        Command::Config(_) => "config",
        Command::Emulator(_) => "emulator",
        Command::Demo => "demo",
        Command::Completions(_) => "completions",
        Command::Man => "man",
    };
    ci_secrets_telemetry::run_span(name)
}

impl Telemetry {
    /// Marks the run failed when it did, closes the `run` span and flushes
    /// the spans, within the flush budget.
    pub fn finish(self, run_span: tracing::Span, code: ExitCode) {
        if code != ExitCode::SUCCESS {
            run_span.record("otel.status_code", "ERROR");
        }
        // A span is exported when it closes: close `run` before flushing.
        drop(run_span);
        drop(self);
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(export) = self.export.take()
            && let Err(err) = export.shutdown()
        {
            warn(self.quiet, &err.to_string());
        }
    }
}

fn warn(quiet: bool, message: &str) {
    if !quiet {
        eprintln!("ci-secrets: warning: {message}");
    }
}

/// Our crates (every `ci_secrets*` target) at the chosen level,
/// dependencies one step quieter. `RUST_LOG`, when set, replaces this.
fn stderr_filter(global: &GlobalArgs) -> EnvFilter {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("warn,ci_secrets={level},akeyless_emulator={level}"))
    })
}

/// The most verbose level any dependency may log at, whatever `RUST_LOG`
/// or `-v` say. Libraries see credentials and values and log them below
/// it: the signing library logs its canonical request (with
/// `x-amz-security-token`) at trace, the AWS SDK and HTTP stacks log wire
/// bodies at debug. A list of such crates would miss the next one, so the
/// rule covers every crate that is not ours.
const DEPENDENCY_MAX_LEVEL: tracing::Level = tracing::Level::INFO;

/// Targets logged at the level the user asks for: our own crates.
const OWN_TARGETS: &[&str] = &["ci_secrets", "akeyless_emulator"];

/// Whether an event or span may reach stderr: ours at any level,
/// dependencies at [`DEPENDENCY_MAX_LEVEL`] and above.
fn safe_to_log(metadata: &tracing::Metadata<'_>) -> bool {
    *metadata.level() <= DEPENDENCY_MAX_LEVEL
        || OWN_TARGETS
            .iter()
            .any(|own| metadata.target().starts_with(own))
}

/// Stderr, with the progress bar (if one is drawn) lifted off the screen
/// while a log line is written.
#[derive(Debug)]
struct ProgressAwareStderr;

impl<'a> MakeWriter<'a> for ProgressAwareStderr {
    type Writer = ProgressAwareStderr;

    fn make_writer(&'a self) -> Self::Writer {
        ProgressAwareStderr
    }
}

impl Write for ProgressAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspend_progress(|| std::io::stderr().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // One event is one `write_all`: keep it whole under one suspension.
        suspend_progress(|| std::io::stderr().lock().write_all(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
