//! The whole resolution of one job: load, validate, layer variables, plan,
//! dispatch. This is the library entry point the CLI (and any embedding
//! program) calls.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ci_secrets_gitlab::pipeline::{self, IncludeSource, Job, SkippedInclude, VariableDef};
use ci_secrets_gitlab::predefined::predefined_variables;
use ci_secrets_gitlab::validate::job_secret_specs;
use ci_secrets_gitlab::variables::{VariableSources, ci_cd_variables, layer_over};
use ci_secrets_provider_api::{JobVariables, Metrics, MetricsSnapshot, ProviderRegistration};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::LoadedConfig;
use crate::dispatch::{DispatchOptions, ResolvedSecret, dispatch};
use crate::error::CoreError;
use crate::plan::{Plan, PlanError, UnsetVariable, plan};
use crate::progress::{NoProgress, Progress};

/// Which job to resolve.
#[derive(Debug, Clone)]
pub enum JobSource {
    /// A job of a `.gitlab-ci.yml`.
    CiFile {
        /// The pipeline file.
        path: PathBuf,
        /// The job's name.
        job: String,
        /// Where local includes are found; `None`: the git top level of
        /// `path`, else its folder ([`pipeline::project_dir_of`]).
        project_dir: Option<PathBuf>,
        /// Where non-local includes come from; `None`: they are skipped.
        includes: Option<Arc<dyn IncludeSource>>,
        /// The pipeline's inputs (`--input NAME=VALUE`) for a `spec:` header
        /// in `path`, as text.
        inputs: IndexMap<String, String>,
    },
    /// A file that holds one job's `secrets:` (and optional `variables:`, `id_tokens:`).
    SecretsFile {
        /// The file.
        path: PathBuf,
    },
}

/// A loaded job and the pipeline's global variables.
#[derive(Debug, Clone)]
pub struct LoadedJob {
    /// The job.
    pub job: Job,
    /// Global `variables:` (empty for a secrets file).
    pub global_variables: IndexMap<String, VariableDef>,
    /// The repository root (predefined variables are derived from it).
    pub project_dir: PathBuf,
    /// The includes that were skipped (warnings).
    pub skipped_includes: Vec<SkippedInclude>,
}

/// Loads the job.
/// `ci_cd` are the CI/CD variables ([`ci_cd_variables`]) that `include:`
/// paths expand with.
pub fn load_job(
    source: &JobSource,
    ci_cd: &IndexMap<String, String>,
) -> Result<LoadedJob, CoreError> {
    let _span = tracing::info_span!("load").entered();
    match source {
        JobSource::CiFile {
            path,
            job,
            project_dir,
            includes,
            inputs,
        } => {
            let project_dir = project_dir
                .clone()
                .unwrap_or_else(|| pipeline::project_dir_of(path));
            let options = pipeline::LoadOptions {
                project_dir: Some(project_dir.clone()),
                include_variables: ci_cd.clone(),
                includes: includes.clone(),
                inputs: inputs.clone(),
            };
            // Only this job is expanded: the others may be many, big, or broken.
            let pipeline = pipeline::load_pipeline_for_job_with(path, &options, job)?;
            let job = pipeline.job(job)?.clone();
            Ok(LoadedJob {
                global_variables: pipeline.global_variables_for(&job),
                job,
                project_dir,
                skipped_includes: pipeline.skipped_includes,
            })
        }
        JobSource::SecretsFile { path } => Ok(LoadedJob {
            job: pipeline::load_secrets_file(path)?,
            global_variables: IndexMap::new(),
            project_dir: pipeline::project_dir_of(path),
            skipped_includes: Vec::new(),
        }),
    }
}

/// Whether the job's secrets or variables mention a `CI_` variable, which
/// GitLab would predefine.
fn refers_to_predefined(loaded: &LoadedJob) -> bool {
    let secrets = loaded
        .job
        .secrets
        .as_ref()
        .is_some_and(|secrets| secrets.to_string().contains("CI_"));
    secrets
        || loaded
            .job
            .variables
            .values()
            .chain(loaded.global_variables.values())
            .any(|definition| definition.value.contains("CI_"))
}

/// A job's plan and the variables it was built with (no network involved).
#[derive(Debug)]
pub struct PlannedJob {
    /// The plan.
    pub plan: Plan,
    /// The layered variables.
    pub variables: JobVariables,
    /// `id_tokens:` names.
    pub id_tokens: Vec<String>,
    /// The includes that were skipped (warnings).
    pub skipped_includes: Vec<SkippedInclude>,
}

