//! The whole resolution of one job: load, validate, layer variables, plan,
//! dispatch. This is the library entry point the CLI (and any embedding
//! program) calls.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ci_secrets_gitlab::pipeline::{self, IncludeSource, Job, SkippedInclude, VariableDef};
use ci_secrets_gitlab::predefined::predefined_variables;
use ci_secrets_gitlab::rules::repository;
use ci_secrets_gitlab::rules::{
    RuleContext, RulesConfig, RulesError, RulesOutcome, WarningKind, evaluate_rules,
    evaluate_workflow_rules,
};
use ci_secrets_gitlab::validate::job_secret_specs;
use ci_secrets_gitlab::variables::{VariableSources, ci_cd_variables, layer_over, rule_variables};
use ci_secrets_provider_api::{JobVariables, Metrics, MetricsSnapshot, ProviderRegistration};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::LoadedConfig;
use crate::dispatch::{DispatchOptions, ResolvedSecret, dispatch};
use crate::error::CoreError;
use crate::plan::{IdTokenPlan, Plan, PlanError, RulesReport, UnsetVariable, plan};
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
        /// `--changes-base`: `rules: changes:` compare `git diff BASE...HEAD`; `None`: the
        /// changes are unknown and `changes:` holds, with a warning.
        changes_base: Option<String>,
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
    /// Every global variable, whatever the job inherits: what `workflow: rules:` see.
    pub pipeline_variables: IndexMap<String, VariableDef>,
    /// `workflow: rules:`.
    pub workflow_rules: Option<RulesConfig>,
    /// The file the job comes from (for messages).
    pub file: PathBuf,
    /// The files changed since `--changes-base` (`rules: changes:`), when it is given.
    pub changed_files: Option<Vec<String>>,
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
            changes_base,
        } => {
            let project_dir = project_dir
                .clone()
                .unwrap_or_else(|| pipeline::project_dir_of(path));
            // One diff for include rules and the job's rules.
            let changed_files = changes_base
                .as_deref()
                .map(|base| {
                    repository::changed_files(&project_dir, base).ok_or_else(|| {
                        PlanError::ChangesBase {
                            base: base.to_owned(),
                            project_dir: project_dir.clone(),
                        }
                    })
                })
                .transpose()?;
            let options = pipeline::LoadOptions {
                project_dir: Some(project_dir.clone()),
                include_variables: ci_cd.clone(),
                includes: includes.clone(),
                inputs: inputs.clone(),
                changed_files: changed_files.clone(),
            };
            // Only this job is expanded: the others may be many, big, or broken.
            let pipeline = pipeline::load_pipeline_for_job_with(path, &options, job)?;
            let job = pipeline.job(job)?.clone();
            Ok(LoadedJob {
                global_variables: pipeline.global_variables_for(&job),
                job,
                project_dir,
                skipped_includes: pipeline.skipped_includes,
                pipeline_variables: pipeline.variables,
                workflow_rules: pipeline.workflow_rules,
                file: path.clone(),
                changed_files,
            })
        }
        JobSource::SecretsFile { path } => Ok(LoadedJob {
            job: pipeline::load_secrets_file(path)?,
            global_variables: IndexMap::new(),
            project_dir: pipeline::project_dir_of(path),
            skipped_includes: Vec::new(),
            pipeline_variables: IndexMap::new(),
            workflow_rules: None,
            file: path.clone(),
            changed_files: None,
        }),
    }
}

/// Whether the job's secrets, variables or rules mention a `CI_` variable,
/// which GitLab would predefine.
fn refers_to_predefined(loaded: &LoadedJob) -> bool {
    let rules = [loaded.job.rules.as_ref(), loaded.workflow_rules.as_ref()]
        .into_iter()
        .flatten()
        .any(|rules| rules.mentions("CI_"));
    let secrets = loaded
        .job
        .secrets
        .as_ref()
        .is_some_and(|secrets| json_mentions(secrets, "CI_"));
    secrets
        || rules
        || loaded
            .job
            .variables
            .values()
            .chain(loaded.global_variables.values())
            .any(|definition| definition.value.contains("CI_"))
}

