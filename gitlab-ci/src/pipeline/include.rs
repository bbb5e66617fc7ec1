//! `include:` merged as GitLab does: the included files in order, then the
//! including file on top (it wins).
//!
//! - `local:` paths are relative to the project root (the repository's top
//!   level; see [`super::project_dir_of`]), with or without a leading `/`,
//!   also in nested includes, and may hold GitLab's wildcards (`ci/*.yml`,
//!   `ci/**.yml`). A `local:` include inside a file that came from another
//!   project is read from that project, at the same ref, as in GitLab.
//! - `remote:`, `template:`, `project:` and `component:` files come from the
//!   caller's [`IncludeSource`]; one it cannot provide is skipped and
//!   reported ([`SkippedInclude`]), one it has not fetched yet stops the
//!   load with [`PipelineError::IncludesPending`].
//! - Locations are expanded with the CI/CD variables first (GitLab's
//!   `ExpandVariables`), and each entry may pass `inputs:` to a file with a
//!   `spec:` header.
//!
//! GitLab allows the same file to be included several times; a file that
//! includes itself (a loop) is an error that names the chain, where GitLab
//! would only stop at its include limit.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use super::PipelineError;
use super::budget::ExpansionBudget;
use super::external::{ExternalFile, FetchedFile, IncludeSource, Lookup, SkippedInclude};
use super::include_lines::{include_scalar_lines, line_of};
use super::inputs::InterpolationContext;
use super::merge::deep_merge;
use super::source::{parse_yaml, read_file};
use crate::predefined::predefined_variables;
use crate::rails_expand;
use crate::rules::{RuleContext, include_rules_match};

/// GitLab's default `ci_max_includes`: included files per pipeline, nested ones included. It
/// also bounds the nesting depth.
pub const MAX_INCLUDES: usize = 150;

/// The merged configuration of a file and everything it includes.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// The top-level hash, `include:` removed.
    pub config: Mapping,
    /// For each top-level key, the last file that defined it (the one that won).
    pub origins: HashMap<String, PathBuf>,
    /// The includes the source could not provide, in the order met.
    pub skipped: Vec<SkippedInclude>,
    /// The repository files read, the root first, each once, in the order met.
    pub local_files: Vec<PathBuf>,
}

/// Loads `root_file` (given `root_inputs` for its `spec:` header) and its
/// includes, local ones found under `project_dir`, the others asked of
/// `source`.
pub(crate) fn load_merged(
    root_file: &Path,
    project_dir: &Path,
    variables: &IndexMap<String, String>,
    root_inputs: Option<&Mapping>,
    changed_files: Option<&[String]>,
    source: &dyn IncludeSource,
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
        source,
        budget,
        count: 0,
        pending: Vec::new(),
        skipped: Vec::new(),
        predefined: OnceLock::new(),
        changed_files,
    };
    let root = Frame {
        display: root_file.to_owned(),
        key: canonical_file,
        content: Content::Local,
        inputs: root_inputs.cloned(),
    };
    let mut stack = Vec::new();
    let mut merged = includer.process(root, &mut stack)?;
    if !includer.pending.is_empty() {
        includer.pending.sort_unstable();
        includer.pending.dedup();
        return Err(PipelineError::IncludesPending {
            files: includer.pending,
        });
    }
    merged.skipped = includer.skipped;
    Ok(merged)
}

/// One file being loaded.
#[derive(Debug, Clone)]
struct Frame {
    /// How messages name it.
    display: PathBuf,
    /// What identifies it for loop detection (canonical path, or the entry).
    key: PathBuf,
    content: Content,
    /// The `inputs:` its include entry gave it.
    inputs: Option<Mapping>,
}

#[derive(Debug, Clone)]
enum Content {
    /// A file of the repository, read from disk.
    Local,
    /// A fetched file.
    Fetched(FetchedFile),
}

struct Includer<'a> {
    project_dir: &'a Path,
    variables: &'a IndexMap<String, String>,
    canonical_root: PathBuf,
    source: &'a dyn IncludeSource,
    budget: &'a ExpansionBudget,
    count: usize,
    pending: Vec<ExternalFile>,
    skipped: Vec<SkippedInclude>,
    /// GitLab's predefined variables, derived from git the first time an
    /// include's `rules:` reads a variable the CI/CD variables do not hold.
    predefined: OnceLock<IndexMap<String, String>>,
    /// The diff's files for `rules: changes:`; `None`: unknown.
    changed_files: Option<&'a [String]>,
}

/// One `include:` entry.
struct Entry {
    target: Target,
    inputs: Option<Mapping>,
    rules: Option<Value>,
}

enum Target {
    Local(String),
    External(Vec<ExternalFile>),
    /// `artifact:` + `job:`: a file a job of the running pipeline made.
    Artifact {
        artifact: String,
        job: String,
    },
}

