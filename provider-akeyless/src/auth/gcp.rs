//! `gcp`: a Google-signed ID token for the audience, base64-encoded.
//!
//! With `GOOGLE_APPLICATION_CREDENTIALS` naming a service-account key, the
//! key signs an assertion that the key's `token_uri` exchanges for an ID
//! token. Otherwise the metadata server of GCE, GKE or Cloud Run issues it,
//! at `GCE_METADATA_HOST` when set (the override Google's libraries honour).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_http::{HttpContext as _, RetryMode};
use ci_secrets_provider_api::{ErrorKind, ResolveContext};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::metadata;
use crate::env::Env;
use crate::error::Failure;

const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn failure(kind: ErrorKind, reason: impl Into<String>) -> Failure {
    Failure::CloudId {
        cloud: "GCP",
        kind,
        reason: reason.into(),
    }
}

/// The cloud id: base64 of an ID token for `audience`.
pub(super) async fn cloud_id(
    ctx: &ResolveContext,
    env: &Env<'_>,
    audience: &str,
) -> Result<String, Failure> {
    let id_token = match env.get("GOOGLE_APPLICATION_CREDENTIALS") {
        Some(path) => from_key_file(ctx, &path, audience).await?,
        None => from_metadata_server(ctx, env, audience).await?,
    };
    let id_token = id_token.trim();
    if id_token.split('.').count() != 3 {
        return Err(failure(ErrorKind::Protocol, "signed JWT is invalid"));
    }
    Ok(STANDARD.encode(id_token))
}

async fn from_metadata_server(
    ctx: &ResolveContext,
    env: &Env<'_>,
    audience: &str,
) -> Result<Zeroizing<String>, Failure> {
    let host = env
        .get("GCE_METADATA_HOST")
        .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_string());
    let mut url = url::Url::parse(&format!(
        "http://{host}/computeMetadata/v1/instance/service-accounts/default/identity"
    ))
    .map_err(|err| {
        failure(
            ErrorKind::Config,
            format!("GCE_METADATA_HOST {host:?} is not a host: {err}"),
        )
    })?;
    url.query_pairs_mut()
        .append_pair("audience", audience)
        .append_pair("format", "full");
    metadata::get(ctx, url.as_str(), &[("Metadata-Flavor", "Google")], &[])
        .await
        .map_err(|err| {
            failure(
                err.kind,
                format!(
                    "no ID token from the metadata server ({}); off Google Cloud, set GOOGLE_APPLICATION_CREDENTIALS to a service-account key",
                    err.message
                ),
            )
        })
}

/// The fields of a service-account key file that minting an ID token needs.
#[derive(Deserialize)]
struct ServiceAccountKey {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: Zeroizing<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    target_audience: &'a str,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    id_token: Option<Zeroizing<String>>,
}

async fn from_key_file(
    ctx: &ResolveContext,
    path: &str,
    audience: &str,
) -> Result<Zeroizing<String>, Failure> {
    let text = Zeroizing::new(tokio::fs::read_to_string(path).await.map_err(|err| {
        failure(
            ErrorKind::Config,
            format!("GOOGLE_APPLICATION_CREDENTIALS {path}: cannot be read: {err}"),
        )
    })?);
    let key: ServiceAccountKey = serde_json::from_str(&text).map_err(|err| {
        failure(
            ErrorKind::Config,
            format!("GOOGLE_APPLICATION_CREDENTIALS {path}: not a credentials JSON file (line {}, column {})", err.line(), err.column()),
        )
    })?;
    if key.kind != "service_account" {
        return Err(failure(
            ErrorKind::Unsupported,
            format!(
                "GOOGLE_APPLICATION_CREDENTIALS {path} holds {:?} credentials; only service_account keys can mint ID tokens",
                key.kind
            ),
        ));
    }
    let token_uri = key.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
    let assertion = sign_assertion(&key, token_uri, audience).map_err(|reason| {
        failure(
            ErrorKind::Config,
            format!("GOOGLE_APPLICATION_CREDENTIALS {path}: {reason}"),
        )
    })?;
    let client = ctx
        .http()
        .client(None)
        .map_err(|err| failure(err.kind(), err.message().to_string()))?;
    let form = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", assertion.as_str()),
    ];
    let response = client
        .send(
            ctx,
            &format!("POST {token_uri}"),
            RetryMode::Idempotent,
            |client| client.post(token_uri).form(&form),
        )
        .await
        .map_err(|err| failure(err.kind(), err.message().to_string()))?;
    let body = std::str::from_utf8(&response.body).unwrap_or_default();
    if !response.is_success() {
        let kind = match response.status {
            400 | 401 | 403 => ErrorKind::Auth,
            status => ci_secrets_http::status_kind(status),
        };
        return Err(failure(
            kind,
            format!(
                "failed to retrieve signed JWT: POST {token_uri}: HTTP {}: {}",
                response.status,
                metadata::body_error(body, &[assertion.as_str()])
            ),
        ));
    }
    let answer: TokenAnswer = serde_json::from_str(body).map_err(|_| {
        failure(
            ErrorKind::Protocol,
            format!("POST {token_uri} answered with a body that is not JSON"),
        )
    })?;
    answer
        .id_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            failure(
                ErrorKind::Protocol,
                "signed JWT is not available: the answer holds no id_token",
            )
        })
}

fn sign_assertion(
    key: &ServiceAccountKey,
    token_uri: &str,
    audience: &str,
) -> Result<Zeroizing<String>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?
        .as_secs();
    let claims = Assertion {
        iss: &key.client_email,
        sub: &key.client_email,
        aud: token_uri,
        iat: now,
        exp: now + 3600,
        target_audience: audience,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|err| format!("private_key is not an RSA PEM key: {err}"))?;
    jsonwebtoken::encode(&header, &claims, &signing_key)
        .map(Zeroizing::new)
        .map_err(|err| format!("cannot sign the assertion: {err}"))
}
