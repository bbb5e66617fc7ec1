//! The few Vault HTTP API calls the provider makes, over the shared HTTP
//! layer: JWT login, read, and token self-revocation.

use ci_secrets_http::{HttpClient, HttpResponse, RetryMode, status_kind};
use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::settings::ServerSettings;

const TOKEN_HEADER: &str = "X-Vault-Token";
const NAMESPACE_HEADER: &str = "X-Vault-Namespace";
/// Sent by Vault's own clients; Vault Agent and proxies require it against SSRF.
const REQUEST_HEADER: &str = "X-Vault-Request";

/// A Vault token from a login. Never printed.
#[derive(Debug, Clone)]
pub(crate) struct VaultToken(SecretString);

/// One Vault server as one job sees it: address, namespace and HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct VaultClient {
    http: HttpClient,
    base: Url,
    namespace: Option<String>,
}

#[derive(Serialize)]
struct LoginBody<'a> {
    jwt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
}

#[derive(Deserialize)]
struct LoginAnswer {
    auth: Option<LoginAuth>,
    /// Where a login answer without `auth` carries its token, as Vault's Go
    /// client reads it (`Secret.TokenID()`, which GitLab Runner uses).
    data: Option<LoginData>,
}

#[derive(Deserialize)]
struct LoginData {
    id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: Option<String>,
}

impl VaultClient {
    pub(crate) fn new(http: HttpClient, settings: &ServerSettings) -> Self {
        Self {
            http,
            base: settings.url.clone(),
            namespace: settings.namespace.clone(),
        }
    }

    /// Starts opening `connections` connections to the server for a wave
    /// of requests that waits on something else (see
    /// [`HttpClient::preconnect`]).
    pub(crate) async fn preconnect(&self, connections: usize) {
        self.http.preconnect(self.base.as_str(), connections).await;
    }

    /// `<server>/v1/<segments>`, each segment percent-encoded as needed.
    /// A path in the server URL (a Vault behind a reverse proxy) is kept.
    pub(crate) fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        // `path_segments_mut` fails only for cannot-be-a-base URLs, which
        // `ServerSettings` refuses, so the path above is always set.
        url
    }

    fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        url: &Url,
        token: Option<&VaultToken>,
    ) -> reqwest::RequestBuilder {
        let mut builder = client
            .request(method, url.clone())
            .header(REQUEST_HEADER, "true");
        if let Some(namespace) = &self.namespace {
            builder = builder.header(NAMESPACE_HEADER, namespace);
        }
        if let Some(token) = token {
            builder = builder.header(TOKEN_HEADER, token.0.expose_secret());
        }
        builder
    }

    /// Logs in with a JWT at `auth/<path>/login`. A refusal (any 4xx but 429)
    /// is an [`ErrorKind::Auth`] error with Vault's reason, scrubbed of the JWT.
    pub(crate) async fn login(
        &self,
        ctx: &ResolveContext,
        settings: &ServerSettings,
        jwt: &SecretString,
    ) -> Result<VaultToken, ProviderError> {
        let login_path = settings.login_segments().join("/");
        let url = self.url(settings.login_segments());
        let what = format!("Vault login at {login_path}");
        let body = LoginBody {
            jwt: jwt.expose_secret(),
            role: settings.role.as_deref(),
        };
        // PUT, as GitLab Runner's Vault client writes; Vault treats PUT and POST alike.
        let response = self
            .http
            .send(ctx, &what, RetryMode::IdempotentAny5xx, |client| {
                self.request(client, reqwest::Method::PUT, &url, None)
                    .json(&body)
            })
            .await?;
        ctx.metrics().record_login();
        let secrets = [jwt.expose_secret()];
        if !response.is_success() {
            let kind = match response.status {
                429 => ErrorKind::RateLimited,
                400..=499 => ErrorKind::Auth,
                status => status_kind(status),
            };
            return Err(answer_error(kind, &what, "refused", &response, &secrets));
        }
        let answer: LoginAnswer = response.json(&what)?;
        login_token(answer)
            .map_err(|missing| {
                ProviderError::new(
                    ErrorKind::Protocol,
                    format!("{what} answered HTTP {} {missing}", response.status),
                )
                .with_status(response.status)
            })
            .map(|token| VaultToken(SecretString::from(token)))
    }

    /// Reads an API path with a token and returns the answer whatever its
    /// status; the engine decides what a 404 means.
    pub(crate) async fn read(
        &self,
        ctx: &ResolveContext,
        token: &VaultToken,
        segments: &[&str],
    ) -> Result<HttpResponse, ProviderError> {
        let url = self.url(segments.iter().copied());
        let what = format!("Vault read of {}", segments.join("/"));
        self.http
            .send(ctx, &what, RetryMode::IdempotentAny5xx, |client| {
                self.request(client, reqwest::Method::GET, &url, Some(token))
            })
            .await
    }

    /// The token's capabilities on the API path `path` (`sys/capabilities-self`,
    /// which Vault's `default` policy allows): whether it may read a secret,
    /// learned without reading it. Returns the answer whatever its status.
    pub(crate) async fn capabilities_self(
        &self,
        ctx: &ResolveContext,
        token: &VaultToken,
        path: &str,
    ) -> Result<HttpResponse, ProviderError> {
        let url = self.url(["sys", "capabilities-self"]);
        let what = format!("Vault capabilities check of {path}");
        let body = serde_json::json!({ "paths": [path] });
        self.http
            .send(ctx, &what, RetryMode::IdempotentAny5xx, |client| {
                self.request(client, reqwest::Method::POST, &url, Some(token))
                    .json(&body)
            })
            .await
    }

    /// Revokes the token itself (`auth/token/revoke-self`).
    pub(crate) async fn revoke_self(
        &self,
        ctx: &ResolveContext,
        token: &VaultToken,
    ) -> Result<(), ProviderError> {
        let url = self.url(["auth", "token", "revoke-self"]);
        let what = "Vault token revocation";
        let response = self
            .http
            .send(ctx, what, RetryMode::IdempotentAny5xx, |client| {
                self.request(client, reqwest::Method::POST, &url, Some(token))
            })
            .await?;
        if response.is_success() {
            return Ok(());
        }
        let secrets = [token.0.expose_secret()];
        Err(answer_error(
            status_kind(response.status),
            what,
            "failed",
            &response,
            &secrets,
        ))
    }

    /// The secrets to scrub from server text answering a request made with `token`.
    pub(crate) fn scrub_list<'a>(token: &'a VaultToken, jwt: &'a SecretString) -> [&'a str; 2] {
        [token.0.expose_secret(), jwt.expose_secret()]
    }
}

