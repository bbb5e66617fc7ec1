//! Certificates for the tests' TLS servers.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// A CA and a certificate for `localhost` that it signed, with its key.
pub(crate) struct Localhost {
    pub(crate) ca_pem: String,
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) server: CertificateDer<'static>,
    pub(crate) server_key: PrivatePkcs8KeyDer<'static>,
}

pub(crate) fn localhost() -> Localhost {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    Localhost {
        ca_pem: ca.pem(),
        ca: ca.der().clone(),
        server: server.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
    }
}
