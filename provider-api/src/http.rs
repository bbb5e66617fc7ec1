//! The shared HTTP layer every provider uses: one connection pool per trust
//! configuration, per-request timeouts inside the run's deadline, jittered
//! exponential backoff that honours `Retry-After`, a response size cap, a
//! per-host concurrency limit, refusal of https-to-http redirects, and error
//! classification into [`ErrorKind`]s.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::error::{ErrorKind, ProviderError};
use crate::metrics::Metrics;
use crate::provider::ResolveContext;
use crate::server_text::ServerText;

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

/// Hands out [`HttpClient`]s. Clients with the same extra CA share one
/// connection pool, so every secret of one gateway reuses its connections.
///
/// ```
/// use ci_secrets_provider_api::{HttpFactory, HttpSettings};
/// let factory = HttpFactory::new(HttpSettings::default());
/// let a = factory.client(None).unwrap();
/// let b = factory.client(None).unwrap();
/// # let _ = (a, b);
/// ```
#[derive(Debug, Clone)]
pub struct HttpFactory {
    settings: Arc<HttpSettings>,
    metrics: Arc<Metrics>,
    clients: Arc<Mutex<HashMap<Vec<u8>, HttpClient>>>,
}

impl HttpFactory {
    /// A factory with these settings.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{HttpFactory, HttpSettings};
    /// let factory = HttpFactory::new(HttpSettings::default());
    /// assert_eq!(factory.settings().max_attempts, 5);
    /// ```
    pub fn new(settings: HttpSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            clients: Arc::default(),
        }
    }

    pub(crate) fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        // Clients made earlier count into the old metrics; start a fresh cache.
        self.clients = Arc::default();
        self
    }

    /// The settings.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{HttpFactory, HttpSettings};
    /// assert!(HttpFactory::new(HttpSettings::default()).settings().max_concurrency > 0);
    /// ```
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// A client that trusts the system roots, the settings' extra roots, and
    /// `extra_ca_pem` (one or more PEM certificates) when given.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, HttpFactory, HttpSettings};
    /// let factory = HttpFactory::new(HttpSettings::default());
    /// let err = factory.client(Some(b"not a certificate")).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn client(&self, extra_ca_pem: Option<&[u8]>) -> Result<HttpClient, ProviderError> {
        let cache_key = extra_ca_pem.unwrap_or_default().to_vec();
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(&cache_key) {
            return Ok(client.clone());
        }
        let client = self.build_client(extra_ca_pem)?;
        clients.insert(cache_key, client.clone());
        Ok(client)
    }

    fn build_client(&self, extra_ca_pem: Option<&[u8]>) -> Result<HttpClient, ProviderError> {
        let settings = &self.settings;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(settings.connect_timeout)
            .user_agent(settings.user_agent.clone())
            .redirect(redirect_policy())
            .pool_idle_timeout(Duration::from_secs(30));
        let mut roots: Vec<&[u8]> = settings.extra_ca_pem.iter().map(Vec::as_slice).collect();
        roots.extend(extra_ca_pem);
        for pem in roots {
            let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|err| {
                ProviderError::new(
                    ErrorKind::Config,
                    format!("the CA certificate is not valid PEM: {err}"),
                )
            })?;
            if certificates.is_empty() {
                return Err(ProviderError::new(
                    ErrorKind::Config,
                    "the CA certificate holds no PEM certificate",
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let inner = builder.build().map_err(|err| {
            ProviderError::new(
                ErrorKind::Config,
                format!("cannot build the HTTP client: {}", error_chain(&err)),
            )
        })?;
        Ok(HttpClient {
            inner,
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
            permits: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
        })
    }
}

/// Redirects are followed only within the origin (scheme, host and port)
/// of the first request, and never from https to http. Every request of
/// this client carries a credential (a token header, a token or key in a
/// JSON body, an assertion in a form), and a 307/308 re-sends the body and
/// reqwest keeps custom headers, so a redirect to another origin would hand
/// the credential to a host the user never named.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let target = attempt.url().origin();
        let first = attempt.previous().first().map(url::Url::origin);
        let downgrade = attempt.url().scheme() == "http"
            && attempt.previous().iter().any(|url| url.scheme() == "https");
        if downgrade {
            attempt.error("refused a redirect from https to http")
        } else if first.is_some_and(|first| first != target) {
            let message = format!(
                "refused a redirect to another origin ({}): the request carries credentials",
                target.ascii_serialization()
            );
            attempt.error(message)
        } else if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// When a failed request may be sent again.
///
/// ```
/// use ci_secrets_provider_api::RetryMode;
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

/// A response whose body was read completely, within the size cap.
///
/// ```
/// use ci_secrets_provider_api::HttpResponse;
/// let response = HttpResponse::new(200, br#"{"ok":true}"#.to_vec());
/// let parsed: serde_json::Value = response.json("test").unwrap();
/// assert_eq!(parsed["ok"], true);
/// ```
#[derive(Debug)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body. It may hold secrets: never log it.
    pub body: zeroize::Zeroizing<Vec<u8>>,
    retry_after: Option<Duration>,
}

impl HttpResponse {
    /// A response, for tests and adapters.
    ///
    /// ```
    /// # use ci_secrets_provider_api::HttpResponse;
    /// assert!(HttpResponse::new(204, Vec::new()).is_success());
    /// ```
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            body: zeroize::Zeroizing::new(body),
            retry_after: None,
        }
    }

    /// The server's `Retry-After` delay (seconds or HTTP-date form), capped
    /// at 60 s.
    ///
    /// ```
    /// # use ci_secrets_provider_api::HttpResponse;
    /// assert_eq!(HttpResponse::new(429, Vec::new()).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the status is 2xx.
    ///
    /// ```
    /// # use ci_secrets_provider_api::HttpResponse;
    /// assert!(!HttpResponse::new(404, Vec::new()).is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Parses the body as JSON; a parse failure is a [`ErrorKind::Protocol`]
    /// error naming `what` (never quoting the body, which may hold secrets).
    ///
    /// ```
    /// # use ci_secrets_provider_api::{ErrorKind, HttpResponse};
    /// let err = HttpResponse::new(200, b"{".to_vec()).json::<serde_json::Value>("/auth").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Protocol);
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            ProviderError::new(
                ErrorKind::Protocol,
                format!(
                    "{what} answered HTTP {} with a body that is not the expected JSON (line {}, column {}: {})",
                    self.status,
                    err.line(),
                    err.column(),
                    classify_json_error(&err)
                ),
            )
            .with_status(self.status)
        })
    }

    /// The `error` (or `errors`) text of a JSON error body, made safe as a
    /// [`ServerText`] (`secrets` masked, one line, cut to 300 characters);
    /// `None` when the body has none.
    ///
    /// ```
    /// # use ci_secrets_provider_api::HttpResponse;
    /// let response = HttpResponse::new(401, br#"{"error":"bad token t-123"}"#.to_vec());
    /// assert_eq!(response.error_text(&["t-123"]).as_deref(), Some("bad token [MASKED]"));
    /// ```
    pub fn error_text(&self, secrets: &[&str]) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let text = match (value.get("error"), value.get("errors")) {
            (Some(serde_json::Value::String(text)), _) => text.clone(),
            (_, Some(serde_json::Value::Array(items))) => items
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            _ => return None,
        };
        if text.trim().is_empty() {
            return None;
        }
        Some(ServerText::new(&text, secrets).into_string())
    }
}

