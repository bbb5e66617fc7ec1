//! Which roots a TLS connection trusts, and when the OS trust store is read.
//!
//! A server is trusted when its chain leads to one of: Mozilla's roots
//! (`webpki-roots`, compiled in), the CAs the configuration and the provider
//! add (`ca_file`, `gateway_ca_certificate`, `VAULT_CACERT`), or the OS trust
//! store. Reading the OS store parses every certificate of the system bundle
//! (on Debian 144 of them, about 19 million instructions, 5 ms), which is most
//! of what TLS adds to a run. Public endpoints (Akeyless SaaS, gitlab.com,
//! HashiCorp Cloud) chain to Mozilla's roots, so the chain is checked against
//! the compiled-in and configured roots first; the OS store is read, once per
//! process, only when that check fails, and the chain is then checked
//! against every root. The verdict is the one a single store of all roots
//! gives: more roots never turn an accepted chain into a rejected one, and a
//! chain rejected by the subset is judged by the whole store.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// Reads the OS trust store; a seam for tests.
pub(crate) type LoadOsRoots = fn() -> Vec<CertificateDer<'static>>;

/// The OS trust store as `rustls-native-certs` finds it (`SSL_CERT_FILE`,
/// `SSL_CERT_DIR`, else the platform's locations). Certificates it cannot
/// read are skipped, as reqwest's own loading does: one bad file must not
/// stop every TLS connection.
pub(crate) fn os_roots() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "skipped part of the OS trust store");
    }
    found.certs
}

/// A verifier that checks the compiled-in and configured roots first and the
/// OS trust store only when they do not vouch for the server.
pub(crate) struct LayeredVerifier {
    first: Arc<WebPkiServerVerifier>,
    everything: OnceLock<Result<Arc<WebPkiServerVerifier>, Error>>,
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
    load_os_roots: LoadOsRoots,
}

impl fmt::Debug for LayeredVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayeredVerifier")
            .field("extra_roots", &self.extra.len())
            .field("os_store_read", &self.everything.get().is_some())
            .finish_non_exhaustive()
    }
}

impl LayeredVerifier {
    /// Trusts Mozilla's roots, `extra`, and (when needed) what
    /// `load_os_roots` returns.
    pub(crate) fn new(
        extra: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
        load_os_roots: LoadOsRoots,
    ) -> Result<Self, Error> {
        let first = verifier(&provider, mozilla_and(&extra)?)?;
        Ok(Self {
            first,
            everything: OnceLock::new(),
            extra,
            provider,
            load_os_roots,
        })
    }

    /// Whether the OS trust store was read (for tests).
    #[cfg(test)]
    pub(crate) fn read_os_store(&self) -> bool {
        self.everything.get().is_some()
    }

    fn everything(&self) -> Result<&Arc<WebPkiServerVerifier>, Error> {
        self.everything
            .get_or_init(|| {
                let mut roots = mozilla_and(&self.extra)?;
                // Certificates the store holds that are no valid trust
                // anchor are skipped, as reqwest does.
                let (added, ignored) = roots.add_parsable_certificates((self.load_os_roots)());
                tracing::debug!(added, ignored, "read the OS trust store");
                verifier(&self.provider, roots)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn mozilla_and(extra: &[CertificateDer<'static>]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for certificate in extra {
        roots.add(certificate.clone())?;
    }
    Ok(roots)
}

fn verifier(
    provider: &Arc<CryptoProvider>,
    roots: RootCertStore,
) -> Result<Arc<WebPkiServerVerifier>, Error> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|err| Error::General(err.to_string()))
}

impl ServerCertVerifier for LayeredVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.first.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            Err(_) => self.everything()?.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
        }
    }

    // Signatures do not depend on the roots.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.first.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.first.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.first.supported_verify_schemes()
    }
}

/// The rustls configuration of the TLS client: the layered verifier, no
/// client certificate, and ALPN offering HTTP/2 then HTTP/1.1 (reqwest takes
/// a preconfigured configuration as it is).
pub(crate) fn client_config(
    extra: Vec<CertificateDer<'static>>,
    load_os_roots: LoadOsRoots,
) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = LayeredVerifier::new(extra, provider.clone(), load_os_roots)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A CA and a server certificate for `localhost` that it signed.
    fn ca_and_server() -> (CertificateDer<'static>, CertificateDer<'static>) {
        let certs = crate::test_certs::localhost();
        (certs.ca, certs.server)
    }

    fn verify(verifier: &LayeredVerifier, server: &CertificateDer<'_>) -> Result<(), Error> {
        verifier
            .verify_server_cert(
                server,
                &[],
                &ServerName::try_from("localhost").unwrap(),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    static OS_CA: OnceLock<CertificateDer<'static>> = OnceLock::new();

    fn os_store_with_the_ca() -> Vec<CertificateDer<'static>> {
        OS_CA.get().cloned().into_iter().collect()
    }

    fn empty_os_store() -> Vec<CertificateDer<'static>> {
        Vec::new()
    }

    #[test]
    fn a_configured_ca_is_trusted_without_reading_the_os_store() {
        let (ca, server) = ca_and_server();
        let verifier = LayeredVerifier::new(vec![ca], provider(), empty_os_store).unwrap();
        verify(&verifier, &server).unwrap();
        assert!(!verifier.read_os_store());
    }

    #[test]
    fn a_ca_only_the_os_store_holds_is_trusted_after_reading_it_once() {
        let (ca, server) = ca_and_server();
        OS_CA.set(ca).unwrap();
        let verifier = LayeredVerifier::new(Vec::new(), provider(), os_store_with_the_ca).unwrap();
        verify(&verifier, &server).unwrap();
        assert!(verifier.read_os_store());
        verify(&verifier, &server).unwrap();
    }

    #[test]
    fn a_ca_nobody_trusts_is_refused_as_an_unknown_issuer() {
        let (_, server) = ca_and_server();
        let verifier = LayeredVerifier::new(Vec::new(), provider(), empty_os_store).unwrap();
        let err = verify(&verifier, &server).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        );
        assert!(verifier.read_os_store());
    }
}
