//! How a provider reaches the connection pools of its run.

use std::sync::Arc;

use ci_secrets_provider_api::ResolveContext;

use crate::factory::HttpFactory;

/// The HTTP layer of a [`ResolveContext`].
///
/// The context carries the run's [`HttpSettings`](crate::HttpSettings) as
/// plain data; the pools live in the context's
/// [`Extensions`](ci_secrets_provider_api::Extensions), made on first use
/// from those settings. Every clone of the context, its
/// [`ResolveContext::for_cleanup`] copy included, shares them, so all the
/// requests of one provider's run reuse the connections of their CA.
///
/// ```
/// use std::time::Duration;
/// use ci_secrets_http::{HttpContext as _, HttpSettings};
/// use ci_secrets_provider_api::ResolveContext;
///
/// let mut settings = HttpSettings::default();
/// settings.max_attempts = 2;
/// let ctx = ResolveContext::builder("j").http(settings).build();
/// assert_eq!(ctx.http().settings().max_attempts, 2);
/// assert!(std::sync::Arc::ptr_eq(&ctx.http(), &ctx.for_cleanup(Duration::from_secs(1)).http()));
/// ```
pub trait HttpContext {
    /// The pools of this context's run.
    fn http(&self) -> Arc<HttpFactory>;
}

impl HttpContext for ResolveContext {
    fn http(&self) -> Arc<HttpFactory> {
        self.extensions()
            .get_or_insert_with(|| HttpFactory::new(self.http_settings().clone()))
    }
}
