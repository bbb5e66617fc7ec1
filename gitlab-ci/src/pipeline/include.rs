//! `include:` of local files, merged as GitLab does: the included files in order, then the
//! including file on top (it wins).
//!
//! Local paths may hold GitLab's wildcards (`ci/*.yml`, `ci/**.yml`). Local paths are relative to the project root (the repository's top level; see
//! [`super::project_dir_of`]), with or without a leading `/`, also in nested includes. Other include kinds need GitLab (or the
//! network) and are refused by name. GitLab allows the same file to be included several times;
//! a file that includes itself (a loop) is an error that names the chain, where GitLab would
//! only stop at its include limit.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::PipelineError;
use super::budget::ExpansionBudget;
use super::error::UnsupportedInclude;
use super::inputs::InterpolationContext;
use super::merge::deep_merge;
use super::source::read_yaml;
use crate::rails_expand;
use indexmap::IndexMap;

/// GitLab's default `ci_max_includes`: included files per pipeline, nested ones included. It
/// also bounds the nesting depth.
pub const MAX_INCLUDES: usize = 150;

/// Include kinds GitLab knows besides `local`, in the order they are reported.
const OTHER_KINDS: [&str; 5] = ["remote", "template", "project", "component", "artifact"];

/// The merged configuration of a file and everything it includes.
#[derive(Debug)]
pub(crate) struct Merged {
    /// The top-level hash, `include:` removed.
    pub config: Mapping,
    /// For each top-level key, the last file that defined it (the one that won).
    pub origins: HashMap<String, PathBuf>,
}

/// Loads `root_file` (given `root_inputs` for its `spec:` header) and its
/// local includes, found under `project_dir`.
pub(crate) fn load_merged(
    root_file: &Path,
    project_dir: &Path,
    variables: &IndexMap<String, String>,
    root_inputs: Option<&Mapping>,
    budget: &ExpansionBudget,
) -> Result<Merged, PipelineError> {
    let canonical_root = project_dir
        .canonicalize()
        .map_err(|source| PipelineError::Io {
            path: project_dir.to_owned(),
            source,
        })?;
    let canonical_file = root_file
        .canonicalize()
        .map_err(|source| PipelineError::Io {
            path: root_file.to_owned(),
            source,
        })?;
    let mut includer = Includer {
        project_dir,
        variables,
        canonical_root,
        budget,
        count: 0,
    };
    let mut stack = vec![(root_file.to_owned(), canonical_file)];
    includer.process(&mut stack, root_inputs)
}

struct Includer<'a> {
    project_dir: &'a Path,
    variables: &'a IndexMap<String, String>,
    canonical_root: PathBuf,
    budget: &'a ExpansionBudget,
    count: usize,
}

