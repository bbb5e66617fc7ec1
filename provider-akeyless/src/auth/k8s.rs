//! `k8s` (D11): the pod's service-account JWT, base64-encoded, sent to a
//! gateway with its K8s auth config name and its own URL.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_provider_api::ErrorKind;
use secrecy::{ExposeSecret, SecretString};

use crate::api::AuthRequest;
use crate::block::AkeylessBlock;
use crate::error::Failure;

/// Where Kubernetes mounts the pod's service-account token.
pub(super) const SERVICE_ACCOUNT_TOKEN_PATH: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

pub(super) fn config_name(block: &AkeylessBlock) -> Result<String, Failure> {
    block.k8s_auth_config_name.clone().ok_or_else(|| {
        Failure::MissingCredential(
            "k8s_auth_config_name is required for access type k8s (the gateway's K8s auth config)"
                .to_string(),
        )
    })
}

pub(super) async fn fill(
    request: &mut AuthRequest,
    token: Option<&SecretString>,
    config_name: &str,
    api_url: &str,
    token_path: &Path,
) -> Result<(), Failure> {
    let token = match token {
        Some(token) => token.expose_secret().trim().to_string(),
        None => read_token_file(token_path).await?,
    };
    request.k8s_service_account_token = Some(base64_unless_already(&token));
    request.k8s_auth_config_name = Some(config_name.to_string());
    request.gateway_url = Some(gateway_url(api_url).to_string());
    Ok(())
}

async fn read_token_file(path: &Path) -> Result<String, Failure> {
    let text = tokio::fs::read_to_string(path).await.map_err(|err| {
        Failure::MissingCredential(format!(
            "k8s_service_account_token is empty and the pod's token {} cannot be read: {err}",
            path.display()
        ))
    })?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(Failure::CloudId {
            cloud: "k8s",
            kind: ErrorKind::Auth,
            reason: format!("the service-account token file {} is empty", path.display()),
        });
    }
    Ok(token)
}

/// A JWT (with its dots) is never valid base64, so it gets encoded; a token
/// that already decodes is sent as it is.
fn base64_unless_already(token: &str) -> String {
    if STANDARD.decode(token).is_ok() {
        token.to_string()
    } else {
        STANDARD.encode(token)
    }
}

/// The gateway's base URL: the API URL without a trailing `/api/v2` or `/v2`.
fn gateway_url(api_url: &str) -> &str {
    api_url
        .strip_suffix("/api/v2")
        .or_else(|| api_url.strip_suffix("/v2"))
        .unwrap_or(api_url)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn gateway_url_drops_the_api_suffix() {
        assert_eq!(gateway_url("https://gw:8000/api/v2"), "https://gw:8000");
        assert_eq!(gateway_url("http://gw:8080/v2"), "http://gw:8080");
        assert_eq!(gateway_url("https://gw:8081"), "https://gw:8081");
    }

    #[test]
    fn jwts_are_encoded_and_base64_is_kept() {
        assert_eq!(
            base64_unless_already("eyJh.eyJi.c2ln"),
            STANDARD.encode("eyJh.eyJi.c2ln")
        );
        let encoded = STANDARD.encode("eyJh.eyJi.c2ln");
        assert_eq!(base64_unless_already(&encoded), encoded);
    }

    #[tokio::test]
    async fn an_empty_token_reads_the_pod_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "eyJh.eyJi.c2ln\n").unwrap();
        let mut request = AuthRequest::default();
        fill(&mut request, None, "cfg", "https://gw:8000/api/v2", &path)
            .await
            .unwrap();
        assert_eq!(
            request.k8s_service_account_token,
            Some(STANDARD.encode("eyJh.eyJi.c2ln"))
        );
        assert_eq!(request.k8s_auth_config_name.as_deref(), Some("cfg"));
        assert_eq!(request.gateway_url.as_deref(), Some("https://gw:8000"));

        let missing = fill(
            &mut request,
            None,
            "cfg",
            "https://gw",
            &dir.path().join("none"),
        )
        .await;
        assert!(missing.unwrap_err().to_string().contains("cannot be read"));
    }
}
