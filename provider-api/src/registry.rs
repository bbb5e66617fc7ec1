//! Link-time registration of providers through `inventory`.
//!
//! # The linking trap
//!
//! `inventory` collects registrations from every crate that is *linked into
//! the final binary*. A provider crate that is only a dependency in
//! `Cargo.toml`, but that no code references, is dropped by the linker, and
//! its provider silently disappears (`use some_provider as _;` does not
//! help: it references nothing).
//!
//! There is one way to register and one way to link:
//!
//! - the provider crate invokes [`register_provider!`](crate::register_provider)
//!   once; it submits the record and emits `pub fn registration()`;
//! - the binary calls [`link_providers!`](crate::link_providers) with each
//!   provider crate it ships, which calls their `registration()`, so the
//!   linker keeps them.
//!
//! The binary then collects the records once into a [`Registry`].

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

/// A provider's registration record. Submit one from the provider's crate
/// with [`register_provider!`](crate::register_provider); what the macro does
/// by hand:
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

/// Submits a provider's registration to `inventory` and emits
/// `pub fn registration() -> &'static ProviderRegistration` next to it.
///
/// A provider crate invokes it once, at its root. A binary that ships the
/// provider calls `registration()` (see [`link_providers!`](crate::link_providers)): `inventory`
/// only sees crates the linker keeps, and a crate that is a Cargo dependency
/// but that no code references is dropped, with its provider. The
/// registration must be a constant expression.
///
/// ```
/// use ci_secrets_provider_api::{
///     async_trait, BlockForms, BlockKey, KeyType, Provider, ProviderConfig, ProviderError,
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
/// ci_secrets_provider_api::register_provider!(ProviderRegistration {
///     key: "echo-value",
///     description: "returns the block's `value`",
///     keys: &[BlockKey::new("value", KeyType::String, "the value to return")],
///     forms: BlockForms::MAP,
///     build,
/// });
///
/// assert_eq!(registration().key, "echo-value");
/// assert!(ci_secrets_provider_api::find_provider("echo-value").is_some());
/// ```
#[macro_export]
macro_rules! register_provider {
    ($registration:expr $(,)?) => {
        /// The registration record, as submitted to `inventory`.
        const __CI_SECRETS_PROVIDER_REGISTRATION: $crate::ProviderRegistration = $registration;

        $crate::inventory::submit! { __CI_SECRETS_PROVIDER_REGISTRATION }

        /// This provider's registration record. A binary that ships the
        /// provider calls it (for example through
        /// `ci_secrets_provider_api::link_providers!`), which keeps this
        /// crate, and so its `inventory` record, linked in.
        pub fn registration() -> &'static $crate::ProviderRegistration {
            &__CI_SECRETS_PROVIDER_REGISTRATION
        }
    };
}

/// References the `registration()` of each provider crate named, so that
/// the linker keeps them (see [`register_provider!`]); evaluates to their
/// registrations, in the order given. A binary calls it once, in `main`,
/// with its provider crates: `link_providers!(ci_secrets_provider_vault,
/// ci_secrets_provider_aws)`. Here with a module standing in for a crate:
///
/// ```
/// mod my_provider {
///     use ci_secrets_provider_api::{BlockForms, ProviderConfig, ProviderError, ProviderRegistration};
///     fn build(_: &ProviderConfig) -> Result<Box<dyn ci_secrets_provider_api::Provider>, ProviderError> {
///         Err(ProviderError::new(ci_secrets_provider_api::ErrorKind::Unsupported, "example"))
///     }
///     ci_secrets_provider_api::register_provider!(ProviderRegistration {
///         key: "mine",
///         description: "an example",
///         keys: &[],
///         forms: BlockForms::MAP,
///         build,
///     });
/// }
/// let linked = ci_secrets_provider_api::link_providers!(my_provider);
/// assert_eq!(linked[0].key, "mine");
/// ```
#[macro_export]
macro_rules! link_providers {
    ($($provider:ident),* $(,)?) => {
        ::std::hint::black_box([$($provider::registration()),*])
    };
}

