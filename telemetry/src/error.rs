//! Why traces are not exported. Never fatal: the caller warns once and the
//! job goes on.

use std::time::Duration;

/// A trace-export problem: bad settings, a pipeline that cannot start, or
/// spans that did not reach the collector.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A protocol other than OTLP over HTTP/protobuf was asked for.
    #[error("{variable}={value} is not supported; only http/protobuf is")]
    UnsupportedProtocol {
        /// The variable that asked for it.
        variable: &'static str,
        /// What it asked for.
        value: String,
    },
    /// An exporter other than OTLP (or `none`) was asked for.
    #[error("{variable}={value} is not supported; only otlp (or none) is")]
    UnsupportedExporter {
        /// The variable that asked for it.
        variable: &'static str,
        /// What it asked for.
        value: String,
    },
    /// A duration variable that is not a whole number of milliseconds.
    #[error("{variable}={value:?} is not a whole number of milliseconds")]
    InvalidMilliseconds {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// The OTLP exporter or its HTTP client could not be built (for
    /// example, an endpoint that is not a URL).
    #[error("cannot set up the OTLP exporter: {0}")]
    Setup(String),
    /// The pipeline failed to stop for another reason.
    #[error("the trace pipeline did not shut down cleanly: {0}")]
    Shutdown(String),
    /// Some spans were rejected or could not be sent.
    #[error("{spans} spans were not exported to the OTLP collector: {cause}")]
    Export {
        /// How many spans were lost.
        spans: u64,
        /// The last failure seen.
        cause: String,
    },
    /// The final flush did not finish within its budget.
    #[error("traces were not flushed to the OTLP collector within {} ms{}", timeout.as_millis(), cause_suffix(cause.as_deref()))]
    FlushTimeout {
        /// The budget.
        timeout: Duration,
        /// The last transport failure seen, which usually explains the wait.
        cause: Option<String>,
    },
}

fn cause_suffix(cause: Option<&str>) -> String {
    cause
        .map(|cause| format!(" (last error: {cause})"))
        .unwrap_or_default()
}
