//! Turning the resolved configuration into [`Job`]s: `default:` inheritance, `inherit:`,
//! `variables:` in both forms, `id_tokens:` and the raw `secrets:`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use super::budget::{ExpansionBudget, Size};
use super::scalar::{scalar_to_string, yaml_to_json};
use super::{Expansion, InheritGlobal, Job, JobKind, PipelineError, VariableDef};
use crate::rules::RulesConfig;

/// Top-level keys that are global keywords, not jobs.
pub const GLOBAL_KEYWORDS: [&str; 11] = [
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
];

/// Keys of the hash form of a variable.
const VARIABLE_KEYS: [&str; 4] = ["value", "description", "expand", "options"];

/// The global variables and every job of a resolved configuration.
pub(crate) struct Built {
    pub variables: IndexMap<String, VariableDef>,
    pub jobs: IndexMap<String, Job>,
    pub workflow_rules: Option<RulesConfig>,
}

/// Builds the global variables and every job of `config`, or only job `only_job`. `config` is
/// consumed entry by entry, so each job's configuration is freed once its [`Job`] is built.
pub(crate) fn build(
    file: &Path,
    origins: &HashMap<String, PathBuf>,
    config: Mapping,
    only_job: Option<&str>,
    budget: &ExpansionBudget,
) -> Result<Built, PipelineError> {
    let file_of = |key: &str| origins.get(key).cloned().unwrap_or_else(|| file.to_owned());
    let default = match config.get("default") {
        None | Some(Value::Null) => Mapping::new(),
        Some(Value::Mapping(default)) => default.clone(),
        Some(_) => {
            return Err(PipelineError::invalid(
                &file_of("default"),
                "`default:` must be a hash",
            ));
        }
    };
    for (key, why) in [
        (
            "secrets",
            "GitLab does not inherit `secrets:` from `default:`; put it in the job",
        ),
        (
            "variables",
            "GitLab has no `default: variables:`; use the top-level `variables:`",
        ),
    ] {
        if default.contains_key(key) {
            return Err(PipelineError::invalid(
                &file_of("default"),
                format!("`default:` cannot hold `{key}:`: {why}"),
            ));
        }
    }
    let variables = parse_variables(config.get("variables")).map_err(|message| {
        PipelineError::invalid(&file_of("variables"), format!("`variables:` {message}"))
    })?;
    let workflow_rules = match config.get("workflow") {
        None | Some(Value::Null) => None,
        Some(Value::Mapping(workflow)) => workflow
            .get("rules")
            .filter(|rules| !rules.is_null())
            .map(|rules| RulesConfig(rules.clone())),
        Some(_) => {
            return Err(PipelineError::invalid(
                &file_of("workflow"),
                "`workflow:` must be a hash (workflow config should be a hash)",
            ));
        }
    };
    let mut jobs = IndexMap::new();
    for (key, value) in config {
        let name = match key {
            Value::String(name) => name,
            other => scalar_to_string(&other)
                .ok_or_else(|| PipelineError::invalid(file, "a top-level key is not a string"))?,
        };
        if GLOBAL_KEYWORDS.contains(&name.as_str()) || only_job.is_some_and(|wanted| wanted != name)
        {
            continue;
        }
        let hidden = name.starts_with('.');
        let job_error = |message: String| PipelineError::Job {
            file: file_of(&name),
            job: name.clone(),
            message,
        };
        let mut value = value;
        let definition = match &mut value {
            Value::Mapping(definition) => definition,
            // Hidden keys may hold anything (often just an anchored value); they are not jobs.
            _ if hidden => continue,
            _ => {
                return Err(job_error(
                    "a job must be a hash (config should be a hash)".to_owned(),
                ));
            }
        };
        let job =
            build_job(&name, hidden, definition, &default, budget).map_err(
                |problem| match problem {
                    JobProblem::Invalid(message) => job_error(message),
                    JobProblem::TooLarge { keyword, limit } => PipelineError::ExpansionTooLarge {
                        file: file_of(&name),
                        key: Some(name.clone()),
                        expansion: Expansion::Default { keyword },
                        limit,
                    },
                },
            )?;
        jobs.insert(name, job);
    }
    Ok(Built {
        variables,
        jobs,
        workflow_rules,
    })
}

