//! The HTTP settings of a run: plain data that the core reads from its
//! config and hands to every provider's context. The HTTP layer itself
//! (pools, retries, body cap) lives in the `ci-secrets-http` crate, so that a
//! provider without HTTP does not compile it.

use std::time::Duration;

/// Settings shared by every HTTP client of a run.
///
/// ```
/// use ci_secrets_provider_api::HttpSettings;
/// let settings = HttpSettings::default();
/// assert_eq!(settings.max_body_bytes, 10 * 1024 * 1024);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one request, body included.
    pub request_timeout: Duration,
    /// Largest response body accepted; larger ones are refused, not buffered.
    pub max_body_bytes: usize,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff delay; it doubles each retry, with full jitter.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff delay.
    pub max_backoff: Duration,
    /// Requests in flight at once per client.
    pub max_concurrency: usize,
    /// Extra CA roots (PEM) trusted by every client, such as `$SSL_CERT_FILE`.
    pub extra_ca_pem: Vec<Vec<u8>>,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_concurrency: 64,
            extra_ca_pem: Vec::new(),
            user_agent: concat!("ci-secrets/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}
