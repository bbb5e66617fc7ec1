//! Verification of the JWTs behind `jwt`, `k8s`, `azure_ad` and `gcp` authentication.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Clock skew tolerated on `exp` and `nbf`, in seconds. Small, so that tests of expired tokens can
/// use tokens that expired a minute ago.
const LEEWAY_SECONDS: u64 = 5;

/// A public key and the one algorithm it verifies (RS256 for RSA keys, ES256 for P-256 keys).
#[derive(Clone)]
pub(crate) struct JwtVerifier {
    key: DecodingKey,
    algorithm: Algorithm,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The claims the emulator reads; everything else is ignored.
#[derive(Deserialize)]
struct Claims {}

impl JwtVerifier {
    /// Parses an RSA or EC public key PEM (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`).
    pub(crate) fn from_public_key_pem(pem: &str) -> Result<Self, String> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
            return Ok(Self {
                key,
                algorithm: Algorithm::RS256,
            });
        }
        DecodingKey::from_ec_pem(pem.as_bytes())
            .map(|key| Self {
                key,
                algorithm: Algorithm::ES256,
            })
            .map_err(|_| {
                "public_key_pem is neither an RSA nor a P-256 EC public key PEM".to_owned()
            })
    }

    /// Verifies signature, `exp` (required), `nbf` (if present) and, when given, `aud`.
    pub(crate) fn verify(&self, token: &str, audience: Option<&str>) -> Result<(), String> {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        match audience {
            Some(aud) => {
                validation.set_required_spec_claims(&["exp", "aud"]);
                validation.set_audience(&[aud]);
            }
            None => {
                validation.set_required_spec_claims(&["exp"]);
                validation.validate_aud = false;
            }
        }
        jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map(drop)
            .map_err(|e| describe(&e))
    }
}

/// A reason that names the failed check without echoing the token.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match error.kind() {
        K::InvalidSignature => "the JWT signature does not verify".to_owned(),
        K::ExpiredSignature => "the JWT has expired".to_owned(),
        K::ImmatureSignature => "the JWT is not valid yet (nbf)".to_owned(),
        K::InvalidAudience => "the JWT audience does not match".to_owned(),
        K::InvalidAlgorithm => "the JWT algorithm does not match the key".to_owned(),
        K::MissingRequiredClaim(claim) => format!("the JWT has no {claim} claim"),
        _ => "the JWT is malformed".to_owned(),
    }
}