/// Why a job could not be built.
enum JobProblem {
    /// A keyword has a wrong shape (the message names it).
    Invalid(String),
    /// Inheriting `default:`'s `keyword` would go over the expansion budget.
    TooLarge {
        keyword: String,
        limit: super::ExpansionLimit,
    },
}

impl From<String> for JobProblem {
    fn from(message: String) -> Self {
        Self::Invalid(message)
    }
}

impl From<&str> for JobProblem {
    fn from(message: &str) -> Self {
        Self::Invalid(message.to_owned())
    }
}

/// `definition`'s `secrets:` and `script:` are moved into the job, so their keys map to null
/// afterwards.
fn build_job(
    name: &str,
    hidden: bool,
    definition: &mut Mapping,
    default: &Mapping,
    budget: &ExpansionBudget,
) -> Result<Job, JobProblem> {
    let (inherit_default, inherit_variables) = parse_inherit(definition.get("inherit"))?;
    let variables = parse_variables(definition.get("variables"))
        .map_err(|message| format!("`variables:` {message}"))?;
    // Hidden jobs are templates: `default:` applies to the jobs that use them, not to them.
    let id_tokens_value = match definition.get("id_tokens") {
        Some(value) => Some(value),
        None if !hidden && inherit_default.includes("id_tokens") => {
            let inherited = default.get("id_tokens");
            // Every job gets its own copy of the inherited names: a big `default:` over many
            // jobs is an amplification like any other.
            if let Some(Value::Mapping(tokens)) = inherited {
                budget
                    .take(Size::of_keys(tokens))
                    .map_err(|limit| JobProblem::TooLarge {
                        keyword: "id_tokens".to_owned(),
                        limit,
                    })?;
            }
            inherited
        }
        None => None,
    };
    let id_tokens = parse_id_tokens(id_tokens_value)?;
    let id_token_audiences = id_token_audiences(id_tokens_value);
    // Taken, not copied: the keys stay, for the job kind below.
    let secrets = definition
        .get_mut("secrets")
        .map(|value| yaml_to_json(std::mem::take(value)).map_err(|why| format!("`secrets:` {why}")))
        .transpose()?;
    let script = definition
        .get_mut("script")
        .map(|value| yaml_to_json(std::mem::take(value)).map_err(|why| format!("`script:` {why}")))
        .transpose()?;
    // Only for `CI_JOB_STAGE`: GitLab validates `stage:` itself.
    let stage = definition
        .get("stage")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // Evaluated later, against the job's variables; GitLab has no `default: rules:`.
    let rules = definition
        .get("rules")
        .filter(|rules| !rules.is_null())
        .map(|rules| RulesConfig(rules.clone()));
    let kind = if definition.contains_key("script") || definition.contains_key("run") {
        JobKind::Script
    } else if definition.contains_key("trigger") || definition.contains_key("needs") {
        JobKind::Trigger {
            unknown_keys: definition
                .keys()
                .filter_map(Value::as_str)
                .filter(|key| !BRIDGE_KEYS.contains(key))
                .map(str::to_owned)
                .collect(),
        }
    } else {
        JobKind::Unmatched
    };
    Ok(Job {
        name: name.to_owned(),
        hidden,
        variables,
        id_tokens,
        id_token_audiences,
        secrets,
        script,
        inherit_variables,
        stage,
        rules,
        kind,
    })
}

/// The keys GitLab's trigger job allows (`Entry::Bridge::ALLOWED_KEYS` and
/// `Processable::PROCESSABLE_ALLOWED_KEYS`).
const BRIDGE_KEYS: [&str; 15] = [
    "trigger",
    "parallel",
    "extends",
    "stage",
    "only",
    "except",
    "rules",
    "variables",
    "inherit",
    "allow_failure",
    "when",
    "needs",
    "resource_group",
    "environment",
    "interruptible",
];

