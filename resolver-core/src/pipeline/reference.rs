//! `!reference [key, subkey, ...]` tags (GitLab's `Config::Yaml::Tags::Resolver`), resolved after
//! `extends:` against the whole merged configuration. A referenced value may hold references of
//! its own, nested at most [`MAX_REFERENCE_DEPTH`] levels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::PipelineError;
use super::merge::node_count;
use super::source::{NodeBudget, REFERENCE_TAG};

/// GitLab's documented limit of nested `!reference` tags.
pub const MAX_REFERENCE_DEPTH: usize = 10;

/// Replaces every `!reference` in `config` with the value it points to.
pub(crate) fn resolve_references(
    file: &Path,
    origins: &HashMap<String, PathBuf>,
    config: &mut Mapping,
    budget: &NodeBudget,
) -> Result<(), PipelineError> {
    // Most pipelines have no `!reference`: skip the snapshot copy, the
    // largest allocation of loading a big pipeline.
    if !config.values().any(contains_reference) {
        return Ok(());
    }
    // References read the configuration as it was after `extends:`, not as being rewritten.
    let snapshot = config.clone();
    for (key, value) in config.iter_mut() {
        let key = key.as_str().unwrap_or_default();
        let resolver = Resolver {
            snapshot: &snapshot,
            budget,
        };
        resolver
            .replace_in(value, &mut Vec::new())
            .map_err(|message| PipelineError::Reference {
                file: origins.get(key).cloned().unwrap_or_else(|| file.to_owned()),
                key: key.to_owned(),
                message,
            })?;
    }
    Ok(())
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
    snapshot: &'a Mapping,
    budget: &'a NodeBudget,
}

impl Resolver<'_> {
    /// Replaces the references inside `value`; `stack` holds the references being resolved.
    fn replace_in(&self, value: &mut Value, stack: &mut Vec<Vec<String>>) -> Result<(), String> {
        match value {
            Value::Tagged(tagged) if tagged.tag == REFERENCE_TAG => {
                let path = reference_path(&tagged.value)?;
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

    fn resolve(&self, path: Vec<String>, stack: &mut Vec<Vec<String>>) -> Result<Value, String> {
        let shown = show(&path);
        if stack.contains(&path) {
            return Err(format!("!reference {shown} is part of a circular chain"));
        }
        if stack.len() >= MAX_REFERENCE_DEPTH {
            return Err(format!(
                "!reference {shown} is nested more than {MAX_REFERENCE_DEPTH} levels deep"
            ));
        }
        let mut target = self
            .lookup(&path)
            .ok_or_else(|| format!("!reference {shown} could not be found"))?
            .clone();
        if !self.budget.take(node_count(&target)) {
            return Err(format!(
                "!reference {shown} expands the pipeline beyond the YAML node limit"
            ));
        }
        stack.push(path);
        let resolved = self.replace_in(&mut target, stack);
        stack.pop();
        resolved.map(|()| target)
    }

    fn lookup(&self, path: &[String]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut current = self.snapshot.get(first.as_str())?;
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
