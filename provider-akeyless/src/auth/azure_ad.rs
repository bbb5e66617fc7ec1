//! `azure_ad`: an Entra access token for the Azure management resource,
//! base64-encoded.
//!
//! Sources, in the order Azure's `DefaultAzureCredential` tries them:
//! 1. workload identity: `AZURE_FEDERATED_TOKEN_FILE` + `AZURE_CLIENT_ID` +
//!    `AZURE_TENANT_ID`, exchanged at `AZURE_AUTHORITY_HOST`;
//! 2. App Service / Functions: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`;
//! 3. the instance metadata service (IMDS), at
//!    `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set.
//!
//! With `azure_object_id`, the managed identity of that object is asked for
//! (IMDS `object_id`, App Service `principal_id`), as Akeyless's cloud-id
//! library does; workload identity is then skipped.
//!
//! Sovereign clouds: `AZURE_ENVIRONMENT`, then `AZURE_CLOUD`, pick the
//! management resource; otherwise IMDS's `compute.azEnvironment` when the
//! token comes from IMDS, or the authority host for workload identity.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_http::{HttpContext as _, RetryMode};
use ci_secrets_provider_api::{ErrorKind, ResolveContext};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::metadata;
use crate::env::Env;
use crate::error::Failure;

const DEFAULT_IMDS: &str = "http://169.254.169.254";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com/";
const PUBLIC_RESOURCE: &str = "https://management.azure.com/";
const US_GOVERNMENT_RESOURCE: &str = "https://management.usgovcloudapi.net/";
const CHINA_RESOURCE: &str = "https://management.chinacloudapi.cn/";

fn failure(kind: ErrorKind, reason: impl Into<String>) -> Failure {
    Failure::CloudId {
        cloud: "azure",
        kind,
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<Zeroizing<String>>,
}

/// The cloud id: base64 of the access token.
pub(super) async fn cloud_id(
    ctx: &ResolveContext,
    env: &Env<'_>,
    object_id: Option<&str>,
) -> Result<String, Failure> {
    let workload = match (
        env.get("AZURE_FEDERATED_TOKEN_FILE"),
        env.get("AZURE_CLIENT_ID"),
        env.get("AZURE_TENANT_ID"),
    ) {
        (Some(file), Some(client_id), Some(tenant_id)) if object_id.is_none() => {
            Some((file, client_id, tenant_id))
        }
        _ => None,
    };
    let token = if let Some((file, client_id, tenant_id)) = workload {
        let authority = env
            .get("AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| DEFAULT_AUTHORITY.to_string());
        let resource = named_resource(env).unwrap_or_else(|| resource_of_authority(&authority));
        workload_identity(ctx, &file, &client_id, &tenant_id, &authority, resource).await?
    } else if let (Some(endpoint), Some(header)) =
        (env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER"))
    {
        let resource = named_resource(env).unwrap_or(PUBLIC_RESOURCE);
        app_service(ctx, env, &endpoint, &header, resource, object_id).await?
    } else {
        let imds = env
            .get("AZURE_POD_IDENTITY_AUTHORITY_HOST")
            .unwrap_or_else(|| DEFAULT_IMDS.to_string());
        let imds = imds.trim_end_matches('/');
        let resource = match named_resource(env) {
            Some(resource) => resource,
            None => imds_resource(ctx, imds).await,
        };
        managed_identity(ctx, env, imds, resource, object_id).await?
    };
    Ok(STANDARD.encode(token.as_bytes()))
}

/// The resource of the cloud named by `AZURE_ENVIRONMENT` or `AZURE_CLOUD`.
fn named_resource(env: &Env<'_>) -> Option<&'static str> {
    let name = env
        .get("AZURE_ENVIRONMENT")
        .or_else(|| env.get("AZURE_CLOUD"))?;
    resource_of_cloud(&name)
}

fn resource_of_cloud(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "azurecloud" | "azurepubliccloud" => Some(PUBLIC_RESOURCE),
        "azureusgovernment" | "azureusgovernmentcloud" => Some(US_GOVERNMENT_RESOURCE),
        "azurechinacloud" | "azurechinacloud21vianet" => Some(CHINA_RESOURCE),
        _ => None,
    }
}

fn resource_of_authority(authority: &str) -> &'static str {
    if authority.contains("login.microsoftonline.us") {
        US_GOVERNMENT_RESOURCE
    } else if authority.contains("login.chinacloudapi.cn") {
        CHINA_RESOURCE
    } else {
        PUBLIC_RESOURCE
    }
}

/// The VM's cloud from IMDS instance metadata; public when it cannot tell.
async fn imds_resource(ctx: &ResolveContext, imds: &str) -> &'static str {
    #[derive(Deserialize)]
    struct Instance {
        compute: Compute,
    }
    #[derive(Deserialize)]
    struct Compute {
        #[serde(rename = "azEnvironment", default)]
        az_environment: String,
    }
    let url = format!("{imds}/metadata/instance?api-version=2021-02-01&format=json");
    match metadata::get(ctx, &url, &[("Metadata", "true")], &[]).await {
        Ok(body) => serde_json::from_str::<Instance>(&body)
            .ok()
            .and_then(|instance| resource_of_cloud(&instance.compute.az_environment))
            .unwrap_or(PUBLIC_RESOURCE),
        Err(_) => PUBLIC_RESOURCE,
    }
}

async fn managed_identity(
    ctx: &ResolveContext,
    env: &Env<'_>,
    imds: &str,
    resource: &str,
    object_id: Option<&str>,
) -> Result<Zeroizing<String>, Failure> {
    let mut url =
        url::Url::parse(&format!("{imds}/metadata/identity/oauth2/token")).map_err(|err| {
            failure(
                ErrorKind::Config,
                format!("IMDS endpoint {imds:?} is not a URL: {err}"),
            )
        })?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("api-version", "2018-02-01")
            .append_pair("resource", resource);
        match (object_id, env.get("AZURE_CLIENT_ID")) {
            (Some(object_id), _) => query.append_pair("object_id", object_id),
            (None, Some(client_id)) => query.append_pair("client_id", &client_id),
            (None, None) => &mut query,
        };
    }
    let body = metadata::get(
        ctx,
        url.as_str(),
        &[("Metadata", "true"), ("User-Agent", "AKEYLESS")],
        &[],
    )
    .await
    .map_err(|err| {
        failure(
            err.kind,
            format!("no managed-identity token from IMDS ({})", err.message),
        )
    })?;
    access_token(&body, "IMDS")
}

