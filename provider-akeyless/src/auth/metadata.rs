//! Requests to instance metadata services (GCE metadata server, Azure IMDS,
//! App Service identity endpoint).
//!
//! These live on link-local or loopback addresses, so they bypass
//! `HTTP_PROXY` (as the clouds' own SDKs do): a corporate proxy cannot reach
//! them. They are retried on the statuses the clouds document as transient
//! (Azure IMDS answers 404 and 410 while an identity is being attached),
//! within the run's deadline.

use std::time::Duration;

use ci_secrets_provider_api::{ErrorKind, ResolveContext, ServerText};
use zeroize::Zeroizing;

const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A failed metadata request: its kind and a message without secrets.
#[derive(Debug)]
pub(super) struct MetadataError {
    pub kind: ErrorKind,
    pub message: String,
}

/// Sends `GET url` with `headers` and returns the 2xx body. `secrets` are
/// the credentials among the header values, masked in error text.
pub(super) async fn get(
    ctx: &ResolveContext,
    url: &str,
    headers: &[(&str, &str)],
    secrets: &[&str],
) -> Result<Zeroizing<String>, MetadataError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .map_err(|err| MetadataError {
            kind: ErrorKind::Config,
            message: format!("cannot build the metadata HTTP client: {err}"),
        })?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let timeout = REQUEST_TIMEOUT.min(ctx.remaining());
        if timeout.is_zero() {
            return Err(MetadataError {
                kind: ErrorKind::Deadline,
                message: format!("GET {url}: the resolution deadline passed"),
            });
        }
        let mut request = client.get(url).timeout(timeout);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        // Status 0 stands for "no answer": a transport failure.
        let (status, detail) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match read_body(response).await {
                    Ok(body) if (200..300).contains(&status) => return Ok(body),
                    Ok(body) => (status, body_error(&body, secrets)),
                    Err(message) => (0, message),
                }
            }
            Err(err) => (0, transport_error(&err)),
        };
        let transient = matches!(status, 0 | 404 | 410 | 429 | 500..=599);
        let delay = FIRST_BACKOFF * 2u32.pow(attempt - 1);
        if !transient || attempt >= ATTEMPTS || delay >= ctx.remaining() {
            let kind = match status {
                0 | 429 | 500..=599 => ErrorKind::Transient,
                401 | 403 => ErrorKind::Auth,
                404 | 410 => ErrorKind::NotFound,
                _ => ErrorKind::Protocol,
            };
            let shown = if status == 0 {
                String::new()
            } else {
                format!("HTTP {status}: ")
            };
            return Err(MetadataError {
                kind,
                message: format!("GET {url}: {shown}{detail}"),
            });
        }
        tokio::time::sleep(delay).await;
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Zeroizing<String>, String> {
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| transport_error(&err))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("the answer is larger than {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| "the answer is not UTF-8".to_string())
}

/// The `error_description` / `error` of an OAuth-style error body, never the
/// whole body (a success-shaped body may hold a token), as a quoted
/// [`ServerText`] with `secrets` (what the request carried) masked.
pub(super) fn body_error(body: &str, secrets: &[&str]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let text = parsed.as_ref().and_then(|value| {
        ["error_description", "message", "error"]
            .iter()
            .find_map(|key| match value.get(*key) {
                Some(serde_json::Value::String(text)) => Some(text.clone()),
                Some(serde_json::Value::Object(inner)) => inner
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string),
                _ => None,
            })
    });
    match text {
        Some(text) => format!("\"{}\"", ServerText::new(&text, secrets)),
        None => "no error text".to_string(),
    }
}

fn transport_error(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if err.is_timeout() {
        format!("timed out ({text})")
    } else {
        text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_show_only_the_error_text() {
        assert_eq!(
            body_error(
                r#"{"error":"invalid_grant","error_description":"bad assertion"}"#,
                &[]
            ),
            "\"bad assertion\""
        );
        assert_eq!(
            body_error(r#"{"access_token":"secret"}"#, &[]),
            "no error text"
        );
        assert_eq!(body_error("<html>", &[]), "no error text");
        assert_eq!(
            body_error(
                r#"{"error_description":"bad assertion eyJ.assert.ion\n\u001b[31m"}"#,
                &["eyJ.assert.ion"]
            ),
            r#""bad assertion [MASKED]\n\u{1b}[31m""#
        );
    }
}
