//! Link-time registration of providers through `inventory`.
//!
//! # The linking trap
//!
//! `inventory` collects registrations from every crate that is *linked into
//! the final binary*. A provider crate that is only a dependency in
//! `Cargo.toml`, but that no code references, may be dropped by the linker,
//! and its provider silently disappears. A binary that ships a provider must
//! therefore reference the crate, for example with
//! `use ci_secrets_provider_akeyless as _;` or by calling a function of it.
//! The `ci-secrets` binary does this for each provider it ships, and a test
//! checks that `ci-secrets providers` lists every one of them.

use crate::error::ProviderError;
use crate::provider::Provider;

/// The JSON type a block key accepts, for validation and `ci-secrets providers`.
///
/// ```
/// use ci_secrets_provider_api::KeyType;
/// assert_eq!(KeyType::String.as_str(), "string");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// A string (after YAML parsing; numbers are not coerced).
    String,
    /// A boolean.
    Boolean,
    /// A map.
    Map,
    /// Anything; the provider validates it.
    Any,
}

impl KeyType {
    /// The lowercase name shown to users.
    ///
    /// ```
    /// # use ci_secrets_provider_api::KeyType;
    /// assert_eq!(KeyType::Map.as_str(), "map");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Boolean => "boolean",
            KeyType::Map => "map",
            KeyType::Any => "any",
        }
    }
}

/// One key that a provider's block accepts.
///
/// ```
/// use ci_secrets_provider_api::{BlockKey, KeyType};
/// const NAME: BlockKey = BlockKey::new("name", KeyType::String, "the item path");
/// assert_eq!(NAME.name, "name");
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BlockKey {
    /// The YAML key.
    pub name: &'static str,
    /// Its type.
    pub key_type: KeyType,
    /// One line for `ci-secrets providers`.
    pub doc: &'static str,
}

impl BlockKey {
    /// Declares a key.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{BlockKey, KeyType};
    /// let key = BlockKey::new("field", KeyType::String, "the field to read");
    /// assert_eq!(key.key_type, KeyType::String);
    /// ```
    pub const fn new(name: &'static str, key_type: KeyType, doc: &'static str) -> Self {
        Self {
            name,
            key_type,
            doc,
        }
    }
}

/// The forms a provider's block may take in YAML.
///
/// ```
/// use ci_secrets_provider_api::BlockForms;
/// let forms = BlockForms::MAP.with_string().with_null();
/// assert!(forms.string && forms.null && forms.map);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockForms {
    /// A map of the declared keys.
    pub map: bool,
    /// A string shorthand (`vault: path/field@engine`).
    pub string: bool,
    /// A bare key with no value (`akeyless:`).
    pub null: bool,
}

impl BlockForms {
    /// Only the map form.
    pub const MAP: BlockForms = BlockForms {
        map: true,
        string: false,
        null: false,
    };

    /// Also accepts a string.
    ///
    /// ```
    /// # use ci_secrets_provider_api::BlockForms;
    /// assert!(BlockForms::MAP.with_string().string);
    /// ```
    pub const fn with_string(mut self) -> Self {
        self.string = true;
        self
    }

    /// Also accepts a bare key.
    ///
    /// ```
    /// # use ci_secrets_provider_api::BlockForms;
    /// assert!(BlockForms::MAP.with_null().null);
    /// ```
    pub const fn with_null(mut self) -> Self {
        self.null = true;
        self
    }
}

/// What a provider's constructor receives.
///
/// ```
/// use ci_secrets_provider_api::ProviderConfig;
/// let config = ProviderConfig::new(serde_json::json!({"revoke_token": true}), "ci-secrets.toml");
/// assert_eq!(config.origin(), "ci-secrets.toml");
/// ```
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    section: serde_json::Value,
    origin: String,
}

impl ProviderConfig {
    /// A config section and where it came from (a file path, or `defaults`).
    ///
    /// ```
    /// # use ci_secrets_provider_api::ProviderConfig;
    /// let config = ProviderConfig::new(serde_json::json!({}), "defaults");
    /// assert!(config.section().is_object());
    /// ```
    pub fn new(section: serde_json::Value, origin: impl Into<String>) -> Self {
        Self {
            section,
            origin: origin.into(),
        }
    }

    /// The `[providers.<key>]` section as JSON (an empty object when absent).
    ///
    /// ```
    /// # use ci_secrets_provider_api::ProviderConfig;
    /// assert!(ProviderConfig::new(serde_json::json!({}), "x").section().is_object());
    /// ```
    pub fn section(&self) -> &serde_json::Value {
        &self.section
    }

    /// Where the section came from, for error messages.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ProviderConfig;
    /// assert_eq!(ProviderConfig::new(serde_json::json!({}), "x").origin(), "x");
    /// ```
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Builds a provider from its config section.
pub type ProviderConstructor = fn(&ProviderConfig) -> Result<Box<dyn Provider>, ProviderError>;

/// A provider's registration record. Submit one from the provider's crate:
///
/// ```
/// use async_trait::async_trait;
/// use ci_secrets_provider_api::{
///     BlockForms, BlockKey, KeyType, Provider, ProviderConfig, ProviderError,
///     ProviderRegistration, ResolveContext, SecretRequest, SecretResult, SecretValue,
/// };
///
/// #[derive(Debug)]
/// struct Echo;
///
/// #[async_trait]
/// impl Provider for Echo {
///     async fn resolve(&self, _: &ResolveContext, reqs: &[SecretRequest]) -> Vec<SecretResult> {
///         reqs.iter().map(|r| Ok(SecretValue::text(r.str_field("value").unwrap_or_default()))).collect()
///     }
/// }
///
/// fn build(_: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
///     Ok(Box::new(Echo))
/// }
///
/// inventory::submit! {
///     ProviderRegistration {
///         key: "echo",
///         description: "returns the block's `value`",
///         keys: &[BlockKey::new("value", KeyType::String, "the value to return")],
///         forms: BlockForms::MAP,
///         build,
///     }
/// }
///
/// assert!(ci_secrets_provider_api::find_provider("echo").is_some());
/// ```
#[derive(Debug)]
pub struct ProviderRegistration {
    /// The YAML key under a secret: `akeyless`, `vault`, ...
    pub key: &'static str,
    /// One line for `ci-secrets providers`.
    pub description: &'static str,
    /// The keys the block accepts.
    pub keys: &'static [BlockKey],
    /// The YAML forms the block accepts.
    pub forms: BlockForms,
    /// Builds the provider from its config section.
    pub build: ProviderConstructor,
}

inventory::collect!(ProviderRegistration);

/// Every provider linked into this binary, sorted by key.
///
/// ```
/// for registration in ci_secrets_provider_api::registered_providers() {
///     println!("{}: {}", registration.key, registration.description);
/// }
/// ```
pub fn registered_providers() -> Vec<&'static ProviderRegistration> {
    let mut all: Vec<_> = inventory::iter::<ProviderRegistration>
        .into_iter()
        .collect();
    all.sort_by_key(|registration| registration.key);
    all
}

/// The registered provider for a YAML key.
///
/// ```
/// assert!(ci_secrets_provider_api::find_provider("no-such-provider").is_none());
/// ```
pub fn find_provider(key: &str) -> Option<&'static ProviderRegistration> {
    inventory::iter::<ProviderRegistration>
        .into_iter()
        .find(|registration| registration.key == key)
}
