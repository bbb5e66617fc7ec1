//! `!reference [key, subkey, ...]` tags (GitLab's `Config::Yaml::Tags::Resolver`), resolved after
//! `extends:` against the whole merged configuration. A referenced value may hold references of
//! its own, nested at most [`MAX_REFERENCE_DEPTH`] levels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::budget::{ExpansionBudget, Size};
use super::source::REFERENCE_TAG;
use super::{Expansion, PipelineError};

/// GitLab's documented limit of nested `!reference` tags.
pub const MAX_REFERENCE_DEPTH: usize = 10;

/// Replaces every `!reference` in the top-level entries `keys` of `config` with the value it
/// points to.
///
/// With `tolerate_missing` (some includes were skipped, so a target may live
/// in one of them), an entry with a reference that cannot be found is
/// returned with the reference, instead of failing the load.
pub(crate) fn resolve_references(
    file: &Path,
    origins: &HashMap<String, PathBuf>,
    config: &mut Mapping,
    keys: &[String],
    budget: &ExpansionBudget,
    tolerate_missing: bool,
) -> Result<Vec<(String, String)>, PipelineError> {
    let mut unresolved = Vec::new();
    let file_of = |key: &str| origins.get(key).cloned().unwrap_or_else(|| file.to_owned());
    // References read the configuration as it was after `extends:`, not as being rewritten. Only
    // the entries that get rewritten need their earlier state kept; most pipelines have none.
    let mut before = Mapping::new();
    for key in keys {
        if let Some(value) = config
            .get(key.as_str())
            .filter(|value| contains_reference(value))
        {
            budget
                .take(Size::of(value))
                .map_err(|limit| PipelineError::ExpansionTooLarge {
                    file: file_of(key),
                    key: Some(key.clone()),
                    expansion: Expansion::ReferenceSnapshot,
                    limit,
                })?;
            before.insert(Value::String(key.clone()), value.clone());
        }
    }
    let rewritten: Vec<String> = before
        .keys()
        .filter_map(|key| key.as_str().map(str::to_owned))
        .collect();
    for key in rewritten {
        let Some(slot) = config.get_mut(key.as_str()) else {
            continue;
        };
        // Taken out so the rest of `config` can be read while it is rewritten; `before` holds
        // its earlier state for the references that read it.
        let mut value = std::mem::take(slot);
        let resolver = Resolver {
            before: &before,
            config: &*config,
            budget,
        };
        let resolved = resolver.replace_in(&mut value, &mut Vec::new());
        if let Some(slot) = config.get_mut(key.as_str()) {
            *slot = value;
        }
        let problem = match resolved {
            Ok(()) => continue,
            Err(Problem::NotFound(shown)) if tolerate_missing => {
                unresolved.push((key, format!("`!reference {shown}`")));
                continue;
            }
            Err(problem) => problem,
        };
        return Err(match problem {
            Problem::NotFound(shown) => PipelineError::Reference {
                file: file_of(&key),
                key: key.clone(),
                message: format!("!reference {shown} could not be found"),
            },
            Problem::Invalid(message) => PipelineError::Reference {
                file: file_of(&key),
                key: key.clone(),
                message,
            },
            Problem::TooLarge { path, limit } => PipelineError::ExpansionTooLarge {
                file: file_of(&key),
                key: Some(key.clone()),
                expansion: Expansion::Reference { path },
                limit,
            },
        });
    }
    Ok(unresolved)
}

/// Why a reference could not be replaced.
enum Problem {
    /// GitLab's message.
    Invalid(String),
    /// Nothing at the reference's path (shown as GitLab prints it).
    NotFound(String),
    /// The copy would go over the expansion budget.
    TooLarge {
        path: String,
        limit: super::ExpansionLimit,
    },
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Self::Invalid(message)
    }
}

/// Whether `value` holds a `!reference` tag anywhere.
fn contains_reference(value: &Value) -> bool {
    match value {
        Value::Tagged(tagged) => tagged.tag == REFERENCE_TAG || contains_reference(&tagged.value),
        Value::Sequence(items) => items.iter().any(contains_reference),
        Value::Mapping(map) => map.values().any(contains_reference),
        _ => false,
    }
}

struct Resolver<'a> {
    /// The entries being rewritten, as they were after `extends:`.
    before: &'a Mapping,
    /// The other entries, which are not rewritten.
    config: &'a Mapping,
    budget: &'a ExpansionBudget,
}

impl Resolver<'_> {
    /// Replaces the references inside `value`; `stack` holds the references being resolved.
    fn replace_in(&self, value: &mut Value, stack: &mut Vec<Vec<String>>) -> Result<(), Problem> {
        match value {
            Value::Tagged(tagged) if tagged.tag == REFERENCE_TAG => {
                let path = reference_path(&tagged.value).map_err(Problem::Invalid)?;
                *value = self.resolve(path, stack)?;
            }
            // The loader refuses every other tag; a stray one is kept as data.
            Value::Tagged(tagged) => self.replace_in(&mut tagged.value, stack)?,
            Value::Sequence(items) => {
                for item in items {
                    self.replace_in(item, stack)?;
                }
            }
            Value::Mapping(map) => {
                for (_, item) in map.iter_mut() {
                    self.replace_in(item, stack)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn resolve(&self, path: Vec<String>, stack: &mut Vec<Vec<String>>) -> Result<Value, Problem> {
        let shown = show(&path);
        if stack.contains(&path) {
            return Err(format!("!reference {shown} is part of a circular chain").into());
        }
        if stack.len() >= MAX_REFERENCE_DEPTH {
            return Err(format!(
                "!reference {shown} is nested more than {MAX_REFERENCE_DEPTH} levels deep"
            )
            .into());
        }
        let Some(found) = self.lookup(&path) else {
            return Err(Problem::NotFound(shown));
        };
        self.budget
            .take(Size::of(found))
            .map_err(|limit| Problem::TooLarge { path: shown, limit })?;
        let mut target = found.clone();
        stack.push(path);
        let resolved = self.replace_in(&mut target, stack);
        stack.pop();
        resolved.map(|()| target)
    }

    fn lookup(&self, path: &[String]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut current = match self.before.get(first.as_str()) {
            Some(earlier) => earlier,
            None => self.config.get(first.as_str())?,
        };
        for key in rest {
            current = current.as_mapping()?.get(key.as_str())?;
        }
        Some(current)
    }
}

/// The keys of a `!reference [a, b]` tag.
fn reference_path(value: &Value) -> Result<Vec<String>, String> {
    let invalid = || {
        "!reference must be a non-empty list of keys, e.g. `!reference [.setup, script]`".to_owned()
    };
    let items = value
        .as_sequence()
        .filter(|items| !items.is_empty())
        .ok_or_else(invalid)?;
    items
        .iter()
        .map(|item| match item {
            Value::String(key) => Ok(key.clone()),
            _ => Err(invalid()),
        })
        .collect()
}

/// `["a", "b"]`, as GitLab prints a reference in its messages.
fn show(path: &[String]) -> String {
    let quoted: Vec<String> = path.iter().map(|key| format!("{key:?}")).collect();
    format!("[{}]", quoted.join(", "))
}
