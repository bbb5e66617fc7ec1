//! When a request is sent again, how long to wait, and what a status means.

use std::time::Duration;

use ci_secrets_provider_api::ErrorKind;

/// When a failed request may be sent again.
///
/// ```
/// use ci_secrets_http::RetryMode;
/// assert_ne!(RetryMode::Idempotent, RetryMode::OnlyIfNotSent);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryMode {
    /// Reads and logins: retry connection errors, timeouts, 429 and
    /// 502/503/504.
    Idempotent,
    /// Like `Idempotent`, and also retry any 5xx (Vault's transient errors).
    IdempotentAny5xx,
    /// Issuance (dynamic secrets, certificates): retry only when the request
    /// never reached the server, so nothing is issued twice.
    OnlyIfNotSent,
}

/// Longest `Retry-After` honoured; the run's deadline caps it further.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A `Retry-After` value in either form RFC 9110 allows: delay-seconds or
/// an HTTP date (a date in the past means "now"), capped at
/// [`MAX_RETRY_AFTER`]. `None` when it is neither.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

pub(crate) fn retryable_status(status: u16, mode: RetryMode) -> bool {
    match mode {
        RetryMode::Idempotent => matches!(status, 429 | 502 | 503 | 504),
        RetryMode::IdempotentAny5xx => status == 429 || (500..600).contains(&status),
        RetryMode::OnlyIfNotSent => false,
    }
}

/// The kind a non-2xx status means in most REST APIs: 401 is
/// [`ErrorKind::Auth`], 403 [`ErrorKind::Denied`], 404
/// [`ErrorKind::NotFound`], 429 [`ErrorKind::RateLimited`], 5xx
/// [`ErrorKind::Transient`], other 4xx [`ErrorKind::Config`].
///
/// ```
/// use ci_secrets_http::status_kind;
/// use ci_secrets_provider_api::ErrorKind;
/// assert_eq!(status_kind(404), ErrorKind::NotFound);
/// assert_eq!(status_kind(503), ErrorKind::Transient);
/// ```
pub fn status_kind(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Auth,
        403 => ErrorKind::Denied,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_an_http_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("3600", now), Some(MAX_RETRY_AFTER));
        // 1_445_412_480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:09 GMT", now),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn status_retry_rules() {
        assert!(retryable_status(429, RetryMode::Idempotent));
        assert!(retryable_status(503, RetryMode::Idempotent));
        assert!(!retryable_status(500, RetryMode::Idempotent));
        assert!(retryable_status(500, RetryMode::IdempotentAny5xx));
        assert!(!retryable_status(503, RetryMode::OnlyIfNotSent));
    }
}
