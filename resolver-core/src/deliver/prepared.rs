//! One delivery path for every consumer of a resolution: `resolve` prints,
//! `exec` builds a command's environment, and a library caller gets the same
//! guarantees as both.
//!
//! [`prepare`] is all or nothing: values that cannot be delivered are
//! refused before any file is written, and if a later step fails every file
//! this run wrote is removed. A printed [`Delivery`] keeps its files only
//! once [`Delivery::commit`] says the output reached its reader; dropped
//! without it (an error, a signal, a panic), its files go. Every copy of a
//! value it makes is zeroed on drop.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::env::{EnvValueError, env_text};
use super::files::{FileError, SecretFiles};
use super::format::{EntryKind, FormatError, OutputEntry, OutputFormat, render};
use crate::dispatch::ResolvedSecret;
use crate::error::CoreError;

/// How a resolution is handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryMode {
    /// Printed in `format` (`ci-secrets resolve`). JSON carries every value
    /// itself; dotenv and shell print the path of each file secret, written
    /// to `files_dir` (checked, or made private, by [`SecretFiles::existing`])
    /// or, without one, to a new private directory that outlives the run.
    Print {
        /// The output format.
        format: OutputFormat,
        /// Where file secrets go.
        files_dir: Option<PathBuf>,
    },
    /// As a command's environment (`ci-secrets exec`): file secrets go to a
    /// private directory, memory-backed where possible, removed when the
    /// [`Delivery`] is dropped.
    Environment,
}