/// Whether a key or a string anywhere in `value` contains `needle`; a walk
/// instead of rendering the whole block to text, which cost a large job more
/// than the check itself.
fn json_mentions(value: &serde_json::Value, needle: &str) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains(needle),
        serde_json::Value::Array(items) => items.iter().any(|item| json_mentions(item, needle)),
        serde_json::Value::Object(entries) => entries
            .iter()
            .any(|(key, item)| key.contains(needle) || json_mentions(item, needle)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    }
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
    let (global, job_variables, rules) = apply_rules(&loaded, &predefined, &ci_cd)?;
    let mut variables = layer_over(&predefined, &global, &job_variables, ci_cd)?;
    let id_token_sources = id_tokens_from_source(&loaded.job, &mut variables, sources)?;
    let _span =
        tracing::info_span!("plan", job = %loaded.job.name, secrets = specs.len()).entered();
    let mut plan = plan(
        providers,
        &loaded.job.name,
        &loaded.job.id_tokens,
        &specs,
        &variables,
    )?;
    plan.rules = rules;
    plan.id_token_sources = id_token_sources;
    Ok(PlannedJob {
        plan,
        variables,
        id_tokens: loaded.job.id_tokens,
        skipped_includes: loaded.skipped_includes,
    })
}

/// The job's `id_tokens:` variables that no source set, minted by the
/// run's ID token source for the entry's first `aud:` (OIDC issuers take
/// one audience) when `sources` says to mint, else only listed, as `plan`
/// reports them. The tokens are credentials: they go into the variables
/// and nowhere else.
fn id_tokens_from_source(
    job: &Job,
    variables: &mut JobVariables,
    sources: &VariableSources,
) -> Result<Vec<IdTokenPlan>, CoreError> {
    let Some(source) = &sources.id_token_source else {
        return Ok(Vec::new());
    };
    let mut planned = Vec::new();
    for name in &job.id_tokens {
        if variables.get(name).is_some() {
            continue;
        }
        let Some(audience) = job
            .id_token_audiences
            .get(name)
            .and_then(|audiences| audiences.first())
        else {
            continue;
        };
        if sources.mint_id_tokens {
            let token = source.mint(audience).map_err(|error| CoreError::IdToken {
                job: job.name.clone(),
                name: name.clone(),
                error,
            })?;
            variables.insert(name.clone(), token.as_str());
        } else {
            // `plan` calls nothing: the providers plan with a stand-in, which
            // no plan output shows (a token is a credential there too).
            variables.insert(
                name.clone(),
                format!("<an ID token from {}>", source.describe()),
            );
        }
        planned.push(IdTokenPlan {
            name: name.clone(),
            source: source.describe(),
            audience: audience.clone(),
        });
    }
    Ok(planned)
}

/// The global and job variables after `rules:`, and what the rules decided.
type RuledVariables = (
    IndexMap<String, VariableDef>,
    IndexMap<String, VariableDef>,
    RulesReport,
);

