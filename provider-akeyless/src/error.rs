//! Every way the Akeyless provider can fail, and how each maps to an
//! [`ErrorKind`] and a message.
//!
//! Messages name what failed and where (the item, the operation, the HTTP
//! status) and quote the server's `error` text as a `ServerText`: scrubbed
//! of every token and key that was submitted, on one line, escaped. They
//! never contain a secret value. The core
//! prefixes each message with the variable and the provider. Where GitLab
//! Runner had an exact message that was not misleading, its wording is kept
//! (`unknown Access type: …`, `secret … not found`, `failed to extract a key
//! out of the json data, …`).

use ci_secrets_http::status_kind;
use ci_secrets_provider_api::{ErrorKind, ProviderError};

/// The exact message GitLab shows when `AKEYLESS_ACCESS_ID` is missing (D8).
pub const MISSING_ACCESS_ID: &str =
    "The secrets provider can not be found. Check your CI/CD variables and try again.";

/// The Akeyless operation a request belongs to, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Auth,
    DescribeItem,
    ListItems,
    GetSecretValue,
    GetDynamicSecretValue,
    GetRotatedSecretValue,
    GetSshCertificate,
    GetPkiCertificate,
    GetCertificateValue,
}

impl Operation {
    /// The path appended to the API URL.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Operation::Auth => "/auth",
            Operation::DescribeItem => "/describe-item",
            Operation::ListItems => "/list-items",
            Operation::GetSecretValue => "/get-secret-value",
            Operation::GetDynamicSecretValue => "/get-dynamic-secret-value",
            Operation::GetRotatedSecretValue => "/get-rotated-secret-value",
            Operation::GetSshCertificate => "/get-ssh-certificate",
            Operation::GetPkiCertificate => "/get-pki-certificate",
            Operation::GetCertificateValue => "/get-certificate-value",
        }
    }

    /// `POST /describe-item`, as shown in errors and logs.
    pub(crate) fn label(self) -> String {
        format!("POST {}", self.path())
    }
}

/// A failure of the Akeyless provider.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// D8: the access id variable is unset or blank.
    #[error("{MISSING_ACCESS_ID}")]
    MissingAccessId,

    /// A block field has a value that cannot work.
    #[error("{key}: {reason}")]
    InvalidField { key: &'static str, reason: String },

    /// The access type is not one we know (the runner's wording).
    #[error("unknown Access type: {0}")]
    UnknownAccessType(String),

    /// The access type needs a field that is empty.
    #[error("{0}")]
    MissingCredential(String),

    /// A cloud identity could not be built (the runner's wording, with the cause).
    #[error("failed to get {cloud} cloud id: {reason}")]
    CloudId {
        cloud: &'static str,
        kind: ErrorKind,
        reason: String,
    },

    /// `/auth` answered with a non-2xx status.
    #[error(
        "can't authenticate with Akeyless at {api_url} (access type {access_type}, access id {access_id}): HTTP {status}{}",
        quote(server_text)
    )]
    Login {
        api_url: String,
        access_type: &'static str,
        access_id: String,
        status: u16,
        server_text: Option<String>,
    },

    /// A data call answered with a non-2xx status (D10 for describe).
    #[error("{} of {subject} failed: HTTP {status}{}", operation.label(), quote(server_text))]
    Api {
        operation: Operation,
        subject: String,
        status: u16,
        server_text: Option<String>,
    },

    /// The transport failed (connection, TLS, deadline, body cap).
    #[error("{subject}: {source}")]
    Transport {
        subject: String,
        #[source]
        source: ProviderError,
    },

    /// A 2xx answer did not have the expected shape.
    #[error("{} {detail}", operation.label())]
    Malformed {
        operation: Operation,
        detail: String,
    },

    /// The answer did not hold the requested item (the runner's wording).
    #[error("secret {0} not found")]
    SecretNotFound(String),

    /// A dynamic secret answered with its own `error` field.
    #[error("dynamic secret {name} returned an error: {text}")]
    DynamicSecret { name: String, text: String },

    /// `/describe-item` named a type we cannot read.
    #[error("unsupported item type {item_type:?} for {name}")]
    UnsupportedItemType { item_type: String, name: String },

    /// `data_key` could not be applied.
    #[error("{0}")]
    DataKey(String),
}

