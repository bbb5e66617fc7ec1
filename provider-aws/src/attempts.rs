//! Counts the SDK's HTTP attempts into the run's metrics.
//!
//! The shared HTTP layer of `ci-secrets-provider-api` counts the requests it
//! sends; the AWS SDK sends through its own client, so this interceptor does
//! the same for every STS and Secrets Manager attempt, retries included.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use ci_secrets_provider_api::ResolveContext;

/// An SDK interceptor that records one API call per attempt and one retry
/// per attempt after the first.
#[derive(Debug, Clone)]
pub(crate) struct CountAttempts {
    /// The context owns the run's metrics behind an `Arc`; cloning it is how
    /// a `'static` interceptor reaches them.
    ctx: ResolveContext,
}

impl CountAttempts {
    pub(crate) fn new(ctx: &ResolveContext) -> Self {
        Self { ctx: ctx.clone() }
    }
}

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "ci-secrets-count-attempts"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metrics = self.ctx.metrics();
        metrics.record_api_call();
        // The orchestrator stores the attempt number before this hook runs.
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|attempts| attempts.attempts() > 1)
        {
            metrics.record_retry();
        }
        Ok(())
    }
}
