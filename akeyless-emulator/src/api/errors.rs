//! Error responses. Bodies are `{"error": "..."}`. The texts follow the ones measured against
//! api.akeyless.io (reference §1.3): `<context> Status 404 Not Found, Error: NotFound. Message:
//! account id: <acc>, access id: <p-...>. failed to obtain item <name>` and the 401
//! `UnauthorizedAccess` variant. Clients must branch on the status only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error response.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// The operation-specific start of an error text, e.g. "failed to obtain item description: Desc:
/// Failed to get item.".
#[derive(Debug)]
pub(crate) struct Context(pub(crate) &'static str);

pub(crate) const DESCRIBE_ITEM: Context =
    Context("failed to obtain item description: Desc: Failed to get item.");
pub(crate) const GET_SECRET_VALUE: Context =
    Context("failed to get secret value: Desc: Failed to get secret value.");
pub(crate) const GET_DYNAMIC_SECRET_VALUE: Context =
    Context("failed to get dynamic secret value: Desc: Failed to get dynamic secret value.");
pub(crate) const GET_ROTATED_SECRET_VALUE: Context =
    Context("failed to get rotated secret value: Desc: Failed to get rotated secret value.");
pub(crate) const GET_SSH_CERTIFICATE: Context =
    Context("failed to get ssh certificate: Desc: Failed to get SSH certificate.");
pub(crate) const GET_PKI_CERTIFICATE: Context =
    Context("failed to get pki certificate: Desc: Failed to get PKI certificate.");
pub(crate) const GET_CERTIFICATE_VALUE: Context =
    Context("failed to get certificate value: Desc: Failed to get certificate.");
pub(crate) const LIST_ITEMS: Context = Context("failed to list items: Desc: Failed to list items.");
pub(crate) const AUTH: Context = Context("failed to authenticate: Desc: Authentication failed.");

impl Context {
    /// 401 for a missing, unknown or expired token.
    pub(crate) fn unauthenticated(&self, account_id: &str, detail: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "{} Status 401 Unauthorized, Error: UnauthorizedAccess. Message: account id: {account_id}. {detail}",
                self.0
            ),
        )
    }

    /// 401 for an item the caller may not read, whether or not it exists.
    pub(crate) fn forbidden(&self, account_id: &str, access_id: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "{} Status 401 Unauthorized, Error: UnauthorizedAccess. Message: account id: {account_id}, access id: {access_id}. unauthorized access for access id {access_id}",
                self.0
            ),
        )
    }

    /// 404 for a missing item the caller may read.
    pub(crate) fn not_found(&self, account_id: &str, access_id: &str, name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "{} Status 404 Not Found, Error: NotFound. Message: account id: {account_id}, access id: {access_id}. failed to obtain item {name}",
                self.0
            ),
        )
    }

    /// 400 for a request the operation cannot serve (wrong item type, bad parameter).
    pub(crate) fn bad_request(&self, detail: &str) -> ApiError {
        ApiError::bad_request(format!(
            "{} Status 400 Bad Request, Error: BadRequest. Message: {detail}",
            self.0
        ))
    }

    /// 401 for failed authentication.
    pub(crate) fn auth_failed(&self, access_id: &str, reason: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "{} Status 401 Unauthorized, Error: Unauthorized. Message: access id: {access_id}. {reason}",
                self.0
            ),
        )
    }
}
