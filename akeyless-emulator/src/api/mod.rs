//! The HTTP surface: `POST <prefix>/<operation>` for the prefixes `""`, `/v2` and `/api/v2`, plus
//! `GET /__emulator/stats`. Dispatch counts the request, applies fault injection, then runs the
//! operation; every error is `{"error": "..."}` with the status the real service uses.

mod auth;
mod certificates;
mod errors;
mod items;
mod listing;

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) use errors::ApiError;

use crate::faults::Fault;
use crate::state::{AccessEntry, State};
use crate::stats::Operation;
use crate::tokens::TokenRejection;

/// Marks a response whose connection the server must drop instead of answering (see `server`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResetConnection;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{operation}", post(operation))
        .route("/v2/{operation}", post(operation))
        .route("/api/v2/{operation}", post(operation))
        .route("/__emulator/stats", get(stats))
        .fallback(unknown_path)
        .with_state(state)
}

async fn stats(Extract(state): Extract<Arc<State>>) -> Response {
    json_response(&state.counters.snapshot())
}

async fn unknown_path() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "404 page not found").into_response()
}

async fn operation(
    Extract(state): Extract<Arc<State>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(op) = Operation::from_name(&name) else {
        return unknown_path().await;
    };
    state.counters.request(op);
    let decision = state.faults.decide(op);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(fault) = decision.fault {
        state.counters.fault();
        return fault_response(fault);
    }
    let result = match op {
        Operation::Auth => auth::auth(&state, &body),
        Operation::ValidateToken => auth::validate_token(&state, &body),
        Operation::DescribeItem => items::describe_item(&state, &body),
        Operation::GetSecretValue => items::get_secret_value(&state, &body),
        Operation::GetDynamicSecretValue => items::get_dynamic_secret_value(&state, &body),
        Operation::GetRotatedSecretValue => items::get_rotated_secret_value(&state, &body),
        Operation::GetCertificateValue => items::get_certificate_value(&state, &body),
        Operation::GetSshCertificate => certificates::get_ssh_certificate(&state, &body),
        Operation::GetPkiCertificate => certificates::get_pki_certificate(&state, &body),
        Operation::ListItems => listing::list_items(&state, &body),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = ApiError::new(
                status,
                format!(
                    "emulated fault: {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("error")
                ),
            )
            .into_response();
            if let Some(after) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
            }
            response
        }
        Fault::ResetConnection => {
            let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            response.extensions_mut().insert(ResetConnection);
            response
        }
        Fault::MalformedJson => raw_json(StatusCode::OK, "{\"token\": \"t-trunc".to_owned()),
        Fault::OversizedBody { bytes } => {
            // `{"padding":""}` is 14 bytes, so the body is exactly `bytes` long (if >= 14).
            let padding = "x".repeat(bytes.saturating_sub(14));
            raw_json(StatusCode::OK, format!("{{\"padding\":\"{padding}\"}}"))
        }
        // Delays are applied before the operation runs and never reach here.
        Fault::Delay(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn raw_json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

pub(crate) fn json_response<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => raw_json(StatusCode::OK, body),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the response: {e}"),
        )
        .into_response(),
    }
}

/// Parses a request body. Unknown and default-valued fields are ignored, as the real service does;
/// an empty body is an empty object. The error names the position, never the content.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a field has the wrong type",
            serde_json::error::Category::Eof => "the body ends early",
            _ => "the body is not JSON",
        };
        ApiError::bad_request(format!(
            "failed to parse the request body: {what} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// A required string field.
pub(crate) fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::bad_request(format!(
            "missing required parameter: {name}"
        ))),
    }
}

pub(crate) fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn unix_seconds(at: SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An integer sent as a JSON number or as a numeric string: the spec types some TTLs as strings
/// (`/get-pki-certificate` `ttl`) and SDK generations disagree. `Err` holds the unparsable text.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Seconds {
    Number(i64),
    Text(String),
}

impl Seconds {
    /// `None` for an empty string.
    pub(crate) fn value(&self) -> Result<Option<i64>, String> {
        match self {
            Self::Number(n) => Ok(Some(*n)),
            Self::Text(t) if t.trim().is_empty() => Ok(None),
            Self::Text(t) => t
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("ttl {t:?} is not a number of seconds")),
        }
    }
}

/// The two ways a data call names its caller.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Credentials {
    token: Option<String>,
    #[serde(rename = "uid-token", alias = "uid_token")]
    uid_token: Option<String>,
}

/// Resolves the caller of a data call from `token` (a `t-...` session) or `uid-token` (a seeded
/// universal-identity token used directly, as External Secrets Operator does).
pub(crate) fn caller<'s>(
    state: &'s State,
    credentials: &Credentials,
    context: &errors::Context,
) -> Result<&'s AccessEntry, ApiError> {
    let token = credentials
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .or(credentials.uid_token.as_deref().filter(|t| !t.is_empty()))
        .ok_or_else(|| context.unauthenticated(&state.account_id, "missing token"))?;
    let access_id = if token.starts_with("u-") {
        state.uid_tokens.get(token).cloned().ok_or_else(|| {
            context.unauthenticated(&state.account_id, "invalid universal identity token")
        })?
    } else {
        match state.tokens.check(token, SystemTime::now()) {
            Ok(session) => session.access_id,
            Err(TokenRejection::Unknown) => {
                return Err(context.unauthenticated(&state.account_id, "invalid token"));
            }
            Err(TokenRejection::Expired) => {
                return Err(context.unauthenticated(&state.account_id, "token expired"));
            }
        }
    };
    state
        .access
        .get(&access_id)
        .ok_or_else(|| context.unauthenticated(&state.account_id, "invalid token"))
}
