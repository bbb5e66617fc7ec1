//! The `[providers.vault]` section of the ci-secrets config file.
//!
//! ```toml
//! [providers.vault]
//! ca_cert = "/etc/ssl/vault-ca.pem"   # a path, or the PEM text itself
//! revoke_token = true                 # revoke the Vault tokens when the run ends (also after a timeout or a cancellation)
//! ```

use std::path::Path;

use ci_secrets_provider_api::{ProviderConfig, ProviderError};
use serde::Deserialize;

/// The section as written; unknown keys are refused so that a typo is not
/// silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    ca_cert: Option<String>,
    #[serde(default)]
    revoke_token: bool,
}

/// The provider's validated settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct VaultConfig {
    /// PEM certificates trusted for TLS to every Vault server, from `ca_cert`.
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// Revoke each Vault token (`auth/token/revoke-self`) when the run ends ([`Provider::finish`](ci_secrets_provider_api::Provider::finish)).
    pub(crate) revoke_token: bool,
}

impl VaultConfig {
    /// Parses and checks the section; errors name the key and the config's origin.
    pub(crate) fn from_provider_config(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let raw: RawConfig = config.parse(crate::KEY)?;
        let ca_pem = raw
            .ca_cert
            .as_deref()
            .map(|value| load_ca_cert(value).map_err(|message| config.error(crate::KEY, message)))
            .transpose()?;
        Ok(Self {
            ca_pem,
            revoke_token: raw.revoke_token,
        })
    }
}

/// `ca_cert` holds either PEM text or the path of a PEM file.
fn load_ca_cert(value: &str) -> Result<Vec<u8>, String> {
    if value.contains("-----BEGIN") {
        return Ok(value.as_bytes().to_vec());
    }
    if value.trim().is_empty() {
        return Err(" key `ca_cert`: is empty; give a PEM file path or PEM text".to_string());
    }
    read_pem_file(Path::new(value)).map_err(|err| format!(" key `ca_cert`: {err}"))
}

/// Reads a CA file for TLS, with an error that names the path.
pub(crate) fn read_pem_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_secrets_provider_api::ErrorKind;

    fn parse(section: serde_json::Value) -> Result<VaultConfig, ProviderError> {
        VaultConfig::from_provider_config(&ProviderConfig::new(section, "ci-secrets.toml"))
    }

    #[test]
    fn defaults_when_absent() {
        let config = parse(serde_json::Value::Null).unwrap();
        assert!(!config.revoke_token);
        assert!(config.ca_pem.is_none());
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let err = parse(serde_json::json!({"revoke": true})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message()
                .contains("[providers.vault] in ci-secrets.toml"),
            "{err}"
        );
        assert!(err.message().contains("unknown field `revoke`"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = parse(serde_json::json!({"revoke_token": "yes"})).unwrap_err();
        assert!(err.message().contains("key `revoke_token`"), "{err}");
    }

    #[test]
    fn ca_cert_accepts_pem_text_and_reports_missing_files() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let config = parse(serde_json::json!({"ca_cert": pem, "revoke_token": true})).unwrap();
        assert_eq!(config.ca_pem.as_deref(), Some(pem.as_bytes()));
        assert!(config.revoke_token);

        let err = parse(serde_json::json!({"ca_cert": "/no/such/ca.pem"})).unwrap_err();
        assert!(
            err.message()
                .contains("key `ca_cert`: cannot read /no/such/ca.pem"),
            "{err}"
        );
    }
}