/// Evaluates `workflow: rules:`, then the job's `rules:`, as GitLab does before it creates
/// the job: workflow rules see the global variables (all of them, before `inherit:`), the
/// CI/CD and the predefined ones; the matching workflow rule's `variables:` override the
/// global ones (and are inherited like them). Job rules then see the job's whole set, and the
/// matching rule's `variables:` override the job's. CI/CD variables (`--var`, the
/// environment, the env file) still win over both, as in GitLab's precedence. Returns the
/// global and job variables to layer, and the report.
fn apply_rules(
    loaded: &LoadedJob,
    predefined: &IndexMap<String, String>,
    ci_cd: &IndexMap<String, String>,
) -> Result<RuledVariables, CoreError> {
    let mut global = loaded.global_variables.clone();
    let mut job_variables = loaded.job.variables.clone();
    let mut report = RulesReport::default();
    if loaded.workflow_rules.is_none() && loaded.job.rules.is_none() {
        return Ok((global, job_variables, report));
    }
    let changed = loaded.changed_files.as_deref();
    let mut changes_unknown = false;
    let mut collect = |outcome: &RulesOutcome, report: &mut RulesReport| {
        for warning in &outcome.warnings {
            if warning.kind == WarningKind::ChangesUnknown {
                changes_unknown = true;
            } else {
                report
                    .warnings
                    .push(format!("job {}: {}", loaded.job.name, warning.message));
            }
        }
    };
    let rules_error = |owner: &str, error: RulesError| PlanError::Rules {
        file: loaded.file.clone(),
        message: match error.index {
            Some(index) => format!("{} (rules[{index}])", error.gitlab_message(owner)),
            None => error.gitlab_message(owner),
        },
    };
    if let Some(workflow) = &loaded.workflow_rules {
        // The pipeline has no job yet: job-level predefined variables are not set.
        let pipeline_predefined: IndexMap<String, String> = predefined
            .iter()
            .filter(|(name, _)| !name.starts_with("CI_JOB_"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let seen = rule_variables(
            &pipeline_predefined,
            &loaded.pipeline_variables,
            &IndexMap::new(),
            ci_cd,
        );
        let lookup = |name: &str| seen.get(name).cloned();
        let ctx = RuleContext::new(&lookup)
            .with_project_dir(&loaded.project_dir)
            .with_changed_files(changed);
        let outcome = evaluate_workflow_rules(&workflow.0, &ctx)
            .map_err(|error| rules_error("workflow", error))?;
        collect(&outcome, &mut report);
        if let Some(rule) = &outcome.matched {
            report.workflow_rule = Some(format!("workflow:{}", rule.display));
            for (name, definition) in &rule.variables {
                if loaded.job.inherit_variables.includes(name) {
                    global.insert(name.clone(), definition.clone());
                }
            }
        }
        if let Some(reason) = outcome.exclusion_reason() {
            report.not_created = Some(format!(
                "workflow: rules: {reason}, so GitLab would not create the pipeline"
            ));
        }
    }
    if let Some(rules) = &loaded.job.rules {
        let seen = rule_variables(predefined, &global, &job_variables, ci_cd);
        let lookup = |name: &str| seen.get(name).cloned();
        let ctx = RuleContext::new(&lookup)
            .with_project_dir(&loaded.project_dir)
            .with_changed_files(changed);
        let owner = format!("jobs:{}", loaded.job.name);
        let outcome = evaluate_rules(&rules.0, &ctx).map_err(|error| rules_error(&owner, error))?;
        collect(&outcome, &mut report);
        if let Some(rule) = &outcome.matched {
            report.rule = Some(rule.display.clone());
            job_variables.extend(
                rule.variables
                    .iter()
                    .map(|(name, definition)| (name.clone(), definition.clone())),
            );
        }
        if let Some(reason) = outcome.exclusion_reason()
            && report.not_created.is_none()
        {
            report.not_created = Some(format!("rules: {reason}"));
        }
    }
    if changes_unknown {
        report.warnings.push(format!(
            "job {}: `changes:` in rules cannot be checked without --changes-base REF, so it \
             is treated as true",
            loaded.job.name
        ));
    }
    Ok((global, job_variables, report))
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
    /// Warnings from `rules:` (GitLab would not create the job, a condition assumed true).
    pub rule_warnings: Vec<String>,
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
    let rules = &planned.plan.rules;
    if config.config.strict
        && let Some(error) = rules.not_created_error(&planned.plan.job)
    {
        return Err(error.into());
    }
    let rule_warnings: Vec<String> = rules
        .not_created_warning(&planned.plan.job)
        .into_iter()
        .chain(rules.warnings.iter().cloned())
        .collect();
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
        rule_warnings,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use serde_json::json;

    use super::json_mentions;

    #[test]
    fn mentions_are_found_in_keys_strings_and_nesting_only() {
        let block = json!({"A": {"vault": {"path": "ops/$CI_COMMIT_REF_NAME", "n": 1}}});
        assert!(json_mentions(&block, "CI_"));
        assert!(json_mentions(&json!({"CI_X": null}), "CI_"));
        assert!(json_mentions(&json!([[true, "x${CI_JOB_ID}"]]), "CI_"));
        assert!(!json_mentions(&json!({"A": ["ci", 7, false, null]}), "CI_"));
    }
}