/// Why the registrations linked into a binary do not form a registry.
///
/// ```
/// use ci_secrets_provider_api::RegistryError;
/// let err = RegistryError::Duplicate { key: "vault" };
/// assert!(err.to_string().contains("`vault`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two linked crates register the same YAML key.
    #[error("two providers are registered under the key `{key}`; link only one of them")]
    Duplicate {
        /// The key registered twice.
        key: &'static str,
    },
}

/// The providers of a binary, collected once: sorted by key, each key once.
///
/// ```
/// use ci_secrets_provider_api::Registry;
///
/// let registry = Registry::collect().unwrap();
/// for registration in registry.iter() {
///     println!("{}: {}", registration.key, registration.description);
/// }
/// assert!(registry.get("no-such-provider").is_none());
/// let _as_slice: &[&'static ci_secrets_provider_api::ProviderRegistration] = registry.as_slice();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registry {
    providers: Vec<&'static ProviderRegistration>,
}

impl Registry {
    /// Every registration `inventory` holds in this binary.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Registry;
    /// let registry = Registry::collect().unwrap();
    /// assert_eq!(registry.len(), ci_secrets_provider_api::registered_providers().len());
    /// ```
    pub fn collect() -> Result<Self, RegistryError> {
        Self::from_registrations(inventory::iter::<ProviderRegistration>)
    }

    /// A registry of these registrations, for tests and for binaries that
    /// choose their providers; a key given twice is an error.
    ///
    /// ```
    /// use ci_secrets_provider_api::{
    ///     BlockForms, ErrorKind, Provider, ProviderConfig, ProviderError, ProviderRegistration,
    ///     Registry, RegistryError,
    /// };
    ///
    /// fn build(_: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    ///     Err(ProviderError::new(ErrorKind::Unsupported, "example"))
    /// }
    /// static B: ProviderRegistration =
    ///     ProviderRegistration { key: "b", description: "", keys: &[], forms: BlockForms::MAP, build };
    /// static A: ProviderRegistration =
    ///     ProviderRegistration { key: "a", description: "", keys: &[], forms: BlockForms::MAP, build };
    ///
    /// let registry = Registry::from_registrations([&B, &A]).unwrap();
    /// assert_eq!(registry.iter().map(|r| r.key).collect::<Vec<_>>(), ["a", "b"]);
    /// assert_eq!(
    ///     Registry::from_registrations([&A, &B, &A]).unwrap_err(),
    ///     RegistryError::Duplicate { key: "a" }
    /// );
    /// ```
    pub fn from_registrations(
        registrations: impl IntoIterator<Item = &'static ProviderRegistration>,
    ) -> Result<Self, RegistryError> {
        let mut providers: Vec<_> = registrations.into_iter().collect();
        providers.sort_by_key(|registration| registration.key);
        if let Some(pair) = providers.windows(2).find(|pair| pair[0].key == pair[1].key) {
            return Err(RegistryError::Duplicate { key: pair[0].key });
        }
        Ok(Self { providers })
    }

    /// The provider registered under a YAML key.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Registry;
    /// assert!(Registry::default().get("vault").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&'static ProviderRegistration> {
        self.providers
            .binary_search_by(|registration| registration.key.cmp(key))
            .ok()
            .map(|index| self.providers[index])
    }

    /// The registrations, sorted by key.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Registry;
    /// assert_eq!(Registry::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'static ProviderRegistration> + '_ {
        self.providers.iter().copied()
    }

    /// The registrations, sorted by key, as the slice the validator takes.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Registry;
    /// assert!(Registry::default().as_slice().is_empty());
    /// ```
    pub fn as_slice(&self) -> &[&'static ProviderRegistration] {
        &self.providers
    }

    /// How many providers are registered.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Registry;
    /// assert_eq!(Registry::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether no provider is registered.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Registry;
    /// assert!(Registry::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

impl AsRef<[&'static ProviderRegistration]> for Registry {
    fn as_ref(&self) -> &[&'static ProviderRegistration] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Registry {
    type Item = &'static ProviderRegistration;
    type IntoIter = std::iter::Copied<std::slice::Iter<'a, &'static ProviderRegistration>>;

    fn into_iter(self) -> Self::IntoIter {
        self.providers.iter().copied()
    }
}
