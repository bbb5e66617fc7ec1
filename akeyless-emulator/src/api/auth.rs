//! `/auth` with every access type, and `/validate-token`.

use std::time::SystemTime;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::errors::AUTH;
use super::{ApiError, json_response, parse, rfc3339, unix_seconds};
use crate::access_type::AccessType;
use crate::aws::AwsCloudId;
use crate::seed::AccessMethod;
use crate::state::{AccessEntry, State};

/// The `gcp-audience` default of the spec and every SDK.
const DEFAULT_GCP_AUDIENCE: &str = "akeyless.io";

#[derive(Deserialize)]
struct AuthRequest {
    #[serde(rename = "access-type")]
    access_type: Option<String>,
    #[serde(rename = "access-id")]
    access_id: Option<String>,
    #[serde(rename = "access-key")]
    access_key: Option<String>,
    jwt: Option<String>,
    #[serde(rename = "cloud-id")]
    cloud_id: Option<String>,
    #[serde(rename = "gcp-audience")]
    gcp_audience: Option<String>,
    #[serde(rename = "uid-token", alias = "uid_token")]
    uid_token: Option<String>,
    #[serde(rename = "k8s-service-account-token")]
    k8s_service_account_token: Option<String>,
    #[serde(rename = "k8s-auth-config-name")]
    k8s_auth_config_name: Option<String>,
    #[serde(rename = "gateway-url")]
    gateway_url: Option<String>,
}

pub(super) fn auth(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: AuthRequest = parse(body)?;
    let access_id = request.access_id.as_deref().unwrap_or_default();
    let fail = |reason: &str| {
        state.counters.failed_login();
        AUTH.auth_failed(access_id, reason)
    };
    let requested_type = request.access_type.as_deref().unwrap_or("access_key");
    let access_type = AccessType::parse(requested_type)
        .ok_or_else(|| fail(&format!("unsupported access type {requested_type:?}")))?;
    if access_id.is_empty() {
        return Err(fail("access-id is missing"));
    }
    let access = state
        .access
        .get(access_id)
        .ok_or_else(|| fail("no such access id"))?;
    if access.method.access_type() != access_type {
        return Err(fail(&format!(
            "the access id does not use access type {}",
            access_type.as_str()
        )));
    }
    verify(access, &request).map_err(|reason| fail(&reason))?;

    let now = SystemTime::now();
    let (token, session) = state.tokens.issue(access.id.clone(), now);
    state.counters.login();
    Ok(json_response(&json!({
        "token": token,
        "expiration": rfc3339(session.expires_at),
        "creds": {
            "token": token,
            "expiry": unix_seconds(session.expires_at),
            "access_id": &*access.id,
        },
    })))
}

/// Checks the credentials of the request against the access id's method. The reason never repeats
/// a credential.
fn verify(access: &AccessEntry, request: &AuthRequest) -> Result<(), String> {
    let present = |value: &Option<String>, name: &str| match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(format!("{name} is missing")),
    };
    let verifier = || {
        access
            .verifier
            .as_ref()
            .ok_or_else(|| "the access id has no public key".to_owned())
    };
    let audience = access.audience.as_deref();
    match &access.method {
        AccessMethod::AccessKey { access_key } => {
            let given = present(&request.access_key, "access-key")?;
            if bool::from(given.as_bytes().ct_eq(access_key.as_bytes())) {
                Ok(())
            } else {
                Err("access key is incorrect".to_owned())
            }
        }
        AccessMethod::UniversalIdentity { uid_tokens } => {
            let given = present(&request.uid_token, "uid-token")?;
            if uid_tokens
                .iter()
                .any(|t| bool::from(t.as_bytes().ct_eq(given.as_bytes())))
            {
                Ok(())
            } else {
                Err("the universal identity token is not valid for this access id".to_owned())
            }
        }
        AccessMethod::Jwt { .. } => verifier()?.verify(&present(&request.jwt, "jwt")?, audience),
        AccessMethod::K8s { config_name, .. } => {
            present(&request.gateway_url, "gateway-url")?;
            let name = present(&request.k8s_auth_config_name, "k8s-auth-config-name")?;
            if name != *config_name {
                return Err(format!("k8s auth config {name:?} does not exist"));
            }
            let token = present(
                &request.k8s_service_account_token,
                "k8s-service-account-token",
            )?;
            let jwt = base64_text(&token, "k8s-service-account-token")?;
            verifier()?.verify(&jwt, audience)
        }
        AccessMethod::AzureAd { .. } => {
            let jwt = base64_text(&present(&request.cloud_id, "cloud-id")?, "cloud-id")?;
            verifier()?.verify(&jwt, audience)
        }
        AccessMethod::Gcp { .. } => {
            let requested = request
                .gcp_audience
                .as_deref()
                .filter(|a| !a.is_empty())
                .unwrap_or(DEFAULT_GCP_AUDIENCE);
            if audience.is_some_and(|pinned| pinned != requested) {
                return Err(format!(
                    "gcp-audience {requested:?} is not allowed for this access id"
                ));
            }
            let jwt = base64_text(&present(&request.cloud_id, "cloud-id")?, "cloud-id")?;
            verifier()?.verify(&jwt, Some(requested))
        }
        AccessMethod::AwsIam {
            access_key_id,
            secret_access_key,
        } => {
            let cloud_id = AwsCloudId::decode(&present(&request.cloud_id, "cloud-id")?)?;
            if cloud_id.access_key_id()? != access_key_id {
                return Err("the STS request is signed by another AWS access key".to_owned());
            }
            cloud_id.verify(secret_access_key, SystemTime::now())
        }
    }
}

fn base64_text(value: &str, name: &str) -> Result<String, String> {
    B64.decode(value.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(|text| text.trim().to_owned())
        .ok_or_else(|| format!("{name} is not base64"))
}

#[derive(Deserialize)]
struct ValidateTokenRequest {
    token: Option<String>,
}

/// 200 with `is_valid` for a token the emulator issued (expired ones are `is_valid: false`);
/// 401 for a token it never issued.
pub(super) fn validate_token(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: ValidateTokenRequest = parse(body)?;
    let token = super::required(&request.token, "token")?;
    let unknown = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "failed to validate token: Status 401 Unauthorized, Error: UnauthorizedAccess. Message: invalid token",
        )
    };
    if token.starts_with("u-") {
        return match state.uid_tokens.contains_key(token) {
            true => Ok(json_response(&json!({"is_valid": true, "reason": ""}))),
            false => Err(unknown()),
        };
    }
    let session = state.tokens.lookup(token).ok_or_else(unknown)?;
    let now = SystemTime::now();
    let remaining = session
        .expires_at
        .duration_since(now)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let valid = remaining > 0;
    Ok(json_response(&json!({
        "is_valid": valid,
        "expiration": rfc3339(session.expires_at),
        "ttl": remaining,
        "reason": if valid { "" } else { "token expired" },
        "last_rotate": "",
    })))
}