/// `inherit: {default: bool | [keys], variables: bool | [names]}`.
fn parse_inherit(value: Option<&Value>) -> Result<(InheritGlobal, InheritGlobal), String> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return Ok((InheritGlobal::All, InheritGlobal::All));
    };
    let map = value.as_mapping().ok_or("`inherit:` must be a hash")?;
    let part = |key: &str| -> Result<InheritGlobal, String> {
        match map.get(key) {
            None | Some(Value::Null) | Some(Value::Bool(true)) => Ok(InheritGlobal::All),
            Some(Value::Bool(false)) => Ok(InheritGlobal::None),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(InheritGlobal::Only)
                .ok_or_else(|| format!("`inherit: {key}:` must be a boolean or a list of names")),
            Some(_) => Err(format!(
                "`inherit: {key}:` must be a boolean or a list of names"
            )),
        }
    };
    Ok((part("default")?, part("variables")?))
}

/// `variables:` at the global or job level: `NAME: value` or `NAME: {value:, description:,
/// expand:, options:}`.
pub(crate) fn parse_variables(
    value: Option<&Value>,
) -> Result<IndexMap<String, VariableDef>, String> {
    let mut variables = IndexMap::new();
    let map = match value {
        None | Some(Value::Null) => return Ok(variables),
        Some(Value::Mapping(map)) => map,
        Some(_) => return Err("must be a hash of variable names to values".to_owned()),
    };
    for (key, definition) in map {
        let name = scalar_to_string(key)
            .filter(|name| !name.is_empty())
            .ok_or("has a variable name that is not a string")?;
        let variable = match definition {
            Value::Mapping(fields) => {
                if let Some(unknown) = fields
                    .keys()
                    .find(|k| !k.as_str().is_some_and(|k| VARIABLE_KEYS.contains(&k)))
                {
                    return Err(format!(
                        "`{name}` has the unknown key `{}` (allowed: value, description, expand, options)",
                        scalar_to_string(unknown).unwrap_or_else(|| "?".to_owned())
                    ));
                }
                let value = match fields.get("value") {
                    None => String::new(),
                    Some(value) => scalar_to_string(value).ok_or_else(|| {
                        format!("`{name}`: `value:` must be a string or a number")
                    })?,
                };
                let expand = match fields.get("expand") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(expand)) => *expand,
                    Some(_) => return Err(format!("`{name}`: `expand:` must be true or false")),
                };
                VariableDef { value, expand }
            }
            scalar => VariableDef {
                value: scalar_to_string(scalar).ok_or_else(|| {
                    format!("`{name}` must be a string, a number or a hash with `value:`")
                })?,
                expand: true,
            },
        };
        variables.insert(name, variable);
    }
    Ok(variables)
}

/// Each ID token's `aud:` (a string or a list of strings), by name; a name
/// whose `aud:` is neither is left out (validation reports it).
fn id_token_audiences(value: Option<&Value>) -> IndexMap<String, Vec<String>> {
    let Some(Value::Mapping(map)) = value else {
        return IndexMap::new();
    };
    map.iter()
        .filter_map(|(name, token)| {
            let name = scalar_to_string(name)?;
            let audiences = match token.as_mapping()?.get("aud")? {
                Value::String(audience) => vec![audience.clone()],
                Value::Sequence(items) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()?,
                _ => return None,
            };
            Some((name, audiences))
        })
        .collect()
}

/// The names under `id_tokens:`, in file order.
fn parse_id_tokens(value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Mapping(map)) => map
            .keys()
            .map(|key| {
                scalar_to_string(key)
                    .ok_or_else(|| "`id_tokens:` has a name that is not a string".to_owned())
            })
            .collect(),
        Some(_) => Err("`id_tokens:` must be a hash of token names to `{aud: ...}`".to_owned()),
    }
}