/// The server's text in quotes. It is a [`ServerText`](ci_secrets_provider_api::ServerText)
/// already (one line, escaped, scrubbed), so it is not escaped again.
fn quote(server_text: &Option<String>) -> String {
    match server_text {
        Some(text) => format!(": \"{text}\""),
        None => String::new(),
    }
}

impl Failure {
    /// The kind a caller branches on.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Failure::MissingAccessId
            | Failure::InvalidField { .. }
            | Failure::UnknownAccessType(_)
            | Failure::MissingCredential(_)
            | Failure::DataKey(_) => ErrorKind::Config,
            Failure::CloudId { kind, .. } => *kind,
            Failure::Login { status, .. } => match status {
                401 | 403 => ErrorKind::Auth,
                other => status_kind(*other),
            },
            Failure::Api { status, .. } => match status {
                // Akeyless answers 401 for "no permission" as well as for a
                // bad token, whether or not the item exists.
                401 | 403 => ErrorKind::Denied,
                other => status_kind(*other),
            },
            Failure::Transport { source, .. } => source.kind(),
            Failure::Malformed { .. } => ErrorKind::Protocol,
            Failure::SecretNotFound(_) => ErrorKind::NotFound,
            Failure::DynamicSecret { .. } => ErrorKind::Protocol,
            Failure::UnsupportedItemType { .. } => ErrorKind::Unsupported,
        }
    }

    /// The HTTP status the server answered with, if any.
    fn status(&self) -> Option<u16> {
        match self {
            Failure::Login { status, .. } | Failure::Api { status, .. } => Some(*status),
            Failure::Transport { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether this is a 401 from a data call, which may mean that a cached
    /// token expired.
    pub(crate) fn is_unauthorized(&self) -> bool {
        matches!(self, Failure::Api { status: 401, .. })
    }
}

impl From<Failure> for ProviderError {
    fn from(failure: Failure) -> Self {
        let mut error = ProviderError::new(failure.kind(), failure.to_string());
        if let Some(status) = failure.status() {
            error = error.with_status(status);
        }
        error
    }
}

/// A failure that several secrets share (a login, a describe, one read):
/// each secret gets its own [`ProviderError`] with the same content.
#[derive(Debug, Clone)]
pub(crate) struct SharedError {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
}

impl From<Failure> for SharedError {
    fn from(failure: Failure) -> Self {
        Self {
            kind: failure.kind(),
            message: failure.to_string(),
            status: failure.status(),
        }
    }
}

impl SharedError {
    pub(crate) fn to_error(&self) -> ProviderError {
        let error = ProviderError::new(self.kind, self.message.clone());
        match self.status {
            Some(status) => error.with_status(status),
            None => error,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_access_id_is_the_exact_gitlab_message() {
        let error = ProviderError::from(Failure::MissingAccessId);
        assert_eq!(
            error.to_string(),
            "The secrets provider can not be found. Check your CI/CD variables and try again."
        );
        assert_eq!(error.kind(), ErrorKind::Config);
    }

    #[test]
    fn data_call_401_is_denied_but_login_401_is_auth() {
        let api = Failure::Api {
            operation: Operation::DescribeItem,
            subject: "item /a".into(),
            status: 401,
            server_text: Some("UnauthorizedAccess".into()),
        };
        assert_eq!(api.kind(), ErrorKind::Denied);
        assert_eq!(
            api.to_string(),
            "POST /describe-item of item /a failed: HTTP 401: \"UnauthorizedAccess\""
        );
        let login = Failure::Login {
            api_url: "https://api.akeyless.io".into(),
            access_type: "jwt",
            access_id: "p-1".into(),
            status: 401,
            server_text: None,
        };
        assert_eq!(login.kind(), ErrorKind::Auth);
        assert_eq!(ProviderError::from(login).status(), Some(401));
    }

    #[test]
    fn not_found_keeps_the_runner_wording() {
        let failure = Failure::SecretNotFound("name".into());
        assert_eq!(failure.to_string(), "secret name not found");
        assert_eq!(failure.kind(), ErrorKind::NotFound);
    }
}
