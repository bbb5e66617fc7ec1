//! The behaviour every ci-secrets provider must show, as one suite.
//!
//! A provider's own tests describe its backend once (a [`Backend`]: how to
//! build the provider and a context that reaches a real or emulated server,
//! which items exist and what they hold, which do not exist, which may not be
//! read) and call [`run`]. The suite then checks, against that server, what
//! the core and users rely on whatever the backend:
//!
//! - one result per request, in request order, for any order and for the same
//!   item under two variables; an empty batch is no work;
//! - a missing item fails with [`ErrorKind::NotFound`](ci_secrets_provider_api::ErrorKind::NotFound), a denied one with
//!   [`ErrorKind::Denied`](ci_secrets_provider_api::ErrorKind::Denied), an invalid block with [`ErrorKind::Config`](ci_secrets_provider_api::ErrorKind::Config), and
//!   each fails alone: the other secrets of the batch still resolve;
//! - a passed deadline and a cancelled run fail every secret with
//!   [`ErrorKind::Deadline`](ci_secrets_provider_api::ErrorKind::Deadline); an unreachable server with
//!   [`ErrorKind::Transient`](ci_secrets_provider_api::ErrorKind::Transient);
//! - one provider serves two resolutions at once, and again later (a cached
//!   login must not go stale or be shared wrongly), and
//!   [`Provider::finish`], called once at the end
//!   of the run as the core calls it, releases nothing a resolution still uses;
//! - [`Provider::plan`] gives one plan per request;
//! - `ci-secrets doctor` ([`Provider::diagnose`], per identity that `plan`
//!   names) passes every readable item, and flags a denied one;
//! - no value and no credential appears in any error (`Display` or `Debug`),
//!   any plan, or the provider's `Debug`;
//! - no credential appears in any error even when the server echoes every
//!   request it gets back in its error texts, raw and base64-decoded (see
//!   [`Backend::echoing`]).
//!
//! The suite runs every check, then [`Report::assert_passed`] fails the test
//! with the list of what went wrong. Checks that need something the backend
//! did not describe (a denied item, say) or that the provider does not
//! implement (`doctor` checks from `diagnose`) are reported as skipped.
//!
//! ```
//! use ci_secrets_provider_api::{
//!     async_trait, ErrorKind, Provider, ProviderError, ResolveContext, SecretRequest,
//!     SecretResult, SecretValue,
//! };
//! use ci_secrets_provider_conformance::{run, Backend};
//!
//! /// Two fixed items, read from memory.
//! #[derive(Debug)]
//! struct Fixed;
//!
//! #[async_trait]
//! impl Provider for Fixed {
//!     async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
//!         requests
//!             .iter()
//!             .map(|request| {
//!                 ctx.check_deadline()?;
//!                 match request.block.as_str() {
//!                     Some("alpha") => Ok(SecretValue::text("alpha-value-1")),
//!                     Some("beta") => Ok(SecretValue::text("beta-value-22")),
//!                     Some(_) => Err(ProviderError::new(ErrorKind::NotFound, "no such item")),
//!                     None => Err(ProviderError::new(ErrorKind::Config, "the block must be a string")),
//!                 }
//!             })
//!             .collect()
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let backend = Backend::new("fixed", || Box::new(Fixed), || ResolveContext::builder("job"))
//!     .readable(SecretRequest::new("A", "alpha".into()), "alpha-value-1")
//!     .readable(SecretRequest::new("B", "beta".into()), "beta-value-22")
//!     .missing(SecretRequest::new("C", "gamma".into()))
//!     .invalid(SecretRequest::new("D", serde_json::json!({"not": "a string"})));
//! let report = run(&backend).await;
//! report.assert_passed();
//! assert!(report.skipped().iter().any(|(check, _)| check.contains("denied")));
//! # });
//! ```

mod checks;
mod echo;
mod report;

use ci_secrets_provider_api::{Provider, ResolveContextBuilder, SecretRequest};

pub use report::Report;

/// Builds a fresh provider.
type ProviderFactory = Box<dyn Fn() -> Box<dyn Provider> + Send + Sync>;
/// Builds a context (variables, config, HTTP settings) that reaches a server.
type ContextFactory = Box<dyn Fn() -> ResolveContextBuilder + Send + Sync>;
/// Builds a context and requests that send everything to the server at the
/// given URL.
type EchoCase = Box<dyn Fn(&str) -> (ResolveContextBuilder, Vec<SecretRequest>) + Send + Sync>;