impl Target {
    /// The entry's main location, to find its line.
    fn location(&self) -> String {
        match self {
            Self::Local(path) => path.clone(),
            Self::External(files) => match files.first() {
                Some(ExternalFile::Remote { url }) => url.clone(),
                Some(ExternalFile::Template { name }) => name.clone(),
                Some(ExternalFile::Project { project, .. }) => project.clone(),
                Some(ExternalFile::Component { location }) => location.clone(),
                None => String::new(),
            },
            Self::Artifact { artifact, .. } => artifact.clone(),
        }
    }
}

impl Includer<'_> {
    /// Loads `frame`'s file and its includes; `stack` holds the files above it.
    fn process(&mut self, frame: Frame, stack: &mut Vec<Frame>) -> Result<Merged, PipelineError> {
        // Held here, not borrowed from `frame`, which moves onto the stack below.
        let (owned, shared);
        let bytes: &[u8] = match &frame.content {
            Content::Local => {
                owned = read_file(&frame.display)?;
                &owned
            }
            Content::Fetched(fetched) => {
                shared = Arc::clone(&fetched.bytes);
                &shared
            }
        };
        // `expand_vars` in `$[[ ]]` blocks reads the same CI/CD variables as include paths.
        let context = InterpolationContext::new(self.variables);
        let parsed = parse_yaml(
            &frame.display,
            bytes,
            self.budget,
            true,
            frame.inputs.as_ref(),
            &context,
        )?;
        let Value::Mapping(own) = parsed else {
            return Err(PipelineError::invalid(
                &frame.display,
                "the top level must be a hash of jobs and global keywords",
            ));
        };
        let lines = EntryLines {
            bytes,
            found: OnceLock::new(),
        };
        stack.push(frame);
        let merged = self.process_entries(own, &lines, stack);
        stack.pop();
        merged
    }

    fn process_entries(
        &mut self,
        mut own: Mapping,
        lines: &EntryLines<'_>,
        stack: &mut Vec<Frame>,
    ) -> Result<Merged, PipelineError> {
        let Some(current) = stack.last().cloned() else {
            return Ok(Merged::default());
        };
        let path = current.display.clone();
        let entries = match own.shift_remove("include") {
            Some(value) => parse_entries(value).map_err(|message| PipelineError::Include {
                file: path.clone(),
                line: lines.line_of("include"),
                message,
                chain: chain_of(stack),
            })?,
            None => Vec::new(),
        };
        let mut merged = Merged::default();
        if matches!(current.content, Content::Local) {
            merged.local_files.push(path.clone());
        }
        for entry in entries {
            let at = At {
                file: &path,
                lines,
                location: entry.target.location(),
                chain: chain_of(stack),
            };
            if let Some(rules) = &entry.rules
                && !self.rules_include(rules, &at)?
            {
                continue;
            }
            let included = match entry.target {
                Target::Local(location) => {
                    let location = self.expand(&location);
                    match &current.content {
                        Content::Fetched(FetchedFile {
                            project: Some((project, reference)),
                            ..
                        }) => {
                            let file = ExternalFile::Project {
                                project: project.clone(),
                                reference: Some(reference.clone()),
                                file: location,
                            };
                            self.include_external(file, entry.inputs, &at, stack)?
                        }
                        _ => self.include_local(&location, entry.inputs, &at, stack)?,
                    }
                }
                Target::External(files) => {
                    let mut all = Vec::new();
                    for file in files {
                        let file = self.expand_external(file);
                        all.extend(self.include_external(
                            file,
                            entry.inputs.clone(),
                            &at,
                            stack,
                        )?);
                    }
                    all
                }
                Target::Artifact { artifact, job } => {
                    self.skipped.push(SkippedInclude {
                        entry: format!("artifact: {artifact}, job: {job}"),
                        file: path.clone(),
                        line: at.line(),
                        reason: "a job's artifact exists only inside a running pipeline (GitLab allows it in child pipelines)".to_owned(),
                    });
                    Vec::new()
                }
            };
            for child in included {
                deep_merge(&mut merged.config, child.config);
                merged.origins.extend(child.origins);
                for file in child.local_files {
                    if !merged.local_files.contains(&file) {
                        merged.local_files.push(file);
                    }
                }
            }
        }
        for key in own.keys() {
            if let Some(name) = key.as_str() {
                merged.origins.insert(name.to_owned(), path.clone());
            }
        }
        deep_merge(&mut merged.config, own);
        Ok(merged)
    }

    /// Whether an entry's `rules:` include it. As in GitLab, they see the
    /// CI/CD and predefined variables, never the pipeline's `variables:`;
    /// `changes:` matches the diff's files when `--changes-base` gives them,
    /// else holds.
    fn rules_include(&self, rules: &Value, at: &At<'_>) -> Result<bool, PipelineError> {
        let lookup = |name: &str| {
            self.variables.get(name).cloned().or_else(|| {
                self.predefined
                    .get_or_init(|| predefined_variables(self.project_dir, None))
                    .get(name)
                    .cloned()
            })
        };
        let context = RuleContext::new(&lookup)
            .with_project_dir(self.project_dir)
            .with_changed_files(self.changed_files);
        include_rules_match(rules, &context)
            .map_err(|error| at.error(error.gitlab_message("include")))
    }

    /// GitLab expands include locations with the CI/CD variables first.
    fn expand(&self, location: &str) -> String {
        if location.contains(['$', '%']) {
            rails_expand::expand(location, |name| self.variables.get(name).cloned())
        } else {
            location.to_owned()
        }
    }

    fn expand_external(&self, file: ExternalFile) -> ExternalFile {
        match file {
            ExternalFile::Remote { url } => ExternalFile::Remote {
                url: self.expand(&url),
            },
            ExternalFile::Template { name } => ExternalFile::Template {
                name: self.expand(&name),
            },
            ExternalFile::Project {
                project,
                reference,
                file,
            } => ExternalFile::Project {
                project: self.expand(&project),
                reference: reference.map(|reference| self.expand(&reference)),
                file: self.expand(&file),
            },
            ExternalFile::Component { location } => ExternalFile::Component {
                location: self.expand(&location),
            },
        }
    }

    /// A `local:` entry (wildcards expanded) of a repository file.
    fn include_local(
        &mut self,
        location: &str,
        inputs: Option<Mapping>,
        at: &At<'_>,
        stack: &mut Vec<Frame>,
    ) -> Result<Vec<Merged>, PipelineError> {
        let locations = if location.contains('*') {
            let including = stack.last().map(|frame| frame.key.as_path());
            self.expand_wildcard(location, including)
                .map_err(|message| at.error(message))?
        } else {
            vec![location.to_owned()]
        };
        let mut included = Vec::with_capacity(locations.len());
        for location in locations {
            let (display, canonical) = self
                .resolve_local(&location)
                .map_err(|message| at.error(message))?;
            let frame = Frame {
                display,
                key: canonical,
                content: Content::Local,
                inputs: inputs.clone(),
            };
            included.push(self.descend(frame, at, stack)?);
        }
        Ok(included)
    }

    /// A file the source provides: loaded, skipped, noted as pending, or an error.
    fn include_external(
        &mut self,
        file: ExternalFile,
        inputs: Option<Mapping>,
        at: &At<'_>,
        stack: &mut Vec<Frame>,
    ) -> Result<Vec<Merged>, PipelineError> {
        match self.source.lookup(&file, self.variables) {
            Lookup::Found(fetched) => {
                let frame = Frame {
                    display: fetched.name.clone(),
                    key: PathBuf::from(file.to_string()),
                    content: Content::Fetched(fetched),
                    inputs,
                };
                Ok(vec![self.descend(frame, at, stack)?])
            }
            Lookup::Pending => {
                self.pending.push(file);
                Ok(Vec::new())
            }
            Lookup::Skipped { reason } => {
                self.skipped.push(SkippedInclude {
                    entry: file.to_string(),
                    file: at.file.to_owned(),
                    line: at.line(),
                    reason,
                });
                Ok(Vec::new())
            }
            Lookup::Failed { message } => Err(at.error(format!("include `{file}`: {message}"))),
        }
    }

    /// Loads an included file after the loop and count checks.
    fn descend(
        &mut self,
        frame: Frame,
        at: &At<'_>,
        stack: &mut Vec<Frame>,
    ) -> Result<Merged, PipelineError> {
        if let Some(start) = stack.iter().position(|seen| seen.key == frame.key) {
            let mut looped: Vec<PathBuf> = stack[start..]
                .iter()
                .map(|seen| seen.display.clone())
                .collect();
            looped.push(frame.display);
            return Err(PipelineError::IncludeLoop { chain: looped });
        }
        self.count += 1;
        if self.count > MAX_INCLUDES {
            return Err(PipelineError::TooManyIncludes {
                file: at.file.to_owned(),
                limit: MAX_INCLUDES,
            });
        }
        self.process(frame, stack)
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

/// The lines of a file's `include:` entries, found (with a second pass of
/// the file's YAML events) only when a message needs one.
struct EntryLines<'a> {
    bytes: &'a [u8],
    found: OnceLock<Vec<(String, usize)>>,
}

