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

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ci_secrets_provider_api::{ErrorKind, HttpSettings, ProviderError};
use rustls::pki_types::CertificateDer;
use tokio::sync::OnceCell;

use crate::client::error_chain;
use crate::preconnect::{self, Batch, Intent, Origin, PreconnectLayer, Preconnects};
use crate::trust;

/// The clients of one trust configuration.
#[derive(Debug)]
pub(crate) struct Transports {
    plain: Transport,
    tls: OnceCell<Transport>,
    settings: Arc<HttpSettings>,
    /// The extra roots, parsed when the client was asked for, so that a bad
    /// certificate is reported then and not at the first TLS connection.
    extra_roots: Vec<CertificateDer<'static>>,
    /// Connections opened ahead of their requests, shared by the clients
    /// that open them and the clients that use them.
    preconnects: Arc<Preconnects>,
}

/// The client of one scheme, and its warm-up twin (see `preconnect`),
/// built alike at the first preconnection.
#[derive(Debug)]
struct Transport {
    send: reqwest::Client,
    tls: Option<rustls::ClientConfig>,
    warmup: OnceLock<Option<reqwest::Client>>,
}

impl Transports {
    pub(crate) fn new(
        settings: Arc<HttpSettings>,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, ProviderError> {
        let preconnects = Arc::new(Preconnects::default());
        let plain = Transport::new(&settings, &preconnects, None)?;
        Ok(Self {
            plain,
            tls: OnceCell::new(),
            settings,
            extra_roots,
            preconnects,
        })
    }

    /// The client that builds requests (a request is not tied to the client
    /// that built it) and sends the plain-HTTP ones.
    pub(crate) fn plain(&self) -> &reqwest::Client {
        &self.plain.send
    }

    /// Sends `request` through the client of its scheme, taking a
    /// connection opened for its origin ahead of it when its pool has none.
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, ProviderError> {
        let origin = Origin::of(request.url());
        let client = &self.for_scheme(request.url().scheme()).await?.send;
        Ok(preconnect::with_intent(Intent::Request(origin), client.execute(request)).await)
    }

    /// Starts opening `connections` connections to the origin of `url`,
    /// kept for the requests that will need them (see `preconnect`). Over
    /// TLS, only the first is opened when the server speaks HTTP/2. Best
    /// effort: nothing is opened when the client cannot be built.
    pub(crate) async fn preconnect(&self, url: &url::Url, connections: usize) {
        let origin = Origin::of(url);
        if connections == 0
            || !matches!(url.scheme(), "http" | "https")
            || self.preconnects.multiplexes(&origin)
        {
            return;
        }
        let Ok(transport) = self.for_scheme(url.scheme()).await else {
            return;
        };
        let Some(warmup) = transport.warmup(&self.settings, &self.preconnects) else {
            return;
        };
        let batch = Batch::new();
        for _ in 0..connections {
            let request = warmup.get(url.clone()).send();
            preconnect::start(Intent::Preconnect(origin.clone(), batch.clone()), request);
        }
    }

    async fn for_scheme(&self, scheme: &str) -> Result<&Transport, ProviderError> {
        if scheme == "http" {
            Ok(&self.plain)
        } else {
            self.tls().await
        }
    }

    /// The TLS client, built once. Cheap: the roots it starts with are
    /// compiled in or given; the OS store is read only if a server needs it.
    async fn tls(&self) -> Result<&Transport, ProviderError> {
        self.tls
            .get_or_try_init(|| async {
                let config = trust::client_config(self.extra_roots.clone(), trust::os_roots)
                    .map_err(|err| {
                        ProviderError::new(
                            ErrorKind::Config,
                            format!("cannot build the HTTP client: {err}"),
                        )
                    })?;
                Transport::new(&self.settings, &self.preconnects, Some(config))
            })
            .await
    }

    /// Whether the TLS client was built (for tests).
    #[cfg(test)]
    pub(crate) fn tls_built(&self) -> bool {
        self.tls.initialized()
    }

    /// The kept connections (for tests).
    #[cfg(test)]
    pub(crate) fn preconnects(&self) -> &Preconnects {
        &self.preconnects
    }

    /// The connections kept for the origin of `url` (for tests).
    #[cfg(test)]
    pub(crate) fn kept(&self, url: &url::Url) -> usize {
        self.preconnects.count(&Origin::of(url))
    }
}

impl Transport {
    fn new(
        settings: &HttpSettings,
        preconnects: &Arc<Preconnects>,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Self, ProviderError> {
        let send = build(client_builder(settings, preconnects, tls.clone()))?;
        Ok(Self {
            send,
            tls,
            warmup: OnceLock::new(),
        })
    }

    fn warmup(
        &self,
        settings: &HttpSettings,
        preconnects: &Arc<Preconnects>,
    ) -> Option<&reqwest::Client> {
        self.warmup
            .get_or_init(|| {
                build(client_builder(settings, preconnects, self.tls.clone()))
                    .inspect_err(|err| {
                        tracing::debug!(error = err.message(), "no connections opened ahead");
                    })
                    .ok()
            })
            .as_ref()
    }
}

/// A client of one scheme: the plain one trusts no root at all, the TLS
/// one is given its configuration.
fn client_builder(
    settings: &HttpSettings,
    preconnects: &Arc<Preconnects>,
    tls: Option<rustls::ClientConfig>,
) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.clone())
        .redirect(redirect_policy())
        .pool_idle_timeout(Duration::from_secs(30))
        // One DNS lookup per host for the pool, not one per connection.
        .dns_resolver(Arc::new(crate::dns::CachingResolver::system()))
        .connector_layer(PreconnectLayer::new(
            preconnects.clone(),
            settings.connect_timeout,
        ));
    match tls {
        Some(config) => builder.use_preconfigured_tls(config),
        None => builder.tls_built_in_root_certs(false),
    }
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
