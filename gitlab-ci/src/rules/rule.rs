//! One `rules:` entry: GitLab's validation of it (`Entry::Rules::Rule`, its `changes:` and
//! `exists:` entries, `Entry::Include::Rules::Rule`) and its parsed form.

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use super::expression::Statement;
use super::{RulesError, RulesErrorKind, RulesKind};
use crate::pipeline::{VariableDef, scalar_to_string};

/// `MAX_PATHS` of `changes:` and `exists:`.
const MAX_PATHS: usize = 50;

/// A validated rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The clauses in file order; all must hold.
    pub clauses: Vec<Clause>,
    /// `when:` as written.
    pub when: Option<String>,
    /// `variables:` (job and workflow rules).
    pub variables: IndexMap<String, VariableDef>,
    /// A one-line summary of the clauses, e.g. `if: $CI_COMMIT_BRANCH == "main"`.
    pub summary: String,
}

/// A condition of a rule.
#[derive(Debug, Clone)]
pub(crate) enum Clause {
    If(Statement),
    Changes {
        paths: Vec<String>,
        compare_to: Option<String>,
    },
    Exists {
        paths: Vec<String>,
        /// `project:` (and `ref:`): another project's files, which cannot be read offline.
        project: Option<String>,
    },
}

/// Where errors of rule `index` are reported (`rules:rule`, `rules:rule:changes`...).
pub(crate) struct Location<'a> {
    pub root: &'a str,
    pub index: usize,
}

impl Location<'_> {
    fn rule(&self) -> String {
        if self.root.is_empty() {
            "rule".to_owned()
        } else {
            format!("{}:rule", self.root)
        }
    }

    fn error(&self, child: Option<&str>, message: impl Into<String>) -> RulesError {
        self.error_of(RulesErrorKind::InvalidConfig, child, message)
    }

    fn error_of(
        &self,
        kind: RulesErrorKind,
        child: Option<&str>,
        message: impl Into<String>,
    ) -> RulesError {
        let location = match child {
            Some(child) => format!("{}:{child}", self.rule()),
            None => self.rule(),
        };
        RulesError {
            kind,
            location,
            message: message.into(),
            index: Some(self.index),
        }
    }
}

fn key_name(key: &Value) -> String {
    scalar_to_string(key).unwrap_or_else(|| "?".to_owned())
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.chars().all(char::is_whitespace),
        Value::Mapping(map) => map.is_empty(),
        Value::Sequence(list) => list.is_empty(),
        _ => false,
    }
}

/// Parses and validates `value` as rule `index` of a `kind` rules list. The first error is
/// GitLab's first (the rule's own validations in their order, then `changes:`, `exists:`,
/// `variables:`).
pub(crate) fn parse(value: &Value, kind: RulesKind, at: &Location<'_>) -> Result<Rule, RulesError> {
    if is_blank(value) {
        return Err(at.error(None, "config can't be blank"));
    }
    let Value::Mapping(map) = value else {
        return Err(at.error(None, "config should be a hash"));
    };
    let allowed = kind.allowed_keys();
    let unknown: Vec<String> = map
        .keys()
        .filter(|key| !key.as_str().is_some_and(|key| allowed.contains(&key)))
        .map(key_name)
        .collect();
    if !unknown.is_empty() {
        return Err(at.error(
            None,
            format!("config contains unknown keys: {}", unknown.join(", ")),
        ));
    }
    let when = match map.get("when") {
        None | Some(Value::Null) => None,
        Some(value) => Some(scalar_to_string(value).unwrap_or_default()),
    };
    if kind == RulesKind::Job {
        let delayed = when.as_deref() == Some("delayed");
        if !delayed && map.contains_key("start_in") {
            return Err(at.error(None, "config contains disallowed keys: start_in"));
        }
        if delayed && map.get("start_in").is_none_or(is_blank) {
            return Err(at.error(None, "start in can't be blank"));
        }
    }
    let mut clauses = Vec::new();
    let mut summary = Vec::new();
    for (key, value) in map {
        match key.as_str() {
            Some("if") => {
                let statement = match value {
                    Value::Null => continue,
                    Value::String(text) => Statement::parse(text).map_err(|_| {
                        at.error_of(
                            RulesErrorKind::InvalidExpression,
                            None,
                            "if invalid expression syntax",
                        )
                    })?,
                    _ => {
                        return Err(at.error_of(
                            RulesErrorKind::InvalidExpression,
                            None,
                            "if invalid expression syntax",
                        ));
                    }
                };
                summary.push(format!("if: {}", value.as_str().unwrap_or_default()));
                clauses.push(Clause::If(statement));
            }
            Some("changes") => {
                if let Some(clause) = parse_changes(value, at)? {
                    if let Clause::Changes { paths, .. } = &clause {
                        summary.push(format!("changes: [{}]", paths.join(", ")));
                    }
                    clauses.push(clause);
                }
            }
            // `exists: null` is no clause (the entry's value is compacted away).
            Some("exists") if value.is_null() => {}
            Some("exists") => {
                let clause = parse_exists(value, kind, at)?;
                if let Clause::Exists { paths, .. } = &clause {
                    summary.push(format!("exists: [{}]", paths.join(", ")));
                }
                clauses.push(clause);
            }
            _ => {}
        }
    }
    for boolean in ["allow_failure", "interruptible"] {
        if map
            .get(boolean)
            .is_some_and(|value| !matches!(value, Value::Null | Value::Bool(_)))
        {
            return Err(at.error(
                None,
                format!("{} should be a boolean value", boolean.replace('_', " ")),
            ));
        }
    }
    if let Some(when) = &when
        && !kind.allowed_when().contains(&when.as_str())
    {
        return Err(at.error(None, format!("when unknown value: {when}")));
    }
    let variables = match map.get("variables") {
        Some(value) if kind == RulesKind::Include || value.is_null() => IndexMap::new(),
        Some(Value::Mapping(_)) => crate::pipeline::parse_variables(map.get("variables"))
            .map_err(|why| at.error(Some("variables"), format!("config {why}")))?,
        Some(_) => {
            return Err(at.error(
                Some("variables"),
                "config should be a hash of key value pairs",
            ));
        }
        None => IndexMap::new(),
    };
    if let Some(when) = &when {
        summary.push(format!("when: {when}"));
    }
    Ok(Rule {
        clauses,
        when,
        variables,
        summary: if summary.is_empty() {
            "(no condition)".to_owned()
        } else {
            summary.join(", ")
        },
    })
}

