//! Credentials for tests, benchmarks and the demo: fixed JWT signing keys whose public halves go into
//! a seed, JWT minting, and AWS test credentials that produce real SigV4-signed `aws_iam` cloud-ids.
//!
//! None of this is secret: the private keys are published test keys, compiled into the crate so that
//! the demo seed and other crates' tests can mint credentials the emulator accepts.
//!
//! ```
//! use akeyless_emulator::testing::{AwsTestCredentials, TestKeys};
//! use akeyless_emulator::{Access, Seed};
//! use std::time::Duration;
//!
//! let keys = TestKeys::rsa();
//! let aws = AwsTestCredentials::new("AKIAEMULATORTEST0001", "test/secret/key");
//! let seed = Seed::new()
//!     .with_access(Access::jwt("p-jwt000000001", keys.public_key_pem()).with_audience("ci").allow("/*"))
//!     .with_access(aws.access("p-aws000000001").allow("/*"));
//! let jwt = keys.jwt(Some("ci"), Duration::from_secs(300)); // body: {"access-type":"jwt","jwt":..}
//! let cloud_id = aws.cloud_id();                             // body: {"access-type":"aws_iam","cloud-id":..}
//! # assert!(seed.validate().is_ok()); assert!(!jwt.is_empty() && !cloud_id.is_empty());
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::aws::{CloudIdDocument, STS_BODY, SigningInput, sigv4_sign};
use crate::seed::Access;

const RSA_PRIVATE_PEM: &str = include_str!("keys/rsa-private.pem");
const RSA_PUBLIC_PEM: &str = include_str!("keys/rsa-public.pem");
const EC_PRIVATE_PEM: &str = include_str!("keys/ec-private.pem");
const EC_PUBLIC_PEM: &str = include_str!("keys/ec-public.pem");

/// The `iss` of JWTs minted by [`TestKeys::jwt`].
pub const TEST_ISSUER: &str = "https://akeyless-emulator.invalid";

/// A fixed JWT signing key pair: RSA (RS256) or P-256 (ES256).
#[derive(Clone, Copy, Debug)]
pub struct TestKeys {
    private_pem: &'static str,
    public_pem: &'static str,
    algorithm: Algorithm,
}

impl TestKeys {
    /// The RSA-2048 test key pair; JWTs are RS256.
    pub fn rsa() -> Self {
        Self {
            private_pem: RSA_PRIVATE_PEM,
            public_pem: RSA_PUBLIC_PEM,
            algorithm: Algorithm::RS256,
        }
    }

    /// The P-256 test key pair; JWTs are ES256.
    pub fn ec() -> Self {
        Self {
            private_pem: EC_PRIVATE_PEM,
            public_pem: EC_PUBLIC_PEM,
            algorithm: Algorithm::ES256,
        }
    }

    /// The public key PEM, for a seed's `public_key_pem`.
    pub fn public_key_pem(&self) -> &'static str {
        self.public_pem
    }

    /// The private key PEM (PKCS#8), for tools that mint their own tokens.
    pub fn private_key_pem(&self) -> &'static str {
        self.private_pem
    }

    /// Signs arbitrary claims (e.g. to test a missing `exp` or a future `nbf`).
    pub fn mint_jwt(&self, claims: &Value) -> String {
        let key = match self.algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(self.private_pem.as_bytes()),
            _ => EncodingKey::from_ec_pem(self.private_pem.as_bytes()),
        };
        // Invariant: the keys are compiled-in constants that `tests::both_keys_mint_verifiable_jwts`
        // parses, and signing a JSON value with a valid key cannot fail.
        #[allow(clippy::expect_used)]
        let key = key.expect("the compiled-in test key parses");
        #[allow(clippy::expect_used)]
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &key)
            .expect("signing with a valid test key succeeds")
    }

    /// A JWT valid from now for `ttl`, with `aud` when given, `sub` `ci-job` and [`TEST_ISSUER`].
    pub fn jwt(&self, audience: Option<&str>, ttl: Duration) -> String {
        let now = unix_now();
        self.mint_jwt(&claims(audience, now, now + ttl.as_secs()))
    }

    /// A JWT that expired an hour ago.
    pub fn expired_jwt(&self, audience: Option<&str>) -> String {
        let now = unix_now();
        self.mint_jwt(&claims(audience, now - 7200, now - 3600))
    }

    /// A `k8s-service-account-token` value: base64 of a service-account JWT.
    pub fn k8s_service_account_token(&self, audience: Option<&str>, ttl: Duration) -> String {
        B64.encode(self.jwt(audience, ttl))
    }

    /// An `azure_ad` or `gcp` cloud-id: base64 of a JWT for `audience` (gcp: the `gcp-audience`).
    pub fn cloud_id(&self, audience: &str, ttl: Duration) -> String {
        B64.encode(self.jwt(Some(audience), ttl))
    }
}

