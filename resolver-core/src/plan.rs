//! Planning: turn a job's validated secrets into provider requests, with
//! every string expanded, grouped by provider, before any network call.

use std::cell::RefCell;

use ci_secrets_gitlab::expand::expand;
use ci_secrets_gitlab::validate::SecretSpec;
use ci_secrets_provider_api::{JobVariables, ProviderRegistration, SecretRequest};
use indexmap::IndexMap;

/// One secret of the plan.
#[derive(Debug, Clone)]
pub struct PlannedSecret {
    /// The variable that receives it.
    pub variable: String,
    /// The provider key.
    pub provider: String,
    /// Deliver as a file (the variable holds the path) or as the value.
    pub file: bool,
    /// What the provider gets.
    pub request: SecretRequest,
    /// Variables the block refers to that are not set (each expanded to an
    /// empty string), in the order they are first referred to.
    pub unset_variables: Vec<String>,
}

/// A variable a secret's block refers to that is not set: outside a GitLab
/// job, most often a predefined one (`CI_PROJECT_NAME`). It expands to an
/// empty string, so the secret's path is probably not the one meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVariable {
    /// The secret's variable.
    pub secret: String,
    /// The variable that is not set.
    pub name: String,
}

impl std::fmt::Display for UnsetVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "secret {} refers to ${}, which is not set, so it expands to an empty string; set it (--var {}=...) or pass --strict to make this an error",
            self.secret, self.name, self.name
        )
    }
}

/// The plan of a job: secrets in file order, and their indexes grouped by
/// provider in first-seen order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The job.
    pub job: String,
    /// Every secret, in file order.
    pub secrets: Vec<PlannedSecret>,
    /// `token:` gaps (an unset ID token or variable), in file order. The
    /// secret is planned without its token so that `plan` can still show
    /// the whole job; a resolution stops at the first ([`Plan::ready`]).
    pub token_problems: Vec<PlanError>,
    /// What `workflow: rules:` and the job's `rules:` decided.
    pub rules: RulesReport,
    /// The `id_tokens:` variables a CI system's OIDC source mints (or, in
    /// `plan`, would mint).
    pub id_token_sources: Vec<IdTokenPlan>,
}

/// An ID token that comes from a CI system's OIDC source, not from GitLab.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdTokenPlan {
    /// The `id_tokens:` variable.
    pub name: String,
    /// The source ([`IdTokenSource::describe`](ci_secrets_gitlab::id_tokens::IdTokenSource::describe)).
    pub source: String,
    /// The audience asked for.
    pub audience: String,
}

/// What `rules:` decided about a job, as reported by `plan` and warned about by
/// `resolve` and `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesReport {
    /// The `workflow: rules:` rule that matched (`rules[0]: if: ...`), when there are some.
    pub workflow_rule: Option<String>,
    /// The job's rule that matched, when the job has `rules:`.
    pub rule: Option<String>,
    /// Why GitLab would not create the job (no rule matched, `when: never`, or the same of
    /// `workflow: rules:` for the whole pipeline); the secrets are planned anyway.
    pub not_created: Option<String>,
    /// Conditions that held only by assumption (`changes:` without `--changes-base`,
    /// `exists: project:`), one line each.
    pub warnings: Vec<String>,
}

impl RulesReport {
    /// The line warning that GitLab would not create job `job`, if it would not.
    pub fn not_created_warning(&self, job: &str) -> Option<String> {
        self.not_created.as_ref().map(|reason| {
            format!(
                "job {job}: GitLab would not create this job ({reason}); its secrets are \
                 resolved anyway (pass --strict to make this an error)"
            )
        })
    }

    /// The `--strict` error for the same case.
    pub fn not_created_error(&self, job: &str) -> Option<PlanError> {
        self.not_created
            .as_ref()
            .map(|reason| PlanError::JobNotCreated {
                job: job.to_owned(),
                reason: reason.clone(),
            })
    }
}