impl Includer<'_> {
    /// Loads the file on top of `stack` (display path, canonical path),
    /// given `inputs` for its `spec:` header, and its includes.
    fn process(
        &mut self,
        stack: &mut Vec<(PathBuf, PathBuf)>,
        inputs: Option<&Mapping>,
    ) -> Result<Merged, PipelineError> {
        let Some((path, _)) = stack.last().cloned() else {
            return Ok(Merged {
                config: Mapping::new(),
                origins: HashMap::new(),
            });
        };
        // `expand_vars` in `$[[ ]]` blocks reads the same CI/CD variables as include paths.
        let context = InterpolationContext::new(self.variables);
        let Value::Mapping(mut own) = read_yaml(&path, self.budget, true, inputs, &context)? else {
            return Err(PipelineError::invalid(
                &path,
                "the top level must be a hash of jobs and global keywords",
            ));
        };
        let mut merged = Merged {
            config: Mapping::new(),
            origins: HashMap::new(),
        };
        let entries = match own.shift_remove("include") {
            Some(value) => parse_entries(value)
                .map_err(|problem| problem.into_error(&path, chain_of(stack)))?,
            None => Vec::new(),
        };
        let include_error = |message, stack: &[(PathBuf, PathBuf)]| PipelineError::Include {
            file: path.clone(),
            message,
            chain: chain_of(stack),
        };
        let mut locals = Vec::with_capacity(entries.len());
        for LocalEntry {
            path: entry,
            inputs,
        } in entries
        {
            // GitLab expands include paths with the CI/CD variables first.
            let entry = if entry.contains(['$', '%']) {
                rails_expand::expand(&entry, |name| self.variables.get(name).cloned())
            } else {
                entry
            };
            if entry.contains('*') {
                let including = stack.last().map(|(_, canonical)| canonical.as_path());
                let found = self
                    .expand_wildcard(&entry, including)
                    .map_err(|message| include_error(message, stack))?;
                locals.extend(found.into_iter().map(|path| (path, inputs.clone())));
            } else {
                locals.push((entry, inputs));
            }
        }
        for (entry, entry_inputs) in locals {
            let (display, canonical) = self
                .resolve_local(&entry)
                .map_err(|message| include_error(message, stack))?;
            if let Some(start) = stack.iter().position(|(_, seen)| *seen == canonical) {
                let mut looped: Vec<PathBuf> = stack[start..]
                    .iter()
                    .map(|(display, _)| display.clone())
                    .collect();
                looped.push(display);
                return Err(PipelineError::IncludeLoop { chain: looped });
            }
            self.count += 1;
            if self.count > MAX_INCLUDES {
                return Err(PipelineError::TooManyIncludes {
                    file: path.clone(),
                    limit: MAX_INCLUDES,
                });
            }
            stack.push((display, canonical));
            let included = self.process(stack, entry_inputs.as_ref());
            stack.pop();
            let included = included?;
            deep_merge(&mut merged.config, included.config);
            merged.origins.extend(included.origins);
        }
        for key in own.keys() {
            if let Some(name) = key.as_str() {
                merged.origins.insert(name.to_owned(), path.clone());
            }
        }
        deep_merge(&mut merged.config, own);
        Ok(merged)
    }

    /// The files a wildcard `local:` include names, as GitLab expands it: the
    /// leading `/` dropped, `**` for any characters, `*` for any but `/`, the
    /// rest literal, matched against the path of every file of the project
    /// (`.git` aside), in the order git lists them (sorted). The including
    /// file itself is left out. No match includes nothing, as in GitLab.
    fn expand_wildcard(&self, raw: &str, including: Option<&Path>) -> Result<Vec<String>, String> {
        let pattern = wildcard_regex(raw.trim().trim_start_matches('/'))
            .map_err(|err| format!("include `{raw}`: {err}"))?;
        let mut found = Vec::new();
        let walk = walkdir::WalkDir::new(&self.canonical_root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|entry| entry.file_name() != ".git");
        for entry in walk {
            let entry = entry.map_err(|err| format!("include `{raw}`: {err}"))?;
            if !entry.file_type().is_file() || Some(entry.path()) == including {
                continue;
            }
            // A name that is not UTF-8 cannot match a pattern written in YAML.
            let relative = entry
                .path()
                .strip_prefix(&self.canonical_root)
                .ok()
                .and_then(Path::to_str);
            if let Some(relative) = relative
                && pattern.is_match(relative)
            {
                found.push(relative.to_owned());
            }
        }
        found.sort_unstable();
        Ok(found)
    }

    /// The display and canonical path of a `local:` include, checked to stay in the project.
    fn resolve_local(&self, raw: &str) -> Result<(PathBuf, PathBuf), String> {
        let relative = raw.trim().trim_start_matches('/');
        if !(relative.ends_with(".yml") || relative.ends_with(".yaml")) {
            // GitLab's message.
            return Err(format!(
                "Included file `{raw}` does not have YAML extension!"
            ));
        }
        let mut normalized = PathBuf::new();
        for component in Path::new(relative).components() {
            match component {
                Component::Normal(part) => normalized.push(part),
                Component::CurDir => {}
                Component::ParentDir if normalized.pop() => {}
                _ => {
                    return Err(format!(
                        "include `{raw}` points outside the project directory"
                    ));
                }
            }
        }
        let display = self.project_dir.join(&normalized);
        let canonical = self
            .canonical_root
            .join(&normalized)
            .canonicalize()
            // GitLab's message.
            .map_err(|_| format!("Local file `{raw}` does not exist!"))?;
        if !canonical.starts_with(&self.canonical_root) {
            return Err(format!(
                "include `{raw}` points outside the project directory"
            ));
        }
        if !canonical.is_file() {
            return Err(format!("Local file `{raw}` does not exist!"));
        }
        Ok((display, canonical))
    }
}

/// GitLab's wildcard path as a regular expression: `**` any characters, `*`
/// any but `/`, everything else literal, the whole path.
fn wildcard_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let mut expression = String::from("^");
    let mut rest = pattern;
    while let Some(character) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("**") {
            expression.push_str(".*");
            rest = after;
        } else if let Some(after) = rest.strip_prefix('*') {
            expression.push_str("[^/]*");
            rest = after;
        } else {
            expression.push_str(&regex::escape(character.encode_utf8(&mut [0; 4])));
            rest = &rest[character.len_utf8()..];
        }
    }
    expression.push('$');
    regex::Regex::new(&expression)
}

/// Why an `include:` value cannot be used.
enum IncludeProblem {
    Unsupported(Vec<UnsupportedInclude>),
    Invalid(String),
}

impl IncludeProblem {
    fn into_error(self, file: &Path, chain: Vec<PathBuf>) -> PipelineError {
        match self {
            Self::Unsupported(entries) => PipelineError::IncludeNotSupported {
                file: file.to_owned(),
                entries,
                chain,
            },
            Self::Invalid(message) => PipelineError::Include {
                file: file.to_owned(),
                message,
                chain,
            },
        }
    }
}

/// One `local:` include: its path as written and its `inputs:`.
struct LocalEntry {
    path: String,
    inputs: Option<Mapping>,
}

