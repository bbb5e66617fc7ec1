//! The AWS Secrets Manager provider of ci-secrets: GitLab's
//! `secrets:aws_secrets_manager`.
//!
//! The provider registers itself under the key `aws_secrets_manager` with
//! [`register_provider!`](ci_secrets_provider_api::register_provider); a
//! binary that ships it links it with
//! [`link_providers!`](ci_secrets_provider_api::link_providers) (see
//! [`ci_secrets_provider_api::registry`]), which calls [`registration`]:
//!
//! ```
//! use ci_secrets_provider_api::ProviderConfig;
//!
//! let [registration] = ci_secrets_provider_api::link_providers!(ci_secrets_provider_aws);
//! assert_eq!(registration.key, "aws_secrets_manager");
//! assert!(ci_secrets_provider_api::find_provider("aws_secrets_manager").is_some());
//! let config = ProviderConfig::new(serde_json::json!({}), "ci-secrets.toml");
//! assert!((registration.build)(&config).is_ok());
//! ```
//!
//! What a job needs, as in GitLab:
//!
//! - `aws_secrets_manager: secret_id` or `secret_id#field`, or the hash form
//!   `{secret_id, region, version_id, version_stage, role_arn,
//!   role_session_name, field}`;
//! - the region: the block's `region`, else the CI/CD variable `AWS_REGION`;
//! - with a role (`role_arn`, else `AWS_ROLE_ARN`): an ID token, the secret's
//!   `token:` else the job variable `AWS_ID_TOKEN`, exchanged once per
//!   (region, role, session name, token) with STS
//!   `AssumeRoleWithWebIdentity`; the session name is `role_session_name`,
//!   else `AWS_ROLE_SESSION_NAME`, else the login time in Unix nanoseconds
//!   (GitLab Runner's default);
//! - without a role and without a token: the default AWS credentials
//!   (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` from the job's variables,
//!   else the SDK's chain: profiles, web identity file, ECS, EC2 metadata).
//!
//! `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS` and
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` override the endpoints. A JSON
//! `SecretString` yields `field`'s string, number or boolean; a
//! `SecretBinary` is delivered as its raw bytes.

// Unit tests may unwrap: a panic is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod access;
mod attempts;
mod deadline;
mod diagnostics;
mod failure;
mod fetch;
mod field;
mod login;
mod provider;
mod reference;
mod request;
mod transport;

use ci_secrets_provider_api::{
    BlockForms, BlockKey, KeyType, Provider, ProviderConfig, ProviderError, ProviderRegistration,
};

pub use provider::AwsSecretsManagerProvider;

/// The YAML key of the provider.
pub const KEY: &str = "aws_secrets_manager";

ci_secrets_provider_api::register_provider!(ProviderRegistration {
    key: KEY,
    description: "AWS Secrets Manager secrets, STS web identity login with the job's ID token",
    keys: &[
        BlockKey::new(
            "secret_id",
            KeyType::String,
            "the secret's name or ARN (string form: `secret_id` or `secret_id#field`)",
        ),
        BlockKey::new(
            "region",
            KeyType::String,
            "the AWS region (default: $AWS_REGION)",
        ),
        BlockKey::new("version_id", KeyType::String, "the version to read, by id"),
        BlockKey::new(
            "version_stage",
            KeyType::String,
            "the version to read, by staging label (default: AWSCURRENT)",
        ),
        BlockKey::new(
            "role_arn",
            KeyType::String,
            "the IAM role to assume with the ID token (default: $AWS_ROLE_ARN)",
        ),
        BlockKey::new(
            "role_session_name",
            KeyType::String,
            "the STS session name (default: $AWS_ROLE_SESSION_NAME)",
        ),
        BlockKey::new(
            "field",
            KeyType::String,
            "the key to read from a JSON secret string",
        ),
    ],
    forms: BlockForms::MAP.with_string(),
    build,
});

fn build(config: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    Ok(Box::new(AwsSecretsManagerProvider::from_config(config)?))
}
