//! Dispatch: build each provider, run every preflight, then resolve all
//! providers concurrently under one deadline. All or nothing: any failure
//! fails the whole resolution, and every failure is reported.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ci_secrets_provider_api::{
    ErrorKind, HttpSettings, JobVariables, Metrics, Provider, ProviderConfig, ProviderError,
    ProviderRegistration, ResolveContext, SecretRequest, SecretValue,
};
use futures::future::join_all;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::plan::{Plan, find_registration};
use crate::progress::Progress;

/// One secret that could not be resolved.
#[derive(Debug)]
pub struct SecretFailure {
    /// The variable.
    pub variable: String,
    /// The provider key.
    pub provider: String,
    /// What went wrong (holds no value).
    pub error: ProviderError,
}

impl fmt::Display for SecretFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.variable, self.provider, self.error)
    }
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// A provider could not be built from its config section.
    #[error("provider {provider}: {error} (config from {origin})")]
    ProviderConfig {
        /// The provider key.
        provider: String,
        /// The constructor's error.
        error: ProviderError,
        /// Where the section came from.
        origin: String,
    },
    /// A provider's checks before any network call failed. The provider's
    /// message stands on a line of its own (GitLab's "secrets provider can
    /// not be found" is matched verbatim by scripts), followed by where.
    #[error("checks before resolving failed, so nothing was requested:\n{}", join_preflight(.0))]
    Preflight(Vec<SecretFailure>),
    /// One or more secrets failed.
    #[error("resolving secrets failed:\n{}", join_failures(.0))]
    Failed(Vec<SecretFailure>),
}

impl DispatchError {
    /// Every failure, for callers that branch on kinds.
    pub fn failures(&self) -> &[SecretFailure] {
        match self {
            DispatchError::ProviderConfig { .. } => &[],
            DispatchError::Preflight(failures) | DispatchError::Failed(failures) => failures,
        }
    }
}

