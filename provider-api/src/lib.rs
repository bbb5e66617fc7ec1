//! The provider interface of ci-secrets.
//!
//! A provider resolves the secrets of one kind (`akeyless:`, `vault:`, ...)
//! of a GitLab CI job. This crate is all a third party needs to write one:
//!
//! - [`Provider`]: the async trait a provider implements. It receives all of
//!   its job's secrets at once, so it can share logins and batch calls.
//! - [`ProviderRegistration`]: the record a provider submits with
//!   [`register_provider!`]; a binary links its providers with
//!   [`link_providers!`] and collects them once into a [`Registry`]. Read
//!   [`registry`] for the linking trap.
//! - [`SecretRequest::parse_block`] and [`ProviderConfig::parse`]: a block
//!   and a config section as the provider's own `serde` types, unknown keys
//!   refused with the key named; [`grouping`]: parse each request, log in
//!   once per identity, resolve the groups concurrently, results in order.
//! - [`SecretValue`]: bytes that never print and are zeroed on drop.
//! - [`ProviderError`] and [`ErrorKind`]: errors a caller can branch on.
//! - [`HttpSettings`]: the run's HTTP settings, as plain data. The HTTP layer
//!   itself (pools per CA, retries, a body cap) is the `ci-secrets-http`
//!   crate, so a provider without HTTP does not compile reqwest.
//! - [`Extensions`]: state other crates keep with a context (the HTTP pools).
//! - [`ServerText`]: a server's error text made safe to show (credentials
//!   masked, one line, control characters escaped).
//! - [`diagnostics`]: what a provider tells `ci-secrets plan` and checks for
//!   `ci-secrets doctor` ([`SecretPlan`], [`Identity`], [`Check`]).
//!
//! ```
//! use ci_secrets_provider_api::{registered_providers, SecretValue};
//!
//! let value = SecretValue::text("s3cr3t");
//! assert_eq!(format!("{value:?}"), "SecretValue(<redacted>)");
//! let _keys: Vec<&str> = registered_providers().iter().map(|r| r.key).collect();
//! ```

pub mod diagnostics;
pub mod error;
pub mod extensions;
pub mod grouping;
pub mod http_settings;
pub mod metrics;
pub mod provider;
pub mod registry;
pub mod secret;
pub mod server_text;
mod typed;

pub use async_trait::async_trait;
pub use diagnostics::{Check, Identity, PlannedCall, SecretPlan};
pub use error::{ErrorKind, ProviderError};
pub use extensions::Extensions;
pub use http_settings::HttpSettings;
pub use inventory;
pub use metrics::{Metrics, MetricsSnapshot};
pub use provider::{
    JobVariables, Provider, ResolveContext, ResolveContextBuilder, SecretRequest, SecretResult,
};
pub use registry::{
    BlockForms, BlockKey, KeyType, ProviderConfig, ProviderConstructor, ProviderRegistration,
    Registry, RegistryError, find_provider, registered_providers,
};
pub use secrecy;
pub use secret::SecretValue;
pub use server_text::{ServerText, scrub};