fn classify_json_error(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "truncated",
    }
}

/// An HTTP client bound to the run's settings and counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    settings: Arc<HttpSettings>,
    metrics: Arc<Metrics>,
    permits: Arc<Semaphore>,
}

impl HttpClient {
    /// The underlying `reqwest` client, for building requests.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends the request that `build` makes, retrying per `mode` within the
    /// context's deadline. `what` names the operation in errors (for example
    /// `POST /auth`).
    ///
    /// Returns the last response whatever its status, so the provider can
    /// classify it with its own error format (see [`status_kind`]). Returns an
    /// error for transport failures, TLS failures, the deadline, and bodies
    /// larger than the cap.
    ///
    /// Each call is one `http.request` span (target
    /// `ci_secrets_provider_api::http`) with the operation, the number of
    /// attempts, and `http.response.status_code` of the last answer, success
    /// or not; a call that ends without a 2xx/3xx answer is marked as an
    /// error (`otel.status_code`, and `error.type` when no answer came).
    pub async fn send(
        &self,
        ctx: &ResolveContext,
        what: &str,
        mode: RetryMode,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<HttpResponse, ProviderError> {
        let span = tracing::info_span!(
            "http.request",
            operation = what,
            attempts = tracing::field::Empty,
            "http.response.status_code" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            "otel.status_code" = tracing::field::Empty,
        );
        let outcome = self
            .send_attempts(ctx, what, mode, build, &span)
            .instrument(span.clone())
            .await;
        let failed = match &outcome {
            Ok(response) => response.status >= 400,
            Err(err) => {
                span.record("error.type", err.kind().as_str());
                true
            }
        };
        if failed {
            span.record("otel.status_code", "ERROR");
        }
        outcome
    }

    async fn send_attempts(
        &self,
        ctx: &ResolveContext,
        what: &str,
        mode: RetryMode,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        span: &tracing::Span,
    ) -> Result<HttpResponse, ProviderError> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            ProviderError::new(ErrorKind::Transient, "the HTTP client was shut down")
        })?;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            ctx.check_deadline().map_err(|err| {
                err.context(format!("{what}: gave up after {} attempt(s)", attempt - 1))
            })?;
            let remaining = ctx.remaining();
            let timeout = self.settings.request_timeout.min(remaining);
            self.metrics.record_api_call();
            let outcome = tokio::select! {
                outcome = self.attempt(build(&self.inner).timeout(timeout), timeout) => outcome,
                () = ctx.cancellation().cancelled() => {
                    return Err(ProviderError::new(ErrorKind::Deadline, format!("{what}: cancelled")));
                }
            };
            span.record("attempts", attempt);
            if let Ok(response) = &outcome {
                span.record("http.response.status_code", response.status);
            }
            let retry_after = match &outcome {
                Ok(response) if retryable_status(response.status, mode) => {
                    Some(response.retry_after)
                }
                Ok(_) => return outcome.map_err(|failure| failure.into_error(what, ctx)),
                Err(failure) if failure.retryable(mode) => Some(None),
                Err(_) => None,
            };
            let Some(server_delay) = retry_after else {
                return outcome.map_err(|failure| failure.into_error(what, ctx));
            };
            if attempt >= self.settings.max_attempts {
                return match outcome {
                    Ok(response) => Ok(response),
                    Err(failure) => Err(failure.into_error(what, ctx)),
                };
            }
            let delay = server_delay.unwrap_or_else(|| self.backoff(attempt));
            if Instant::now() + delay >= ctx.deadline() {
                // Sleeping would pass the deadline: say so, with the last answer.
                let last = match outcome {
                    Ok(response) => format!("HTTP {}", response.status),
                    Err(failure) => failure.into_error(what, ctx).message().to_string(),
                };
                return Err(ProviderError::new(
                    ErrorKind::Deadline,
                    format!(
                        "{what}: gave up after {attempt} attempt(s), the resolution deadline leaves no time to retry (last: {last})"
                    ),
                ));
            }
            tracing::debug!(
                operation = what,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            self.metrics.record_retry();
            tokio::time::sleep(delay).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let cap = exp.min(self.settings.max_backoff);
        // Full jitter: uniform in [cap/2, cap], so concurrent jobs spread out.
        let low = cap / 2;
        let span = cap.saturating_sub(low).as_millis() as u64;
        low + Duration::from_millis(rand::rng().random_range(0..=span))
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<HttpResponse, AttemptFailure> {
        let mut response = request.send().await.map_err(AttemptFailure::Send)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        if let Some(length) = response.content_length()
            && length > self.settings.max_body_bytes as u64
        {
            return Err(AttemptFailure::TooLarge(self.settings.max_body_bytes));
        }
        let mut body = zeroize::Zeroizing::new(Vec::new());
        let read = async {
            while let Some(chunk) = response.chunk().await.map_err(AttemptFailure::Body)? {
                if body.len() + chunk.len() > self.settings.max_body_bytes {
                    return Err(AttemptFailure::TooLarge(self.settings.max_body_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(())
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| AttemptFailure::BodyTimeout)??;
        Ok(HttpResponse {
            status,
            body,
            retry_after,
        })
    }
}

/// Longest `Retry-After` honoured; the run's deadline caps it further.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A `Retry-After` value in either form RFC 9110 allows: delay-seconds or
/// an HTTP date (a date in the past means "now"), capped at
/// [`MAX_RETRY_AFTER`]. `None` when it is neither.
fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
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

fn retryable_status(status: u16, mode: RetryMode) -> bool {
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
/// use ci_secrets_provider_api::{status_kind, ErrorKind};
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

#[derive(Debug)]
enum AttemptFailure {
    Send(reqwest::Error),
    Body(reqwest::Error),
    BodyTimeout,
    TooLarge(usize),
}

impl AttemptFailure {
    fn retryable(&self, mode: RetryMode) -> bool {
        match self {
            AttemptFailure::Send(err) => {
                if tls_cause(err).is_some() || err.is_redirect() || err.is_builder() {
                    return false;
                }
                match mode {
                    RetryMode::OnlyIfNotSent => err.is_connect(),
                    _ => err.is_connect() || err.is_timeout() || err.is_request(),
                }
            }
            AttemptFailure::Body(_) | AttemptFailure::BodyTimeout => {
                mode != RetryMode::OnlyIfNotSent
            }
            AttemptFailure::TooLarge(_) => false,
        }
    }

    fn into_error(self, what: &str, ctx: &ResolveContext) -> ProviderError {
        if ctx.check_deadline().is_err() {
            return ProviderError::new(
                ErrorKind::Deadline,
                format!("{what}: the resolution deadline passed"),
            );
        }
        match self {
            AttemptFailure::Send(err) => {
                if let Some(tls) = tls_cause(&err) {
                    return ProviderError::new(ErrorKind::Tls, format!("{what}: TLS: {tls}"));
                }
                if err.is_redirect() {
                    return ProviderError::new(
                        ErrorKind::Protocol,
                        format!("{what}: {}", error_chain(&err)),
                    );
                }
                let kind = ErrorKind::Transient;
                let detail = if err.is_timeout() {
                    "the request timed out".to_string()
                } else if err.is_connect() {
                    format!("cannot connect: {}", error_chain(&err))
                } else {
                    error_chain(&err)
                };
                ProviderError::new(kind, format!("{what}: {detail}"))
            }
            AttemptFailure::Body(err) => ProviderError::new(
                ErrorKind::Transient,
                format!("{what}: the response body broke off: {}", error_chain(&err)),
            ),
            AttemptFailure::BodyTimeout => ProviderError::new(
                ErrorKind::Transient,
                format!("{what}: the response body did not arrive in time"),
            ),
            AttemptFailure::TooLarge(cap) => ProviderError::new(
                ErrorKind::Protocol,
                format!("{what}: the response body is larger than the {cap}-byte limit"),
            ),
        }
    }
}

/// The error and its causes, joined by `: `, without repeating the URL's
/// query (reqwest puts URLs in errors; ours carry no secrets in queries).
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// A readable cause when the failure was a TLS handshake failure.
fn tls_cause(err: &reqwest::Error) -> Option<String> {
    let chain = error_chain(err);
    let lower = chain.to_lowercase();
    if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        Some("certificate signed by unknown authority. Set gateway_ca_certificate (or the provider's CA setting) to the gateway's CA".to_string())
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        Some("the certificate is not valid for this host name".to_string())
    } else if lower.contains("expired") && lower.contains("certificate") {
        Some("the server certificate has expired".to_string())
    } else if lower.contains("invalid peer certificate")
        || lower.contains("tls handshake")
        || lower.contains("invalidcertificate")
        || lower.contains("received corrupt message")
    {
        Some(chain)
    } else {
        None
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

    #[test]
    fn backoff_grows_and_is_capped() {
        let factory = HttpFactory::new(HttpSettings::default());
        let client = factory.client(None).unwrap();
        for attempt in 1..20 {
            let delay = client.backoff(attempt);
            assert!(delay <= Duration::from_secs(5), "{delay:?}");
        }
        assert!(client.backoff(1) <= Duration::from_millis(100));
    }
}