/// An array of strings, or why not.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Sequence(list) => list
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

fn unknown_keys(map: &Mapping, allowed: &[&str]) -> Vec<String> {
    map.keys()
        .filter(|key| !key.as_str().is_some_and(|key| allowed.contains(&key)))
        .map(key_name)
        .collect()
}

/// `Entry::Rules::Rule::Changes`: an array of paths, or `{paths:, compare_to:}`.
fn parse_changes(value: &Value, at: &Location<'_>) -> Result<Option<Clause>, RulesError> {
    let child = Some("changes");
    match value {
        Value::Null => Ok(None),
        Value::Sequence(_) => {
            let paths = strings(value)
                .ok_or_else(|| at.error(child, "config should be an array of strings"))?;
            if paths.len() > MAX_PATHS {
                return Err(at.error(
                    child,
                    format!("config has too many entries (maximum {MAX_PATHS})"),
                ));
            }
            Ok(Some(Clause::Changes {
                paths,
                compare_to: None,
            }))
        }
        Value::Mapping(map) => {
            let unknown = unknown_keys(map, &["paths", "compare_to"]);
            if !unknown.is_empty() {
                return Err(at.error(
                    child,
                    format!("config contains unknown keys: {}", unknown.join(", ")),
                ));
            }
            let Some(paths) = map.get("paths") else {
                return Err(at.error(child, "config missing required keys: paths"));
            };
            let paths = strings(paths)
                .ok_or_else(|| at.error(child, "paths should be an array of strings"))?;
            if paths.len() > MAX_PATHS {
                return Err(at.error(
                    child,
                    format!("paths has too many entries (maximum {MAX_PATHS})"),
                ));
            }
            let compare_to = match map.get("compare_to") {
                None | Some(Value::Null) => None,
                Some(Value::String(reference)) => Some(reference.clone()),
                Some(_) => return Err(at.error(child, "compare to should be a string")),
            };
            Ok(Some(Clause::Changes { paths, compare_to }))
        }
        _ => Err(at.error(child, "should be an array or a hash")),
    }
}

/// `Entry::Rules::Rule::Exists`: a path, an array of paths, or `{paths:, project:, ref:}`.
fn parse_exists(value: &Value, kind: RulesKind, at: &Location<'_>) -> Result<Clause, RulesError> {
    let child = Some("exists");
    match value {
        Value::Null => Ok(Clause::Exists {
            paths: Vec::new(),
            project: None,
        }),
        Value::String(path) => Ok(Clause::Exists {
            paths: if path.is_empty() {
                Vec::new()
            } else {
                vec![path.clone()]
            },
            project: None,
        }),
        Value::Sequence(_) => {
            let paths = strings(value)
                .ok_or_else(|| at.error(child, "config should be an array of strings"))?;
            // Include rules are exempt from the limit (`disable_simple_exists_paths_limit`).
            if paths.len() > MAX_PATHS && kind != RulesKind::Include {
                return Err(at.error(
                    child,
                    format!("config has too many entries (maximum {MAX_PATHS})"),
                ));
            }
            Ok(Clause::Exists {
                paths,
                project: None,
            })
        }
        // `{}` is blank: GitLab reads it as the simple form, with no paths.
        Value::Mapping(map) if map.is_empty() => Ok(Clause::Exists {
            paths: Vec::new(),
            project: None,
        }),
        Value::Mapping(map) => {
            let unknown = unknown_keys(map, &["paths", "project", "ref"]);
            if !unknown.is_empty() {
                return Err(at.error(
                    child,
                    format!("config contains unknown keys: {}", unknown.join(", ")),
                ));
            }
            if !map.contains_key("paths") {
                return Err(at.error(child, "config missing required keys: paths"));
            }
            if map.contains_key("ref") && !map.contains_key("project") {
                return Err(at.error(child, "config missing required keys: project"));
            }
            let paths = match map.get("paths") {
                None | Some(Value::Null) => Vec::new(),
                Some(paths) => strings(paths)
                    .ok_or_else(|| at.error(child, "paths should be an array of strings"))?,
            };
            if paths.len() > MAX_PATHS {
                return Err(at.error(
                    child,
                    format!("paths has too many entries (maximum {MAX_PATHS})"),
                ));
            }
            for key in ["project", "ref"] {
                if map
                    .get(key)
                    .is_some_and(|value| !matches!(value, Value::Null | Value::String(_)))
                {
                    return Err(at.error(child, format!("{key} should be a string")));
                }
            }
            let project = map
                .get("project")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(Clause::Exists { paths, project })
        }
        _ => Err(at.error(child, "should be a string, an array of strings, or a hash")),
    }
}
