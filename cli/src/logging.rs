//! Diagnostics on stderr: `-v`/`-vv`/`--quiet`, `RUST_LOG`, text or JSON.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::args::{GlobalArgs, LogFormat};

/// Installs the global subscriber. `RUST_LOG`, when set, wins over the flags.
pub fn init(global: &GlobalArgs) {
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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Our crates at the chosen level; dependencies one step quieter.
        EnvFilter::new(format!(
            "warn,ci_secrets={level},ci_secrets_core={level},ci_secrets_provider_api={level},ci_secrets_provider_akeyless={level},ci_secrets_provider_vault={level},akeyless_emulator={level}"
        ))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(global.verbose >= 2);
    let result = match global.log_format {
        LogFormat::Json => builder
            .json()
            .with_span_events(FmtSpan::CLOSE)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder
            .with_span_events(if global.verbose >= 2 {
                FmtSpan::CLOSE
            } else {
                FmtSpan::NONE
            })
            .try_init(),
    };
    // A subscriber already installed (by an embedding program) is fine.
    let _ = result;
}