/// A backend under test, described by the provider's tests.
pub struct Backend {
    name: String,
    provider: ProviderFactory,
    context: ContextFactory,
    readable: Vec<(SecretRequest, Vec<u8>)>,
    missing: Vec<SecretRequest>,
    denied: Vec<SecretRequest>,
    invalid: Vec<SecretRequest>,
    unreachable: Option<(ContextFactory, Vec<SecretRequest>)>,
    echoing: Vec<EchoCase>,
    credentials: Vec<String>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("readable", &self.readable.len())
            .field("missing", &self.missing.len())
            .field("denied", &self.denied.len())
            .field("invalid", &self.invalid.len())
            .field("unreachable", &self.unreachable.is_some())
            .field("echoing", &self.echoing.len())
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A backend named `name` (for the report), whose provider `provider`
    /// builds, reached through the contexts `context` builds. The suite sets
    /// each context's deadline and cancellation itself, so `context` should
    /// set only variables, id_tokens, config and HTTP settings (short
    /// backoffs keep the suite fast).
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"));
    /// assert!(format!("{backend:?}").contains("quiet"));
    /// ```
    pub fn new(
        name: impl Into<String>,
        provider: impl Fn() -> Box<dyn Provider> + Send + Sync + 'static,
        context: impl Fn() -> ResolveContextBuilder + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            provider: Box::new(provider),
            context: Box::new(context),
            readable: Vec::new(),
            missing: Vec::new(),
            denied: Vec::new(),
            invalid: Vec::new(),
            unreachable: None,
            echoing: Vec::new(),
            credentials: Vec::new(),
        }
    }

    /// An item that exists and holds `expected`. Give at least two, with
    /// distinctive values (the leak checks look for every value of 6 bytes
    /// or more in every message).
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .readable(SecretRequest::new("DB", "db/password".into()), "correct-horse");
    /// assert!(format!("{backend:?}").contains("readable: 1"));
    /// ```
    pub fn readable(mut self, request: SecretRequest, expected: impl Into<Vec<u8>>) -> Self {
        self.readable.push((request, expected.into()));
        self
    }

    /// An item that does not exist.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .missing(SecretRequest::new("GONE", "no/such/item".into()));
    /// assert!(format!("{backend:?}").contains("missing: 1"));
    /// ```
    pub fn missing(mut self, request: SecretRequest) -> Self {
        self.missing.push(request);
        self
    }

    /// An item that exists but that the context's identity may not read.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .denied(SecretRequest::new("ROOT", "admin/root".into()));
    /// assert!(format!("{backend:?}").contains("denied: 1"));
    /// ```
    pub fn denied(mut self, request: SecretRequest) -> Self {
        self.denied.push(request);
        self
    }

    /// A block that passes GitLab's validation but that the provider cannot
    /// use (a malformed path, say). It must fail with
    /// [`ErrorKind::Config`](ci_secrets_provider_api::ErrorKind::Config), from [`Provider::preflight`] or from
    /// [`Provider::resolve`].
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .invalid(SecretRequest::new("BAD", serde_json::json!({"path": 7})));
    /// assert!(format!("{backend:?}").contains("invalid: 1"));
    /// ```
    pub fn invalid(mut self, request: SecretRequest) -> Self {
        self.invalid.push(request);
        self
    }

    /// `requests`, through the contexts `context` builds, point at a server
    /// that refuses connections (a closed local port). Where the server
    /// comes from the context (a job variable), pass the readable requests;
    /// where it comes from the block, pass copies that name the closed port.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .unreachable(
    ///         || ResolveContext::builder("job"),
    ///         [SecretRequest::new("A", serde_json::json!({"url": "http://127.0.0.1:1"}))],
    ///     );
    /// assert!(format!("{backend:?}").contains("unreachable: true"));
    /// ```
    pub fn unreachable(
        mut self,
        context: impl Fn() -> ResolveContextBuilder + Send + Sync + 'static,
        requests: impl IntoIterator<Item = SecretRequest>,
    ) -> Self {
        self.unreachable = Some((Box::new(context), requests.into_iter().collect()));
        self
    }

    /// `case(url)` gives a context and requests that send every request
    /// (logins, token exchanges, metadata, reads) to the server at `url`. The suite runs a hostile server there that answers each
    /// request with an error repeating the whole request, headers and body,
    /// and the decoding of every base64 run in it. No credential declared
    /// with [`credential`](Self::credential) may then appear in any error.
    /// Call it once per way of logging in, each with its credentials in the
    /// context, so that a credential a provider forgets to mask is caught.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, JobVariables, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .credential("access-key-0123456789")
    ///     .echoing(|url| {
    ///         let variables = JobVariables::from_iter([
    ///             ("SERVER_URL", url),
    ///             ("ACCESS_KEY", "access-key-0123456789"),
    ///         ]);
    ///         let requests = vec![SecretRequest::new("A", "a".into())];
    ///         (ResolveContext::builder("job").variables(variables), requests)
    ///     });
    /// assert!(format!("{backend:?}").contains("echoing: 1"));
    /// ```
    pub fn echoing(
        mut self,
        case: impl Fn(&str) -> (ResolveContextBuilder, Vec<SecretRequest>) + Send + Sync + 'static,
    ) -> Self {
        self.echoing.push(Box::new(case));
        self
    }

    /// A credential the contexts carry (an access key, a token, an ID
    /// token): it must appear in no message either.
    ///
    /// ```
    /// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
    /// # #[derive(Debug)] struct Quiet;
    /// # #[async_trait] impl Provider for Quiet {
    /// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
    /// # }
    /// # use ci_secrets_provider_conformance::Backend;
    /// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
    ///     .credential("access-key-0123456789");
    /// assert!(!format!("{backend:?}").contains("access-key"));
    /// ```
    pub fn credential(mut self, credential: impl Into<String>) -> Self {
        self.credentials.push(credential.into());
        self
    }
}

/// Runs every check against `backend` and reports what passed, failed and
/// was skipped. See the crate documentation for the checks.
///
/// ```
/// # use ci_secrets_provider_api::{async_trait, Provider, ResolveContext, SecretRequest, SecretResult};
/// # #[derive(Debug)] struct Quiet;
/// # #[async_trait] impl Provider for Quiet {
/// #     async fn resolve(&self, _: &ResolveContext, _: &[SecretRequest]) -> Vec<SecretResult> { Vec::new() }
/// # }
/// use ci_secrets_provider_conformance::{run, Backend};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // A provider that returns nothing fails: it owes one result per request.
/// let backend = Backend::new("quiet", || Box::new(Quiet), || ResolveContext::builder("job"))
///     .readable(SecretRequest::new("A", "a".into()), "value-a")
///     .readable(SecretRequest::new("B", "b".into()), "value-b");
/// let report = run(&backend).await;
/// assert!(!report.failed().is_empty());
/// # });
/// ```
pub async fn run(backend: &Backend) -> Report {
    checks::run_all(backend).await
}