/// The local paths of an `include:` value: a string, a hash, or a list of them.
/// The local paths of an `include:` value. Every entry of a kind that needs
/// GitLab is reported at once, each named, so one run lists them all.
fn parse_entries(value: Value) -> Result<Vec<LocalEntry>, IncludeProblem> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Sequence(items) => items,
        entry => vec![entry],
    };
    let mut paths = Vec::with_capacity(items.len());
    let mut unsupported = Vec::new();
    for item in items {
        if let Value::Sequence(_) = item {
            return Err(IncludeProblem::Invalid(
                "`include:` list entries must be strings or hashes, not lists".to_owned(),
            ));
        }
        match parse_entry(item) {
            Ok(path) => paths.push(path),
            Err(IncludeProblem::Unsupported(mut entries)) => unsupported.append(&mut entries),
            Err(invalid) => return Err(invalid),
        }
    }
    if unsupported.is_empty() {
        Ok(paths)
    } else {
        Err(IncludeProblem::Unsupported(unsupported))
    }
}

fn parse_entry(entry: Value) -> Result<LocalEntry, IncludeProblem> {
    match entry {
        Value::String(location) => {
            if location.starts_with("http://") || location.starts_with("https://") {
                Err(IncludeProblem::Unsupported(vec![UnsupportedInclude {
                    kind: "remote".to_owned(),
                    entry: location,
                }]))
            } else {
                Ok(LocalEntry {
                    path: location,
                    inputs: None,
                })
            }
        }
        Value::Mapping(map) => {
            if let Some(local) = map.get("local") {
                if map.contains_key("rules") {
                    return Err(IncludeProblem::Invalid(
                        "`include: {local: ..., rules: ...}` is not supported (it needs GitLab to evaluate)"
                            .to_owned(),
                    ));
                }
                // The entry's `inputs:`, applied to the included file's `spec:` header.
                let inputs = match map.get("inputs") {
                    None | Some(Value::Null) => None,
                    Some(Value::Mapping(inputs)) => Some(inputs.clone()),
                    // GitLab's `Interpolator` message for inputs that are not a hash.
                    Some(_) => {
                        return Err(IncludeProblem::Invalid(
                            "Given inputs must be a hash".to_owned(),
                        ));
                    }
                };
                return match local {
                    Value::String(path) => Ok(LocalEntry {
                        path: path.clone(),
                        inputs,
                    }),
                    _ => Err(IncludeProblem::Invalid(
                        "`include: local:` must be a string".to_owned(),
                    )),
                };
            }
            if let Some(kind) = OTHER_KINDS.into_iter().find(|kind| map.contains_key(*kind)) {
                let entry = match map.get(kind) {
                    Some(Value::String(location)) => location.clone(),
                    _ => String::new(),
                };
                return Err(IncludeProblem::Unsupported(vec![UnsupportedInclude {
                    kind: kind.to_owned(),
                    entry,
                }]));
            }
            let keys: Vec<String> = map.keys().map(describe_key).collect();
            Err(IncludeProblem::Invalid(format!(
                "`include:` entry has no known type (local, remote, template, project, component, artifact); keys: {}",
                keys.join(", ")
            )))
        }
        _ => Err(IncludeProblem::Invalid(
            "`include:` must be a path, a hash such as `{local: path.yml}`, or a list of them"
                .to_owned(),
        )),
    }
}

fn describe_key(key: &Value) -> String {
    key.as_str()
        .map_or_else(|| format!("{key:?}"), str::to_owned)
}

/// The display paths of the include stack, from the loaded file down.
fn chain_of(stack: &[(PathBuf, PathBuf)]) -> Vec<PathBuf> {
    stack.iter().map(|(display, _)| display.clone()).collect()
}

#[cfg(test)]
mod wildcard_tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use super::wildcard_regex;

    /// Vectors after GitLab's repository spec for `search_files_by_wildcard_path`:
    /// `*` stays in one folder, `**` crosses folders, the rest is literal.
    #[test]
    fn wildcards_match_as_gitlab_does() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("ci/*.yml", "ci/a.yml", true),
            ("ci/*.yml", "ci/sub/b.yml", false),
            ("ci/**.yml", "ci/sub/b.yml", true),
            ("ci/**.yml", "ci/a.yml", true),
            ("ci/**/*.yml", "ci/a.yml", false),
            ("ci/**/*.yml", "ci/sub/deep/b.yml", true),
            ("ci/a.yml", "ci/a.yml", true),
            ("ci/a?.yml", "ci/ab.yml", false),
            ("ci/(x)+*.yml", "ci/(x)+1.yml", true),
            ("ci/*.yml", "ci/a.yaml", false),
        ];
        for &(pattern, path, expected) in cases {
            let regex = wildcard_regex(pattern).unwrap();
            assert_eq!(regex.is_match(path), expected, "{pattern} ~ {path}");
        }
    }
}