/// Loads, validates, layers variables and plans. `providers` are the
/// providers linked into the binary: a secret may use any of them.
pub fn plan_job(
    providers: &[&'static ProviderRegistration],
    source: &JobSource,
    sources: &VariableSources,
) -> Result<PlannedJob, CoreError> {
    // Read once (the env file is I/O): for `include:` paths and the job's variables.
    let ci_cd = ci_cd_variables(sources)?;
    let loaded = load_job(source, &ci_cd)?;
    let specs = {
        let _span = tracing::info_span!("validate", job = %loaded.job.name).entered();
        job_secret_specs(providers, &loaded.job)?
    };
    // Deriving them runs git: only when the job can refer to one.
    let predefined = if refers_to_predefined(&loaded) {
        let job = matches!(source, JobSource::CiFile { .. })
            .then_some((loaded.job.name.as_str(), loaded.job.stage.as_deref()));
        predefined_variables(&loaded.project_dir, job)
    } else {
        IndexMap::new()
    };
    let variables = layer_over(
        &predefined,
        &loaded.global_variables,
        &loaded.job.variables,
        ci_cd,
    )?;
    let _span =
        tracing::info_span!("plan", job = %loaded.job.name, secrets = specs.len()).entered();
    let plan = plan(
        providers,
        &loaded.job.name,
        &loaded.job.id_tokens,
        &specs,
        &variables,
    )?;
    Ok(PlannedJob {
        plan,
        variables,
        id_tokens: loaded.job.id_tokens,
        skipped_includes: loaded.skipped_includes,
    })
}

/// The outcome of a successful resolution.
#[derive(Debug)]
pub struct Resolution {
    /// The job.
    pub job: String,
    /// The values, in the order of the job's `secrets:`.
    pub secrets: Vec<ResolvedSecret>,
    /// Logins, API calls and retries.
    pub metrics: MetricsSnapshot,
    /// How many providers took part.
    pub providers: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Variables the secrets' blocks refer to that are not set (warnings).
    pub unset_variables: Vec<UnsetVariable>,
    /// The includes that were skipped (warnings).
    pub skipped_includes: Vec<SkippedInclude>,
}

impl Resolution {
    /// `12 secrets from 2 providers in 84 ms (1 login, 3 API calls, 0 retries)`.
    pub fn summary(&self) -> String {
        let plural = |n: u64, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        format!(
            "{} from {} in {} ms ({}, {}, {})",
            plural(self.secrets.len() as u64, "secret"),
            plural(self.providers as u64, "provider"),
            self.elapsed.as_millis(),
            plural(self.metrics.logins, "login"),
            plural(self.metrics.api_calls, "API call"),
            plural(self.metrics.retries, "retry").replace("retrys", "retries"),
        )
    }
}

/// Resolves a job end to end with `providers` (those linked into the binary).
pub async fn resolve(
    providers: &[&'static ProviderRegistration],
    source: &JobSource,
    sources: &VariableSources,
    config: &LoadedConfig,
    cancel: CancellationToken,
) -> Result<Resolution, CoreError> {
    resolve_with_progress(
        providers,
        source,
        sources,
        config,
        cancel,
        Arc::new(NoProgress),
    )
    .await
}

/// [`resolve`], telling `progress` how many secrets there are once the job
/// is planned (nothing is started when planning fails), then as each
/// provider is done.
pub async fn resolve_with_progress(
    providers: &[&'static ProviderRegistration],
    source: &JobSource,
    sources: &VariableSources,
    config: &LoadedConfig,
    cancel: CancellationToken,
    progress: Arc<dyn Progress>,
) -> Result<Resolution, CoreError> {
    let started = Instant::now();
    let planned = plan_job(providers, source, sources)?;
    planned.plan.ready()?;
    let unset_variables = planned.plan.unset_variables();
    if config.config.strict
        && let Some(first) = planned
            .plan
            .secrets
            .iter()
            .find(|secret| !secret.unset_variables.is_empty())
    {
        return Err(PlanError::UnsetVariables {
            job: planned.plan.job.clone(),
            variable: first.variable.clone(),
            names: first.unset_variables.clone(),
        }
        .into());
    }
    let metrics = Arc::new(Metrics::default());
    progress.start(planned.plan.secrets.len() as u64);
    let options = DispatchOptions {
        deadline: config.deadline(),
        http: config.http_settings()?,
        metrics: metrics.clone(),
        cancel,
        progress,
    };
    let sections = |key: &str| config.provider_section(key);
    let provider_count = planned.plan.by_provider().len();
    let span = tracing::info_span!(
        "resolve",
        job = %planned.plan.job,
        secrets = planned.plan.secrets.len(),
        providers = provider_count,
        logins = tracing::field::Empty,
        api_calls = tracing::field::Empty,
        retries = tracing::field::Empty,
        cache_hits = tracing::field::Empty,
    );
    let outcome = dispatch(
        providers,
        &planned.plan,
        &planned.variables,
        &planned.id_tokens,
        &sections,
        &options,
    )
    .instrument(span.clone())
    .await;
    let snapshot = metrics.snapshot();
    span.record("logins", snapshot.logins);
    span.record("api_calls", snapshot.api_calls);
    span.record("retries", snapshot.retries);
    span.record("cache_hits", snapshot.cache_hits);
    let secrets = outcome?;
    Ok(Resolution {
        job: planned.plan.job,
        secrets,
        metrics: snapshot,
        providers: provider_count,
        elapsed: started.elapsed(),
        unset_variables,
        skipped_includes: planned.skipped_includes,
    })
}
