//! The emulator's SSH certificate authority (Ed25519, generated at start) and the signing behind
//! `/get-ssh-certificate`: real OpenSSH user certificates that `ssh-keygen -L` reads.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::ed25519::signature;
use ssh_key::certificate::{Builder, CertType};
use ssh_key::public::KeyData;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, PrivateKey, PublicKey, Signature};

use crate::error::EmulatorError;

/// Certificates are back-dated this much to tolerate a client clock slightly behind.
const BACKDATE_SECONDS: u64 = 300;
/// The extensions OpenSSH's `ssh-keygen -s` grants by default.
const DEFAULT_EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

pub(crate) struct SshCa {
    signer: CaSigner,
    public_openssh: String,
}

/// The CA key ready to sign. `ssh-key` signs with an `Ed25519Keypair` by expanding the secret
/// and re-deriving the public key to check it, for every signature: half the cost of a
/// certificate. This is the same key, expanded and checked once; Ed25519 signatures are
/// deterministic, so every certificate is byte for byte the one `ssh-key` would sign.
struct CaSigner {
    key: ed25519_dalek::SigningKey,
    public: KeyData,
}

impl CaSigner {
    fn new(key: &PrivateKey) -> Result<Self, EmulatorError> {
        let key_error = |message: String| EmulatorError::KeyMaterial {
            what: "SSH CA key",
            message,
        };
        let keypair = key
            .key_data()
            .ed25519()
            .ok_or_else(|| key_error("not an Ed25519 key".to_owned()))?;
        Ok(Self {
            key: ed25519_dalek::SigningKey::try_from(keypair)
                .map_err(|e| key_error(e.to_string()))?,
            public: key.public_key().key_data().clone(),
        })
    }
}

impl signature::Signer<Signature> for CaSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Signature, signature::Error> {
        let signature = self.key.sign(message);
        Signature::new(Algorithm::Ed25519, signature.to_bytes().to_vec())
            .map_err(signature::Error::from_source)
    }
}

/// With this, `CaSigner` is an `ssh_key::SigningKey` (a blanket implementation).
impl From<&CaSigner> for KeyData {
    fn from(signer: &CaSigner) -> Self {
        signer.public.clone()
    }
}

impl std::fmt::Debug for SshCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCa").finish_non_exhaustive()
    }
}

impl SshCa {
    pub(crate) fn generate() -> Result<Self, EmulatorError> {
        let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(|e| {
            EmulatorError::KeyMaterial {
                what: "SSH CA key",
                message: e.to_string(),
            }
        })?;
        let public_openssh =
            key.public_key()
                .to_openssh()
                .map_err(|e| EmulatorError::KeyMaterial {
                    what: "SSH CA public key",
                    message: e.to_string(),
                })?;
        Ok(Self {
            signer: CaSigner::new(&key)?,
            public_openssh,
        })
    }

    /// The CA public key in OpenSSH format (for `TrustedUserCAKeys`).
    pub(crate) fn public_key_openssh(&self) -> &str {
        &self.public_openssh
    }

    /// Signs `public_key` (OpenSSH text) into a user certificate for `principal`, valid for `ttl`.
    /// Errors are messages for a 400 response.
    pub(crate) fn sign_user_key(
        &self,
        public_key: &str,
        principal: &str,
        key_id: &str,
        ttl: Duration,
    ) -> Result<String, String> {
        let public_key = PublicKey::from_openssh(public_key.trim())
            .map_err(|_| "public-key-data is not an OpenSSH public key".to_owned())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut builder = Builder::new_with_random_nonce(
            &mut OsRng,
            public_key.key_data().clone(),
            now.saturating_sub(BACKDATE_SECONDS),
            now + ttl.as_secs(),
        )
        .map_err(|e| format!("cannot build the certificate: {e}"))?;
        let fail = |e: ssh_key::Error| format!("cannot build the certificate: {e}");
        builder.serial(rand::random()).map_err(fail)?;
        builder.cert_type(CertType::User).map_err(fail)?;
        builder.key_id(key_id).map_err(fail)?;
        builder.valid_principal(principal).map_err(fail)?;
        for extension in DEFAULT_EXTENSIONS {
            builder.extension(extension, "").map_err(fail)?;
        }
        let certificate = builder
            .sign(&self.signer)
            .map_err(|e| format!("cannot sign the certificate: {e}"))?;
        certificate
            .to_openssh()
            .map_err(|e| format!("cannot encode the certificate: {e}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ssh_key::Certificate;

    fn builder(subject: &PublicKey) -> Builder {
        let mut builder = Builder::new([7; 16], subject.key_data().clone(), 1000, 2000).unwrap();
        builder.serial(42).unwrap();
        builder.cert_type(CertType::User).unwrap();
        builder.key_id("p-1:/ssh:deploy").unwrap();
        builder.valid_principal("deploy").unwrap();
        builder
    }

    #[test]
    fn the_ca_signer_signs_what_the_ca_key_signs() {
        let ca = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        let subject = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        let signer = CaSigner::new(&ca).unwrap();
        let ours = builder(subject.public_key()).sign(&signer).unwrap();
        let theirs = builder(subject.public_key()).sign(&ca).unwrap();
        // Ed25519 is deterministic: the same bytes, signature included.
        assert_eq!(ours.to_openssh().unwrap(), theirs.to_openssh().unwrap());
        let parsed = Certificate::from_openssh(&ours.to_openssh().unwrap()).unwrap();
        let fingerprint = ca.public_key().fingerprint(Default::default());
        parsed.validate_at(1500, [&fingerprint]).unwrap();
    }

    #[test]
    fn signed_user_certificates_validate_against_the_ca() {
        let ca = SshCa::generate().unwrap();
        let subject = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        let text = ca
            .sign_user_key(
                &subject.public_key().to_openssh().unwrap(),
                "deploy",
                "p-1:/ssh:deploy",
                Duration::from_secs(600),
            )
            .unwrap();
        let certificate = Certificate::from_openssh(&text).unwrap();
        let ca_key = PublicKey::from_openssh(ca.public_key_openssh()).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        certificate
            .validate_at(now, [&ca_key.fingerprint(Default::default())])
            .unwrap();
        assert_eq!(certificate.valid_principals(), ["deploy"]);
    }
}
