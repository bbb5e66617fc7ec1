//! The Akeyless REST calls this provider makes: typed request and response
//! bodies, sent through the shared [`HttpClient`].
//!
//! Every call is `POST <api_url>/<operation>` with a JSON body that carries
//! the token. Reads and logins are retried as idempotent; issuance (dynamic
//! secrets, SSH and PKI certificates) only when the request was never sent
//! (D9), so nothing is issued twice.

use std::collections::HashMap;
use std::sync::OnceLock;

use ci_secrets_http::{HttpClient, RetryMode};
use ci_secrets_provider_api::ResolveContext;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Failure, Operation};

/// Real clients identify themselves; the runner sent `gitlab`, and so do we,
/// since the jobs we resolve are GitLab jobs.
const CLIENT_TYPE_HEADER: &str = "akeylessclienttype";
const CLIENT_TYPE: &str = "gitlab";

/// One Akeyless API (the SaaS or a gateway) reached through one client.
#[derive(Debug, Clone)]
pub(crate) struct AkeylessApi {
    base_url: String,
    client: HttpClient,
    /// `<base_url><operation path>` parsed once per operation, at its first
    /// call: a job of a hundred secrets sends a hundred calls of a few
    /// operations, and each parse of the same text gave the same URL.
    /// In the order of [`OPERATIONS`]; `None` when it does not parse (the
    /// text is then sent as it is, and fails the way it always did).
    urls: [OnceLock<Option<url::Url>>; OPERATIONS.len()],
}

/// Every operation, in the order of [`AkeylessApi::urls`].
const OPERATIONS: [Operation; 9] = [
    Operation::Auth,
    Operation::DescribeItem,
    Operation::ListItems,
    Operation::GetSecretValue,
    Operation::GetDynamicSecretValue,
    Operation::GetRotatedSecretValue,
    Operation::GetSshCertificate,
    Operation::GetPkiCertificate,
    Operation::GetCertificateValue,
];

/// The body of `POST /auth`. Optional fields are left out when empty; the
/// SDK's defaults (`gcp-audience`, `json`, `oci-auth-type`) are always sent,
/// as the Go SDK does.
#[derive(Debug, Default, Serialize)]
pub(crate) struct AuthRequest {
    #[serde(rename = "access-type")]
    pub access_type: &'static str,
    #[serde(rename = "access-id")]
    pub access_id: String,
    #[serde(rename = "access-key", skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    #[serde(rename = "cloud-id", skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    #[serde(rename = "gcp-audience")]
    pub gcp_audience: String,
    /// The current spelling (SDK v5); GitLab Runner's SDK sent `uid_token`.
    #[serde(rename = "uid-token", skip_serializing_if = "Option::is_none")]
    pub uid_token: Option<String>,
    #[serde(
        rename = "k8s-service-account-token",
        skip_serializing_if = "Option::is_none"
    )]
    pub k8s_service_account_token: Option<String>,
    #[serde(
        rename = "k8s-auth-config-name",
        skip_serializing_if = "Option::is_none"
    )]
    pub k8s_auth_config_name: Option<String>,
    #[serde(rename = "gateway-url", skip_serializing_if = "Option::is_none")]
    pub gateway_url: Option<String>,
    pub json: bool,
    #[serde(rename = "oci-auth-type")]
    pub oci_auth_type: &'static str,
}

/// The answer of `POST /auth`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthOutput {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub expiration: Option<String>,
    #[serde(default)]
    pub creds: Option<AuthCreds>,
}

/// `creds` of `/auth`; only the expiry is used.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthCreds {
    #[serde(default)]
    pub expiry: Option<i64>,
}

#[derive(Serialize)]
struct DescribeItem<'a> {
    name: &'a str,
    token: &'a str,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    item_type: Option<String>,
}

/// `POST /list-items` of one folder. Pagination is left at the server's
/// default; a cut listing only means that the unseen names are described.
#[derive(Serialize)]
struct ListItems<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a str>,
    token: &'a str,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    items: Vec<ListedItem>,
}

#[derive(Deserialize)]
struct ListedItem {
    #[serde(default)]
    item_name: Option<String>,
    #[serde(default)]
    item_type: Option<String>,
}

#[derive(Serialize)]
struct GetSecretValue<'a> {
    names: &'a [&'a str],
    token: &'a str,
}

#[derive(Serialize)]
struct ByName<'a> {
    name: &'a str,
    token: &'a str,
}

/// `names` is one string here, despite the plural.
#[derive(Serialize)]
struct GetRotatedSecretValue<'a> {
    names: &'a str,
    token: &'a str,
}

#[derive(Deserialize)]
struct RotatedOutput {
    #[serde(default)]
    value: Option<serde_json::Value>,
}