/// The token of a login answer, read as Vault's Go client reads it
/// (`Secret.TokenID()`): `auth.client_token`, else `data.id`. The error says
/// what the answer lacked.
fn login_token(answer: LoginAnswer) -> Result<String, &'static str> {
    if let Some(token) = answer
        .auth
        .and_then(|auth| auth.client_token)
        .filter(|token| !token.is_empty())
    {
        return Ok(token);
    }
    match answer.data.and_then(|data| data.id) {
        Some(serde_json::Value::String(id)) if !id.is_empty() => Ok(id),
        Some(serde_json::Value::String(_)) | Some(serde_json::Value::Null) | None => {
            Err("without auth.client_token or data.id")
        }
        Some(_) => Err("with a data.id that is not a string"),
    }
}

/// An error for a non-2xx answer, quoting Vault's `errors` (scrubbed).
pub(crate) fn answer_error(
    kind: ErrorKind,
    what: &str,
    verb: &str,
    response: &HttpResponse,
    secrets: &[&str],
) -> ProviderError {
    let reason = response
        .error_text(secrets)
        .map(|text| format!(": {text}"))
        .unwrap_or_default();
    ProviderError::new(
        kind,
        format!("{what} {verb} with HTTP {}{reason}", response.status),
    )
    .with_status(response.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_secrets_http::{HttpFactory, HttpSettings};
    use ci_secrets_provider_api::JobVariables;

    fn client(server_url: &str) -> VaultClient {
        let settings = ServerSettings::from_variables(&JobVariables::from_iter([(
            "VAULT_SERVER_URL",
            server_url,
        )]))
        .unwrap();
        let http = HttpFactory::new(HttpSettings::default())
            .client(None)
            .unwrap();
        VaultClient::new(http, &settings)
    }

    #[test]
    fn urls_keep_a_path_prefix_and_encode_segments() {
        assert_eq!(
            client("https://vault.example.com")
                .url(["kv", "data", "a b?"])
                .as_str(),
            "https://vault.example.com/v1/kv/data/a%20b%3F"
        );
        assert_eq!(
            client("https://proxy.example.com/vault/")
                .url(["auth", "jwt", "login"])
                .as_str(),
            "https://proxy.example.com/vault/v1/auth/jwt/login"
        );
    }

    fn token_of(answer: serde_json::Value) -> Result<String, &'static str> {
        login_token(serde_json::from_value(answer).unwrap())
    }

    #[test]
    fn a_login_token_is_auth_client_token_else_data_id() {
        assert_eq!(
            token_of(serde_json::json!({"auth": {"client_token": "hvs.a"}, "data": {"id": "b"}})),
            Ok("hvs.a".to_string())
        );
        assert_eq!(
            token_of(serde_json::json!({"auth": null, "data": {"id": "hvs.from-data"}})),
            Ok("hvs.from-data".to_string())
        );
        assert_eq!(
            token_of(serde_json::json!({"auth": {"client_token": ""}, "data": {"id": "hvs.c"}})),
            Ok("hvs.c".to_string())
        );
        assert!(token_of(serde_json::json!({"data": {"id": 7}})).is_err());
        assert!(token_of(serde_json::json!({"data": {}})).is_err());
        assert!(token_of(serde_json::json!({})).is_err());
    }

    #[test]
    fn answer_errors_quote_vault_scrubbed() {
        let response = HttpResponse::new(
            400,
            br#"{"errors":["error validating token: eyJhbGciOi.payload.sig is invalid"]}"#.to_vec(),
        );
        let err = answer_error(
            ErrorKind::Auth,
            "Vault login at auth/jwt/login",
            "refused",
            &response,
            &["eyJhbGciOi.payload.sig"],
        );
        assert_eq!(
            err.message(),
            "Vault login at auth/jwt/login refused with HTTP 400: error validating token: [MASKED] is invalid"
        );
        assert_eq!(err.status(), Some(400));
    }
}
