//! The Akeyless provider of ci-secrets: resolves `secrets:` entries with an
//! `akeyless:` block, as GitLab Runner did in GitLab 17.4 to 18.2, and
//! better where the project decided so.
//!
//! - Every access type GitLab documents: `jwt`, `api_key` / `access_key`,
//!   `universal_identity`, `k8s`, `aws_iam`, `azure_ad`, `gcp`, and a given
//!   `akeyless_token`.
//! - One login per identity, cached until shortly before it expires, and
//!   one new login when a cached token is refused.
//! - Item types from one `/list-items` per folder that holds several of the
//!   job's names (with `/describe-item` for the others and as the fallback),
//!   static secrets batched into `/get-secret-value`, and every item type the
//!   runner dispatched, plus `CERTIFICATE`.
//! - `data_key` as a top-level key or JSON Pointer; non-string values as
//!   compact JSON.
//!
//! The provider registers itself with
//! [`register_provider!`](ci_secrets_provider_api::register_provider); a
//! binary that ships it links it with
//! [`link_providers!`](ci_secrets_provider_api::link_providers) (see
//! [`ci_secrets_provider_api::registry`]), which calls [`registration`]:
//!
//! ```
//! let [registration] = ci_secrets_provider_api::link_providers!(ci_secrets_provider_akeyless);
//! assert_eq!(registration.key, "akeyless");
//! assert_eq!(registration.keys.len(), 15);
//! assert!(ci_secrets_provider_api::find_provider("akeyless").is_some());
//! ```

mod api;
mod auth;
mod block;
mod data_key;
mod diagnostics;
mod env;
mod error;
mod fetch;
mod identity;

use async_trait::async_trait;
use ci_secrets_provider_api::{
    BlockForms, Check, Provider, ProviderConfig, ProviderError, ProviderRegistration,
    ResolveContext, SecretPlan, SecretRequest, SecretResult, grouping,
};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

pub use block::{BLOCK_KEYS, DEFAULT_ACCESS_TYPE, DEFAULT_API_URL, DEFAULT_GCP_AUDIENCE};
pub use error::MISSING_ACCESS_ID;

/// The YAML key this provider serves.
pub const KEY: &str = "akeyless";

/// The Akeyless provider. It keeps its logins between resolutions, so a
/// long-lived library caller reuses tokens until they near expiry.
///
/// ```
/// use ci_secrets_provider_akeyless::AkeylessProvider;
/// use ci_secrets_provider_api::{JobVariables, Provider, ResolveContext, SecretRequest};
///
/// let provider = AkeylessProvider::new();
/// let ctx = ResolveContext::builder("deploy").build();
/// let requests = [SecretRequest::new("DB_PASSWORD", serde_json::json!({"name": "/prod/db"}))];
/// // Without AKEYLESS_ACCESS_ID the job fails before any network call.
/// let err = provider.preflight(&ctx, &requests).unwrap_err();
/// assert_eq!(err.to_string(), ci_secrets_provider_akeyless::MISSING_ACCESS_ID);
/// ```
#[derive(Debug)]
pub struct AkeylessProvider {
    logins: identity::LoginCache,
    default_api_url: String,
    /// The bound on this provider's requests in flight (`max_in_flight`).
    in_flight: Arc<Semaphore>,
}

/// The default of `max_in_flight` in `[providers.akeyless]`: requests in
/// flight at once, all identities together. A job of a few hundred items
/// sends its issuance requests in one wave; a larger one waits for permits
/// instead of flooding the server.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