impl EntryLines<'_> {
    /// The line of the entry whose location is `raw`.
    fn line_of(&self, raw: &str) -> Option<usize> {
        let found = self.found.get_or_init(|| {
            // The bytes parsed as YAML, so they are UTF-8.
            include_scalar_lines(std::str::from_utf8(self.bytes).unwrap_or_default())
        });
        line_of(found, raw)
    }
}

/// Where an entry is, for its warnings and errors.
struct At<'a> {
    file: &'a Path,
    lines: &'a EntryLines<'a>,
    /// The entry's location as written (before variables are expanded).
    location: String,
    chain: Vec<PathBuf>,
}

impl At<'_> {
    fn line(&self) -> Option<usize> {
        self.lines.line_of(&self.location)
    }

    fn error(&self, message: String) -> PipelineError {
        PipelineError::Include {
            file: self.file.to_owned(),
            line: self.line(),
            message,
            chain: self.chain.clone(),
        }
    }
}

/// The entries of an `include:` value: a string, a hash, or a list of them.
fn parse_entries(value: Value) -> Result<Vec<Entry>, String> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Sequence(items) => items,
        entry => vec![entry],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Sequence(_) => {
                Err("`include:` list entries must be strings or hashes, not lists".to_owned())
            }
            item => parse_entry(item),
        })
        .collect()
}

