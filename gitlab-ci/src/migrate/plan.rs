//! Which jobs move, where their definitions are written, and the edits that
//! move them.
//!
//! Two sweeps, both over the text of every repository file the pipeline was
//! read from:
//!
//! - secrets: every entry of a `secrets:` mapping of a top-level key (job or
//!   template), or of an anchored mapping such a `secrets:` repeats (`*a`,
//!   `<<: *a`), whose provider is one that moves, is cut where it is written.
//!   Where the loaded job says the entry holds such a provider (it inherits
//!   one through `extends:` or `!reference`), its own override is cut too.
//!   A `secrets:` left empty loses its key (an anchored one becomes `{}`, its
//!   aliases lose theirs). So a template's block is cut once, in the file
//!   that holds it, whatever uses it.
//! - scripts: each migrated job's `script:` is rewritten where it is written:
//!   in the job, else in the `extends:` parent it comes from. A parent's
//!   `script:` is rewritten only when every job that takes it moves the same
//!   secrets (they share the file it names); otherwise it is refused.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use super::edit::{Edit, apply};
use super::error::MigrateError;
use super::options::MigrateOptions;
use super::render::{self, Style};
use super::script::script_edit;
use super::source::{
    Index, Source, index_entries, inherits_from, lineage, mentions_variable, read_sources,
    references, references_script, scalars, script_owner, single, where_defined,
};
use super::sweep::sweep_secrets;
use super::tree::{self, Kind};
use crate::pipeline::{Job, Pipeline};

/// The planned migration: nothing is written yet.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The project folder the relative paths are relative to.
    pub project_dir: PathBuf,
    /// The pipeline files whose text changes.
    pub edited: Vec<EditedFile>,
    /// The secrets files to write.
    pub secrets_files: Vec<SecretsFile>,
    /// The jobs that move, in pipeline order.
    pub jobs: Vec<MigratedJob>,
    /// What the user should know (templates no job uses lost entries,
    /// `before_script:` that may read a moved variable, ...).
    pub warnings: Vec<String>,
    pub(crate) options: MigrateOptions,
}

impl Migration {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.edited.is_empty() && self.secrets_files.is_empty()
    }
}

/// One pipeline file's text, before and after.
#[derive(Debug, Clone)]
pub struct EditedFile {
    /// The file as the loader named it.
    pub path: PathBuf,
    /// Its path relative to the project folder.
    pub relative: PathBuf,
    /// The text now.
    pub old: String,
    /// The text after the migration.
    pub new: String,
}

/// One secrets file.
#[derive(Debug, Clone)]
pub struct SecretsFile {
    /// Relative to the project folder (jobs run there).
    pub relative: PathBuf,
    /// Its content.
    pub text: String,
    /// The jobs that use it.
    pub jobs: Vec<String>,
}

/// One job that moves.
#[derive(Debug, Clone)]
pub struct MigratedJob {
    /// The job.
    pub job: String,
    /// The secrets file it now reads (relative to the project folder).
    pub secrets_file: PathBuf,
    /// The variables that moved.
    pub moved: Vec<String>,
    /// The variables left in its `secrets:` for GitLab.
    pub kept: Vec<String>,
    /// The top-level key whose `script:` was rewritten (the job or a parent).
    pub script_owner: String,
    /// Where that `script:` is: file (relative to the project folder) and 1-based line.
    pub script_at: (PathBuf, usize),
}

/// A group of jobs that share one secrets file.
struct Group {
    secrets: serde_json::Map<String, Value>,
    id_tokens: IndexMap<String, Vec<String>>,
    relative: PathBuf,
    jobs: Vec<String>,
}

