//! `doctor` through a proxy. The endpoint checks go where the HTTP client
//! goes: when `HTTPS_PROXY`, `HTTP_PROXY` or `ALL_PROXY` applies to the
//! endpoint (and `NO_PROXY` does not exempt it), DNS and TCP are checked for
//! the proxy, then an `https://` endpoint gets a `CONNECT` tunnel, through
//! which TLS is checked as on a direct connection. The choice is made by
//! hyper-util's matcher, the one reqwest uses, so it cannot differ from the
//! resolution's.

use std::time::Duration;

use ci_secrets_provider_api::diagnostics::Check;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// The most of the proxy's answer to `CONNECT` that is read.
const MAX_ANSWER: usize = 16 * 1024;

/// The proxy settings of the run.
pub(crate) struct Proxies(Matcher);

impl Proxies {
    /// The settings the HTTP client reads from the environment.
    pub(crate) fn from_env() -> Self {
        Self(Matcher::from_env())
    }

    /// Every request through `proxy` (a URL) but those `no_proxy` exempts,
    /// for tests.
    #[cfg(test)]
    pub(crate) fn all(proxy: &str, no_proxy: &str) -> Self {
        Self(
            Matcher::builder()
                .all(proxy.to_string())
                .no(no_proxy.to_string())
                .build(),
        )
    }

    /// The proxy that requests to `endpoint` go through, if any.
    pub(crate) fn for_endpoint(&self, endpoint: &Url) -> Option<Proxy> {
        let uri: http::Uri = endpoint.as_str().parse().ok()?;
        let intercept = self.0.intercept(&uri)?;
        let shown = intercept.uri();
        let (Some(host), Some(port)) = (
            shown.host(),
            shown.port_u16().or_else(|| match shown.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            }),
        ) else {
            return Some(Proxy::Unusable(intercept));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        match shown.scheme_str() {
            Some("http") => Some(Proxy::Http {
                host,
                port,
                intercept,
            }),
            _ => Some(Proxy::Unusable(intercept)),
        }
    }
}

/// A proxy that applies to an endpoint.
pub(crate) enum Proxy {
    /// An `http://` proxy: the doctor checks the way through it.
    Http {
        host: String,
        port: u16,
        intercept: Intercept,
    },
    /// Any other (`https://`, `socks5://`): used by the HTTP client, not
    /// checked by the doctor.
    Unusable(Intercept),
}

impl Proxy {
    /// The proxy as shown: scheme, host and port, never its credentials.
    pub(crate) fn shown(&self) -> String {
        let uri = match self {
            Self::Http { intercept, .. } | Self::Unusable(intercept) => intercept.uri(),
        };
        let scheme = uri.scheme_str().unwrap_or("?");
        let host = uri.host().unwrap_or("?");
        match uri.port_u16() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }
    }
}

/// Asks the proxy on `stream` for a tunnel to `authority` (`host:port`).
pub(crate) async fn tunnel(
    stream: &mut TcpStream,
    intercept: &Intercept,
    authority: &str,
    timeout: Duration,
) -> Check {
    const NAME: &str = "proxy tunnel";
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(credentials) = intercept.basic_auth().and_then(|value| value.to_str().ok()) {
        request.push_str(&format!("Proxy-Authorization: {credentials}\r\n"));
    }
    request.push_str("\r\n");
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        read_answer(stream).await
    };
    let (code, reason) = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Check::fail(
                NAME,
                format!(
                    "no answer to CONNECT {authority} within {} s",
                    timeout.as_secs_f64()
                ),
            );
        }
        Ok(Err(err)) => {
            return Check::fail(NAME, format!("CONNECT {authority}: {err}"))
                .with_hint("Check that HTTPS_PROXY names an HTTP proxy");
        }
        Ok(Ok(answer)) => answer,
    };
    match code {
        200..=299 => Check::pass(NAME, format!("CONNECT {authority} answered {code}")),
        407 => Check::fail(
            NAME,
            format!("the proxy wants credentials for CONNECT {authority} (407)"),
        )
        .with_hint("Put them in the proxy URL: http://user:password@proxy:port"),
        _ => Check::fail(
            NAME,
            format!("the proxy answered CONNECT {authority} with {code} {reason}"),
        )
        .with_hint(
            "Check that the proxy allows tunnels to this host and port (NO_PROXY exempts hosts)",
        ),
    }
}

