//! Logging in: one adapter per access type, and the shared `/auth` body.
//!
//! Each adapter fills its fields of the [`AuthRequest`]; this module adds
//! what every login sends (access type, access id and the Go SDK's defaults)
//! and turns `/auth` failures into login errors.

mod access_key;
mod aws_iam;
mod azure_ad;
mod gcp;
mod jwt;
mod k8s;
mod metadata;
mod universal_identity;

use ci_secrets_provider_api::ResolveContext;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::api::{AkeylessApi, AuthOutput, AuthRequest};
use crate::block::{AccessType, AkeylessBlock};
use crate::env::Env;
use crate::error::Failure;

/// What one access type logs in with, taken from the block (and `token:`).
#[derive(Debug)]
pub(crate) enum Credential {
    Jwt(SecretString),
    AccessKey(SecretString),
    UniversalIdentity(SecretString),
    K8s {
        /// `None`: read the pod's service-account token file.
        service_account_token: Option<SecretString>,
        config_name: String,
    },
    AwsIam,
    AzureAd {
        object_id: Option<String>,
    },
    Gcp {
        audience: String,
    },
}

impl Credential {
    /// The credential the block's access type needs; fails, before any
    /// network call, when a required field is empty.
    pub(crate) fn of(block: &AkeylessBlock, token: Option<&SecretString>) -> Result<Self, Failure> {
        Ok(match block.access_type {
            AccessType::Jwt => Credential::Jwt(jwt::credential(token)?),
            AccessType::AccessKey => Credential::AccessKey(access_key::credential(block)?),
            AccessType::UniversalIdentity => {
                Credential::UniversalIdentity(universal_identity::credential(block)?)
            }
            AccessType::K8s => Credential::K8s {
                service_account_token: block.k8s_service_account_token.clone(),
                config_name: k8s::config_name(block)?,
            },
            AccessType::AwsIam => Credential::AwsIam,
            AccessType::AzureAd => Credential::AzureAd {
                object_id: block.azure_object_id.clone(),
            },
            AccessType::Gcp => Credential::Gcp {
                audience: block.gcp_audience.clone(),
            },
        })
    }

    pub(crate) fn access_type(&self) -> AccessType {
        match self {
            Credential::Jwt(_) => AccessType::Jwt,
            Credential::AccessKey(_) => AccessType::AccessKey,
            Credential::UniversalIdentity(_) => AccessType::UniversalIdentity,
            Credential::K8s { .. } => AccessType::K8s,
            Credential::AwsIam => AccessType::AwsIam,
            Credential::AzureAd { .. } => AccessType::AzureAd,
            Credential::Gcp { .. } => AccessType::Gcp,
        }
    }

    /// What distinguishes two credentials of one access type, for the
    /// identity key. Cloud identities come from the machine, so only their
    /// parameters count.
    pub(crate) fn key_material(&self) -> Zeroizing<String> {
        Zeroizing::new(match self {
            Credential::Jwt(secret)
            | Credential::AccessKey(secret)
            | Credential::UniversalIdentity(secret) => secret.expose_secret().to_string(),
            Credential::K8s {
                service_account_token,
                config_name,
            } => format!(
                "{config_name}\0{}",
                service_account_token
                    .as_ref()
                    .map_or("", |token| token.expose_secret())
            ),
            Credential::AwsIam => String::new(),
            Credential::AzureAd { object_id } => object_id.clone().unwrap_or_default(),
            Credential::Gcp { audience } => audience.clone(),
        })
    }
}

/// `POST /auth` as `access_id` with `credential`.
pub(crate) async fn login(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    access_id: &str,
    credential: &Credential,
) -> Result<AuthOutput, Failure> {
    let env = Env::new(ctx.variables());
    let access_type = credential.access_type();
    let mut request = AuthRequest {
        access_type: access_type.wire_name(),
        access_id: access_id.to_string(),
        // The Go SDK's `NewAuth()` defaults, which GitLab Runner sent.
        gcp_audience: crate::block::DEFAULT_GCP_AUDIENCE.to_string(),
        json: false,
        oci_auth_type: "apikey",
        ..AuthRequest::default()
    };
    // Credentials that went into the request only in encoded form.
    let mut cloud_sources: Vec<Zeroizing<String>> = Vec::new();
    match credential {
        Credential::Jwt(token) => jwt::fill(&mut request, token),
        Credential::AccessKey(key) => access_key::fill(&mut request, key),
        Credential::UniversalIdentity(token) => universal_identity::fill(&mut request, token),
        Credential::K8s {
            service_account_token,
            config_name,
        } => {
            k8s::fill(
                &mut request,
                service_account_token.as_ref(),
                config_name,
                api.base_url(),
                std::path::Path::new(k8s::SERVICE_ACCOUNT_TOKEN_PATH),
            )
            .await?
        }
        Credential::AwsIam => {
            let (cloud_id, sources) = aws_iam::cloud_id(ctx, &env).await?;
            request.cloud_id = Some(cloud_id);
            cloud_sources = sources;
        }
        Credential::AzureAd { object_id } => {
            request.cloud_id = Some(azure_ad::cloud_id(ctx, &env, object_id.as_deref()).await?)
        }
        Credential::Gcp { audience } => {
            request.cloud_id = Some(gcp::cloud_id(ctx, &env, audience).await?);
            // D4: the audience of the ID token, not always `akeyless.io`.
            request.gcp_audience = audience.clone();
        }
    }
    let given_k8s_token = match credential {
        Credential::K8s {
            service_account_token: Some(token),
            ..
        } => Some(token.expose_secret().trim()),
        _ => None,
    };
    // Every credential the request carries, in the form sent and in the
    // forms it was made from (the k8s token before base64, the AWS keys
    // inside the signed cloud id): a server may decode and echo any of them.
    let secrets: Vec<&str> = [
        request.access_key.as_deref(),
        request.jwt.as_deref(),
        request.cloud_id.as_deref(),
        request.uid_token.as_deref(),
        request.k8s_service_account_token.as_deref(),
        given_k8s_token,
    ]
    .into_iter()
    .flatten()
    .chain(cloud_sources.iter().map(|source| source.as_str()))
    .collect();
    api.auth(ctx, &request, &secrets)
        .await
        .map_err(|failure| match failure {
            Failure::Api {
                status,
                server_text,
                ..
            } => Failure::Login {
                api_url: api.base_url().to_string(),
                access_type: access_type.wire_name(),
                access_id: access_id.to_string(),
                status,
                server_text,
            },
            other => other,
        })
}
