//! The built-in demo seed: what `ci-secrets emulator` serves without `--seed` and what
//! `ci-secrets demo` resolves against. Every credential here is a published test credential.

use std::time::Duration;

use serde_json::json;

use crate::seed::{Access, DynamicShape, Item, Seed};
use crate::testing::{AwsTestCredentials, TestKeys};

/// Access id for `access_key` auth; reads everything under `/demo/`.
pub const DEMO_ACCESS_KEY_ID: &str = "p-demoaccess01";
/// The access key of [`DEMO_ACCESS_KEY_ID`].
pub const DEMO_ACCESS_KEY: &str = "demo-access-key-not-a-secret";
/// Access id for `access_key` auth that may read `/demo/static/password` only.
pub const DEMO_LIMITED_ACCESS_ID: &str = "p-demolimited1";
/// The access key of [`DEMO_LIMITED_ACCESS_ID`].
pub const DEMO_LIMITED_ACCESS_KEY: &str = "demo-limited-key-not-a-secret";
/// Access id for `jwt` auth: RS256 JWTs from [`TestKeys::rsa`] with audience [`DEMO_JWT_AUDIENCE`].
pub const DEMO_JWT_ACCESS_ID: &str = "p-demojwtauth1";
/// The audience JWTs for [`DEMO_JWT_ACCESS_ID`] must carry.
pub const DEMO_JWT_AUDIENCE: &str = "https://akeyless.example";
/// Access id for `universal_identity` auth with [`DEMO_UID_TOKEN`].
pub const DEMO_UID_ACCESS_ID: &str = "p-demouidauth1";
/// The universal identity token of [`DEMO_UID_ACCESS_ID`].
pub const DEMO_UID_TOKEN: &str = "u-demo000000000000000000001";
/// Access id for `k8s` auth: ES256 service-account JWTs from [`TestKeys::ec`], config
/// [`DEMO_K8S_CONFIG_NAME`].
pub const DEMO_K8S_ACCESS_ID: &str = "p-demok8sauth1";
/// The `k8s-auth-config-name` of [`DEMO_K8S_ACCESS_ID`].
pub const DEMO_K8S_CONFIG_NAME: &str = "demo-k8s";
/// Access id for `aws_iam` auth with [`demo_aws_credentials`].
pub const DEMO_AWS_ACCESS_ID: &str = "p-demoawsiam01";
/// Access id for `azure_ad` auth: ES256 JWTs from [`TestKeys::ec`], audience
/// [`DEMO_AZURE_AUDIENCE`].
pub const DEMO_AZURE_ACCESS_ID: &str = "p-demoazure001";
/// The audience of Azure managed-identity tokens for the management API.
pub const DEMO_AZURE_AUDIENCE: &str = "https://management.azure.com/";
/// Access id for `gcp` auth: RS256 JWTs from [`TestKeys::rsa`] with audience `akeyless.io`.
pub const DEMO_GCP_ACCESS_ID: &str = "p-demogcpauth1";

/// The AWS key pair of [`DEMO_AWS_ACCESS_ID`].
pub fn demo_aws_credentials() -> AwsTestCredentials {
    AwsTestCredentials::new(
        "AKIAEMULATORDEMO0001",
        "demo/aws/secret/key/not/a/real/one/0001",
    )
}

impl Seed {
    /// The built-in demo seed (documented in the crate README).
    pub fn demo() -> Self {
        let rsa = TestKeys::rsa();
        let ec = TestKeys::ec();
        let all = "/demo/*";
        Seed::new()
            .with_access(Access::access_key(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY).allow(all))
            .with_access(
                Access::access_key(DEMO_LIMITED_ACCESS_ID, DEMO_LIMITED_ACCESS_KEY)
                    .allow("/demo/static/password"),
            )
            .with_access(
                Access::jwt(DEMO_JWT_ACCESS_ID, rsa.public_key_pem())
                    .with_audience(DEMO_JWT_AUDIENCE)
                    .allow(all),
            )
            .with_access(
                Access::universal_identity(DEMO_UID_ACCESS_ID, [DEMO_UID_TOKEN]).allow(all),
            )
            .with_access(
                Access::k8s(
                    DEMO_K8S_ACCESS_ID,
                    ec.public_key_pem(),
                    DEMO_K8S_CONFIG_NAME,
                )
                .allow(all),
            )
            .with_access(demo_aws_credentials().access(DEMO_AWS_ACCESS_ID).allow(all))
            .with_access(
                Access::azure_ad(DEMO_AZURE_ACCESS_ID, ec.public_key_pem())
                    .with_audience(DEMO_AZURE_AUDIENCE)
                    .allow(all),
            )
            .with_access(Access::gcp(DEMO_GCP_ACCESS_ID, rsa.public_key_pem()).allow(all))
            .with_item(
                "/demo/static/password",
                Item::static_versions([json!("demo-password-v1"), json!("demo-password-v2")]),
            )
            .with_item(
                "/demo/static/db",
                Item::static_json(json!({
                    "username": "app",
                    "password": "demo-db-password",
                    "host": "db.demo.internal",
                    "port": 5432,
                })),
            )
            .with_item(
                "/demo/dynamic/db",
                Item::dynamic(
                    json!({
                        "user": "tmp-{{lease_id}}",
                        "password": "{{random}}",
                        "ttl_in_minutes": "60",
                        "id": "{{lease_id}}",
                    }),
                    DynamicShape::Flat,
                ),
            )
            .with_item(
                "/demo/dynamic/aws",
                Item::dynamic(
                    json!({
                        "access_key_id": "ASIADEMO{{lease_id}}",
                        "secret_access_key": "{{random}}",
                        "security_token": "{{random}}",
                        "ttl_in_minutes": "15",
                    }),
                    DynamicShape::Wrapped,
                ),
            )
            .with_item(
                "/demo/rotated/admin",
                Item::rotated(json!({"username": "admin", "password": "demo-rotated-password"})),
            )
            .with_item(
                "/demo/ssh/issuer",
                Item::ssh_cert_issuer(["deploy", "ci"], Duration::from_secs(3600)),
            )
            .with_item(
                "/demo/pki/issuer",
                Item::pki_cert_issuer(["demo.local", "example.com"], Duration::from_secs(3600)),
            )
            .with_item("/demo/certificate/web", Item::certificate("web.demo.local"))
            .with_item(
                "/restricted/admin-token",
                Item::static_text("nobody-may-read-this"),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_seed_is_valid_and_covers_every_access_type_and_item_type() {
        let seed = Seed::demo();
        seed.validate().unwrap();
        let mut types: Vec<_> = seed
            .access()
            .iter()
            .map(|a| a.method().access_type())
            .collect();
        types.dedup();
        assert_eq!(types.len(), 8 - 1, "every access type, access_key twice");
        let mut item_types: Vec<_> = seed.items.values().map(Item::item_type).collect();
        item_types.sort_unstable();
        item_types.dedup();
        assert_eq!(item_types.len(), 6);
    }
}
