//! The reqwest clients behind one [`HttpClient`](crate::HttpClient): one for
//! `http://`, built at once, and one for `https://`, built at the first
//! request that needs TLS.
//!
//! A run that only talks plain HTTP (a local emulator, a gateway behind a
//! TLS-ending proxy) never builds the TLS client. The TLS client reads the OS
//! trust store only for a server that Mozilla's and the configured roots do
//! not vouch for (`trust`). The plain client trusts no root at all: it never
//! makes a TLS connection (a redirect is followed only within the first
//! origin, scheme included).

use std::sync::Arc;
use std::time::Duration;

use ci_secrets_provider_api::{ErrorKind, HttpSettings, ProviderError};
use rustls::pki_types::CertificateDer;
use tokio::sync::OnceCell;

use crate::client::error_chain;
use crate::trust;

/// The clients of one trust configuration.
#[derive(Debug)]
pub(crate) struct Transports {
    plain: reqwest::Client,
    tls: OnceCell<reqwest::Client>,
    settings: Arc<HttpSettings>,
    /// The extra roots, parsed when the client was asked for, so that a bad
    /// certificate is reported then and not at the first TLS connection.
    extra_roots: Vec<CertificateDer<'static>>,
}

impl Transports {
    pub(crate) fn new(
        settings: Arc<HttpSettings>,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, ProviderError> {
        let plain = build(base(&settings).tls_built_in_root_certs(false))?;
        Ok(Self {
            plain,
            tls: OnceCell::new(),
            settings,
            extra_roots,
        })
    }

    /// The client that builds requests (a request is not tied to the client
    /// that built it) and sends the plain-HTTP ones.
    pub(crate) fn plain(&self) -> &reqwest::Client {
        &self.plain
    }

    /// The client that sends `request`.
    pub(crate) async fn for_request(
        &self,
        request: &reqwest::Request,
    ) -> Result<&reqwest::Client, ProviderError> {
        if request.url().scheme() == "http" {
            return Ok(&self.plain);
        }
        self.tls().await
    }

    /// The TLS client, built once. Cheap: the roots it starts with are
    /// compiled in or given; the OS store is read only if a server needs it.
    async fn tls(&self) -> Result<&reqwest::Client, ProviderError> {
        self.tls
            .get_or_try_init(|| async {
                let config = trust::client_config(self.extra_roots.clone(), trust::os_roots)
                    .map_err(|err| {
                        ProviderError::new(
                            ErrorKind::Config,
                            format!("cannot build the HTTP client: {err}"),
                        )
                    })?;
                build(base(&self.settings).use_preconfigured_tls(config))
            })
            .await
    }

    /// Whether the TLS client was built (for tests).
    #[cfg(test)]
    pub(crate) fn tls_built(&self) -> bool {
        self.tls.initialized()
    }
}

/// What both clients share.
fn base(settings: &HttpSettings) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.clone())
        .redirect(redirect_policy())
        .pool_idle_timeout(Duration::from_secs(30))
        // One DNS lookup per host for the pool, not one per connection.
        .dns_resolver(Arc::new(crate::dns::CachingResolver::system()))
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, ProviderError> {
    builder.build().map_err(|err| {
        ProviderError::new(
            ErrorKind::Config,
            format!("cannot build the HTTP client: {}", error_chain(&err)),
        )
    })
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

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    use ci_secrets_provider_api::ResolveContext;

    use crate::{HttpFactory, RetryMode};

    /// Answers `connections` connections with a plain-HTTP 200, whatever
    /// they send (a TLS client hello gets the same bytes, and fails).
    fn plain_server(connections: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = stream.unwrap();
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        addr.to_string()
    }

    #[tokio::test]
    async fn plain_http_never_loads_the_trust_store_and_https_does() {
        let addr = plain_server(2);
        let ctx = ResolveContext::builder("job")
            .timeout(std::time::Duration::from_secs(10))
            .build();
        let client = HttpFactory::new(crate::HttpSettings::default())
            .client(None)
            .unwrap();
        let url = format!("http://{addr}/");
        let response = client
            .send(&ctx, "GET /", RetryMode::OnlyIfNotSent, |http| {
                http.get(url.as_str())
            })
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert!(!client.transports().tls_built());

        let url = format!("https://{addr}/");
        let err = client
            .send(&ctx, "GET /", RetryMode::OnlyIfNotSent, |http| {
                http.get(url.as_str())
            })
            .await
            .unwrap_err();
        assert!(client.transports().tls_built(), "{err}");
    }
}