impl Default for AkeylessProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl AkeylessProvider {
    /// A provider with an empty login cache and GitLab's default API URL.
    pub fn new() -> Self {
        Self {
            logins: identity::LoginCache::default(),
            default_api_url: DEFAULT_API_URL.to_string(),
            in_flight: Arc::new(Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
        }
    }

    /// Builds the provider from its `[providers.akeyless]` section.
    /// `api_url` replaces `https://api.akeyless.io` for blocks without
    /// `akeyless_api_url`, such as a bare `akeyless:` (token reuse) in a job
    /// that talks to a private gateway. `max_in_flight` (a positive integer,
    /// default [`DEFAULT_MAX_IN_FLIGHT`]) bounds the provider's requests in
    /// flight at once; it replaces `http.max_concurrency` for Akeyless.
    ///
    /// ```
    /// use ci_secrets_provider_akeyless::AkeylessProvider;
    /// use ci_secrets_provider_api::ProviderConfig;
    ///
    /// let config = ProviderConfig::new(serde_json::json!({"api_url": "https://gw:8000/api/v2/"}), "ci-secrets.toml");
    /// assert!(AkeylessProvider::from_config(&config).is_ok());
    /// let bad = ProviderConfig::new(serde_json::json!({"api_url": 5}), "ci-secrets.toml");
    /// assert!(AkeylessProvider::from_config(&bad).is_err());
    /// let bound = ProviderConfig::new(serde_json::json!({"max_in_flight": 32}), "ci-secrets.toml");
    /// assert!(AkeylessProvider::from_config(&bound).is_ok());
    /// let zero = ProviderConfig::new(serde_json::json!({"max_in_flight": 0}), "ci-secrets.toml");
    /// assert!(AkeylessProvider::from_config(&zero).is_err());
    /// ```
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ProviderError> {
        let mut provider = Self::new();
        match config.section().get("api_url") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(url)) => {
                provider.default_api_url =
                    block::normalize_api_url(url, "api_url").map_err(|failure| {
                        ProviderError::from(failure)
                            .context(format!("{} [providers.akeyless]", config.origin()))
                    })?;
            }
            Some(_) => {
                return Err(ProviderError::new(
                    ci_secrets_provider_api::ErrorKind::Config,
                    format!(
                        "{} [providers.akeyless]: api_url should be a string",
                        config.origin()
                    ),
                ));
            }
        }
        match config.section().get("max_in_flight") {
            None | Some(serde_json::Value::Null) => {}
            Some(value) => match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
                Some(limit) if (1..=Semaphore::MAX_PERMITS).contains(&limit) => {
                    provider.in_flight = Arc::new(Semaphore::new(limit));
                }
                _ => {
                    return Err(ProviderError::new(
                        ci_secrets_provider_api::ErrorKind::Config,
                        format!(
                            "{} [providers.akeyless]: max_in_flight should be a positive integer",
                            config.origin()
                        ),
                    ));
                }
            },
        }
        Ok(provider)
    }
}

#[async_trait]
impl Provider for AkeylessProvider {
    /// Fails when `AKEYLESS_ACCESS_ID` is missing or blank (D8), or when a
    /// block cannot work (unknown access type, missing credential, bad URL
    /// or CA), before any network call.
    fn preflight(
        &self,
        ctx: &ResolveContext,
        requests: &[SecretRequest],
    ) -> Result<(), ProviderError> {
        if requests.is_empty() {
            return Ok(());
        }
        let access_id = fetch::access_id(ctx)?;
        grouping::check_each(requests, |request| {
            fetch::prepare(request, access_id, &self.default_api_url).map_err(ProviderError::from)
        })
    }

    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        let span = tracing::info_span!("akeyless.resolve", secrets = requests.len());
        fetch::resolve_all(
            &self.logins,
            &self.in_flight,
            &self.default_api_url,
            ctx,
            requests,
        )
        .instrument(span)
        .await
    }

    /// One `/auth` per identity, a listing or describe per name, static
    /// reads batched (see the `diagnostics` module).
    fn plan(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretPlan> {
        diagnostics::plan(ctx, &self.default_api_url, requests)
    }

    /// A login, then one `/describe-item` per item; no value is fetched.
    async fn diagnose(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<Check> {
        diagnostics::diagnose(ctx, &self.default_api_url, requests).await
    }
}

fn build(config: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    Ok(Box::new(AkeylessProvider::from_config(config)?))
}

ci_secrets_provider_api::register_provider!(ProviderRegistration {
    key: KEY,
    description: "Akeyless static, dynamic and rotated secrets, SSH and PKI certificates, and tokens",
    keys: &BLOCK_KEYS,
    forms: BlockForms::MAP.with_null(),
    build,
});