fn join_preflight(failures: &[SecretFailure]) -> String {
    failures
        .iter()
        .map(|failure| {
            format!(
                "{}\n  (provider {}, variables {})",
                failure.error, failure.provider, failure.variable
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn join_failures(failures: &[SecretFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A resolved secret.
#[derive(Debug)]
pub struct ResolvedSecret {
    /// The variable.
    pub variable: String,
    /// The provider key.
    pub provider: String,
    /// Deliver as a file.
    pub file: bool,
    /// The value.
    pub value: SecretValue,
}

/// Settings of one dispatch.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Time allowed for everything.
    pub deadline: Duration,
    /// The run's HTTP settings.
    pub http: HttpSettings,
    /// Counters for the summary.
    pub metrics: Arc<Metrics>,
    /// Cancelled on interruption.
    pub cancel: CancellationToken,
    /// Advanced as each provider finishes (drawn only on a terminal).
    pub progress: Arc<dyn Progress>,
}

/// A provider ready to run: its key, instance, context and requests.
type PreparedProvider<'a> = (
    &'a str,
    Box<dyn Provider>,
    ResolveContext,
    Vec<SecretRequest>,
);

/// How long providers have to release what they acquired ([`Provider::finish`]) once the run is
/// over: the job waits for it, even after a cancellation.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a provider's resolution was cut short.
enum Stopped {
    Deadline,
    Cancelled,
}

/// Resolves every secret of the plan.
pub async fn dispatch(
    providers: &[&'static ProviderRegistration],
    plan: &Plan,
    variables: &JobVariables,
    id_token_names: &[String],
    sections: &dyn Fn(&str) -> (serde_json::Value, String),
    options: &DispatchOptions,
) -> Result<Vec<ResolvedSecret>, DispatchError> {
    let registered = |key: &str| find_registration(providers, key);
    let groups = plan.by_provider();
    let mut prepared: Vec<PreparedProvider<'_>> = Vec::with_capacity(groups.len());
    for (key, indexes) in &groups {
        let (section, origin) = sections(key);
        let registration = registered(key).ok_or_else(|| DispatchError::ProviderConfig {
            provider: key.to_string(),
            error: ProviderError::new(ErrorKind::Unsupported, "not built into this binary"),
            origin: origin.clone(),
        })?;
        let provider = (registration.build)(&ProviderConfig::new(section.clone(), origin.clone()))
            .map_err(|error| DispatchError::ProviderConfig {
                provider: key.to_string(),
                error,
                origin: origin.clone(),
            })?;
        let ctx = ResolveContext::builder(plan.job.clone())
            .variables(variables.clone())
            .id_token_names(id_token_names.to_vec())
            .timeout(options.deadline)
            .cancellation(options.cancel.clone())
            .config(section)
            .http(options.http.clone())
            .metrics(options.metrics.clone())
            .build();
        let requests = indexes
            .iter()
            .map(|&index| plan.secrets[index].request.clone())
            .collect();
        prepared.push((key, provider, ctx, requests));
    }

    let mut preflight_failures = Vec::new();
    for (key, provider, ctx, requests) in &prepared {
        if let Err(error) = provider.preflight(ctx, requests) {
            preflight_failures.push(SecretFailure {
                variable: requests
                    .iter()
                    .map(|request| request.variable.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                provider: key.to_string(),
                error,
            });
        }
    }
    if !preflight_failures.is_empty() {
        return Err(DispatchError::Preflight(preflight_failures));
    }

    let deadline = tokio::time::Instant::now() + options.deadline;
    let runs = prepared.iter().map(|(key, provider, ctx, requests)| {
        let span = tracing::info_span!("provider", provider = %key, secrets = requests.len());
        let progress = options.progress.clone();
        async move {
            // A cancelled run stops here whether or not the provider watches
            // the token itself; `finish_all` below still runs.
            let outcome = tokio::select! {
                outcome = tokio::time::timeout_at(deadline, provider.resolve(ctx, requests)) => {
                    outcome.map_err(|_| Stopped::Deadline)
                }
                () = options.cancel.cancelled() => Err(Stopped::Cancelled),
            };
            progress.inc(requests.len() as u64);
            match outcome {
                Ok(results) if results.len() == requests.len() => results,
                Err(Stopped::Cancelled) => requests
                    .iter()
                    .map(|_| {
                        Err(ProviderError::new(
                            ErrorKind::Deadline,
                            "resolution was cancelled",
                        ))
                    })
                    .collect(),
                Ok(results) => {
                    let message = format!(
                        "provider {key} returned {} results for {} secrets",
                        results.len(),
                        requests.len()
                    );
                    requests
                        .iter()
                        .map(|_| Err(ProviderError::new(ErrorKind::Protocol, message.clone())))
                        .collect()
                }
                Err(Stopped::Deadline) => requests
                    .iter()
                    .map(|_| {
                        Err(ProviderError::new(
                            ErrorKind::Deadline,
                            format!(
                                "not resolved within the {:.0} s deadline",
                                options.deadline.as_secs_f64()
                            ),
                        ))
                    })
                    .collect(),
            }
        }
        .instrument(span)
    });
    let outcomes = join_all(runs).await;
    options.progress.finish();
    finish_all(&prepared).await;

    let mut values: Vec<Option<SecretValue>> = plan.secrets.iter().map(|_| None).collect();
    let mut failures = Vec::new();
    for ((key, _, _, _), results) in prepared.iter().zip(outcomes) {
        let indexes = &groups[key];
        for (&index, result) in indexes.iter().zip(results) {
            match result {
                Ok(value) => values[index] = Some(value),
                Err(error) => failures.push((
                    index,
                    SecretFailure {
                        variable: plan.secrets[index].variable.clone(),
                        provider: key.to_string(),
                        error,
                    },
                )),
            }
        }
    }
    if !failures.is_empty() {
        failures.sort_by_key(|(index, _)| *index);
        return Err(DispatchError::Failed(
            failures.into_iter().map(|(_, failure)| failure).collect(),
        ));
    }
    Ok(plan
        .secrets
        .iter()
        .zip(values)
        .filter_map(|(secret, value)| {
            value.map(|value| ResolvedSecret {
                variable: secret.variable.clone(),
                provider: secret.provider.clone(),
                file: secret.file,
                value,
            })
        })
        .collect())
}

/// Lets every provider release what its resolution acquired, concurrently, each within
/// [`CLEANUP_TIMEOUT`] and with a context of its own, so that a cancelled or timed-out run still
/// cleans up.
async fn finish_all(prepared: &[PreparedProvider<'_>]) {
    join_all(prepared.iter().map(|(key, provider, ctx, _)| {
        let cleanup = ctx.for_cleanup(CLEANUP_TIMEOUT);
        let span = tracing::info_span!("finish", provider = %key);
        async move {
            if tokio::time::timeout(CLEANUP_TIMEOUT, provider.finish(&cleanup))
                .await
                .is_err()
            {
                tracing::warn!(
                    provider = %key,
                    "clean-up did not finish within {} s; what it did not release expires on its own",
                    CLEANUP_TIMEOUT.as_secs()
                );
            }
        }
        .instrument(span)
    }))
    .await;
}
