//! A hostile server for the credential check: it answers every request
//! with an error whose text repeats the whole request (head and body) and
//! the decoding of every base64 run in it, two levels deep (a server may
//! decode what it is sent: a base64 token, a cloud id holding signed
//! headers). The error comes in each shape a provider reads: JSON with the
//! usual fields (`error`, `errors`, `message`, `error_description`), the
//! AWS JSON protocol's `__type`/`message`, and the AWS query protocol's XML.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Requests larger than this are echoed only up to it.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Base64 runs shorter than this are not decoded: they are words.
const MIN_ENCODED_LEN: usize = 16;

/// The running server; it stops when dropped.
pub(crate) struct EchoServer {
    url: String,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl EchoServer {
    pub(crate) async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    if answer(stream).await.is_ok() {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Ok(Self {
            url,
            requests,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`, without a trailing `/`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Requests answered so far.
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request and answers it with its echo.
async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let request = read_request(&mut stream).await?;
    let echo = echo_text(&request);
    let lower = String::from_utf8_lossy(&request).to_ascii_lowercase();
    let (content_type, body) = if lower.contains("action=") {
        ("text/xml", xml_error(&echo))
    } else {
        ("application/json", json_error(&echo))
    };
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: AccessDeniedException\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// The head and the `Content-Length` body, cut at [`MAX_REQUEST_BYTES`].
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = find(&data, b"\r\n\r\n") {
            break end + 4;
        }
        if data.len() > MAX_REQUEST_BYTES {
            return Ok(data);
        }
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&buffer[..read]);
    };
    let length = String::from_utf8_lossy(&data[..head_end])
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0)
        .min(MAX_REQUEST_BYTES);
    while data.len() < head_end + length {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        data.extend_from_slice(&buffer[..read]);
    }
    Ok(data)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The request as text, then the decoding of each base64 run in it, and of
/// each run in those.
fn echo_text(request: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(request).into_owned();
    let mut layer = text.clone();
    for _ in 0..2 {
        let decoded: Vec<String> = base64_runs(&layer).filter_map(decode).collect();
        if decoded.is_empty() {
            break;
        }
        layer = decoded.join(" ");
        text.push_str(" decoded: ");
        text.push_str(&layer);
    }
    text
}

fn base64_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_')))
        .filter(|run| run.len() >= MIN_ENCODED_LEN)
}

fn decode(run: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let bytes = STANDARD
        .decode(run)
        .or_else(|_| URL_SAFE_NO_PAD.decode(run.trim_end_matches('=')))
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn json_error(echo: &str) -> String {
    let text = serde_json::Value::String(echo.to_string());
    format!(
        r#"{{"__type":"AccessDeniedException","error":{text},"errors":[{text}],"message":{text},"Message":{text},"error_description":{text}}}"#
    )
}

fn xml_error(echo: &str) -> String {
    let mut escaped = String::with_capacity(echo.len());
    for c in echo.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escaped}</Message></Error><RequestId>echo</RequestId></ErrorResponse>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_holds_decoded_layers() {
        let inner = base64::engine::general_purpose::STANDARD.encode("session-token-0123456789");
        let outer =
            base64::engine::general_purpose::STANDARD.encode(format!("{{\"h\":\"{inner}\"}}"));
        let echo =
            echo_text(format!("POST / HTTP/1.1\r\n\r\n{{\"cloud-id\":\"{outer}\"}}").as_bytes());
        assert!(echo.contains("session-token-0123456789"), "{echo}");
    }
}
