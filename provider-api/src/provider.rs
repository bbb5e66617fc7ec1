//! The `Provider` trait and what a provider receives for one job.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use secrecy::SecretString;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::diagnostics::{Check, SecretPlan};
use crate::error::{ErrorKind, ProviderError};
use crate::extensions::Extensions;
use crate::http_settings::HttpSettings;
use crate::metrics::Metrics;
use crate::secret::SecretValue;

/// One secret of a job, as handed to its provider.
///
/// ```
/// use ci_secrets_provider_api::SecretRequest;
///
/// let request = SecretRequest::new("DB_PASSWORD", serde_json::json!({"name": "/prod/db"}));
/// assert_eq!(request.block["name"], "/prod/db");
/// assert!(request.token.is_none());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SecretRequest {
    /// The CI variable that receives the value, such as `DATABASE_PASSWORD`.
    pub variable: String,
    /// The provider's block, validated, with every string variable-expanded.
    /// It is `null` for a bare key (`akeyless:`), a string for string forms
    /// (`vault: path/field@engine`), and otherwise a map.
    pub block: serde_json::Value,
    /// The expanded `token:` of the secret, usually an ID token.
    pub token: Option<SecretString>,
}

/// Shows the variable, the block's shape and whether a token is set: a block
/// may hold a credential written inline (`akeyless_access_key: ...`).
///
/// ```
/// # use ci_secrets_provider_api::SecretRequest;
/// let request = SecretRequest::new("A", serde_json::json!({"akeyless_access_key": "k-123"}))
///     .with_token("eyJ");
/// let shown = format!("{request:?}");
/// assert!(shown.contains("akeyless_access_key") && !shown.contains("k-123") && !shown.contains("eyJ"));
/// ```
impl fmt::Debug for SecretRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let block: &dyn fmt::Debug = match &self.block {
            serde_json::Value::Object(map) => &map.keys().collect::<Vec<_>>(),
            serde_json::Value::Null => &"null",
            serde_json::Value::String(_) => &"<string>",
            _ => &"<value>",
        };
        f.debug_struct("SecretRequest")
            .field("variable", &self.variable)
            .field("block", block)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SecretRequest {
    /// A request without a token.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretRequest;
    /// let request = SecretRequest::new("A", serde_json::Value::Null);
    /// assert_eq!(request.variable, "A");
    /// ```
    pub fn new(variable: impl Into<String>, block: serde_json::Value) -> Self {
        Self {
            variable: variable.into(),
            block,
            token: None,
        }
    }

    /// Sets the expanded `token:`.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretRequest;
    /// let request = SecretRequest::new("A", serde_json::Value::Null).with_token("eyJ...");
    /// assert!(request.token.is_some());
    /// ```
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// A string field of a map block; `None` when absent, null or not a string.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretRequest;
    /// let request = SecretRequest::new("A", serde_json::json!({"name": "/x"}));
    /// assert_eq!(request.str_field("name"), Some("/x"));
    /// assert_eq!(request.str_field("data_key"), None);
    /// ```
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.block.get(key).and_then(serde_json::Value::as_str)
    }
}

/// The job's variables after all sources are layered: CLI, env file,
/// process environment, job and global `variables:`. Read-only.
///
/// Values may be CI/CD secrets themselves, so `Debug` lists names only.
///
/// ```
/// use ci_secrets_provider_api::JobVariables;
///
/// let vars = JobVariables::from_iter([("AKEYLESS_ACCESS_ID", "p-123")]);
/// assert_eq!(vars.get("AKEYLESS_ACCESS_ID"), Some("p-123"));
/// assert!(!format!("{vars:?}").contains("p-123"));
/// ```
#[derive(Clone, Default)]
pub struct JobVariables {
    values: IndexMap<String, String>,
}

impl JobVariables {
    /// The value of `name`, if set.
    ///
    /// ```
    /// # use ci_secrets_provider_api::JobVariables;
    /// assert_eq!(JobVariables::default().get("X"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `name` when it is set and not blank (Rails' `present?`).
    ///
    /// ```
    /// # use ci_secrets_provider_api::JobVariables;
    /// let vars = JobVariables::from_iter([("A", "  "), ("B", "b")]);
    /// assert_eq!(vars.get_present("A"), None);
    /// assert_eq!(vars.get_present("B"), Some("b"));
    /// ```
    pub fn get_present(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|value| !value.trim().is_empty())
    }

    /// Sets a variable, replacing an earlier value.
    ///
    /// ```
    /// # use ci_secrets_provider_api::JobVariables;
    /// let mut vars = JobVariables::default();
    /// vars.insert("A", "1");
    /// assert_eq!(vars.get("A"), Some("1"));
    /// ```
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// All names, in insertion order.
    ///
    /// ```
    /// # use ci_secrets_provider_api::JobVariables;
    /// let vars = JobVariables::from_iter([("A", "1"), ("B", "2")]);
    /// assert_eq!(vars.names().collect::<Vec<_>>(), ["A", "B"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for JobVariables {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            values: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for JobVariables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobVariables")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What one provider may use while it resolves the secrets of one job.
