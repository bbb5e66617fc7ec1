//! Typed parsing of a secret's block and of a provider's config section.
//!
//! A provider declares each as a `serde` struct: `#[serde(deny_unknown_fields)]`
//! rejects a typo, a field without `Option` or `#[serde(default)]` is
//! required, and the error names the key that is wrong. Parse a request once,
//! into the provider's own request type, and use that type in `preflight`,
//! `resolve`, `plan` and `diagnose`.

use serde::de::DeserializeOwned;

use crate::error::{ErrorKind, ProviderError};
use crate::provider::SecretRequest;
use crate::registry::ProviderConfig;

/// Deserializes `value` into `T`, naming the key that failed (`key `a.b``)
/// before the reason; nothing when the whole value has the wrong shape.
fn deserialize_at<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let key = err.path().to_string();
        if key == "." {
            format!(": {}", err.inner())
        } else {
            format!(" key `{key}`: {}", err.inner())
        }
    })
}

impl SecretRequest {
    /// The block as the provider's own type. The error, of kind
    /// [`ErrorKind::Config`], names the key; it never quotes a value, which
    /// may be a credential written inline. It does not name the variable:
    /// the core prefixes `resolve`'s errors with it, and
    /// [`grouping::check_each`](crate::grouping::check_each) prefixes
    /// `preflight`'s.
    ///
    /// ```
    /// use ci_secrets_provider_api::SecretRequest;
    ///
    /// #[derive(serde::Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct Block {
    ///     key: String,
    ///     #[serde(default)]
    ///     optional: bool,
    /// }
    ///
    /// let ok = SecretRequest::new("A", serde_json::json!({"key": "db"}));
    /// assert_eq!(ok.parse_block::<Block>().unwrap().key, "db");
    ///
    /// let typo = SecretRequest::new("A", serde_json::json!({"key": "db", "optinal": true}));
    /// let err = typo.parse_block::<Block>().err().unwrap();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the block key `optinal`: unknown field `optinal`, expected `key` or `optional`"
    /// );
    ///
    /// let missing = SecretRequest::new("A", serde_json::json!({}));
    /// let err = missing.parse_block::<Block>().err().unwrap();
    /// assert_eq!(err.to_string(), "the block: missing field `key`");
    /// ```
    pub fn parse_block<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        deserialize_at(self.block.clone())
            .map_err(|detail| ProviderError::new(ErrorKind::Config, format!("the block{detail}")))
    }
}

impl ProviderConfig {
    /// The `[providers.<provider>]` section as the provider's own type; an
    /// absent section parses as an empty table. The error, of kind
    /// [`ErrorKind::Config`], names the section, the file and the key.
    ///
    /// ```
    /// use ci_secrets_provider_api::ProviderConfig;
    ///
    /// #[derive(Debug, Default, serde::Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct Settings {
    ///     #[serde(default)]
    ///     revoke_token: bool,
    /// }
    ///
    /// let config = ProviderConfig::new(serde_json::json!({"revoke_token": true}), "ci.toml");
    /// assert!(config.parse::<Settings>("vault").unwrap().revoke_token);
    /// assert!(!ProviderConfig::new(serde_json::Value::Null, "defaults")
    ///     .parse::<Settings>("vault")
    ///     .unwrap()
    ///     .revoke_token);
    ///
    /// let typo = ProviderConfig::new(serde_json::json!({"revoke": true}), "ci.toml");
    /// assert_eq!(
    ///     typo.parse::<Settings>("vault").unwrap_err().to_string(),
    ///     "[providers.vault] in ci.toml key `revoke`: unknown field `revoke`, expected `revoke_token`"
    /// );
    /// ```
    pub fn parse<T: DeserializeOwned>(&self, provider: &str) -> Result<T, ProviderError> {
        let section = match self.section() {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            section => section.clone(),
        };
        deserialize_at(section).map_err(|detail| self.error(provider, detail))
    }

    /// A [`ErrorKind::Config`] error about this section:
    /// `[providers.<provider>] in <origin><detail>`, where `detail` usually
    /// starts with `" key `name`: "`, for checks serde cannot express.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ProviderConfig;
    /// let config = ProviderConfig::new(serde_json::json!({"ca_cert": ""}), "ci.toml");
    /// let err = config.error("vault", " key `ca_cert`: is empty");
    /// assert_eq!(err.to_string(), "[providers.vault] in ci.toml key `ca_cert`: is empty");
    /// ```
    pub fn error(&self, provider: &str, detail: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(
            ErrorKind::Config,
            format!("[providers.{provider}] in {}{detail}", self.origin()),
        )
    }
}
