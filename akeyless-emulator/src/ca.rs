//! The emulator's X.509 certificate authority (ECDSA P-256, generated at start). It signs the HTTPS
//! server certificate for `--tls`, the certificates `/get-pki-certificate` issues and those of
//! `CERTIFICATE` items, so one PEM is both the TLS trust anchor and `parent_cert`.

use std::time::Duration;

use rand::Rng as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use time::OffsetDateTime;

use crate::error::EmulatorError;

/// Certificates are back-dated this much so that a client clock slightly behind still accepts them.
const BACKDATE: time::Duration = time::Duration::minutes(5);
/// The CA lives as long as any emulator run reasonably does.
const CA_LIFETIME: time::Duration = time::Duration::days(365);

pub(crate) struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

/// A leaf certificate and its freshly generated private key, both PEM.
pub(crate) struct IssuedWithKey {
    pub(crate) certificate_pem: String,
    pub(crate) private_key_pem: String,
}

fn key_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> EmulatorError {
    move |e| EmulatorError::KeyMaterial {
        what,
        message: e.to_string(),
    }
}

impl CertificateAuthority {
    pub(crate) fn generate() -> Result<Self, EmulatorError> {
        let key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(key_error("CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Akeyless emulator CA");
        dn.push(DnType::OrganizationName, "ci-secrets akeyless-emulator");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_LIFETIME;
        params.serial_number = Some(random_serial());
        let issuer =
            CertifiedIssuer::self_signed(params, key).map_err(key_error("CA certificate"))?;
        let pem = issuer.pem();
        Ok(Self { issuer, pem })
    }

    /// The CA certificate PEM.
    pub(crate) fn pem(&self) -> &str {
        &self.pem
    }

    /// The HTTPS server certificate (SANs `127.0.0.1`, `::1`, `localhost`) as DER, plus its key.
    pub(crate) fn server_certificate(&self) -> Result<(Vec<u8>, Vec<u8>), EmulatorError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(key_error("TLS server key"))?;
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(key_error("TLS server certificate"))?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "akeyless-emulator");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = self
            .sign(params, &key, Duration::from_secs(365 * 24 * 3600))
            .map_err(key_error("TLS server certificate"))?;
        Ok((cert.der().to_vec(), key.serialize_der()))
    }

    /// Signs `params` for `public_key`, valid from (slightly before) now for `ttl`.
    pub(crate) fn sign(
        &self,
        mut params: CertificateParams,
        public_key: &impl PublicKeyData,
        ttl: Duration,
    ) -> Result<rcgen::Certificate, rcgen::Error> {
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + ttl;
        params.serial_number = Some(random_serial());
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        if params.key_usages.is_empty() {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
        }
        params.signed_by(public_key, &self.issuer)
    }

    /// Issues a server/client certificate for `common_name` with a new P-256 key.
    pub(crate) fn issue_with_new_key(
        &self,
        common_name: &str,
        ttl: Duration,
    ) -> Result<IssuedWithKey, EmulatorError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(key_error("certificate item key"))?;
        let mut params = CertificateParams::new(vec![common_name.to_owned()])
            .map_err(key_error("certificate item"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = self
            .sign(params, &key, ttl)
            .map_err(key_error("certificate item"))?;
        Ok(IssuedWithKey {
            certificate_pem: cert.pem(),
            private_key_pem: key.serialize_pem(),
        })
    }
}

/// A random 128-bit serial whose first byte is in 0x01..=0x7f: positive and minimally encoded in
/// DER, as RFC 5280 requires.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}