///
/// ```
/// use std::time::Duration;
/// use ci_secrets_provider_api::{JobVariables, ResolveContext};
///
/// let ctx = ResolveContext::builder("deploy").timeout(Duration::from_secs(5)).build();
/// assert_eq!(ctx.job_name(), "deploy");
/// assert!(ctx.remaining() <= Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct ResolveContext {
    job_name: String,
    variables: Arc<JobVariables>,
    id_token_names: Arc<Vec<String>>,
    deadline: Instant,
    cancel: CancellationToken,
    config: serde_json::Value,
    http: Arc<HttpSettings>,
    extensions: Extensions,
    metrics: Arc<Metrics>,
}

impl ResolveContext {
    /// Starts a context for job `job_name`, with a 60 s deadline, no
    /// variables, an empty config section and default HTTP settings.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{JobVariables, ResolveContext};
    /// let ctx = ResolveContext::builder("build")
    ///     .variables(JobVariables::from_iter([("A", "1")]))
    ///     .build();
    /// assert_eq!(ctx.variables().get("A"), Some("1"));
    /// ```
    pub fn builder(job_name: impl Into<String>) -> ResolveContextBuilder {
        ResolveContextBuilder {
            job_name: job_name.into(),
            variables: JobVariables::default(),
            id_token_names: Vec::new(),
            timeout: std::time::Duration::from_secs(60),
            cancel: CancellationToken::new(),
            config: serde_json::Value::Object(Default::default()),
            http: HttpSettings::default(),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The job's name.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// assert_eq!(ResolveContext::builder("j").build().job_name(), "j");
    /// ```
    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// The job's variables.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// assert_eq!(ResolveContext::builder("j").build().variables().get("X"), None);
    /// ```
    pub fn variables(&self) -> &JobVariables {
        &self.variables
    }

    /// The names declared under the job's `id_tokens:`, in file order.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").id_token_names(vec!["VAULT_ID_TOKEN".into()]).build();
    /// assert_eq!(ctx.id_token_names(), ["VAULT_ID_TOKEN"]);
    /// ```
    pub fn id_token_names(&self) -> &[String] {
        &self.id_token_names
    }

    /// When the whole resolution must be finished.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").build();
    /// assert!(ctx.deadline() > tokio::time::Instant::now());
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before the deadline (zero once it has passed).
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// assert!(!ResolveContext::builder("j").build().remaining().is_zero());
    /// ```
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Cancelled when the run is interrupted; long operations should stop.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// assert!(!ResolveContext::builder("j").build().cancellation().is_cancelled());
    /// ```
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// This provider's `[providers.<key>]` section of the config.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").config(serde_json::json!({"revoke": true})).build();
    /// assert_eq!(ctx.config()["revoke"], true);
    /// ```
    pub fn config(&self) -> &serde_json::Value {
        &self.config
    }

    /// The run's HTTP settings: timeouts, retries, body cap, concurrency and
    /// extra CA roots. The `ci-secrets-http` crate builds its clients from
    /// them (`ctx.http()` through its `HttpContext` trait).
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").build();
    /// assert_eq!(ctx.http_settings().max_attempts, 5);
    /// ```
    pub fn http_settings(&self) -> &HttpSettings {
        &self.http
    }

    /// State other crates keep for this context, such as the HTTP crate's
    /// connection pools; shared by every clone of the context.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").build();
    /// let pools = ctx.extensions().get_or_insert_with(|| 1_u32);
    /// assert_eq!(*ctx.clone().extensions().get_or_insert_with(|| 2_u32), *pools);
    /// ```
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Counters of logins, API calls and retries for the run summary.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").build();
    /// ctx.metrics().record_login();
    /// assert_eq!(ctx.metrics().snapshot().logins, 1);
    /// ```
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// An error of kind [`ErrorKind::Deadline`] when the deadline has passed
    /// or the run was cancelled.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// assert!(ResolveContext::builder("j").build().check_deadline().is_ok());
    /// ```
    pub fn check_deadline(&self) -> Result<(), ProviderError> {
        if self.cancel.is_cancelled() {
            return Err(ProviderError::new(
                ErrorKind::Deadline,
                "resolution was cancelled",
            ));
        }
        if Instant::now() >= self.deadline {
            return Err(ProviderError::new(
                ErrorKind::Deadline,
                "the resolution deadline passed",
            ));
        }
        Ok(())
    }

    /// A copy for clean-up after the run, such as revoking a token or a
    /// lease: the same job, variables, config, HTTP pools and metrics, but
    /// a deadline of its own, `timeout` from now, and no cancellation, so
    /// that the clean-up still happens when the run was cancelled or ran out
    /// of time. The core gives [`Provider::finish`] such a context.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let cancel = tokio_util::sync::CancellationToken::new();
    /// let ctx = ResolveContext::builder("j").cancellation(cancel.clone()).build();
    /// cancel.cancel();
    /// assert!(ctx.check_deadline().is_err());
    /// let cleanup = ctx.for_cleanup(Duration::from_secs(2));
    /// assert!(cleanup.check_deadline().is_ok());
    /// assert!(cleanup.remaining() <= Duration::from_secs(2));
    /// ```
    pub fn for_cleanup(&self, timeout: std::time::Duration) -> ResolveContext {
        ResolveContext {
            deadline: Instant::now() + timeout,
            cancel: CancellationToken::new(),
            ..self.clone()
        }
    }
}

/// Builds a [`ResolveContext`]. The core builds one per provider per run;
/// provider tests build their own.
///
/// ```
/// # use std::time::Duration;
/// # use ci_secrets_provider_api::ResolveContext;
/// let ctx = ResolveContext::builder("j").timeout(Duration::from_millis(10)).build();
/// assert!(ctx.remaining() <= Duration::from_millis(10));
/// ```
#[derive(Debug)]
pub struct ResolveContextBuilder {
    job_name: String,
    variables: JobVariables,
    id_token_names: Vec<String>,
    timeout: std::time::Duration,
    cancel: CancellationToken,
    config: serde_json::Value,
    http: HttpSettings,
    metrics: Arc<Metrics>,
}

impl ResolveContextBuilder {
    /// Sets the job's variables.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{JobVariables, ResolveContext};
    /// let ctx = ResolveContext::builder("j").variables(JobVariables::default()).build();
    /// # let _ = ctx;
    /// ```
    pub fn variables(mut self, variables: JobVariables) -> Self {
        self.variables = variables;
        self
    }

    /// Sets the names under `id_tokens:`.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let ctx = ResolveContext::builder("j").id_token_names(vec!["T".into()]).build();
    /// assert_eq!(ctx.id_token_names().len(), 1);
    /// ```
    pub fn id_token_names(mut self, names: Vec<String>) -> Self {
        self.id_token_names = names;
        self
    }

    /// Sets the time allowed from now (default 60 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let _ = ResolveContext::builder("j").timeout(Duration::from_secs(1)).build();
    /// ```
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Shares a cancellation token with the caller.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let token = tokio_util::sync::CancellationToken::new();
    /// let ctx = ResolveContext::builder("j").cancellation(token.clone()).build();
    /// token.cancel();
    /// assert!(ctx.check_deadline().is_err());
    /// ```
    pub fn cancellation(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets the provider's config section.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let _ = ResolveContext::builder("j").config(serde_json::json!({})).build();
    /// ```
    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    /// Sets the run's HTTP settings (default [`HttpSettings::default`]).
    /// Each built context gets connection pools of its own, shared by its
    /// clones.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{HttpSettings, ResolveContext};
    /// let mut settings = HttpSettings::default();
    /// settings.max_attempts = 1;
    /// let ctx = ResolveContext::builder("j").http(settings).build();
    /// assert_eq!(ctx.http_settings().max_attempts, 1);
    /// ```
    pub fn http(mut self, settings: HttpSettings) -> Self {
        self.http = settings;
        self
    }

    /// Shares metrics counters with the caller.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use ci_secrets_provider_api::{Metrics, ResolveContext};
    /// let metrics = Arc::new(Metrics::default());
    /// let _ = ResolveContext::builder("j").metrics(metrics.clone()).build();
    /// ```
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Finishes the context; the deadline starts counting now.
    ///
    /// ```
    /// # use ci_secrets_provider_api::ResolveContext;
    /// let _ = ResolveContext::builder("j").build();
    /// ```
    pub fn build(self) -> ResolveContext {
        ResolveContext {
            job_name: self.job_name,
            variables: Arc::new(self.variables),
            id_token_names: Arc::new(self.id_token_names),
            deadline: Instant::now() + self.timeout,
            cancel: self.cancel,
            config: self.config,
            http: Arc::new(self.http),
            extensions: Extensions::default(),
            metrics: self.metrics,
        }
    }
}

/// The result for one secret, in the order of the requests.
pub type SecretResult = Result<SecretValue, ProviderError>;

/// A secrets backend: Akeyless, Vault, or your own.
///
/// A provider receives every secret of its kind in one job at once, so it
/// can share logins and batch API calls, and returns one result per
/// request, in the same order.
///
/// ```
/// use async_trait::async_trait;
/// use ci_secrets_provider_api::{
///     ErrorKind, Provider, ProviderError, ResolveContext, SecretRequest, SecretResult, SecretValue,
/// };
///
/// #[derive(Debug)]
/// struct Upper;
///
/// #[async_trait]
/// impl Provider for Upper {
///     async fn resolve(&self, _ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
///         requests
///             .iter()
///             .map(|r| match r.block.as_str() {
///                 Some(s) => Ok(SecretValue::text(s.to_uppercase())),
///                 None => Err(ProviderError::new(ErrorKind::Config, "expected a string")),
///             })
///             .collect()
///     }
/// }
///
/// # tokio_test_block(async {
/// let ctx = ResolveContext::builder("j").build();
/// let out = Upper.resolve(&ctx, &[SecretRequest::new("A", "abc".into())]).await;
/// assert_eq!(out[0].as_ref().unwrap().expose_str(), Some("ABC"));
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// Checks that can fail before any network call, such as a missing
    /// required CI/CD variable. The core calls it for every provider first,
    /// so one bad provider stops the run before any other makes a request.
    /// The error is reported against all of this provider's variables, so
    /// when it concerns one secret, name its variable in the message.
    fn preflight(
        &self,
        _ctx: &ResolveContext,
        _requests: &[SecretRequest],
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Resolves every request; returns exactly one result per request, in order.
    ///
    /// Errors need not name the variable or the provider: the core reports
    /// each one as `VARIABLE (provider): message`. They should name the item,
    /// the operation and the server's status, and never hold a value or a
    /// credential.
    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult>;

    /// Describes how each request would be resolved, without any network
    /// call: its identity, its item and the calls a resolution is expected
    /// to make (`ci-secrets plan`). Returns exactly one plan per request, in
    /// order; a request that cannot work gets [`SecretPlan::invalid`].
    ///
    /// The default, for providers that do not implement it, is
    /// [`SecretPlan::unknown`] for every request.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// #[derive(Debug)]
    /// struct Quiet;
    /// #[async_trait]
    /// impl Provider for Quiet {
    ///     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> {
    ///         Vec::new()
    ///     }
    /// }
    /// let ctx = ResolveContext::builder("j").build();
    /// let plans = Quiet.plan(&ctx, &[SecretRequest::new("A", serde_json::Value::Null)]);
    /// assert!(plans[0].identity.is_none());
    /// ```
    fn plan(&self, _ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretPlan> {
        requests.iter().map(|_| SecretPlan::unknown()).collect()
    }

    /// Checks one identity the way a resolution would use it, without
    /// fetching any value (`ci-secrets doctor`): typically the login, then
    /// the permission to describe each item. `requests` are the secrets that
    /// [`Provider::plan`] gave this one identity. The core has already
    /// checked DNS, TCP and TLS to the identity's endpoint.
    ///
    /// The default has no provider-specific checks.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)]
    /// # struct Quiet;
    /// # #[async_trait]
    /// # impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> {
    /// #         Vec::new()
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let ctx = ResolveContext::builder("j").build();
    /// assert!(Quiet.diagnose(&ctx, &[]).await.is_empty());
    /// # });
    /// ```
    async fn diagnose(&self, _ctx: &ResolveContext, _requests: &[SecretRequest]) -> Vec<Check> {
        Vec::new()
    }

    /// Ends the run: releases what resolution acquired that must not
    /// outlive it, such as login tokens a provider is configured to revoke.
    /// The core calls it once per provider after every resolution of the
    /// run has returned or been abandoned (at the deadline, or on
    /// cancellation, when a resolution may have stopped half-way), with a
    /// context from [`ResolveContext::for_cleanup`]. It cannot fail: a
    /// clean-up that does not succeed is logged, since the secrets were read
    /// and what was not released expires on its own.
    ///
    /// A library caller that resolves with a provider directly calls it
    /// when done with that provider. The default does nothing.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)]
    /// # struct Quiet;
    /// # #[async_trait]
    /// # impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> {
    /// #         Vec::new()
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let ctx = ResolveContext::builder("j").build();
    /// Quiet.resolve(&ctx, &[]).await;
    /// Quiet.finish(&ctx.for_cleanup(std::time::Duration::from_secs(2))).await;
    /// # });
    /// ```
    async fn finish(&self, _ctx: &ResolveContext) {}
}