/// `POST /get-ssh-certificate`; the runner always sent all four fields.
#[derive(Serialize)]
pub(crate) struct SshCertificateRequest<'a> {
    #[serde(rename = "cert-issuer-name")]
    pub cert_issuer_name: &'a str,
    #[serde(rename = "cert-username")]
    pub cert_username: &'a str,
    #[serde(rename = "public-key-data")]
    pub public_key_data: &'a str,
    pub token: &'a str,
}

/// `POST /get-pki-certificate`.
#[derive(Serialize)]
pub(crate) struct PkiCertificateRequest<'a> {
    #[serde(rename = "cert-issuer-name")]
    pub cert_issuer_name: &'a str,
    #[serde(rename = "csr-data-base64", skip_serializing_if = "Option::is_none")]
    pub csr_data_base64: Option<&'a str>,
    #[serde(rename = "key-data-base64", skip_serializing_if = "Option::is_none")]
    pub key_data_base64: Option<&'a str>,
    pub token: &'a str,
}

#[derive(Deserialize)]
struct CertificateData {
    #[serde(default)]
    data: Option<String>,
}

impl AkeylessApi {
    /// The API at `base_url` (no trailing `/`), through `client`.
    pub(crate) fn new(base_url: impl Into<String>, client: HttpClient) -> Self {
        Self {
            base_url: base_url.into(),
            client,
            urls: Default::default(),
        }
    }

    /// The URL of `operation`, parsed at its first call.
    fn parsed_url(&self, operation: Operation, url: &str) -> Option<&url::Url> {
        let slot = OPERATIONS.iter().position(|known| *known == operation)?;
        self.urls[slot]
            .get_or_init(|| url::Url::parse(url).ok())
            .as_ref()
    }

    /// Opens `connections` connections to the API ahead of a wave of
    /// requests that waits on something else (see [`HttpClient::preconnect`]).
    pub(crate) async fn preconnect(&self, connections: usize) {
        self.client.preconnect(&self.base_url, connections).await;
    }