/// Keys GitLab's include entry accepts.
const ENTRY_KEYS: [&str; 13] = [
    "local",
    "remote",
    "template",
    "project",
    "file",
    "ref",
    "component",
    "artifact",
    "job",
    "inputs",
    "rules",
    "integrity",
    "cache",
];

fn parse_entry(entry: Value) -> Result<Entry, String> {
    let map = match entry {
        Value::String(location) => {
            let target = if location.starts_with("http://") || location.starts_with("https://") {
                Target::External(vec![ExternalFile::Remote { url: location }])
            } else {
                Target::Local(location)
            };
            return Ok(Entry {
                target,
                inputs: None,
                rules: None,
            });
        }
        Value::Mapping(map) => map,
        _ => {
            return Err(
                "`include:` must be a path, a hash such as `{local: path.yml}`, or a list of them"
                    .to_owned(),
            );
        }
    };
    let unknown: Vec<String> = map
        .keys()
        .map(describe_key)
        .filter(|key| !ENTRY_KEYS.contains(&key.as_str()))
        .collect();
    if !unknown.is_empty() {
        // GitLab's message.
        return Err(format!(
            "include config contains unknown keys: {}",
            unknown.join(", ")
        ));
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("`include: {key}:` must be a string")),
        }
    };
    let inputs = match map.get("inputs") {
        None | Some(Value::Null) => None,
        Some(Value::Mapping(inputs)) => Some(inputs.clone()),
        // GitLab's message.
        Some(_) => return Err("Given inputs must be a hash".to_owned()),
    };
    let target = if let Some(local) = text("local")? {
        Target::Local(local)
    } else if let Some(url) = text("remote")? {
        Target::External(vec![ExternalFile::Remote { url }])
    } else if let Some(name) = text("template")? {
        Target::External(vec![ExternalFile::Template { name }])
    } else if let Some(location) = text("component")? {
        Target::External(vec![ExternalFile::Component { location }])
    } else if let Some(project) = text("project")? {
        let reference = text("ref")?;
        let files = match map.get("file") {
            Some(Value::String(file)) => vec![file.clone()],
            Some(Value::Sequence(files)) if !files.is_empty() => files
                .iter()
                .map(|file| {
                    file.as_str().map(str::to_owned).ok_or_else(|| {
                        "`include: file:` must be a string or a list of strings".to_owned()
                    })
                })
                .collect::<Result<_, _>>()?,
            // GitLab's message.
            _ => return Err("Missing `file` section!".to_owned()),
        };
        Target::External(
            files
                .into_iter()
                .map(|file| ExternalFile::Project {
                    project: project.clone(),
                    reference: reference.clone(),
                    file,
                })
                .collect(),
        )
    } else if let Some(artifact) = text("artifact")? {
        let job = text("job")?.ok_or("`include: artifact:` needs `job:`")?;
        Target::Artifact { artifact, job }
    } else {
        let keys: Vec<String> = map.keys().map(describe_key).collect();
        return Err(format!(
            "`include:` entry has no known type (local, remote, template, project, component, artifact); keys: {}",
            keys.join(", ")
        ));
    };
    let rules = map.get("rules").filter(|rules| !rules.is_null()).cloned();
    Ok(Entry {
        target,
        inputs,
        rules,
    })
}

fn describe_key(key: &Value) -> String {
    key.as_str()
        .map_or_else(|| format!("{key:?}"), str::to_owned)
}

/// The display paths of the include stack, from the loaded file down.
fn chain_of(stack: &[Frame]) -> Vec<PathBuf> {
    stack.iter().map(|frame| frame.display.clone()).collect()
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