async fn app_service(
    ctx: &ResolveContext,
    env: &Env<'_>,
    endpoint: &str,
    header: &str,
    resource: &str,
    object_id: Option<&str>,
) -> Result<Zeroizing<String>, Failure> {
    let mut url = url::Url::parse(endpoint).map_err(|err| {
        failure(
            ErrorKind::Config,
            format!("IDENTITY_ENDPOINT {endpoint:?} is not a URL: {err}"),
        )
    })?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("api-version", "2019-08-01")
            .append_pair("resource", resource);
        match (object_id, env.get("AZURE_CLIENT_ID")) {
            (Some(object_id), _) => query.append_pair("principal_id", object_id),
            (None, Some(client_id)) => query.append_pair("client_id", &client_id),
            (None, None) => &mut query,
        };
    }
    let body = metadata::get(
        ctx,
        url.as_str(),
        &[("X-IDENTITY-HEADER", header)],
        &[header],
    )
    .await
    .map_err(|err| {
        failure(
            err.kind,
            format!(
                "no managed-identity token from IDENTITY_ENDPOINT ({})",
                err.message
            ),
        )
    })?;
    access_token(&body, "IDENTITY_ENDPOINT")
}

async fn workload_identity(
    ctx: &ResolveContext,
    token_file: &str,
    client_id: &str,
    tenant_id: &str,
    authority: &str,
    resource: &str,
) -> Result<Zeroizing<String>, Failure> {
    let assertion = Zeroizing::new(
        tokio::fs::read_to_string(token_file)
            .await
            .map_err(|err| {
                failure(
                    ErrorKind::Config,
                    format!("AZURE_FEDERATED_TOKEN_FILE {token_file}: cannot be read: {err}"),
                )
            })?
            .trim()
            .to_string(),
    );
    let url = format!(
        "{}/{tenant_id}/oauth2/v2.0/token",
        authority.trim_end_matches('/')
    );
    let scope = format!("{resource}.default");
    let form = [
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
        ("grant_type", "client_credentials"),
        ("scope", scope.as_str()),
    ];
    let client = ctx
        .http()
        .client(None)
        .map_err(|err| failure(err.kind(), err.message().to_string()))?;
    let response = client
        .send(
            ctx,
            &format!("POST {url}"),
            RetryMode::Idempotent,
            |client| client.post(&url).form(&form),
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
                "workload identity exchange failed: POST {url}: HTTP {}: {}",
                response.status,
                metadata::body_error(body, &[assertion.as_str()])
            ),
        ));
    }
    access_token(body, "the workload identity exchange")
}

fn access_token(body: &str, source: &str) -> Result<Zeroizing<String>, Failure> {
    let answer: TokenAnswer = serde_json::from_str(body).map_err(|_| {
        failure(
            ErrorKind::Protocol,
            format!("{source} answered with a body that is not JSON"),
        )
    })?;
    answer
        .access_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            failure(
                ErrorKind::Protocol,
                format!("{source} answered without an access_token"),
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sovereign_clouds_pick_their_resource() {
        assert_eq!(
            resource_of_cloud("AzureUSGovernment"),
            Some(US_GOVERNMENT_RESOURCE)
        );
        assert_eq!(resource_of_cloud("azurechinacloud"), Some(CHINA_RESOURCE));
        assert_eq!(resource_of_cloud("AzurePublicCloud"), Some(PUBLIC_RESOURCE));
        assert_eq!(resource_of_cloud("Mars"), None);
        assert_eq!(
            resource_of_authority("https://login.microsoftonline.us/"),
            US_GOVERNMENT_RESOURCE
        );
        assert_eq!(
            resource_of_authority("https://login.microsoftonline.com/"),
            PUBLIC_RESOURCE
        );
    }
}
