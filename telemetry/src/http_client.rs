//! The exporter's HTTP client: the workspace's reqwest 0.12 (rustls), so
//! that trace export adds no second HTTP or TLS stack.
//!
//! It is reqwest's *blocking* client because the SDK's batch processor
//! exports from its own plain thread, outside any async runtime. Transport
//! failures are remembered in [`ExportHealth`], because the OTLP exporter
//! reduces them to "network error" and the one warning we print should say
//! what went wrong.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};

use super::error::TelemetryError;
use super::health::ExportHealth;

/// Collector responses are tiny (an empty or partial-success message); a
/// cap keeps a misbehaving endpoint from filling memory.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// The blocking reqwest client, with failure bookkeeping.
#[derive(Debug)]
pub(crate) struct BlockingHttpClient {
    client: reqwest::blocking::Client,
    health: Arc<ExportHealth>,
}

impl BlockingHttpClient {
    /// A client whose requests each end within `timeout`.
    pub(crate) fn new(
        timeout: Duration,
        health: Arc<ExportHealth>,
    ) -> Result<Self, TelemetryError> {
        // reqwest's blocking client owns a small runtime that must not be
        // created (or dropped) inside another runtime: build it on a thread
        // of its own, as the OTLP crate does for its built-in client.
        let build = move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                // A collector never redirects; following one could send
                // the exporter's headers (often a token) elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()
        };
        let client = std::thread::Builder::new()
            .name("otlp-client-setup".to_string())
            .spawn(build)
            .map_err(|err| TelemetryError::Setup(format!("cannot start a thread: {err}")))?
            .join()
            .map_err(|_| TelemetryError::Setup("building the HTTP client panicked".to_string()))?
            .map_err(|err| TelemetryError::Setup(format!("cannot build the HTTP client: {err}")))?;
        Ok(Self { client, health })
    }

    fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request: reqwest::blocking::Request = request.try_into()?;
        let mut response = self.client.execute(request)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        response.take(MAX_RESPONSE_BYTES).read_to_end(&mut body)?;
        let mut out = Response::builder().status(status).body(Bytes::from(body))?;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

#[async_trait]
impl HttpClient for BlockingHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let sent = self.send(request);
        match &sent {
            Ok(response) if !response.status().is_success() => {
                self.health
                    .record_failure(format!("the collector answered HTTP {}", response.status()));
            }
            Ok(_) => {}
            Err(err) => self.health.record_failure(describe(err.as_ref())),
        }
        sent
    }
}

/// The error and its causes on one line, without the URL: the endpoint may
/// carry credentials, and the warning names the failure, not the address.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = match err.downcast_ref::<reqwest::Error>() {
        Some(reqwest_error) if reqwest_error.is_timeout() => "timed out".to_string(),
        Some(_) => "request failed".to_string(),
        None => err.to_string(),
    };
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_described_without_the_url() {
        // A port nobody listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let health = Arc::new(ExportHealth::default());
        let client = BlockingHttpClient::new(Duration::from_secs(5), health.clone()).unwrap();
        let request = Request::post(format!("http://user:pw@127.0.0.1:{port}/v1/traces"))
            .body(Bytes::from_static(b""))
            .unwrap();
        let sent = futures::executor::block_on(client.send_bytes(request));
        assert!(sent.is_err());
        let cause = health.last_failure().unwrap();
        assert!(cause.contains("onnection refused"), "{cause}");
        assert!(!cause.contains("pw"), "{cause}");
    }
}
