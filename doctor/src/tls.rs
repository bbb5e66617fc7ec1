//! The TLS check: a handshake with the roots the HTTP layer trusts, the
//! failure classified (unknown authority, wrong name, expired) and the
//! server certificate's expiry reported.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ci_secrets_provider_api::diagnostics::Check;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

const NAME: &str = "TLS";

/// The hint when the handshake fails for another reason than the certificate.
const NOT_TLS_HINT: &str =
    "Is the server speaking TLS on this port? For a plain-HTTP server use an http:// URL";

/// The roots every HTTP client of the run trusts: the system's (native
/// store and Mozilla's, as `reqwest` is built with both) and `[http] ca_file`.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    roots: RootCertStore,
}

impl Trust {
    /// The system roots plus `extra_pem` (PEM bundles). Unparsable native
    /// roots are skipped, as `reqwest` skips them.
    pub(crate) fn system(extra_pem: &[Vec<u8>]) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let mut trust = Self { roots };
        for pem in extra_pem {
            trust
                .add_pem(pem)
                .map_err(|err| format!("[http] ca_file: {err}"))?;
        }
        Ok(trust)
    }

    /// These roots plus the certificates of `pem`.
    pub(crate) fn with_pem(&self, pem: &[u8]) -> Result<Self, String> {
        let mut trust = self.clone();
        trust.add_pem(pem)?;
        Ok(trust)
    }

    fn add_pem(&mut self, pem: &[u8]) -> Result<(), String> {
        let mut added = 0;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate =
                certificate.map_err(|err| format!("the CA certificate is not valid PEM: {err}"))?;
            self.roots
                .add(certificate)
                .map_err(|err| format!("the CA certificate cannot be used: {err}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("the CA certificate holds no PEM certificate".to_string());
        }
        Ok(())
    }
}

/// Verifies as `reqwest` does, and keeps the server's certificate so that a
/// failure can say what the server presented.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    leaf: Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(end_entity.clone().into_owned());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Shakes hands over `stream` with `server_name`, trusting `trust`.
/// `ca_setting` names the setting that adds a CA, for the hint.
pub(crate) async fn check(
    stream: TcpStream,
    server_name: ServerName<'static>,
    trust: &Trust,
    ca_setting: Option<&str>,
    timeout: Duration,
) -> Check {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match WebPkiServerVerifier::builder_with_provider(
        Arc::new(trust.roots.clone()),
        provider.clone(),
    )
    .build()
    {
        Ok(verifier) => Arc::new(RecordingVerifier {
            inner: verifier,
            leaf: Mutex::new(None),
        }),
        Err(err) => return Check::fail(NAME, format!("no usable CA root: {err}")),
    };
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth(),
        Err(err) => return Check::fail(NAME, format!("cannot set up TLS: {err}")),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let host = server_name.to_str().into_owned();
    let outcome = tokio::time::timeout(timeout, connector.connect(server_name, stream)).await;
    let leaf = verifier
        .leaf
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let leaf = leaf.as_ref().and_then(|der| Leaf::parse(der));
    match outcome {
        Err(_) => Check::fail(
            NAME,
            format!("no handshake within {} s", timeout.as_secs_f64()),
        )
        .with_hint(NOT_TLS_HINT),
        Ok(Ok(_)) => match leaf {
            Some(leaf) => Check::pass(
                NAME,
                format!(
                    "certificate chain trusted; {} valid until {} ({} days left)",
                    leaf.subject,
                    leaf.not_after.date(),
                    leaf.days_left()
                ),
            ),
            None => Check::pass(NAME, "certificate chain trusted"),
        },
        Ok(Err(err)) => match err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(rustls::Error::InvalidCertificate(problem)) => {
                certificate_failure(problem, leaf.as_ref(), &host, ca_setting)
            }
            Some(other) => {
                Check::fail(NAME, format!("handshake failed: {other}")).with_hint(NOT_TLS_HINT)
            }
            None => Check::fail(NAME, format!("handshake failed: {err}")).with_hint(NOT_TLS_HINT),
        },
    }
}

fn certificate_failure(
    problem: &CertificateError,
    leaf: Option<&Leaf>,
    host: &str,
    ca_setting: Option<&str>,
) -> Check {
    let presented = leaf
        .map(|leaf| format!(" ({} issued by {})", leaf.subject, leaf.issuer))
        .unwrap_or_default();
    match problem {
        CertificateError::UnknownIssuer => {
            let hint = match ca_setting {
                Some(setting) => format!(
                    "Set {setting} to the CA that signed the server's certificate (or [http] ca_file for every provider)"
                ),
                None => {
                    "Set [http] ca_file to the CA that signed the server's certificate".to_string()
                }
            };
            Check::fail(
                NAME,
                format!("certificate signed by unknown authority{presented}"),
            )
            .with_hint(hint)
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let names = leaf
                .map(|leaf| format!(" (it names {})", leaf.names.join(", ")))
                .unwrap_or_default();
            Check::fail(NAME, format!("certificate is not valid for {host}{names}"))
                .with_hint("Use a host name the certificate names in the URL, or reissue the certificate for this one")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let when = leaf
                .map(|leaf| format!(" on {}", leaf.not_after.date()))
                .unwrap_or_default();
            Check::fail(NAME, format!("certificate expired{when}{presented}"))
                .with_hint("Renew the server's certificate (or check this machine's clock)")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Check::fail(NAME, format!("certificate is not valid yet{presented}"))
                .with_hint("Check this machine's clock")
        }
        other => Check::fail(NAME, format!("certificate refused: {other:?}{presented}"))
            .with_hint("Check the server's certificate chain"),
    }
}

/// What a failure or a success says about the server's certificate.
struct Leaf {
    subject: String,
    issuer: String,
    names: Vec<String>,
    not_after: time::OffsetDateTime,
}

impl Leaf {
    fn parse(der: &CertificateDer<'_>) -> Option<Self> {
        let (_, certificate) = X509Certificate::from_der(der.as_ref()).ok()?;
        let names = certificate
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|extension| {
                extension
                    .value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(dns) => Some((*dns).to_string()),
                        GeneralName::IPAddress(bytes) => ip_text(bytes),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            subject: certificate.subject().to_string(),
            issuer: certificate.issuer().to_string(),
            names,
            not_after: certificate.validity().not_after.to_datetime(),
        })
    }

    fn days_left(&self) -> i64 {
        (self.not_after - time::OffsetDateTime::now_utc()).whole_days()
    }
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|octets| std::net::Ipv4Addr::from(octets).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|octets| std::net::Ipv6Addr::from(octets).to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_without_certificates_is_refused() {
        let trust = Trust::system(&[]).unwrap();
        let err = trust.with_pem(b"not a certificate").unwrap_err();
        assert_eq!(err, "the CA certificate holds no PEM certificate");
    }

    #[test]
    fn unknown_authority_names_the_setting() {
        let check = certificate_failure(
            &CertificateError::UnknownIssuer,
            None,
            "gw",
            Some("gateway_ca_certificate"),
        );
        assert!(!check.passed);
        assert_eq!(check.detail, "certificate signed by unknown authority");
        assert!(
            check
                .hint
                .unwrap()
                .starts_with("Set gateway_ca_certificate to the CA"),
        );
    }

    #[test]
    fn ip_addresses_print_in_both_families() {
        assert_eq!(ip_text(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6).as_deref(), Some("::1"));
        assert_eq!(ip_text(&[1, 2]), None);
    }
}
