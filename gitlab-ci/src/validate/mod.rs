//! Validation of `secrets:` blocks, exact to GitLab (17.4 to 18.2) in rules and messages.
//!
//! GitLab validates a job's `secrets:` with its config entry classes (`ComposableHash` of
//! `Entry::Secret`, one entry class per provider). [`validate_job_secrets`] applies the same
//! rules in the same order and returns the same messages: lower-cased, prefixed with the location
//! (`jobs:<job>:secrets:<var>[:<provider>]`), for example
//! `jobs:deploy:secrets:database_password:akeyless config contains unknown keys: foo`. The one
//! message GitLab does not lower-case (`...:vault should be a hash or a string`) keeps its case
//! here too.
//!
//! Providers GitLab does not know (a third-party `mystore:`) are allowed when the caller passes
//! their [`ProviderRegistration`]s, and their blocks are checked against the schema each one
//! registers. The caller decides which providers exist: pass `&[]` for GitLab's rules alone, or
//! every provider linked into the binary. Passing GitLab's own providers (`vault`, `akeyless`,
//! `aws_secrets_manager`) changes nothing: GitLab's rules for them always apply.
//!
//! ci-secrets adds one rule GitLab does not have: a secret's name must be a valid environment
//! variable name (`[A-Za-z_][A-Za-z0-9_]*`), because it becomes an environment variable and, for
//! file delivery, a file name (see [`INVALID_NAME_MESSAGE`]).

mod providers;
mod rails;
mod registered;

use std::fmt;

use ci_secrets_provider_api::ProviderRegistration;
use serde_json::Value;

use crate::pipeline::{Job, JobKind, Pipeline};
pub use providers::{AKEYLESS_KEYS, PROVIDERS};
use rails::{Messages, is_present};

/// The keys a secret may have (`Entry::Secret::ALLOWED_KEYS`, Akeyless era).
const SECRET_KEYS: [&str; 8] = [
    "vault",
    "file",
    "azure_key_vault",
    "gcp_secret_manager",
    "akeyless",
    "gitlab_secrets_manager",
    "token",
    "aws_secrets_manager",
];

/// The text of the ci-secrets rule on secret names, after `jobs:<job>:secrets:<NAME> `.
pub const INVALID_NAME_MESSAGE: &str = "is not a valid variable name: use only letters, digits \
     and underscores, not starting with a digit (ci-secrets rule)";

/// Facts about where the pipeline runs that some GitLab checks need.
///
/// GitLab validates inside a project; ci-secrets runs outside GitLab and knows only what it is
/// told. Checks whose fact is unknown are skipped, as GitLab skips them for an entry built without
/// a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationContext {
    /// The project's full path (`CI_PROJECT_PATH`, e.g. `group/subgroup/project`). When set, a
    /// `gitlab_secrets_manager` `source: group/<path>` must name a group that contains the
    /// project, as GitLab requires.
    pub project_path: Option<String>,
}