impl Plan {
    /// Whether the plan can be resolved: the first `token:` gap, if any.
    pub fn ready(&self) -> Result<(), PlanError> {
        match self.token_problems.first() {
            Some(problem) => Err(problem.clone()),
            None => Ok(()),
        }
    }

    /// Every variable a secret's block refers to that is not set, secret by
    /// secret.
    pub fn unset_variables(&self) -> Vec<UnsetVariable> {
        self.secrets
            .iter()
            .flat_map(|secret| {
                secret.unset_variables.iter().map(|name| UnsetVariable {
                    secret: secret.variable.clone(),
                    name: name.clone(),
                })
            })
            .collect()
    }

    /// Indexes into `secrets`, grouped by provider.
    pub fn by_provider(&self) -> IndexMap<&str, Vec<usize>> {
        let mut groups: IndexMap<&str, Vec<usize>> = IndexMap::new();
        for (index, secret) in self.secrets.iter().enumerate() {
            groups
                .entry(secret.provider.as_str())
                .or_default()
                .push(index);
        }
        groups
    }
}

/// Problems found while planning. None of them involves a network call.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The secret's provider is known to GitLab but not linked into this binary.
    #[error(
        "job {job}, secret {variable}: no provider for {provider} is built into this binary (built in: {available})"
    )]
    ProviderNotBuiltIn {
        /// The job.
        job: String,
        /// The variable.
        variable: String,
        /// The provider key.
        provider: String,
        /// The providers this binary has.
        available: String,
    },
    /// `token:` refers to an `id_tokens:` variable that is not set: we are
    /// probably running outside a GitLab job.
    #[error(
        "job {job}, secret {variable}: token: refers to ${name}, an id_tokens: variable that is not set. Outside a GitLab job, pass an ID token with --var {name}=<jwt>"
    )]
    IdTokenNotSet {
        /// The job.
        job: String,
        /// The variable.
        variable: String,
        /// The id token's name.
        name: String,
    },
    /// With `--strict`: a secret's block refers to variables that are not set.
    #[error(
        "job {job}, secret {variable}: the block refers to {}, which {} not set (--strict)",
        names.iter().map(|name| format!("${name}")).collect::<Vec<_>>().join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )]
    UnsetVariables {
        /// The job.
        job: String,
        /// The variable.
        variable: String,
        /// The variables that are not set.
        names: Vec<String>,
    },
    /// With `--strict`: GitLab would not create the job (its `rules:` or `workflow: rules:`).
    #[error("job {job}: GitLab would not create this job ({reason}) (--strict)")]
    JobNotCreated {
        /// The job.
        job: String,
        /// Which rules decided, and how.
        reason: String,
    },
    /// A `rules:` list GitLab would refuse (its own message, then the rule index).
    #[error("{}: {message}", file.display())]
    Rules {
        /// The pipeline file.
        file: std::path::PathBuf,
        /// GitLab's message with its location (`jobs:deploy:rules:rule if invalid expression
        /// syntax`).
        message: String,
    },
    /// `--changes-base` names no ref of the repository.
    #[error(
        "--changes-base {base}: `git diff --name-only {base}...HEAD` failed in {}; is it a branch, tag or commit of that repository?",
        project_dir.display()
    )]
    ChangesBase {
        /// The ref given.
        base: String,
        /// The repository.
        project_dir: std::path::PathBuf,
    },
    /// `token:` refers to a variable that is not set.
    #[error(
        "job {job}, secret {variable}: token: refers to ${name}, which is not set. Set it in the environment or pass --var {name}=..."
    )]
    TokenVariableNotSet {
        /// The job.
        job: String,
        /// The variable.
        variable: String,
        /// The missing variable.
        name: String,
    },
}

/// The provider of `providers` registered under `key`.
pub fn find_registration(
    providers: &[&'static ProviderRegistration],
    key: &str,
) -> Option<&'static ProviderRegistration> {
    providers
        .iter()
        .copied()
        .find(|registration| registration.key == key)
}