    /// The URL without a trailing `/`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one call. `subject` names the item(s) in errors; `secrets` are
    /// scrubbed from the server's error text.
    async fn call<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        ctx: &ResolveContext,
        operation: Operation,
        mode: RetryMode,
        body: &B,
        subject: &str,
        secrets: &[&str],
    ) -> Result<R, Failure> {
        let url = format!("{}{}", self.base_url, operation.path());
        let parsed = self.parsed_url(operation, &url);
        let response = self
            .client
            .send(ctx, &operation.label(), mode, |client| {
                match parsed {
                    Some(parsed) => client.post(parsed.clone()),
                    None => client.post(&url),
                }
                .header(CLIENT_TYPE_HEADER, CLIENT_TYPE)
                .header(reqwest::header::ACCEPT, "application/json")
                .json(body)
            })
            .await
            .map_err(|source| Failure::Transport {
                subject: subject.to_string(),
                source,
            })?;
        if !response.is_success() {
            return Err(Failure::Api {
                operation,
                subject: subject.to_string(),
                status: response.status,
                server_text: response.error_text(secrets),
            });
        }
        // The shared layer's message names the operation, status and parse
        // position; keep only that part after the label we prefix again.
        response
            .json(&operation.label())
            .map_err(|err| Failure::Malformed {
                operation,
                detail: err
                    .message()
                    .strip_prefix(operation.label().as_str())
                    .map(|rest| rest.trim_start().to_string())
                    .unwrap_or_else(|| err.message().to_string()),
            })
    }

    /// `POST /auth`.
    pub(crate) async fn auth(
        &self,
        ctx: &ResolveContext,
        request: &AuthRequest,
        secrets: &[&str],
    ) -> Result<AuthOutput, Failure> {
        self.call(
            ctx,
            Operation::Auth,
            RetryMode::Idempotent,
            request,
            "login",
            secrets,
        )
        .await
    }

    /// `POST /describe-item`: the item's type.
    pub(crate) async fn describe_item(
        &self,
        ctx: &ResolveContext,
        name: &str,
        token: &str,
    ) -> Result<String, Failure> {
        let item: Item = self
            .call(
                ctx,
                Operation::DescribeItem,
                RetryMode::Idempotent,
                &DescribeItem { name, token },
                &format!("item {name}"),
                &[token],
            )
            .await?;
        Ok(item.item_type.unwrap_or_default())
    }

    /// `POST /list-items`: the type of each item directly in `folder` (whose
    /// name contains `filter`, when given), by full name (`/folder/item`).
    /// Items without a name or type are left out.
    pub(crate) async fn list_items(
        &self,
        ctx: &ResolveContext,
        folder: &str,
        filter: Option<&str>,
        token: &str,
    ) -> Result<HashMap<String, String>, Failure> {
        let listing: Listing = self
            .call(
                ctx,
                Operation::ListItems,
                RetryMode::Idempotent,
                &ListItems {
                    path: folder,
                    filter,
                    token,
                },
                &format!("folder {folder}"),
                &[token],
            )
            .await?;
        Ok(listing
            .items
            .into_iter()
            .filter_map(|item| Some((item.item_name?, item.item_type?)))
            .collect())
    }

    /// `POST /get-secret-value` for several static secrets at once: a map
    /// from name to value.
    pub(crate) async fn get_secret_values(
        &self,
        ctx: &ResolveContext,
        names: &[&str],
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
        let subject = if names.len() == 1 {
            format!("static secret {}", names[0])
        } else {
            format!("{} static secrets ({})", names.len(), names.join(", "))
        };
        self.call(
            ctx,
            Operation::GetSecretValue,
            RetryMode::Idempotent,
            &GetSecretValue { names, token },
            &subject,
            &[token],
        )
        .await
    }

    /// `POST /get-dynamic-secret-value`: issues credentials, so it is sent
    /// again only when it never left.
    pub(crate) async fn get_dynamic_secret_value(
        &self,
        ctx: &ResolveContext,
        name: &str,
        token: &str,
    ) -> Result<serde_json::Value, Failure> {
        self.call(
            ctx,
            Operation::GetDynamicSecretValue,
            RetryMode::OnlyIfNotSent,
            &ByName { name, token },
            &format!("dynamic secret {name}"),
            &[token],
        )
        .await
    }

    /// `POST /get-rotated-secret-value`: the `value` field.
    pub(crate) async fn get_rotated_secret_value(
        &self,
        ctx: &ResolveContext,
        name: &str,
        token: &str,
    ) -> Result<Option<serde_json::Value>, Failure> {
        let output: RotatedOutput = self
            .call(
                ctx,
                Operation::GetRotatedSecretValue,
                RetryMode::Idempotent,
                &GetRotatedSecretValue { names: name, token },
                &format!("rotated secret {name}"),
                &[token],
            )
            .await?;
        Ok(output.value)
    }

    /// `POST /get-ssh-certificate`: the signed certificate text.
    pub(crate) async fn get_ssh_certificate(
        &self,
        ctx: &ResolveContext,
        request: &SshCertificateRequest<'_>,
    ) -> Result<Option<String>, Failure> {
        let output: CertificateData = self
            .call(
                ctx,
                Operation::GetSshCertificate,
                RetryMode::OnlyIfNotSent,
                request,
                &format!("SSH certificate issuer {}", request.cert_issuer_name),
                &[request.token],
            )
            .await?;
        Ok(output.data)
    }

    /// `POST /get-pki-certificate`: the PEM certificate.
    pub(crate) async fn get_pki_certificate(
        &self,
        ctx: &ResolveContext,
        request: &PkiCertificateRequest<'_>,
    ) -> Result<Option<String>, Failure> {
        let output: CertificateData = self
            .call(
                ctx,
                Operation::GetPkiCertificate,
                RetryMode::OnlyIfNotSent,
                request,
                &format!("PKI certificate issuer {}", request.cert_issuer_name),
                &[request.token],
            )
            .await?;
        Ok(output.data)
    }

    /// `POST /get-certificate-value`: the whole answer (`certificate_pem`,
    /// `private_key_pem`, ...), so `data_key` can pick a part.
    pub(crate) async fn get_certificate_value(
        &self,
        ctx: &ResolveContext,
        name: &str,
        token: &str,
    ) -> Result<serde_json::Value, Failure> {
        self.call(
            ctx,
            Operation::GetCertificateValue,
            RetryMode::Idempotent,
            &ByName { name, token },
            &format!("certificate {name}"),
            &[token],
        )
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_has_its_own_url_parsed_once() {
        let factory =
            ci_secrets_http::HttpFactory::new(ci_secrets_provider_api::HttpSettings::default());
        let api = AkeylessApi::new(
            "https://gw.example:8000/api/v2",
            factory.client(None).unwrap(),
        );
        for operation in OPERATIONS {
            let text = format!("{}{}", api.base_url(), operation.path());
            let parsed = api.parsed_url(operation, &text).unwrap().clone();
            assert_eq!(parsed.as_str(), text);
            assert_eq!(parsed, url::Url::parse(&text).unwrap());
            // The second call answers the first parse.
            let again = api.parsed_url(operation, "not a url").unwrap();
            assert!(std::ptr::eq(
                again,
                api.parsed_url(operation, &text).unwrap()
            ));
        }
        let broken = AkeylessApi::new("no scheme", factory.client(None).unwrap());
        assert!(
            broken
                .parsed_url(Operation::Auth, "no scheme/auth")
                .is_none()
        );
    }

    #[test]
    fn auth_body_has_the_sdk_defaults_and_no_empty_fields() {
        let request = AuthRequest {
            access_type: "jwt",
            access_id: "p-1".into(),
            jwt: Some("h.p.s".into()),
            gcp_audience: "akeyless.io".into(),
            oci_auth_type: "apikey",
            ..AuthRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({
                "access-type": "jwt", "access-id": "p-1", "jwt": "h.p.s",
                "gcp-audience": "akeyless.io", "json": false, "oci-auth-type": "apikey"
            })
        );
    }
}
