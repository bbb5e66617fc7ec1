//! Connection pools, one per trust configuration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ci_secrets_provider_api::{ErrorKind, HttpSettings, ProviderError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio::sync::Semaphore;

use crate::client::HttpClient;
use crate::transport::Transports;

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
        let mut roots: Vec<&[u8]> = settings.extra_ca_pem.iter().map(Vec::as_slice).collect();
        roots.extend(extra_ca_pem);
        let mut extra_roots = Vec::new();
        for pem in roots {
            let certificates = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| {
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
            extra_roots.extend(certificates);
        }
        let transports = Transports::new(self.settings.clone(), extra_roots)?;
        Ok(HttpClient::new(
            Arc::new(transports),
            self.settings.clone(),
            Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
        ))
    }
}
