//! The errors of the emulator's library API (seed loading, start-up, the CLI runner).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the emulator could not load its seed, start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The seed file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        /// The seed file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The seed is not valid YAML or does not follow the seed format.
    #[error("invalid seed {origin}: {message}")]
    SeedInvalid {
        /// Where the seed came from: a file path, `<string>` or `<builder>`.
        origin: String,
        /// What is wrong, naming the access entry or item.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The listen address given on the command line does not parse.
    #[error("invalid --listen address {value:?}: {message}")]
    ListenAddress {
        /// The value given.
        value: String,
        /// Why it does not parse.
        message: String,
    },
    /// Generating the emulator's CA, server certificate or SSH CA key failed.
    #[error("cannot generate the emulator's {what}: {message}")]
    KeyMaterial {
        /// Which key material (e.g. "TLS server certificate").
        what: &'static str,
        /// The underlying failure.
        message: String,
    },
    /// A fault-injection setting is out of range.
    #[error("invalid fault injection setting: {0}")]
    Faults(String),
    /// Writing the CA certificate (`--tls-ca-out`) or the listening line failed.
    #[error("cannot write {what}: {source}")]
    Output {
        /// What was being written.
        what: String,
        /// The I/O failure.
        source: std::io::Error,
    },
}
