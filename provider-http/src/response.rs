//! A response read completely, and what a provider reads from it.

use std::time::Duration;

use ci_secrets_provider_api::{ErrorKind, ProviderError, ServerText};

/// A response whose body was read completely, within the size cap.
///
/// ```
/// use ci_secrets_http::HttpResponse;
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
    /// # use ci_secrets_http::HttpResponse;
    /// assert!(HttpResponse::new(204, Vec::new()).is_success());
    /// ```
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            body: zeroize::Zeroizing::new(body),
            retry_after: None,
        }
    }

    /// A response whose body was read within the cap.
    pub(crate) fn read(
        status: u16,
        body: zeroize::Zeroizing<Vec<u8>>,
        retry_after: Option<Duration>,
    ) -> Self {
        Self {
            status,
            body,
            retry_after,
        }
    }

    /// The server's `Retry-After` delay (seconds or HTTP-date form), capped
    /// at 60 s.
    ///
    /// ```
    /// # use ci_secrets_http::HttpResponse;
    /// assert_eq!(HttpResponse::new(429, Vec::new()).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the status is 2xx.
    ///
    /// ```
    /// # use ci_secrets_http::HttpResponse;
    /// assert!(!HttpResponse::new(404, Vec::new()).is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Parses the body as JSON; a parse failure is a [`ErrorKind::Protocol`]
    /// error naming `what` (never quoting the body, which may hold secrets).
    ///
    /// ```
    /// # use ci_secrets_http::HttpResponse;
    /// # use ci_secrets_provider_api::ErrorKind;
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
    /// # use ci_secrets_http::HttpResponse;
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
