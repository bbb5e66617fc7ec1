//! What an AWS SDK error says, reduced to what messages may show: the
//! service's error code and message (scrubbed of credentials), or why no
//! answer came.

use std::error::Error as StdError;

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use ci_secrets_http::status_kind;
use ci_secrets_provider_api::{ErrorKind, ServerText};

/// One failed SDK call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The service answered with an error.
    Service {
        /// `ResourceNotFoundException`, `AccessDenied`, ...
        code: String,
        /// The service's message, made safe as a [`ServerText`].
        message: String,
        status: u16,
    },
    /// No usable answer: a connection, TLS or timeout failure, or a
    /// response the SDK could not read.
    NoAnswer { kind: ErrorKind, detail: String },
}

impl Failure {
    /// Reads an SDK error; every text kept is a [`ServerText`]: `secrets`
    /// masked, one line, control characters escaped.
    pub(crate) fn from_sdk<E>(err: &SdkError<E, HttpResponse>, secrets: &[&str]) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let detail = || ServerText::new(&error_chain(err), secrets).into_string();
        match err {
            SdkError::ServiceError(service) => Failure::Service {
                code: ServerText::new(service.err().code().unwrap_or("UnknownError"), secrets)
                    .into_string(),
                message: ServerText::new(service.err().message().unwrap_or_default(), secrets)
                    .into_string(),
                status: service.raw().status().as_u16(),
            },
            SdkError::TimeoutError(_) => Failure::NoAnswer {
                kind: ErrorKind::Transient,
                detail: "the request timed out".to_string(),
            },
            SdkError::DispatchFailure(_) if is_tls_failure(err) => Failure::NoAnswer {
                kind: ErrorKind::Tls,
                detail: format!("TLS: {}", detail()),
            },
            SdkError::DispatchFailure(dispatch) => Failure::NoAnswer {
                kind: if dispatch.is_user() {
                    ErrorKind::Config
                } else {
                    ErrorKind::Transient
                },
                detail: detail(),
            },
            SdkError::ResponseError(_) => Failure::NoAnswer {
                kind: ErrorKind::Protocol,
                detail: detail(),
            },
            // Construction failures are bad input (an invalid endpoint or
            // region); anything newer is reported as it is.
            _ => Failure::NoAnswer {
                kind: ErrorKind::Config,
                detail: detail(),
            },
        }
    }

    /// The kind for a service error code that the caller has no special
    /// meaning for: throttling, then the HTTP status.
    pub(crate) fn default_kind(code: &str, status: u16) -> ErrorKind {
        match code {
            "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded" => ErrorKind::RateLimited,
            _ => status_kind(status),
        }
    }

    /// `Code: message (HTTP status)`, or the transport detail.
    pub(crate) fn describe(&self) -> String {
        match self {
            Failure::Service {
                code,
                message,
                status,
            } if message.is_empty() => format!("{code} (HTTP {status})"),
            Failure::Service {
                code,
                message,
                status,
            } => format!("{code}: {message} (HTTP {status})"),
            Failure::NoAnswer { detail, .. } => detail.clone(),
        }
    }
}

/// Whether rustls refused the connection. hyper reports a rustls error
/// inside one or more `io::Error`s, and `io::Error::source` skips the
/// error it wraps, so the walk steps into each wrapped error itself.
fn is_tls_failure(err: &(dyn StdError + 'static)) -> bool {
    causes(err).any(|cause| cause.is::<rustls::Error>())
}

/// `err` and its causes, stepping into the error an `io::Error` wraps.
fn causes<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(
        Some(err),
        |&current: &&'a (dyn StdError + 'static)| match current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn StdError + 'static)),
            None => current.source(),
        },
    )
}

/// The messages of `err` and its causes, joined with `: `, skipping a cause
/// whose text its parent already shows (as an `io::Error` shows the error it
/// wraps).
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for cause in causes(err) {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_are_rate_limits_and_others_follow_the_status() {
        assert_eq!(
            Failure::default_kind("ThrottlingException", 400),
            ErrorKind::RateLimited
        );
        assert_eq!(
            Failure::default_kind("InternalServiceError", 500),
            ErrorKind::Transient
        );
        assert_eq!(
            Failure::default_kind("InvalidParameterException", 400),
            ErrorKind::Config
        );
    }

    #[test]
    fn a_wrapped_rustls_error_is_a_tls_failure() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(is_tls_failure(&io));
        let nested = std::io::Error::other(io);
        assert!(is_tls_failure(&nested));
        assert!(!is_tls_failure(&std::io::Error::other("reset")));
    }

    #[test]
    fn error_chain_shows_each_cause_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt message");
        let outer = std::io::Error::other(inner);
        assert_eq!(error_chain(&outer), "corrupt message");
    }

    #[test]
    fn describe_shows_code_message_and_status() {
        let failure = Failure::Service {
            code: "AccessDeniedException".into(),
            message: "not allowed".into(),
            status: 400,
        };
        assert_eq!(
            failure.describe(),
            "AccessDeniedException: not allowed (HTTP 400)"
        );
    }
}