/// Why a resolution cannot be delivered. Names variables and paths, never
/// values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Writing a secret file, or checking its directory, failed.
    #[error(transparent)]
    Files(#[from] FileError),
    /// A value cannot live in an environment variable or a printed line.
    #[error(transparent)]
    EnvValue(#[from] EnvValueError),
    /// A value or path has no exact form in the chosen output format.
    #[error(transparent)]
    Output(#[from] FormatError),
}

impl From<DeliveryError> for CoreError {
    fn from(err: DeliveryError) -> Self {
        match err {
            DeliveryError::Files(err) => CoreError::Files(err),
            DeliveryError::EnvValue(err) => CoreError::EnvValue(err),
            DeliveryError::Output(err) => CoreError::Output(err),
        }
    }
}

/// One variable of a command's environment: a value, or the path of its
/// file. Zeroed on drop.
pub struct EnvVar {
    name: String,
    value: Zeroizing<Vec<u8>>,
}

impl EnvVar {
    /// The variable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, as the environment takes it. Whoever copies it (the
    /// process-spawning code does) holds a copy this type cannot zero.
    pub fn value(&self) -> &OsStr {
        OsStr::from_bytes(&self.value)
    }
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// What the consumer takes.
enum Payload {
    Printed(Zeroizing<Vec<u8>>),
    Environment(Vec<EnvVar>),
}

/// A prepared delivery: the output to print or the environment to pass,
/// and the secret files behind it.
pub struct Delivery {
    payload: Payload,
    files: Option<SecretFiles>,
    committed: bool,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let payload = match &self.payload {
            Payload::Printed(output) => format!("{} bytes of output", output.len()),
            Payload::Environment(env) => format!("{} environment variables", env.len()),
        };
        f.debug_struct("Delivery")
            .field("payload", &payload)
            .field("files_dir", &self.files_dir())
            .field("committed", &self.committed)
            .finish()
    }
}

impl Delivery {
    /// The bytes to print ([`DeliveryMode::Print`]); empty for an
    /// environment delivery.
    pub fn output(&self) -> &[u8] {
        match &self.payload {
            Payload::Printed(output) => output,
            Payload::Environment(_) => &[],
        }
    }

    /// Takes the bytes to print, for a writer that must own them (one on
    /// another thread); [`Delivery::output`] is empty afterwards. Still
    /// zeroed on drop, wherever they go.
    pub fn take_output(&mut self) -> Zeroizing<Vec<u8>> {
        match &mut self.payload {
            Payload::Printed(output) => std::mem::take(output),
            Payload::Environment(_) => Zeroizing::new(Vec::new()),
        }
    }

    /// The command's environment ([`DeliveryMode::Environment`]), in the
    /// order of the job's `secrets:`; empty for a printed delivery.
    pub fn environment(&self) -> &[EnvVar] {
        match &self.payload {
            Payload::Printed(_) => &[],
            Payload::Environment(env) => env,
        }
    }

    /// The directory holding the secret files, if any were written.
    pub fn files_dir(&self) -> Option<&Path> {
        self.files.as_ref().map(SecretFiles::dir)
    }

    /// The output reached its reader: a printed delivery's files stay after
    /// the run. (An environment delivery's directory still goes on drop:
    /// it lives as long as the command.)
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(mut files) = self.files.take() {
            if self.committed {
                files.keep();
            } else {
                // A printed delivery that never reached its reader, or an
                // environment delivery whose command has ended.
                files.discard();
            }
        }
    }
}

/// Prepares the delivery of `secrets` (a resolution's values, in the order
/// of the job's `secrets:`), all or nothing.
pub fn prepare(secrets: &[ResolvedSecret], mode: &DeliveryMode) -> Result<Delivery, DeliveryError> {
    let (format, files_dir) = match mode {
        DeliveryMode::Print { format, files_dir } => (Some(*format), files_dir.as_deref()),
        DeliveryMode::Environment => (None, None),
    };
    // JSON carries every value itself; the other modes put file secrets on disk.
    // JSON and GitLab's dotenv report carry values: a report is read by
    // another job, where a path to this job's file means nothing.
    let on_disk = |secret: &ResolvedSecret| {
        secret.file
            && !matches!(
                format,
                Some(OutputFormat::Json | OutputFormat::GitlabDotenv)
            )
    };
    let span = tracing::info_span!(
        "deliver",
        format = format.map(OutputFormat::name),
        secrets = secrets.len(),
        files = tracing::field::Empty,
        bytes_written = tracing::field::Empty,
    );
    let _entered = span.enter();

    // Refused before anything is written, so a bad value costs no clean-up.
    let mut texts = Vec::with_capacity(secrets.len());
    for secret in secrets.iter().filter(|secret| !on_disk(secret)) {
        texts.push(env_text(secret)?);
    }

    let file_secrets: Vec<&ResolvedSecret> =
        secrets.iter().filter(|secret| on_disk(secret)).collect();
    let mut files = None;
    let mut paths: Vec<PathBuf> = Vec::new();
    if !file_secrets.is_empty() {
        let mut created = match (&mode, files_dir) {
            (DeliveryMode::Environment, _) => SecretFiles::ephemeral(None)?,
            (_, Some(dir)) => SecretFiles::existing(dir)?,
            (_, None) => SecretFiles::persistent_new(None)?,
        };
        tracing::info!(dir = %created.dir().display(), "writing secret files");
        let written = created.write_all(
            file_secrets
                .iter()
                .map(|secret| (secret.variable.as_str(), &secret.value)),
        );
        match written {
            Ok(written) => paths = written,
            Err(err) => {
                created.discard();
                return Err(err.into());
            }
        }
        span.record("files", file_secrets.len());
        span.record(
            "bytes_written",
            file_secrets.iter().map(|s| s.value.len()).sum::<usize>(),
        );
        files = Some(created);
    }
    // From here a failure drops `delivery` uncommitted, which removes the files.
    let mut delivery = Delivery {
        payload: Payload::Environment(Vec::new()),
        files,
        committed: false,
    };

    // `paths` and `texts` both follow the order of `secrets`: take from
    // each in turn.
    let mut paths_in_order = paths.iter();
    let mut texts_in_order = texts.iter();
    let mut entries: Vec<OutputEntry<'_>> = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let (text, kind) = if on_disk(secret) {
            // The path exactly as created, even when it is not UTF-8.
            let Some(path) = paths_in_order.next() else {
                continue;
            };
            (path.as_os_str().as_bytes(), EntryKind::FilePath)
        } else {
            let Some(text) = texts_in_order.next() else {
                continue;
            };
            (text.as_bytes(), EntryKind::Value)
        };
        entries.push(OutputEntry {
            name: &secret.variable,
            text,
            kind,
        });
    }
    delivery.payload = match format {
        Some(format) => Payload::Printed(render(format, &entries)?),
        None => Payload::Environment(
            entries
                .iter()
                .map(|entry| EnvVar {
                    name: entry.name.to_string(),
                    value: Zeroizing::new(entry.text.to_vec()),
                })
                .collect(),
        ),
    };
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

    use super::*;
    use ci_secrets_provider_api::SecretValue;

    fn secret(variable: &str, file: bool, value: SecretValue) -> ResolvedSecret {
        ResolvedSecret {
            variable: variable.into(),
            provider: "testkv".into(),
            file,
            value,
        }
    }

    fn print(format: OutputFormat, dir: &Path) -> DeliveryMode {
        DeliveryMode::Print {
            format,
            files_dir: Some(dir.to_path_buf()),
        }
    }

    fn private_dir() -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn a_committed_print_keeps_its_files_and_names_them_in_order() {
        let dir = private_dir();
        let secrets = [
            secret("A", false, SecretValue::text("alpha")),
            secret("CERT", true, SecretValue::text("-----BEGIN-----")),
            secret("B", false, SecretValue::text("beta")),
        ];
        let delivery = prepare(&secrets, &print(OutputFormat::Shell, dir.path())).unwrap();
        let output = String::from_utf8(delivery.output().to_vec()).unwrap();
        let cert = dir.path().join("CERT");
        assert_eq!(
            output,
            format!(
                "export A='alpha'\nexport CERT='{}'\nexport B='beta'\n",
                cert.display()
            )
        );
        delivery.commit();
        assert_eq!(std::fs::read_to_string(cert).unwrap(), "-----BEGIN-----");
    }

    #[test]
    fn a_print_dropped_before_its_commit_removes_its_files() {
        let dir = private_dir();
        let secrets = [secret("CERT", true, SecretValue::text("pem"))];
        let delivery = prepare(&secrets, &print(OutputFormat::Dotenv, dir.path())).unwrap();
        assert!(dir.path().join("CERT").exists());
        drop(delivery);
        assert!(!dir.path().join("CERT").exists());
        assert!(dir.path().exists(), "the caller's own directory stays");
    }

    #[test]
    fn a_value_that_cannot_be_delivered_writes_nothing() {
        let dir = private_dir();
        let secrets = [
            secret("CERT", true, SecretValue::text("pem")),
            secret("BIN", false, SecretValue::bytes(vec![0xff, 0xfe])),
        ];
        let err = prepare(&secrets, &print(OutputFormat::Shell, dir.path())).unwrap_err();
        assert!(matches!(err, DeliveryError::EnvValue(_)), "{err}");
        assert!(err.to_string().contains("BIN"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_value_outside_the_format_removes_the_files_already_written() {
        let dir = private_dir();
        let secrets = [
            secret("CERT", true, SecretValue::text("pem")),
            secret("CR", false, SecretValue::text("carriage\rreturn")),
        ];
        let err = prepare(&secrets, &print(OutputFormat::Dotenv, dir.path())).unwrap_err();
        assert!(matches!(err, DeliveryError::Output(_)), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn json_keeps_file_secrets_inline_and_writes_nothing() {
        let dir = private_dir();
        let secrets = [secret("CERT", true, SecretValue::text("pem"))];
        let delivery = prepare(&secrets, &print(OutputFormat::Json, dir.path())).unwrap();
        assert_eq!(delivery.output(), b"{\"CERT\":\"pem\"}\n");
        assert!(delivery.files_dir().is_none());
    }

    #[test]
    fn an_environment_delivery_lives_as_long_as_its_value() {
        let secrets = [
            secret("TOKEN", false, SecretValue::text("t0ken-value")),
            secret("CERT", true, SecretValue::text("pem")),
        ];
        let delivery = prepare(&secrets, &DeliveryMode::Environment).unwrap();
        let env: Vec<(&str, &OsStr)> = delivery
            .environment()
            .iter()
            .map(|var| (var.name(), var.value()))
            .collect();
        assert_eq!(env[0], ("TOKEN", OsStr::new("t0ken-value")));
        let cert = PathBuf::from(env[1].1);
        assert_eq!(std::fs::read_to_string(&cert).unwrap(), "pem");
        let shown = format!("{delivery:?} {:?}", delivery.environment());
        assert!(!shown.contains("t0ken-value"), "{shown}");
        drop(delivery);
        assert!(!cert.exists());
    }
}
