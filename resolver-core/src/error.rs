//! The core's error: every way a run can fail, with its exit status.

use ci_secrets_gitlab::pipeline::PipelineError;
use ci_secrets_gitlab::validate::ValidationErrors;
use ci_secrets_gitlab::variables::VariableError;

use crate::config::ConfigError;
use crate::deliver::{EnvValueError, FileError, FormatError};
use crate::dispatch::DispatchError;
use crate::plan::PlanError;

/// Anything that stops a run. Messages name files, jobs, variables and keys,
/// never secret values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The pipeline file could not be loaded.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The job's `secrets:` are invalid.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// `--var` or `--env-file` is wrong.
    #[error(transparent)]
    Variables(#[from] VariableError),
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Planning found a problem before any network call.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Resolution failed.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// Delivery failed.
    #[error(transparent)]
    Files(#[from] FileError),
    /// A value cannot be delivered as an environment value.
    #[error(transparent)]
    EnvValue(#[from] EnvValueError),
    /// A value or path cannot be printed exactly in the chosen format.
    #[error(transparent)]
    Output(#[from] FormatError),
    /// A CI system's OIDC source could not mint an `id_tokens:` variable.
    #[error("job {job}: cannot mint the ID token {name}: {error}")]
    IdToken {
        /// The job.
        job: String,
        /// The `id_tokens:` variable.
        name: String,
        /// What the source said (never the token).
        error: ci_secrets_gitlab::id_tokens::IdTokenError,
    },
}

/// Exit status: invalid pipeline or config.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: resolution failed (auth, not found, denied, network, deadline).
pub const EXIT_RESOLUTION: u8 = 3;
/// Exit status of `ci-secrets doctor` when no check ran: nothing failed, but
/// nothing was verified either. Distinct so that a CI job can tell it from a
/// pass and a failure (GitLab's `allow_failure: exit_codes: [4]` accepts it).
pub const EXIT_NOTHING_CHECKED: u8 = 4;

impl CoreError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CoreError::Pipeline(_)
            | CoreError::Validation(_)
            | CoreError::Config(_)
            | CoreError::Plan(_) => EXIT_INVALID,
            CoreError::Variables(VariableError::NulInPipelineVariable { .. }) => EXIT_INVALID,
            CoreError::Variables(_) => EXIT_USAGE,
            CoreError::Dispatch(DispatchError::ProviderConfig { .. })
            | CoreError::Dispatch(DispatchError::Preflight(_)) => EXIT_INVALID,
            CoreError::Dispatch(_)
            | CoreError::Files(_)
            | CoreError::EnvValue(_)
            | CoreError::Output(_)
            | CoreError::IdToken { .. } => EXIT_RESOLUTION,
        }
    }
}
