//! Connection pools, one per trust configuration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ci_secrets_provider_api::{ErrorKind, HttpSettings, ProviderError};
use tokio::sync::Semaphore;

use crate::client::{HttpClient, error_chain};

/// Hands out [`HttpClient`]s. Clients with the same extra CA share one
/// connection pool, so every secret of one gateway reuses its connections.
///
/// ```
/// use ci_secrets_http::{HttpFactory, HttpSettings};
/// let factory = HttpFactory::new(HttpSettings::default());
/// let a = factory.client(None).unwrap();
/// let b = factory.client(None).unwrap();
/// # let _ = (a, b);
/// ```
#[derive(Debug, Clone)]
pub struct HttpFactory {
    settings: Arc<HttpSettings>,
    clients: Arc<Mutex<HashMap<Vec<u8>, HttpClient>>>,
}

impl HttpFactory {
    /// A factory with these settings.
    ///
    /// ```
    /// # use ci_secrets_http::{HttpFactory, HttpSettings};
    /// let factory = HttpFactory::new(HttpSettings::default());
    /// assert_eq!(factory.settings().max_attempts, 5);
    /// ```
    pub fn new(settings: HttpSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            clients: Arc::default(),
        }
    }

    /// The settings.
    ///
    /// ```
    /// # use ci_secrets_http::{HttpFactory, HttpSettings};
    /// assert!(HttpFactory::new(HttpSettings::default()).settings().max_concurrency > 0);
    /// ```
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// A client that trusts the system roots, the settings' extra roots, and
    /// `extra_ca_pem` (one or more PEM certificates) when given.
    ///
    /// ```
    /// # use ci_secrets_http::{HttpFactory, HttpSettings};
    /// # use ci_secrets_provider_api::ErrorKind;
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
            .pool_idle_timeout(Duration::from_secs(30))
            // One DNS lookup per host for the pool, not one per connection.
            .dns_resolver(Arc::new(crate::dns::CachingResolver::system()));
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
        Ok(HttpClient::new(
            inner,
            self.settings.clone(),
            Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
        ))
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
