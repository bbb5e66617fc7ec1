//! Benchmarks of ci-secrets (issues 7 and 16): the workloads, the emulator set-up and
//! the pieces of the whole-process harness `bench-report`, which writes
//! `BENCHMARKS.md` and `docs/bench-wall-time.svg`.
//!
//! Nothing here runs in `cargo test` timing: the criterion benches
//! (`benches/resolve.rs`) run each case once under `cargo test`, and the
//! harness is a separate binary.

pub mod aws;
pub mod inprocess;
pub mod machine;
pub mod masking;
pub mod measure;
pub mod netmodel;
pub mod network;
pub mod openbao;
pub mod pipeline;
pub mod plot;
pub mod report;
pub mod server_process;
pub mod startup;
pub mod stats;
pub mod workload;

/// Why a benchmark could not run. Benchmarks fail loudly rather than report
/// a number that was not measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Generating SSH or PKI key material failed.
    #[error("cannot generate key material: {0}")]
    KeyMaterial(String),
    /// Generating an input file failed.
    #[error("cannot generate an input: {0}")]
    Generate(String),
    /// The emulator did not start.
    #[error("the Akeyless emulator did not start: {0}")]
    Emulator(#[from] akeyless_emulator::EmulatorError),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A measured command failed or answered something unexpected.
    #[error("{command}: {message}")]
    Command {
        /// The command, as a short label.
        command: String,
        /// What went wrong (its stderr, cut).
        message: String,
    },
    /// An HTTP call of the harness itself failed.
    #[error("{what}: {message}")]
    Http {
        /// What was being done.
        what: String,
        /// The error.
        message: String,
    },
    /// Drawing the plot failed.
    #[error("cannot draw the plot: {0}")]
    Plot(String),
}

impl BenchError {
    /// An I/O error with context.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// The median of `samples` (the mean of the middle two for an even count);
/// `None` when empty.
///
/// ```
/// assert_eq!(ci_secrets_bench::median(&[3.0, 1.0, 2.0]), Some(2.0));
/// assert_eq!(ci_secrets_bench::median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
/// assert_eq!(ci_secrets_bench::median(&[]), None);
/// ```
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

/// `document` with the text between `start` and `end` (markers included)
/// replaced by `section`, or `section` appended when the markers are missing.
pub fn splice_section(document: &str, start: &str, end: &str, section: &str) -> String {
    match (document.find(start), document.find(end)) {
        (Some(from), Some(to)) if to > from => {
            let after = &document[to + end.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{section}{after}", &document[..from])
        }
        _ => {
            let mut out = document.trim_end().to_string();
            out.push_str("\n\n");
            out.push_str(section);
            out
        }
    }
}