/// Plans the migration of `pipeline` (loaded with every job: `load_pipeline_with`), whose
/// local files are under `project_dir`.
pub fn plan(
    pipeline: &Pipeline,
    project_dir: &Path,
    options: &MigrateOptions,
) -> Result<Migration, MigrateError> {
    let mut sources = read_sources(pipeline, project_dir)?;
    let moves = |value: &Value| holds_provider(value, &options.providers);

    // The jobs that move and what they move.
    struct Moving<'a> {
        job: &'a Job,
        moved: serde_json::Map<String, Value>,
        kept: Vec<String>,
        group: usize,
    }
    let mut moving: Vec<Moving<'_>> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut warnings = Vec::new();
    for job in pipeline.jobs.values().filter(|job| !job.hidden) {
        let Some(Value::Object(secrets)) = &job.secrets else {
            continue;
        };
        let moved: serde_json::Map<String, Value> = secrets
            .iter()
            .filter(|(_, value)| moves(value))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if moved.is_empty() {
            continue;
        }
        let kept = secrets
            .keys()
            .filter(|name| !moved.contains_key(*name))
            .cloned()
            .collect();
        let id_tokens = used_id_tokens(job, &moved);
        let group = match groups
            .iter()
            .position(|group| group.secrets == moved && group.id_tokens == id_tokens)
        {
            Some(index) => index,
            None => {
                groups.push(Group {
                    secrets: moved.clone(),
                    id_tokens,
                    relative: PathBuf::new(),
                    jobs: Vec::new(),
                });
                groups.len() - 1
            }
        };
        groups[group].jobs.push(job.name.clone());
        moving.push(Moving {
            job,
            moved,
            kept,
            group,
        });
    }

    // Borrow the trees for the sweeps; the edits are collected apart and attached after.
    let mut edits: Vec<Vec<Edit>> = vec![Vec::new(); sources.len()];
    let mut jobs = Vec::with_capacity(moving.len());
    {
        let index = index_entries(&sources);
        sweep_secrets(&sources, pipeline, &moves, &mut edits)?;
        // In file order, for stable messages.
        let entries = sources.iter().enumerate().flat_map(|(file, source)| {
            source
                .root
                .iter()
                .flat_map(|root| root.entries())
                .filter_map(move |(key, value)| key.scalar().map(|name| (file, name, value)))
        });
        for (file, name, value) in entries {
            let loses = value
                .get("secrets")
                .and_then(|_| pipeline.jobs.get(name).and_then(|job| job.secrets.as_ref()))
                .and_then(Value::as_object)
                .is_some_and(|secrets| secrets.values().any(&moves));
            let used = pipeline
                .jobs
                .values()
                .filter(|job| !job.hidden)
                .any(|job| inherits_from(&index, &job.name, name))
                || sources.iter().any(|source| {
                    source
                        .root
                        .as_ref()
                        .is_some_and(|root| references(root, name))
                });
            if loses && !used {
                warnings.push(format!(
                    "{}: `{name}` loses its {} secrets, and no job of this pipeline uses it",
                    sources[file].relative.display(),
                    options.providers.join("/"),
                ));
            }
        }

        // Name the files after the first job of each group (its script's owner).
        let mut owners: Vec<(usize, String)> = Vec::new();
        for m in &moving {
            let owner = script_owner(&sources, &index, &m.job.name, 0)?.ok_or_else(|| {
                let (file, line) = where_defined(&sources, &index, &m.job.name);
                MigrateError::unsupported(
                    file,
                    line,
                    &m.job.name,
                    "has no `script:` to run under ci-secrets (a trigger or `run:` job cannot load a secrets file)",
                )
            })?;
            owners.push((m.group, owner));
            warn_other_scripts(&index, m.job, &m.moved, &mut warnings);
        }
        let mut taken = BTreeSet::new();
        for (number, group) in groups.iter_mut().enumerate() {
            let owner = owners
                .iter()
                .find(|(index, _)| *index == number)
                .map_or("secrets", |(_, owner)| owner.as_str());
            let stem = sanitize(owner.trim_start_matches('.'));
            let mut name = format!("{stem}.yml");
            let mut suffix = 2;
            while !taken.insert(name.clone()) {
                name = format!("{stem}-{suffix}.yml");
                suffix += 1;
            }
            group.relative = options.out_dir.join(name);
        }

        // Each script owner: the jobs that take their script from it must all move the same.
        let mut rewritten: BTreeSet<String> = BTreeSet::new();
        let moving_names: BTreeSet<&str> = moving.iter().map(|m| m.job.name.as_str()).collect();
        for (m, (group, owner)) in moving.iter().zip(&owners) {
            let (file, _, value) = single(&sources, &index, owner)?;
            let Some((script_key, script_value)) = value.get("script") else {
                continue;
            };
            let relative = groups[*group].relative.clone();
            jobs.push(MigratedJob {
                job: m.job.name.clone(),
                secrets_file: relative.clone(),
                moved: m.moved.keys().cloned().collect(),
                kept: m.kept.clone(),
                script_owner: owner.clone(),
                script_at: (sources[file].relative.clone(), script_key.line),
            });
            if !rewritten.insert(owner.clone()) {
                continue;
            }
            for other in pipeline.jobs.values().filter(|job| !job.hidden) {
                if other.name == m.job.name {
                    continue;
                }
                let same_owner = script_owner(&sources, &index, &other.name, 0)
                    .ok()
                    .flatten()
                    .is_some_and(|name| &name == owner);
                if !same_owner {
                    continue;
                }
                let other_group = moving
                    .iter()
                    .find(|candidate| candidate.job.name == other.name)
                    .map(|candidate| candidate.group);
                if other_group != Some(*group) {
                    let why = match other_group {
                        None => "moves no secrets".to_owned(),
                        Some(_) => "moves other secrets".to_owned(),
                    };
                    return Err(MigrateError::unsupported(
                        &sources[file].path,
                        script_key.line,
                        &m.job.name,
                        format!(
                            "takes its `script:` from `{owner}`, and so does job `{}`, which {why}: \
                             give each job its own `script:` (for example `script: !reference [{owner}, script]`), then migrate",
                            other.name
                        ),
                    ));
                }
            }
            let Some(script) = m.job.script.as_ref().and_then(render::flatten_script) else {
                return Err(MigrateError::unsupported(
                    &sources[file].path,
                    script_key.line,
                    &m.job.name,
                    "`script:` is not a string or a list of strings",
                ));
            };
            if script_value.defines_anchor() {
                return Err(MigrateError::unsupported(
                    &sources[file].path,
                    script_key.line,
                    owner,
                    "`script:` defines an anchor (`&name`) that other keys may repeat: rewriting it would change them too; \
                     move the anchor out of `script:`, then migrate",
                ));
            }
            let parent_flow = value.flow;
            let edit = script_edit(
                &sources[file],
                parent_flow,
                script_key,
                script_value,
                &script,
                relative.to_string_lossy().as_ref(),
                options,
            )
            .ok_or_else(|| {
                MigrateError::unsupported(
                    &sources[file].path,
                    script_key.line,
                    owner,
                    "`script:` is laid out in a way migrate does not rewrite (a key not alone on its line)",
                )
            })?;
            edits[file].push(edit);
        }
        refuse_references_to_rewritten(&sources, pipeline, &rewritten, &moving_names)?;
    }
    for (source, edits) in sources.iter_mut().zip(edits) {
        source.edits = edits;
    }

    let mut edited = Vec::new();
    for source in &sources {
        if source.edits.is_empty() {
            continue;
        }
        let new = apply(&source.text, &source.edits).ok_or_else(|| MigrateError::Overlap {
            file: source.path.clone(),
        })?;
        if new != source.text {
            edited.push(EditedFile {
                path: source.path.clone(),
                relative: source.relative.clone(),
                old: source.text.clone(),
                new,
            });
        }
    }
    warn_leftovers(&edited, &options.providers, &mut warnings);

    let secrets_files = groups
        .into_iter()
        .map(|group| {
            let header = vec![
                format!(
                    "Written by `ci-secrets migrate`: the {} secrets of job(s) {},",
                    options.providers.join("/"),
                    group.jobs.join(", ")
                ),
                format!(
                    "which their script loads with `{} {} --secrets {}`. The jobs keep their `id_tokens:`.",
                    options.command,
                    match options.style {
                        Style::Exec => "exec",
                        Style::Shell => "resolve",
                    },
                    group.relative.display()
                ),
            ];
            SecretsFile {
                text: render::secrets_file(&header, &group.secrets, &group.id_tokens),
                relative: group.relative,
                jobs: group.jobs,
            }
        })
        .collect();
    Ok(Migration {
        project_dir: project_dir.to_owned(),
        edited,
        secrets_files,
        jobs,
        warnings,
        options: options.clone(),
    })
}

