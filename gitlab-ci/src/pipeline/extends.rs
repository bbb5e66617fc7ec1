//! `extends:` (GitLab's `Config::Extendable`): every top-level hash with `extends:` becomes the
//! deep merge of its parents, in order (later wins), with its own keys on top. Parents are
//! resolved first, over at most [`MAX_EXTENDS_DEPTH`] levels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::budget::{ExpansionBudget, Size};
use super::merge::deep_merge;
use super::suggest::closest;
use super::{Expansion, PipelineError};

/// GitLab's `Extendable::Entry::MAX_NESTING_LEVELS`: at most 10 ancestors above a job, so a
/// chain holds at most 11 jobs.
pub const MAX_EXTENDS_DEPTH: usize = 10;

/// Resolves `extends:` in the top-level entries `names` of `config` (and in their parents).
///
/// With `tolerate_missing` (some includes were skipped, so a parent may live
/// in one of them), an entry whose chain names a parent that no loaded file
/// defines is left as it is and returned with what it needs, instead of
/// failing the load.
pub(crate) fn resolve_extends(
    file: &Path,
    origins: &HashMap<String, PathBuf>,
    config: &mut Mapping,
    names: &[String],
    budget: &ExpansionBudget,
    tolerate_missing: bool,
) -> Result<Vec<(String, String)>, PipelineError> {
    let mut resolver = Resolver {
        file,
        origins,
        budget,
        lineage: HashMap::new(),
    };
    let mut unresolved = Vec::new();
    for name in names {
        match resolver.resolve(config, name, &mut Vec::new()) {
            Ok(()) => {}
            Err(PipelineError::ExtendsUnknown { parent, .. }) if tolerate_missing => {
                unresolved.push((name.clone(), format!("`extends: {parent}`")));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(unresolved)
}

struct Resolver<'a> {
    file: &'a Path,
    origins: &'a HashMap<String, PathBuf>,
    budget: &'a ExpansionBudget,
    /// Resolved entries, each with its longest chain of ancestors (parent first).
    lineage: HashMap<String, Vec<String>>,
}

impl Resolver<'_> {
    fn resolve(
        &mut self,
        config: &mut Mapping,
        name: &str,
        chain: &mut Vec<String>,
    ) -> Result<(), PipelineError> {
        if self.lineage.contains_key(name) {
            return Ok(());
        }
        let parents = match config.get(name) {
            Some(Value::Mapping(job)) => match job.get("extends") {
                Some(value) => self.parent_names(name, value)?,
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        if parents.is_empty() {
            self.lineage.insert(name.to_owned(), Vec::new());
            return Ok(());
        }
        chain.push(name.to_owned());
        let mut merged = Mapping::new();
        let mut longest: Vec<String> = Vec::new();
        for parent in &parents {
            if chain.contains(parent) {
                let mut cycle = chain.clone();
                cycle.push(parent.clone());
                return Err(PipelineError::ExtendsLoop {
                    file: self.file_of(&cycle[0]),
                    chain: cycle,
                });
            }
            if !config.contains_key(parent.as_str()) {
                let candidates = config.keys().filter_map(Value::as_str);
                return Err(PipelineError::ExtendsUnknown {
                    file: self.file_of(name),
                    job: name.to_owned(),
                    parent: parent.clone(),
                    suggestion: closest(parent, candidates),
                });
            }
            self.resolve(config, parent, chain)?;
            let mut ancestors = vec![parent.clone()];
            ancestors.extend(
                self.lineage
                    .get(parent.as_str())
                    .cloned()
                    .unwrap_or_default(),
            );
            if ancestors.len() > MAX_EXTENDS_DEPTH {
                let mut too_deep = vec![name.to_owned()];
                too_deep.extend(ancestors);
                return Err(PipelineError::ExtendsTooDeep {
                    file: self.file_of(name),
                    chain: too_deep,
                    limit: MAX_EXTENDS_DEPTH,
                });
            }
            if ancestors.len() > longest.len() {
                longest = ancestors;
            }
            let Some(Value::Mapping(base)) = config.get(parent.as_str()) else {
                return Err(self.invalid(
                    name,
                    format!("invalid base hash in `extends`: `{parent}` is not a hash"),
                ));
            };
            // Every copy counts against the node budget: wide `extends` fan-out of a big
            // template must not exhaust memory.
            self.budget.take(Size::of_mapping(base)).map_err(|limit| {
                PipelineError::ExpansionTooLarge {
                    file: self.file_of(name),
                    key: Some(name.to_owned()),
                    expansion: Expansion::Extends {
                        parent: parent.clone(),
                    },
                    limit,
                }
            })?;
            if merged.is_empty() {
                merged = base.clone();
            } else {
                deep_merge(&mut merged, base.clone());
            }
        }
        chain.pop();
        // The job's own hash is replaced by the merge below, so it is moved, not copied;
        // re-inserting under the same key keeps the job's position.
        if let Some(Value::Mapping(own)) = config.get_mut(name) {
            deep_merge(&mut merged, std::mem::take(own));
        }
        config.insert(Value::String(name.to_owned()), Value::Mapping(merged));
        self.lineage.insert(name.to_owned(), longest);
        Ok(())
    }

    fn parent_names(&self, job: &str, value: &Value) -> Result<Vec<String>, PipelineError> {
        let invalid = || self.invalid(job, "`extends` must be a string or a list of strings");
        match value {
            Value::String(parent) => Ok(vec![parent.clone()]),
            Value::Sequence(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or_else(invalid))
                .collect(),
            _ => Err(invalid()),
        }
    }

    fn file_of(&self, job: &str) -> PathBuf {
        self.origins
            .get(job)
            .cloned()
            .unwrap_or_else(|| self.file.to_owned())
    }

    fn invalid(&self, job: &str, message: impl Into<String>) -> PipelineError {
        PipelineError::ExtendsInvalid {
            file: self.file_of(job),
            job: job.to_owned(),
            message: message.into(),
        }
    }
}
