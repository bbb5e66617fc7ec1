//! Where the SDK's calls meet the run's deadline and cancellation.

use std::future::Future;

use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext};

/// Runs `work` unless the run's deadline passes or the run is cancelled
/// first. The SDK's calls do not go through the shared HTTP layer, so this
/// is where they meet the run's deadline and cancellation; a run already
/// over does not start `work` at all.
pub(crate) async fn within_deadline<T>(
    ctx: &ResolveContext,
    what: &str,
    work: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    ctx.check_deadline().map_err(|err| err.context(what))?;
    tokio::select! {
        biased;
        () = ctx.cancellation().cancelled() => Err(ProviderError::new(
            ErrorKind::Deadline,
            format!("{what}: resolution was cancelled"),
        )),
        outcome = tokio::time::timeout_at(ctx.deadline(), work) => outcome.unwrap_or_else(|_| {
            Err(ProviderError::new(
                ErrorKind::Deadline,
                format!("{what}: the resolution deadline passed"),
            ))
        }),
    }
}