/// Whether a `secrets:` entry's (loaded) value is a block of one of `providers`.
pub(crate) fn holds_provider(value: &Value, providers: &[String]) -> bool {
    value
        .as_object()
        .is_some_and(|block| block.keys().any(|key| providers.contains(key)))
}

/// The `id_tokens:` the moved secrets use: those their `token:` names; all of
/// the job's when one has no `token:` (a provider may then pick one itself).
fn used_id_tokens(
    job: &Job,
    moved: &serde_json::Map<String, Value>,
) -> IndexMap<String, Vec<String>> {
    let named = RefCell::new(BTreeSet::new());
    let mut all = false;
    for value in moved.values() {
        match value.get("token").and_then(Value::as_str) {
            Some(token) => {
                crate::expand::expand(token, |name| {
                    named.borrow_mut().insert(name.to_owned());
                    None
                });
            }
            None => all = true,
        }
    }
    let named = named.into_inner();
    job.id_tokens
        .iter()
        .filter(|name| all || named.contains(*name))
        .map(|name| {
            let audiences = job
                .id_token_audiences
                .get(name)
                .cloned()
                .unwrap_or_default();
            (name.clone(), audiences)
        })
        .collect()
}

/// A job that moves nothing but whose `script:` is a `!reference` to a
/// `script:` being rewritten would run under another job's secrets file.
fn refuse_references_to_rewritten(
    sources: &[Source],
    pipeline: &Pipeline,
    rewritten: &BTreeSet<String>,
    moving: &BTreeSet<&str>,
) -> Result<(), MigrateError> {
    for source in sources {
        let Some(root) = &source.root else { continue };
        for (key, entry) in root.entries() {
            let Some(name) = key.scalar() else { continue };
            let visible = pipeline.jobs.get(name).is_some_and(|job| !job.hidden);
            if !visible || moving.contains(name) {
                continue;
            }
            let Some((script_key, script)) = entry.get("script") else {
                continue;
            };
            if let Some(owner) = rewritten
                .iter()
                .find(|owner| references_script(script, owner))
            {
                return Err(MigrateError::unsupported(
                    &source.path,
                    script_key.line,
                    name,
                    format!(
                        "moves no secrets, but its `script:` is a `!reference` to `{owner}`'s, which migrate rewrites: \
                         give it its own `script:`, then migrate"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `before_script:` and `after_script:` (the job's, its parents', `default:`'s)
/// run outside `exec` and before the `shell` line: one that reads a moved
/// variable no longer sees it.
fn warn_other_scripts(
    index: &Index<'_>,
    job: &Job,
    moved: &serde_json::Map<String, Value>,
    warnings: &mut Vec<String>,
) {
    let mut owners = lineage(index, &job.name);
    owners.push("default");
    for keyword in ["before_script", "after_script"] {
        let texts: Vec<&str> = owners
            .iter()
            .flat_map(|owner| index.get(owner).into_iter().flatten())
            .filter_map(|(_, _, value)| value.get(keyword))
            .flat_map(|(_, script)| scalars(script))
            .collect();
        for variable in moved.keys() {
            if texts.iter().any(|text| mentions_variable(text, variable)) {
                warnings.push(format!(
                    "job {}: `{keyword}:` reads ${variable}, which moves to a secrets file that only `script:` loads",
                    job.name
                ));
            }
        }
    }
}

/// Keys named like a provider that moves, left in an edited file outside any
/// `secrets:` (an anchor's definition, say): harmless to GitLab, worth a look.
fn warn_leftovers(edited: &[EditedFile], providers: &[String], warnings: &mut Vec<String>) {
    for file in edited {
        let Ok(Some(root)) = tree::parse(&file.new) else {
            continue;
        };
        let mut found: Vec<(usize, &str)> = Vec::new();
        let mut pending = vec![&root];
        while let Some(node) = pending.pop() {
            match &node.kind {
                Kind::Map(entries) => {
                    for (key, value) in entries {
                        if let Some(name) = key
                            .scalar()
                            .filter(|name| providers.iter().any(|p| p == name))
                        {
                            found.push((key.line, name));
                        }
                        pending.push(value);
                    }
                }
                Kind::Seq(items) => pending.extend(items.iter()),
                _ => {}
            }
        }
        found.sort_unstable();
        for (line, name) in found {
            warnings.push(format!(
                "{}:{line}: `{name}:` is still written here, outside any job's `secrets:` (GitLab does not read it there)",
                file.relative.display(),
            ));
        }
    }
}

/// A job or template name as a file name.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(['-', '.']).to_owned();
    if cleaned.is_empty() {
        "secrets".to_owned()
    } else {
        cleaned
    }
}
