//! ID tokens outside GitLab. In a GitLab job the runner sets each
//! `id_tokens:` variable; elsewhere a CI system that offers OIDC can mint
//! one for the entry's `aud:`. This module holds the interface; the sources
//! (GitHub Actions, CircleCI, Bitbucket, Buildkite, a command) live with the
//! binary, which may make network calls.

use std::fmt;

use zeroize::Zeroizing;

/// Mints ID tokens for an audience.
pub trait IdTokenSource: fmt::Debug + Send + Sync {
    /// What the source is, for `plan` and messages (`GitHub Actions OIDC`).
    fn describe(&self) -> String;

    /// A token for `audience`. The token is a credential: it is returned in
    /// memory that is zeroed on drop, and never appears in an error.
    fn mint(&self, audience: &str) -> Result<Zeroizing<String>, IdTokenError>;
}

/// Why a source could not mint a token. Never holds the token or the
/// source's own credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct IdTokenError {
    /// [`IdTokenSource::describe`] of the source.
    pub source_name: String,
    /// What went wrong.
    pub message: String,
}
