//! The HashiCorp Vault and OpenBao provider of ci-secrets: GitLab's
//! `secrets:vault` with JWT login and the KV engines (kv-v2, kv-v1/generic).
//!
//! The provider registers itself under the key `vault` with
//! [`register_provider!`](ci_secrets_provider_api::register_provider); a
//! binary that ships it links it with
//! [`link_providers!`](ci_secrets_provider_api::link_providers) (see
//! [`ci_secrets_provider_api::registry`]), which calls [`registration`]:
//!
//! ```
//! use ci_secrets_provider_api::ProviderConfig;
//!
//! let [registration] = ci_secrets_provider_api::link_providers!(ci_secrets_provider_vault);
//! assert_eq!(registration.key, "vault");
//! assert!(ci_secrets_provider_api::find_provider("vault").is_some());
//! let config = ProviderConfig::new(serde_json::json!({"revoke_token": true}), "ci-secrets.toml");
//! assert!((registration.build)(&config).is_ok());
//! ```
//!
//! What a job needs, as in GitLab:
//!
//! - `VAULT_SERVER_URL` (required), `VAULT_AUTH_PATH` (default `jwt`),
//!   `VAULT_AUTH_ROLE`, `VAULT_NAMESPACE` and `VAULT_CACERT` variables;
//! - a JWT: the secret's `token:`, else the job's first `id_tokens:` entry;
//! - `vault: path/to/secret/field@engine_path` or
//!   `vault: {engine: {name, path}, path, field}`.
//!
//! Optional `[providers.vault]` settings: `ca_cert` (a PEM path or PEM text)
//! and `revoke_token` (default `false`).

mod client;
mod config;
mod connection;
mod diagnostics;
mod field;
mod jwt;
mod provider;
mod reference;
mod request;
mod settings;

use ci_secrets_provider_api::{
    BlockForms, BlockKey, KeyType, Provider, ProviderConfig, ProviderError, ProviderRegistration,
};

pub use provider::VaultProvider;

/// The YAML key of the provider.
pub const KEY: &str = "vault";

ci_secrets_provider_api::register_provider!(ProviderRegistration {
    key: KEY,
    description: "HashiCorp Vault / OpenBao KV secrets (kv-v2, kv-v1), JWT login",
    keys: &[
        BlockKey::new(
            "engine",
            KeyType::Map,
            "the secrets engine: {name: kv-v2 | kv-v1 | generic, path: <mount path>}",
        ),
        BlockKey::new(
            "path",
            KeyType::String,
            "the secret's path inside the engine",
        ),
        BlockKey::new(
            "field",
            KeyType::String,
            "the field of the secret to deliver",
        ),
    ],
    forms: BlockForms::MAP.with_string(),
    build,
});

fn build(config: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    Ok(Box::new(VaultProvider::from_config(config)?))
}