/// Builds the plan: expands every string of each provider block and each
/// `token:`, and checks that each provider is one of `providers` (those
/// linked into the binary).
pub fn plan(
    providers: &[&'static ProviderRegistration],
    job: &str,
    id_tokens: &[String],
    specs: &[SecretSpec],
    variables: &JobVariables,
) -> Result<Plan, PlanError> {
    let lookup = |name: &str| variables.get(name).map(str::to_string);
    let mut secrets = Vec::with_capacity(specs.len());
    let mut token_problems = Vec::new();
    for spec in specs {
        if find_registration(providers, &spec.provider).is_none() {
            return Err(PlanError::ProviderNotBuiltIn {
                job: job.to_string(),
                variable: spec.variable.clone(),
                provider: spec.provider.clone(),
                available: available_providers(providers),
            });
        }
        let unset = RefCell::new(Vec::<String>::new());
        let block = expand_strings(&spec.block, &|name: &str| {
            let value = lookup(name);
            let mut unset = unset.borrow_mut();
            if value.is_none() && !unset.iter().any(|known| known == name) {
                unset.push(name.to_string());
            }
            value
        });
        let mut request = SecretRequest::new(spec.variable.clone(), block);
        if let Some(raw) = &spec.token {
            let unset_token = referenced_variables(raw)
                .into_iter()
                .find(|name| variables.get(name).is_none());
            if let Some(name) = unset_token {
                token_problems.push(if id_tokens.contains(&name) {
                    PlanError::IdTokenNotSet {
                        job: job.to_string(),
                        variable: spec.variable.clone(),
                        name,
                    }
                } else {
                    PlanError::TokenVariableNotSet {
                        job: job.to_string(),
                        variable: spec.variable.clone(),
                        name,
                    }
                });
            } else {
                request = request.with_token(expand(raw, lookup));
            }
        }
        secrets.push(PlannedSecret {
            variable: spec.variable.clone(),
            provider: spec.provider.clone(),
            file: spec.file,
            request,
            unset_variables: unset.into_inner(),
        });
    }
    Ok(Plan {
        rules: RulesReport::default(),
        id_token_sources: Vec::new(),
        job: job.to_string(),
        secrets,
        token_problems,
    })
}

/// The keys of `providers`, sorted, for a message.
fn available_providers(providers: &[&'static ProviderRegistration]) -> String {
    let mut keys: Vec<&str> = providers
        .iter()
        .map(|registration| registration.key)
        .collect();
    keys.sort_unstable();
    if keys.is_empty() {
        "none".to_string()
    } else {
        keys.join(", ")
    }
}

/// Expands every string in a provider block; map keys stay as written.
pub fn expand_strings(
    value: &serde_json::Value,
    lookup: &impl Fn(&str) -> Option<String>,
) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) => serde_json::Value::String(expand(text, lookup)),
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| expand_strings(item, lookup))
                .collect(),
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(key, inner)| (key.clone(), expand_strings(inner, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The names a string refers to, by the same rules as expansion.
pub fn referenced_variables(text: &str) -> Vec<String> {
    let seen = RefCell::new(Vec::new());
    expand(text, |name| {
        let mut seen = seen.borrow_mut();
        if !seen.iter().any(|known: &String| known == name) {
            seen.push(name.to_string());
        }
        None
    });
    seen.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_both_forms() {
        assert_eq!(referenced_variables("$A-${B}$$C"), vec!["A", "B"]);
    }

    #[test]
    fn nested_strings_are_expanded_and_keys_are_not() {
        let vars = JobVariables::from_iter([("P", "prod")]);
        let lookup = |name: &str| vars.get(name).map(str::to_string);
        let block = serde_json::json!({"$P": {"path": "/$P/db", "n": 1}});
        let expanded = expand_strings(&block, &lookup);
        assert_eq!(
            expanded,
            serde_json::json!({"$P": {"path": "/prod/db", "n": 1}})
        );
    }
}
