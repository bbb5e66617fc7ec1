//! The error every provider returns, with a kind that callers branch on.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, coarse enough to branch on and to pick an exit status.
///
/// ```
/// use ci_secrets_provider_api::{ErrorKind, ProviderError};
///
/// let err = ProviderError::new(ErrorKind::NotFound, "item /prod/db not found");
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// assert!(!err.kind().is_retryable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The secret's block, the job's variables or the provider's config are wrong.
    Config,
    /// Login failed: bad or expired credentials, wrong audience, unknown role.
    Auth,
    /// Logged in, but not allowed to read this item.
    Denied,
    /// The item, path or field does not exist.
    NotFound,
    /// The server asked us to slow down, and retries ran out.
    RateLimited,
    /// A network failure, timeout or 5xx that may succeed later.
    Transient,
    /// The TLS handshake failed: unknown authority, wrong name, expired.
    Tls,
    /// The server answered with something that does not follow its protocol.
    Protocol,
    /// The overall deadline passed, or the run was cancelled.
    Deadline,
    /// The provider cannot do what was asked (an item type it does not support).
    Unsupported,
}

impl ErrorKind {
    /// Whether retrying the same request later may succeed.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ErrorKind;
    /// assert!(ErrorKind::Transient.is_retryable());
    /// assert!(!ErrorKind::Denied.is_retryable());
    /// ```
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Transient)
    }

    /// A short lowercase name, stable for JSON output and logs.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ErrorKind;
    /// assert_eq!(ErrorKind::NotFound.as_str(), "not_found");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Denied => "denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::Tls => "tls",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Deadline => "deadline",
            ErrorKind::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a provider. Its message must never contain a secret value
/// or a credential: providers build it from item names, statuses and
/// server text made safe as a [`crate::ServerText`].
///
/// ```
/// use ci_secrets_provider_api::{ErrorKind, ProviderError};
///
/// let err = ProviderError::new(ErrorKind::Denied, "access to /prod/db denied")
///     .with_status(403);
/// assert_eq!(err.status(), Some(403));
/// assert_eq!(err.to_string(), "access to /prod/db denied");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl ProviderError {
    /// A new error of `kind` with a human message.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// let err = ProviderError::new(ErrorKind::Config, "name should be a string");
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            source: None,
        }
    }

    /// Attaches the HTTP status the server answered with.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// let err = ProviderError::new(ErrorKind::NotFound, "gone").with_status(404);
    /// assert_eq!(err.status(), Some(404));
    /// ```
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Attaches the underlying cause. The cause's `Display` must hold no secret.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// let io = std::io::Error::other("connection reset");
    /// let err = ProviderError::new(ErrorKind::Transient, "request failed").with_source(io);
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message with context, for example the variable name.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// let err = ProviderError::new(ErrorKind::NotFound, "item not found").context("DB_PASSWORD");
    /// assert_eq!(err.to_string(), "DB_PASSWORD: item not found");
    /// ```
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// A copy for each of several secrets that share one cause (a failed
    /// login, say). The source chain is not copied: sources need not be
    /// `Clone`, and the message already says what happened.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// let login = ProviderError::new(ErrorKind::Auth, "login refused").with_status(401);
    /// let copies: Vec<_> = (0..3).map(|_| login.replicate()).collect();
    /// assert!(copies.iter().all(|c| c.kind() == ErrorKind::Auth && c.status() == Some(401)));
    /// ```
    pub fn replicate(&self) -> Self {
        Self {
            kind: self.kind,
            message: self.message.clone(),
            status: self.status,
            source: None,
        }
    }

    /// The kind to branch on.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// assert_eq!(ProviderError::new(ErrorKind::Tls, "x").kind(), ErrorKind::Tls);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status, when the error came from a server's answer.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// assert_eq!(ProviderError::new(ErrorKind::Tls, "x").status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The message without the cause chain.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, ProviderError};
    /// assert_eq!(ProviderError::new(ErrorKind::Tls, "bad cert").message(), "bad cert");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}
