//! Sending one request: attempts, backoff and error classification.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use ci_secrets_provider_api::{ErrorKind, HttpSettings, ProviderError, ResolveContext};
use rand::Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::response::HttpResponse;
use crate::retry::{RetryMode, parse_retry_after, retryable_status};
use crate::transport::Transports;

/// An HTTP client bound to the run's settings; it counts its calls and
/// retries into the metrics of the context it is given. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    transports: Arc<Transports>,
    settings: Arc<HttpSettings>,
    permits: Arc<Semaphore>,
}

impl HttpClient {
    pub(crate) fn new(
        transports: Arc<Transports>,
        settings: Arc<HttpSettings>,
        permits: Arc<Semaphore>,
    ) -> Self {
        Self {
            transports,
            settings,
            permits,
        }
    }

    #[cfg(test)]
    pub(crate) fn transports(&self) -> &Transports {
        &self.transports
    }

    /// This client, sharing its connection pool, with `permits` as its bound
    /// on requests in flight instead of the run's `http.max_concurrency`.
    ///
    /// A provider uses it to set its own bound (one semaphore shared by all
    /// of its requests), for example to let a wave of a few hundred
    /// issuance requests go out at once while still protecting the server.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ci_secrets_http::{HttpFactory, HttpSettings};
    ///
    /// let factory = HttpFactory::new(HttpSettings::default());
    /// let bound = Arc::new(tokio::sync::Semaphore::new(256));
    /// let client = factory.client(None).unwrap().with_permits(bound.clone());
    /// assert_eq!(client.max_in_flight(), 256);
    /// ```
    #[must_use]
    pub fn with_permits(&self, permits: Arc<Semaphore>) -> Self {
        Self {
            transports: self.transports.clone(),
            settings: self.settings.clone(),
            permits,
        }
    }

    /// How many requests this client lets be in flight now (the free
    /// permits of its bound).
    ///
    /// ```
    /// use ci_secrets_http::{HttpFactory, HttpSettings};
    /// let factory = HttpFactory::new(HttpSettings::default());
    /// assert_eq!(factory.client(None).unwrap().max_in_flight(), 64);
    /// ```
    pub fn max_in_flight(&self) -> usize {
        self.permits.available_permits()
    }

    /// Starts opening `connections` connections to the origin of `url`
    /// and keeps them for the requests that will need them: call it when
    /// the size of the next wave of concurrent requests is known and its
    /// requests wait on something else, typically a login. Each request of
    /// the wave that finds no idle connection in the pool takes a kept one
    /// instead of opening its own, so the wave does not pay for opening
    /// connections. Over TLS the first connection is opened alone, and the
    /// others only if it speaks HTTP/1.1 (HTTP/2 carries the whole wave on
    /// one). At most [`max_in_flight`](Self::max_in_flight) are opened; a
    /// connection no request takes within seconds is closed.
    ///
    /// Best effort, and silent: a URL that is not `http(s)://` or a
    /// connection that fails opens nothing, and a request then opens its
    /// own connection (whose failure is the request's).
    ///
    /// ```
    /// use ci_secrets_http::{HttpFactory, HttpSettings};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = HttpFactory::new(HttpSettings::default()).client(None).unwrap();
    /// // The login goes first; the wave after it needs 10 connections.
    /// client.preconnect("http://127.0.0.1:9", 9).await;
    /// # });
    /// ```
    pub async fn preconnect(&self, url: &str, connections: usize) {
        let Ok(url) = url::Url::parse(url) else {
            return;
        };
        let connections = connections.min(self.max_in_flight());
        self.transports.preconnect(&url, connections).await;
    }

    /// A `reqwest` client for building requests. [`send`](Self::send)
    /// sends each request through the client its scheme needs: the one for
    /// `https://` loads the OS trust store, at the first TLS request.
    pub fn reqwest(&self) -> &reqwest::Client {
        self.transports.plain()
    }

    /// Sends `request` once, through the client its scheme needs and the
    /// connections kept for its origin (see [`preconnect`](Self::preconnect)),
    /// and returns the response with its body unread.
    ///
    /// For adapters whose caller owns the retries, timeouts and counting (an
    /// SDK's own HTTP client interface): nothing here retries, records
    /// metrics, caps the body or waits for a permit. Everything else should
    /// use [`send`](Self::send).
    ///
    /// The outer error is a client that cannot be built (a configuration
    /// error, not worth retrying); the inner one is the request's own failure.
    ///
    /// ```
    /// use ci_secrets_http::{HttpFactory, HttpSettings};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let client = HttpFactory::new(HttpSettings::default()).client(None).unwrap();
    /// // Port 9 (discard) refuses: the request's own failure.
    /// let request = client.reqwest().get("http://127.0.0.1:9/").build().unwrap();
    /// let sent = client.execute(request).await.unwrap();
    /// assert!(sent.unwrap_err().is_connect());
    /// # });
    /// ```
    pub async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, ProviderError> {
        self.transports.execute(request).await
    }

    /// Sends the request that `build` makes, retrying per `mode` within the
    /// context's deadline. `what` names the operation in errors (for example
    /// `POST /auth`).
    ///
    /// Returns the last response whatever its status, so the provider can
    /// classify it with its own error format (see [`status_kind`](crate::status_kind)). Returns an
    /// error for transport failures, TLS failures, the deadline, and bodies
    /// larger than the cap.
    ///
    /// Each call is one `http.request` span (target
    /// `ci_secrets_http::client`) with the operation, the number of
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
            ctx.metrics().record_api_call();
            let outcome = tokio::select! {
                outcome = self.attempt(build(self.transports.plain()).timeout(timeout), timeout) => outcome?,
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
                    Some(response.retry_after())
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
            ctx.metrics().record_retry();
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

    /// One attempt. The outer error is a client that cannot be built (not
    /// worth retrying); the inner one is the attempt's own failure.
    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Result<HttpResponse, AttemptFailure>, ProviderError> {
        let request = match request.build() {
            Ok(request) => request,
            Err(err) => return Ok(Err(AttemptFailure::Send(err))),
        };
        let sent = self.transports.execute(request).await?;
        Ok(self.receive(sent, timeout).await)
    }

    async fn receive(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
        timeout: Duration,
    ) -> Result<HttpResponse, AttemptFailure> {
        let mut response = sent.map_err(AttemptFailure::Send)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        let max = self.settings.max_body_bytes;
        let body = tokio::time::timeout(timeout, read_capped_body(&mut response, max))
            .await
            .map_err(|_| AttemptFailure::BodyTimeout)?
            .map_err(|err| match err {
                BodyError::TooLarge => AttemptFailure::TooLarge(max),
                BodyError::Read(err) => AttemptFailure::Body(err),
            })?;
        Ok(HttpResponse::read(status, body, retry_after))
    }

    /// The settings this client was built with.
    #[cfg(feature = "aws-sdk")]
    pub(crate) fn settings(&self) -> &HttpSettings {
        &self.settings
    }
}

/// Why a response body was not read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// It is longer than the cap (declared or as read).
    TooLarge,
    Read(reqwest::Error),
}

/// The body of `response`, refused as soon as it is known to exceed `max`
/// bytes: by its declared length before any byte is read, else while read.
pub(crate) async fn read_capped_body(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = zeroize::Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
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
pub(crate) fn tls_cause(err: &reqwest::Error) -> Option<String> {
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
    use crate::HttpFactory;

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