/// Validates one job's `secrets:` value with GitLab's rules and returns GitLab's messages (empty
/// when valid), plus the ci-secrets variable-name rule.
///
/// A `null` value (a bare `secrets:`) is valid and holds no secret, as in GitLab. `providers`
/// are the providers beyond GitLab's that a secret may use (see the [module](self) docs).
///
/// ```
/// use ci_secrets_gitlab::validate::validate_job_secrets;
/// use serde_json::json;
///
/// let secrets = json!({"DATABASE_PASSWORD": {"akeyless": {"name": "/db", "foo": 1}}});
/// assert_eq!(
///     validate_job_secrets(&[], "deploy", &secrets),
///     ["jobs:deploy:secrets:database_password:akeyless config contains unknown keys: foo"],
/// );
/// ```
pub fn validate_job_secrets(
    providers: &[&'static ProviderRegistration],
    job_name: &str,
    secrets: &Value,
) -> Vec<String> {
    validate_job_secrets_in(&ValidationContext::default(), providers, job_name, secrets)
}

/// [`validate_job_secrets`] with facts about the project (see [`ValidationContext`]).
pub fn validate_job_secrets_in(
    context: &ValidationContext,
    providers: &[&'static ProviderRegistration],
    job_name: &str,
    secrets: &Value,
) -> Vec<String> {
    // Providers beyond GitLab's six are allowed too; with none, every rule
    // and message is exactly GitLab's.
    let keys = SecretKeys::new(providers);
    let mut messages = Messages::default();
    let location = format!("jobs:{job_name}:secrets");
    match secrets {
        Value::Null => {}
        Value::Object(entries) => {
            // `ComposableHash` builds each entry with `config || {}`.
            let empty = Value::Object(serde_json::Map::new());
            for (name, config) in entries {
                let secret_location = format!("{location}:{name}");
                let config = if config.is_null() { &empty } else { config };
                validate_secret(&mut messages, context, &keys, &secret_location, config);
                if !is_valid_variable_name(name) {
                    messages.add_verbatim(format!("{secret_location} {INVALID_NAME_MESSAGE}"));
                }
            }
        }
        _ => messages.add(&location, "config should be a hash"),
    }
    messages.into_vec()
}

/// The keys of a secret, given the providers the caller passed: the same for every secret of a
/// job, so they are listed once per job.
struct SecretKeys {
    /// The providers beyond GitLab's, sorted by key.
    extra: Vec<&'static ProviderRegistration>,
    /// GitLab's providers, then the extra ones.
    providers: Vec<&'static str>,
    /// Every key a secret may have.
    allowed: Vec<&'static str>,
}

impl SecretKeys {
    fn new(providers: &[&'static ProviderRegistration]) -> Self {
        let extra = registered::extra_providers(providers);
        Self {
            providers: registered::all_provider_keys(&extra),
            allowed: SECRET_KEYS
                .iter()
                .copied()
                .chain(extra.iter().map(|registration| registration.key))
                .collect(),
            extra,
        }
    }
}

/// `Entry::Secret`: its own validations, then (only when those pass, as `compose!` does) the
/// `file` entry and the provider entry.
fn validate_secret(
    messages: &mut Messages,
    context: &ValidationContext,
    keys: &SecretKeys,
    location: &str,
    config: &Value,
) {
    let before = messages.len();
    let provider_keys = &keys.providers;
    rails::config_is_hash(messages, location, config);
    rails::allowed_keys(messages, location, config, &keys.allowed);
    let providers = config.as_object().map_or(0, |map| {
        provider_keys
            .iter()
            .filter(|p| rails::entry(map, p).is_some())
            .count()
    });
    if providers != 1 {
        messages.add(
            location,
            format!(
                "config must use exactly one of these keys: {}",
                provider_keys.join(", ")
            ),
        );
    }
    rails::string_type(messages, location, config, "token", true);
    if is_present(rails::attribute(config, "gcp_secret_manager"))
        && !is_present(rails::attribute(config, "token"))
    {
        messages.add(location, "token is required with gcp secrets manager");
    }
    if messages.len() != before {
        return;
    }
    if let Some(file) = rails::attribute(config, "file")
        && !file.is_boolean()
    {
        messages.add(
            &format!("{location}:file"),
            "config should be a boolean value",
        );
    }
    for provider in PROVIDERS {
        // A null provider block is GitLab's `Undefined` entry: nothing to validate.
        if let Some(block) = rails::attribute(config, provider) {
            let provider_location = format!("{location}:{provider}");
            providers::validate_provider(messages, context, provider, &provider_location, block);
        }
    }
    for registration in &keys.extra {
        if let Some(block) = rails::attribute(config, registration.key) {
            let provider_location = format!("{location}:{}", registration.key);
            registered::validate_block(messages, registration, &provider_location, block);
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name that is safe as an environment variable and a file name.
pub fn is_valid_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first == b'_' || first.is_ascii_alphabetic())
        && bytes.all(|byte| byte == b'_' || byte.is_ascii_alphanumeric())
}

/// Validates every non-hidden job that has `secrets:`, in file order, and returns all messages.
/// `providers` are the providers beyond GitLab's that a secret may use.
pub fn validate_pipeline(
    providers: &[&'static ProviderRegistration],
    pipeline: &Pipeline,
) -> Vec<String> {
    validate_pipeline_in(&ValidationContext::default(), providers, pipeline)
}

/// [`validate_pipeline`] with facts about the project (see [`ValidationContext`]).
pub fn validate_pipeline_in(
    context: &ValidationContext,
    providers: &[&'static ProviderRegistration],
    pipeline: &Pipeline,
) -> Vec<String> {
    // GitLab's `Jobs` entry is a `ComposableHash`: when it is invalid, `compose!` returns
    // before building any job, so GitLab reports these alone.
    let jobs = jobs_errors(pipeline);
    if !jobs.is_empty() {
        return jobs;
    }
    // `rules:` are checked as GitLab checks them (no variables needed), before each job's
    // `secrets:` (GitLab's job entry declares `rules` first).
    let rules_error = |rules: &crate::rules::RulesConfig, kind, owner: &str| {
        crate::rules::validate_rules(&rules.0, kind)
            .err()
            .map(|error| error.gitlab_message(owner))
    };
    let workflow = pipeline
        .workflow_rules
        .as_ref()
        .and_then(|rules| rules_error(rules, crate::rules::RulesKind::Workflow, "workflow"));
    workflow
        .into_iter()
        .chain(
            pipeline
                .jobs
                .values()
                .filter(|job| !job.hidden)
                .flat_map(|job| {
                    let rules = job.rules.as_ref().and_then(|rules| {
                        rules_error(
                            rules,
                            crate::rules::RulesKind::Job,
                            &format!("jobs:{}", job.name),
                        )
                    });
                    let secrets = job.secrets.as_ref().map_or_else(Vec::new, |secrets| {
                        job_secrets_errors(context, providers, job, secrets)
                    });
                    rules.into_iter().chain(secrets)
                }),
        )
        .collect()
}

/// The validations of GitLab's `Jobs` entry (`lib/gitlab/ci/config/entry/jobs.rb`): every
/// visible entry is a job with `script:`/`run:` or a trigger job, and at least one is visible.
/// The messages are GitLab's (`jobs rspec config should implement the script:, run:, or
/// trigger: keyword`).
pub fn jobs_errors(pipeline: &Pipeline) -> Vec<String> {
    let mut errors: Vec<String> = pipeline
        .jobs
        .values()
        .filter(|job| !job.hidden && job.kind == JobKind::Unmatched)
        .map(|job| {
            format!(
                "jobs {} config should implement the script:, run:, or trigger: keyword",
                job.name
            )
            .to_lowercase()
        })
        .collect();
    if !pipeline.jobs.values().any(|job| !job.hidden) {
        errors.push("jobs config should contain at least one visible job".to_owned());
    }
    errors
}

/// One job's `secrets:` as GitLab checks them: a trigger job (`Entry::Bridge`) has no
/// `secrets:` keyword, so its own validation (`allowed_keys`) fails and, as `compose!` then
/// returns early, nothing inside is checked.
pub fn job_secrets_errors(
    context: &ValidationContext,
    providers: &[&'static ProviderRegistration],
    job: &Job,
    secrets: &Value,
) -> Vec<String> {
    match &job.kind {
        JobKind::Trigger { unknown_keys } => vec![
            format!(
                "jobs:{} config contains unknown keys: {}",
                job.name,
                unknown_keys.join(", ")
            )
            .to_lowercase(),
        ],
        JobKind::Script | JobKind::Unmatched => {
            validate_job_secrets_in(context, providers, &job.name, secrets)
        }
    }
}

/// One validated secret of a job, ready for planning.
#[derive(Clone, PartialEq)]
pub struct SecretSpec {
    /// The variable the secret is delivered as (the key under `secrets:`, case kept).
    pub variable: String,
    /// The provider key: one of [`PROVIDERS`], or another provider the caller passed in.
    pub provider: String,
    /// The provider's value as written: a map, a string (vault, aws) or null (a bare
    /// `akeyless:`), not yet variable-expanded.
    pub block: Value,
    /// `file:`; `true` when absent (GitLab Runner's default: a file-type variable).
    pub file: bool,
    /// `token:` as written (usually `$SOME_ID_TOKEN`), not yet expanded.
    pub token: Option<String>,
}

/// Debug shows the structure only: a block or a token may hold a credential written inline.
impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let block_keys: Vec<&str> = self
            .block
            .as_object()
            .map(|map| map.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("SecretSpec")
            .field("variable", &self.variable)
            .field("provider", &self.provider)
            .field("block_keys", &block_keys)
            .field("file", &self.file)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A job's `secrets:` failed validation: every message, in GitLab's order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job `{job}` has an invalid `secrets:` block:\n  {}", .messages.join("\n  "))]
pub struct ValidationErrors {
    /// The job whose `secrets:` is invalid.
    pub job: String,
    /// GitLab's messages (and ci-secrets' name rule), never empty.
    pub messages: Vec<String>,
}

/// Validates `job`'s secrets, then returns one [`SecretSpec`] per secret in file order (none when
/// the job has no `secrets:`). `providers` are the providers beyond GitLab's that a secret may
/// use.
///
/// ```
/// use ci_secrets_gitlab::pipeline::Job;
/// use ci_secrets_gitlab::validate::job_secret_specs;
/// use serde_json::json;
///
/// let job = Job {
///     secrets: Some(json!({"DB": {"akeyless": {"name": "/db"}, "file": false, "token": "$JWT"}})),
///     ..Job::new("deploy")
/// };
/// let specs = job_secret_specs(&[], &job).unwrap();
/// assert_eq!(specs[0].variable, "DB");
/// assert_eq!(specs[0].provider, "akeyless");
/// assert!(!specs[0].file);
/// assert_eq!(specs[0].token.as_deref(), Some("$JWT"));
/// ```
pub fn job_secret_specs(
    providers: &[&'static ProviderRegistration],
    job: &Job,
) -> Result<Vec<SecretSpec>, ValidationErrors> {
    job_secret_specs_in(&ValidationContext::default(), providers, job)
}

/// [`job_secret_specs`] with facts about the project (see [`ValidationContext`]).
pub fn job_secret_specs_in(
    context: &ValidationContext,
    providers: &[&'static ProviderRegistration],
    job: &Job,
) -> Result<Vec<SecretSpec>, ValidationErrors> {
    let Some(secrets) = &job.secrets else {
        return Ok(Vec::new());
    };
    let messages = validate_job_secrets_in(context, providers, &job.name, secrets);
    if !messages.is_empty() {
        return Err(ValidationErrors {
            job: job.name.clone(),
            messages,
        });
    }
    let Some(entries) = secrets.as_object() else {
        return Ok(Vec::new());
    };
    let provider_keys = registered::all_provider_keys(&registered::extra_providers(providers));
    let specs = entries
        .iter()
        .filter_map(|(variable, config)| {
            // Validation proved `config` is a hash with exactly one provider key.
            let map = config.as_object()?;
            let (provider, block) = provider_keys
                .iter()
                .find_map(|p| rails::entry(map, p).map(|block| (*p, block)))?;
            Some(SecretSpec {
                variable: variable.clone(),
                provider: provider.to_owned(),
                block: block.clone(),
                file: rails::entry(map, "file")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                token: rails::entry(map, "token")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect();
    Ok(specs)
}
