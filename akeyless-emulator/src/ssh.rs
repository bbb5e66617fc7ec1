//! The emulator's SSH certificate authority (Ed25519, generated at start) and the signing behind
//! `/get-ssh-certificate`: real OpenSSH user certificates that `ssh-keygen -L` reads.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ssh_key::certificate::{Builder, CertType};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, PrivateKey, PublicKey};

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
    key: PrivateKey,
    public_openssh: String,
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
            key,
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
            .sign(&self.key)
            .map_err(|e| format!("cannot sign the certificate: {e}"))?;
        certificate
            .to_openssh()
            .map_err(|e| format!("cannot encode the certificate: {e}"))
    }
}