/// Reads the proxy's answer head: its status code and reason.
async fn read_answer(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the proxy closed the connection",
            ));
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut answer = httparse::Response::new(&mut headers);
        match answer.parse(&buffer) {
            Ok(httparse::Status::Complete(_)) => {
                let code = answer.code.unwrap_or_default();
                let reason: String = answer.reason.unwrap_or_default().chars().take(80).collect();
                return Ok((code, reason));
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_ANSWER => {}
            Ok(httparse::Status::Partial) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the proxy's answer has no end",
                ));
            }
            Err(err) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("not an HTTP answer: {err}"),
                ));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_proxy_is_shown_without_its_credentials_and_no_proxy_exempts() {
        let proxies = Proxies::all(
            "http://ci:hunter2-proxy@proxy.example:3128",
            "internal.example",
        );
        let Some(proxy @ Proxy::Http { .. }) =
            proxies.for_endpoint(&url("https://gw.example:8000/api/v2"))
        else {
            panic!("an http:// proxy applies");
        };
        assert_eq!(proxy.shown(), "http://proxy.example:3128");
        assert!(
            proxies
                .for_endpoint(&url("https://vault.internal.example"))
                .is_none()
        );
        let socks = Proxies::all("socks5://proxy.example:1080", "");
        let Some(unusable @ Proxy::Unusable(_)) = socks.for_endpoint(&url("https://gw.example"))
        else {
            panic!("a socks proxy is not checked");
        };
        assert_eq!(unusable.shown(), "socks5://proxy.example:1080");
    }

    /// Asks a proxy on a local port (with `credentials`, `user:password@`
    /// or empty, in its URL) for a tunnel to `gw.example:8000`; the proxy
    /// answers one `CONNECT` with `answer`. Returns the check and the
    /// request head the proxy read.
    async fn tunnel_through(credentials: &str, answer: &'static str) -> (Check, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                socket.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(head).unwrap()
        });
        let proxies = Proxies::all(&format!("http://{credentials}127.0.0.1:{port}"), "");
        let Some(Proxy::Http { intercept, .. }) =
            proxies.for_endpoint(&url("https://gw.example:8000"))
        else {
            panic!("an http:// proxy applies");
        };
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let check = tunnel(
            &mut stream,
            &intercept,
            "gw.example:8000",
            Duration::from_secs(5),
        )
        .await;
        (check, proxy.await.unwrap())
    }

    #[tokio::test]
    async fn a_tunnel_is_asked_for_with_the_proxy_credentials() {
        let (check, head) = tunnel_through(
            "ci:hunter2-proxy@",
            "HTTP/1.1 200 Connection established\r\n\r\n",
        )
        .await;
        assert!(check.passed, "{check}");
        assert_eq!(check.detail, "CONNECT gw.example:8000 answered 200");
        assert!(
            head.starts_with("CONNECT gw.example:8000 HTTP/1.1\r\n"),
            "{head}"
        );
        // base64("ci:hunter2-proxy")
        assert!(
            head.contains("Proxy-Authorization: Basic Y2k6aHVudGVyMi1wcm94eQ==\r\n"),
            "{head}"
        );
        assert!(!check.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn a_proxy_that_wants_credentials_says_where_to_put_them() {
        let (check, _head) = tunnel_through(
            "",
            "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert!(!check.passed);
        assert_eq!(
            check.to_string(),
            "proxy tunnel: FAILED: the proxy wants credentials for CONNECT gw.example:8000 (407). \
             Put them in the proxy URL: http://user:password@proxy:port"
        );
    }

    #[tokio::test]
    async fn a_refused_tunnel_names_the_answer() {
        let (check, _head) = tunnel_through("", "HTTP/1.1 403 Forbidden\r\n\r\n").await;
        assert!(!check.passed);
        assert_eq!(
            check.detail,
            "the proxy answered CONNECT gw.example:8000 with 403 Forbidden"
        );
    }
}