fn claims(audience: Option<&str>, issued_at: u64, expires_at: u64) -> Value {
    let mut claims = json!({
        "iss": TEST_ISSUER,
        "sub": "ci-job",
        "iat": issued_at,
        "nbf": issued_at,
        "exp": expires_at,
    });
    if let (Some(aud), Some(map)) = (audience, claims.as_object_mut()) {
        map.insert("aud".to_owned(), Value::String(aud.to_owned()));
    }
    claims
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An AWS key pair for `aws_iam`: put [`AwsTestCredentials::access`] into the seed and send
/// [`AwsTestCredentials::cloud_id`] as `cloud-id`.
#[derive(Clone)]
pub struct AwsTestCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl std::fmt::Debug for AwsTestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsTestCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AwsTestCredentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Adds a session token, as temporary (role) credentials have.
    pub fn with_session_token(mut self, session_token: impl Into<String>) -> Self {
        self.session_token = Some(session_token.into());
        self
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token, if any.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// An `aws_iam` access entry for these credentials.
    pub fn access(&self, id: impl Into<String>) -> Access {
        Access::aws_iam(id, &self.access_key_id, &self.secret_access_key)
    }

    /// A cloud-id signed now for `us-east-1` against the global endpoint `https://sts.amazonaws.com/`
    /// (what the Python, JS and legacy Go libraries produce).
    pub fn cloud_id(&self) -> String {
        self.cloud_id_for("us-east-1", "https://sts.amazonaws.com/", SystemTime::now())
    }

    /// A cloud-id signed now for `region` against its regional endpoint (what the current Go library
    /// produces).
    pub fn regional_cloud_id(&self, region: &str) -> String {
        let url = if region.starts_with("cn-") {
            format!("https://sts.{region}.amazonaws.com.cn/")
        } else {
            format!("https://sts.{region}.amazonaws.com/")
        };
        self.cloud_id_for(region, &url, SystemTime::now())
    }

    /// A cloud-id signed at `signed_at` (to test the 15-minute window).
    pub fn cloud_id_signed_at(&self, signed_at: SystemTime) -> String {
        self.cloud_id_for("us-east-1", "https://sts.amazonaws.com/", signed_at)
    }

    fn cloud_id_for(&self, region: &str, url: &str, signed_at: SystemTime) -> String {
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let signed = [
            ("content-length".to_owned(), STS_BODY.len().to_string()),
            ("content-type".to_owned(), content_type.to_owned()),
        ];
        let result = sigv4_sign(&SigningInput {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: self.session_token.as_deref(),
            region,
            url,
            headers: &signed,
            body: STS_BODY,
            time: signed_at,
        });
        // Invariant: the URL and header values are well-formed constants, and a key pair of any
        // strings signs; aws-sigv4 fails only on unparsable URIs or header values.
        #[allow(clippy::expect_used)]
        let (added, _signature) = result.expect("signing a well-formed STS request succeeds");
        // Like Go's http.Header: canonical names, array values, no Host or Content-Length.
        let mut headers = serde_json::Map::new();
        headers.insert("Content-Type".to_owned(), json!([content_type]));
        for (name, value) in added {
            let canonical = match name.as_str() {
                "authorization" => "Authorization".to_owned(),
                "x-amz-date" => "X-Amz-Date".to_owned(),
                "x-amz-security-token" => "X-Amz-Security-Token".to_owned(),
                _ => name,
            };
            headers.insert(canonical, json!([value]));
        }
        let document = CloudIdDocument {
            sts_request_method: "POST".to_owned(),
            sts_request_url: B64.encode(url),
            sts_request_body: Some(B64.encode(STS_BODY)),
            sts_request_headers: B64.encode(Value::Object(headers).to_string()),
        };
        // Serialising a struct of strings cannot fail.
        B64.encode(serde_json::to_string(&document).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsCloudId;
    use crate::jwt::JwtVerifier;

    #[test]
    fn both_keys_mint_verifiable_jwts() {
        for keys in [TestKeys::rsa(), TestKeys::ec()] {
            let verifier = JwtVerifier::from_public_key_pem(keys.public_key_pem()).unwrap();
            let jwt = keys.jwt(Some("aud-1"), Duration::from_secs(60));
            verifier.verify(&jwt, Some("aud-1")).unwrap();
            assert!(verifier.verify(&jwt, Some("other")).is_err());
            assert!(verifier.verify(&keys.expired_jwt(None), None).is_err());
        }
        let rsa = JwtVerifier::from_public_key_pem(TestKeys::rsa().public_key_pem()).unwrap();
        let ec_jwt = TestKeys::ec().jwt(None, Duration::from_secs(60));
        assert!(rsa.verify(&ec_jwt, None).is_err());
    }

    #[test]
    fn minted_cloud_ids_verify_only_with_the_right_secret() {
        let creds = AwsTestCredentials::new("AKIATEST", "right-secret");
        let temporary = creds.clone().with_session_token("session-token");
        for cloud_id in [
            creds.cloud_id(),
            creds.regional_cloud_id("eu-west-1"),
            creds.regional_cloud_id("cn-north-1"),
            temporary.cloud_id(),
        ] {
            let decoded = AwsCloudId::decode(&cloud_id).unwrap();
            assert_eq!(decoded.access_key_id().unwrap(), "AKIATEST");
            decoded.verify("right-secret", SystemTime::now()).unwrap();
            assert!(decoded.verify("wrong-secret", SystemTime::now()).is_err());
        }
    }

    #[test]
    fn stale_cloud_ids_are_rejected() {
        let creds = AwsTestCredentials::new("AKIATEST", "secret");
        let old = SystemTime::now() - Duration::from_secs(20 * 60);
        let decoded = AwsCloudId::decode(&creds.cloud_id_signed_at(old)).unwrap();
        let err = decoded.verify("secret", SystemTime::now()).unwrap_err();
        assert!(err.contains("15 minutes"), "{err}");
    }
}
