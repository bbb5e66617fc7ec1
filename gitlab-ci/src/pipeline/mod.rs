//! Loading `.gitlab-ci.yml`: YAML, `include:`, `extends:`, `!reference`, `default:`, variables and `id_tokens:`.
//!
//! [`load_pipeline`] follows GitLab's order: parse the file and its local `include:`s (merged,
//! the including file wins), resolve `extends:` (deep merge, later wins, arrays replaced), then
//! `!reference` tags, then build each job with `default:` inheritance. Only what ci-secrets needs
//! is extracted ([`Job`]); other keywords are carried through the merges but not interpreted.
//!
//! Hostile input fails fast with bounded memory: files over 2 MiB (GitLab's default YAML size
//! limit), invalid UTF-8, NUL bytes, nesting over 100 levels (GitLab's default depth limit),
//! include and `extends:` loops, more than 150 includes (GitLab's default), and amplification:
//! every node and byte of text the load builds (alias replays, included files, `extends:`,
//! `!reference` and `default:` copies) is charged to one budget ([`MAX_NODES`],
//! [`MAX_EXPANDED_BYTES`]) before it is built. All are errors that name the file.
//!
//! [`load_pipeline_for_job`] expands only what one job needs, so one job of a pipeline of
//! thousands costs what that job costs; [`load_pipeline`] expands every job.

mod budget;
mod error;
mod extends;
mod external;
mod include;
mod include_lines;
mod inputs;
mod job;
mod merge;
mod reference;
mod scalar;
mod select;
mod source;
mod suggest;
mod yaml11;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_norway::Value;

pub use budget::{ExpansionLimit, MAX_EXPANDED_BYTES, MAX_NODES};
pub use error::{Expansion, PipelineError};
pub use extends::MAX_EXTENDS_DEPTH;
pub use external::{
    ExternalFile, FetchedFile, IncludeSource, Lookup, OfflineSource, SkippedInclude, UncheckedJob,
};
pub use include::MAX_INCLUDES;
pub use inputs::{
    InputsError, InterpolationContext, MAX_ACCESS_BYTES, MAX_BLOCKS, MAX_FUNCTIONS,
    MAX_INTERPOLATION_NODES, MAX_NODE_BYTES, MAX_OPTIONS,
};
pub use job::GLOBAL_KEYWORDS;
pub use reference::MAX_REFERENCE_DEPTH;
pub use source::{MAX_DEPTH, MAX_DOCUMENTS, MAX_FILE_BYTES};
// `rules:variables:` are read like any `variables:`.
pub(crate) use job::parse_variables;
pub(crate) use scalar::scalar_to_string;

/// A loaded pipeline: global variables and every job, with `include:`, `extends:`, `default:`
/// and `!reference` resolved.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file that was loaded.
    pub path: PathBuf,
    /// The top-level `variables:`, in file order.
    pub variables: IndexMap<String, VariableDef>,
    /// Every job in file order, hidden ones (templates, `.name`) included.
    pub jobs: IndexMap<String, Job>,
    /// The includes that could not be loaded ([`LoadOptions::includes`]), in the order met.
    pub skipped_includes: Vec<SkippedInclude>,
    /// The jobs that need what only a skipped include could define; they are not in
    /// [`Pipeline::jobs`].
    pub unchecked: Vec<UncheckedJob>,
    /// `workflow: rules:`, `None` when there are none.
    pub workflow_rules: Option<crate::rules::RulesConfig>,
    /// The repository files the pipeline was read from (the root file, then its local
    /// includes as met), each once: the files a text edit of the pipeline may touch.
    pub local_files: Vec<PathBuf>,
}

/// One job, reduced to what secret resolution needs.
#[derive(Clone, Default, PartialEq)]
pub struct Job {
    /// The job's name (its top-level key).
    pub name: String,
    /// Whether the name starts with `.` (a template GitLab never runs).
    pub hidden: bool,
    /// The job's own `variables:` (not the global ones), in file order.
    pub variables: IndexMap<String, VariableDef>,
    /// The names under `id_tokens:` (the job's or, when inherited, `default:`'s), in file order.
    pub id_tokens: Vec<String>,
    /// Each ID token's `aud:` values, by name (outside GitLab, an ID token is
    /// minted for them where the CI system can).
    pub id_token_audiences: IndexMap<String, Vec<String>>,
    /// The raw `secrets:` value after `extends:` merging, before validation; `None` when the job
    /// has no `secrets:` key.
    pub secrets: Option<serde_json::Value>,
    /// `script:` after `extends:` merging and `!reference`, as written (a string or a nested
    /// array of strings); `None` when the job has none. `migrate` compares it before and after
    /// its edit.
    pub script: Option<serde_json::Value>,
    /// Which global variables the job receives (`inherit: variables:`).
    pub inherit_variables: InheritGlobal,
    /// `stage:` as written (GitLab's default, `test`, when `None`).
    pub stage: Option<String>,
    /// `rules:` after `extends:` merging (`default:` has none), `None` when the job has none.
    pub rules: Option<crate::rules::RulesConfig>,
    /// Which of GitLab's job types the definition is (`Jobs.find_type`).
    pub kind: JobKind,
}

/// GitLab's type of a top-level entry, from the keywords it holds after
/// `extends:` merging: what decides whether GitLab composes its `secrets:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum JobKind {
    /// A job with `script:` or `run:` (`Entry::Job`).
    #[default]
    Script,
    /// A trigger job, `trigger:` or `needs:` without `script:`/`run:`
    /// (`Entry::Bridge`): it has no `secrets:` keyword.
    Trigger {
        /// Its keys that a trigger job does not allow, in file order (GitLab
        /// reports them all in one message).
        unknown_keys: Vec<String>,
    },
    /// A visible entry with none of them: GitLab refuses the pipeline.
    Unmatched,
}

impl Job {
    /// A job named `name` with nothing in it (hidden when the name starts with `.`).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            hidden: name.starts_with('.'),
            name,
            ..Self::default()
        }
    }
}

/// Debug lists names only: variable values and `secrets:` blocks may hold credentials.
impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret_names: Option<Vec<&str>> = self.secrets.as_ref().map(|value| {
            value
                .as_object()
                .map(|map| map.keys().map(String::as_str).collect())
                .unwrap_or_default()
        });
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("hidden", &self.hidden)
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .field("id_tokens", &self.id_tokens)
            .field("secrets", &secret_names)
            .field("inherit_variables", &self.inherit_variables)
            .field("rules", &self.rules)
            .finish()
    }
}

/// One variable definition from the YAML.
#[derive(Clone, PartialEq, Eq)]
pub struct VariableDef {
    /// The value as a string (numbers and booleans stringified as GitLab does, e.g. `1.10` gives
    /// `1.1`).
    pub value: String,
    /// `false` when the definition says `expand: false` (the value is used literally).
    pub expand: bool,
}

/// Debug hides the value.
impl fmt::Debug for VariableDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VariableDef")
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("expand", &self.expand)
            .finish()
    }
}

/// What a job inherits from a global setting (`inherit: default:` / `inherit: variables:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InheritGlobal {
    /// Everything (`true`, or no `inherit:`).
    #[default]
    All,
    /// Nothing (`false`).
    None,
    /// Only the listed keys or variable names.
    Only(Vec<String>),
}

impl InheritGlobal {
    /// Whether `name` is inherited.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::None => false,
            Self::Only(names) => names.iter().any(|candidate| candidate == name),
        }
    }
}

/// Loads the pipeline at `path` (see the module documentation for what is resolved).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join(".gitlab-ci.yml");
/// std::fs::write(&path, "
/// .vault: {secrets: {DB: {vault: db/password@ops}}}
/// deploy:
///   extends: .vault
///   script: [./deploy]
/// ").unwrap();
/// let pipeline = ci_secrets_gitlab::pipeline::load_pipeline(&path).unwrap();
/// let deploy = pipeline.job("deploy").unwrap();
/// assert_eq!(deploy.secrets.as_ref().unwrap()["DB"]["vault"], "db/password@ops");
/// ```
pub fn load_pipeline(path: &Path) -> Result<Pipeline, PipelineError> {
    let options = LoadOptions {
        project_dir: Some(folder_of(path)),
        ..LoadOptions::default()
    };
    load_with(path, &options, None)
}

/// What loading needs to know beyond the file, as GitLab knows it.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The repository root that local includes are relative to; `None`:
    /// [`project_dir_of`] the pipeline file.
    pub project_dir: Option<PathBuf>,
    /// The CI/CD variables GitLab expands `include:` paths with (project,
    /// group and predefined variables; never the pipeline's own
    /// `variables:`), by name. `$[[ inputs.x | expand_vars ]]` expands with
    /// them too.
    pub include_variables: IndexMap<String, String>,
    /// Where `remote:`, `template:`, `project:` and `component:` includes
    /// come from; `None`: nowhere, every one is skipped (see
    /// [`Pipeline::skipped_includes`]).
    pub includes: Option<Arc<dyn IncludeSource>>,
    /// The pipeline's inputs (`--input NAME=VALUE`), for a root file with a
    /// `spec:` header. Values are text, cast by each input's type as GitLab
    /// casts inputs given as text (`"3"` is the number 3 for a `number`
    /// input, `"true"` the boolean for a `boolean` one, JSON for an `array`).
    pub inputs: IndexMap<String, String>,
    /// The files changed in the pipeline's diff (`--changes-base`), for
    /// `include: rules: changes:`; `None`: unknown, `changes:` holds.
    pub changed_files: Option<Vec<String>>,
}

/// [`load_pipeline`] with `options`: local includes found under the
/// repository root (`--ci-file ci/pipeline.yml` includes from the root, as
/// in GitLab) and include paths expanded with the CI/CD variables.
pub fn load_pipeline_with(path: &Path, options: &LoadOptions) -> Result<Pipeline, PipelineError> {
    load_with(path, options, None)
}

/// [`load_pipeline_for_job`] with `options`.
pub fn load_pipeline_for_job_with(
    path: &Path,
    options: &LoadOptions,
    job: &str,
) -> Result<Pipeline, PipelineError> {
    load_with(path, options, Some(job))
}

fn load_with(
    path: &Path,
    options: &LoadOptions,
    only_job: Option<&str>,
) -> Result<Pipeline, PipelineError> {
    let project_dir = options
        .project_dir
        .clone()
        .unwrap_or_else(|| project_dir_of(path));
    let offline;
    let source: &dyn IncludeSource = match &options.includes {
        Some(source) => source.as_ref(),
        None => {
            offline = OfflineSource {
                reason: "no source for non-local includes was given".to_owned(),
            };
            &offline
        }
    };
    // Each round fetches the files the last one found missing: one per level of nesting.
    for _ in 0..=MAX_INCLUDES {
        match load(path, &project_dir, options, source, only_job) {
            Err(PipelineError::IncludesPending { files })
                if source.fetch(&files, &options.include_variables) => {}
            outcome => return outcome,
        }
    }
    Err(PipelineError::TooManyIncludes {
        file: path.to_owned(),
        limit: MAX_INCLUDES,
    })
}

/// The folder of a file (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where GitLab resolves the local includes of the pipeline file at `path`:
/// the top level of the git repository that holds it (a folder with a
/// `.git` entry, a directory or a worktree's file), else the file's own
/// folder.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir_all(dir.path().join(".git")).unwrap();
/// std::fs::create_dir_all(dir.path().join("ci")).unwrap();
/// let file = dir.path().join("ci/pipeline.yml");
/// assert_eq!(ci_secrets_gitlab::pipeline::project_dir_of(&file), dir.path());
/// ```
pub fn project_dir_of(path: &Path) -> PathBuf {
    let folder = folder_of(path);
    let absolute = std::path::absolute(&folder).unwrap_or_else(|_| folder.clone());
    absolute
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(folder)
}

/// Loads what job `job` of the pipeline at `path` needs: every file (`include:`), then
/// `extends:`, `!reference` and `default:` for that job, the entries it names and the global
/// `variables:` only. The result holds that one job; other jobs are neither expanded nor
/// checked. An unknown or hidden `job` is an error, as from [`Pipeline::job`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join(".gitlab-ci.yml");
/// std::fs::write(&path, "
/// .vault: {secrets: {DB: {vault: db/password@ops}}}
/// deploy: {extends: .vault, script: [./deploy]}
/// broken: {extends: .missing}
/// ").unwrap();
/// let pipeline = ci_secrets_gitlab::pipeline::load_pipeline_for_job(&path, "deploy").unwrap();
/// let deploy = pipeline.job("deploy").unwrap();
/// assert_eq!(deploy.secrets.as_ref().unwrap()["DB"]["vault"], "db/password@ops");
/// assert_eq!(pipeline.jobs.len(), 1);
/// ```
pub fn load_pipeline_for_job(path: &Path, job: &str) -> Result<Pipeline, PipelineError> {
    let options = LoadOptions {
        project_dir: Some(folder_of(path)),
        ..LoadOptions::default()
    };
    load_with(path, &options, Some(job))
}

fn load(
    path: &Path,
    project_dir: &Path,
    options: &LoadOptions,
    source: &dyn IncludeSource,
    only_job: Option<&str>,
) -> Result<Pipeline, PipelineError> {
    let budget = budget::ExpansionBudget::new();
    // Inputs given on the command line are text; each input's type casts them.
    let root_inputs: serde_norway::Mapping = options
        .inputs
        .iter()
        .map(|(name, value)| (Value::String(name.clone()), Value::String(value.clone())))
        .collect();
    let merged = include::load_merged(
        path,
        project_dir,
        &options.include_variables,
        Some(&root_inputs),
        options.changed_files.as_deref(),
        source,
        &budget,
    )?;
    let mut config = merged.config;
    let skipped = merged.skipped;
    let local_files = merged.local_files;
    let (mut needed, mut rewritten) = match only_job {
        None => {
            let all: Vec<String> = config
                .keys()
                .filter_map(|key| key.as_str().map(str::to_owned))
                .collect();
            (all.clone(), all)
        }
        Some(name) if check_selectable(path, &config, name, &skipped)? => {
            let needed = select::needed_by(&config, name);
            let rewritten = needed
                .iter()
                .filter(|key| *key == name || select::GLOBALS_A_JOB_READS.contains(&key.as_str()))
                .cloned()
                .collect();
            (needed, rewritten)
        }
        // A job named by a number or a boolean (`123:`): rare enough to expand everything.
        Some(_) => {
            let all: Vec<String> = config
                .keys()
                .filter_map(|key| key.as_str().map(str::to_owned))
                .collect();
            (all.clone(), all)
        }
    };
    // With includes skipped, a missing parent or reference target may be in one of them: the
    // entries that need one are set aside as unchecked, the others are checked fully.
    let tolerate = !skipped.is_empty();
    let mut unresolved = extends::resolve_extends(
        path,
        &merged.origins,
        &mut config,
        &needed,
        &budget,
        tolerate,
    )?;
    let set_aside = |names: &mut Vec<String>, unresolved: &[(String, String)]| {
        names.retain(|name| !unresolved.iter().any(|(key, _)| key == name));
    };
    set_aside(&mut rewritten, &unresolved);
    unresolved.extend(reference::resolve_references(
        path,
        &merged.origins,
        &mut config,
        &rewritten,
        &budget,
        tolerate,
    )?);
    set_aside(&mut needed, &unresolved);
    let skipped_entries: Vec<String> = skipped.iter().map(|skip| skip.entry.clone()).collect();
    let mut unchecked = Vec::with_capacity(unresolved.len());
    for (name, needs) in unresolved {
        config.shift_remove(name.as_str());
        unchecked.push(UncheckedJob {
            job: name,
            needs,
            skipped: skipped_entries.clone(),
        });
    }
    if let Some(name) = only_job
        && let Some(job) = unchecked.iter().find(|job| job.job == name)
    {
        return Err(PipelineError::Unchecked {
            file: path.to_owned(),
            job: job.clone(),
        });
    }
    let built = job::build(path, &merged.origins, config, only_job, &budget)?;
    Ok(Pipeline {
        path: path.to_owned(),
        variables: built.variables,
        jobs: built.jobs,
        skipped_includes: skipped,
        unchecked,
        workflow_rules: built.workflow_rules,
        local_files,
    })
}

/// Whether job `name` can be selected by its string key; the error [`Pipeline::job`] gives when
/// `name` is not a job GitLab runs, checked before anything is expanded.
fn check_selectable(
    path: &Path,
    config: &serde_norway::Mapping,
    name: &str,
    skipped: &[SkippedInclude],
) -> Result<bool, PipelineError> {
    let is_job = |key: &str| !GLOBAL_KEYWORDS.contains(&key);
    if is_job(name) && config.contains_key(name) {
        if name.starts_with('.') {
            return Err(PipelineError::HiddenJob {
                file: path.to_owned(),
                job: name.to_owned(),
            });
        }
        return Ok(true);
    }
    let key_names = config.iter().filter_map(|(key, value)| {
        scalar::scalar_to_string(key).map(|key_name| (key.is_string(), key_name, value))
    });
    let mut available = Vec::new();
    for (is_string, key_name, value) in key_names {
        if key_name == name && !is_string {
            return Ok(false);
        }
        if value.is_mapping() && is_job(&key_name) && !key_name.starts_with('.') {
            available.push(key_name);
        }
    }
    if !skipped.is_empty() {
        // The job may be defined in a skipped include.
        return Err(PipelineError::Unchecked {
            file: path.to_owned(),
            job: UncheckedJob {
                job: name.to_owned(),
                needs: format!("`{name}:` itself"),
                skipped: skipped.iter().map(|skip| skip.entry.clone()).collect(),
            },
        });
    }
    Err(PipelineError::UnknownJob {
        file: path.to_owned(),
        job: name.to_owned(),
        suggestion: suggest::closest(name, available.iter().map(String::as_str)),
        available,
    })
}

/// Keys a `--secrets` file may hold.
const SECRETS_FILE_KEYS: [&str; 3] = ["secrets", "variables", "id_tokens"];

/// Loads a `--secrets` file: one job's `secrets:` (required), `variables:` and `id_tokens:`
/// (optional), and nothing else but hidden keys (`.name`, to hold anchors). The job is named
/// `secrets`. Anchors and merge keys work;
/// `!reference` does not (there is nothing to refer to).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("secrets.yml");
/// std::fs::write(&path, "secrets: {DB: {akeyless: {name: /db}}}\nid_tokens: {AKEYLESS_JWT: {aud: x}}\n").unwrap();
/// let job = ci_secrets_gitlab::pipeline::load_secrets_file(&path).unwrap();
/// assert_eq!(job.name, "secrets");
/// assert_eq!(job.id_tokens, ["AKEYLESS_JWT"]);
/// ```
pub fn load_secrets_file(path: &Path) -> Result<Job, PipelineError> {
    let budget = budget::ExpansionBudget::new();
    let no_variables = IndexMap::new();
    let context = InterpolationContext::new(&no_variables);
    let Value::Mapping(config) = source::read_yaml(path, &budget, false, None, &context)? else {
        return Err(PipelineError::invalid(
            path,
            "must be a hash with a `secrets:` key",
        ));
    };
    for key in config.keys() {
        // Hidden keys (`.name`) may park anchors, as in a pipeline.
        let known = key
            .as_str()
            .is_some_and(|key| SECRETS_FILE_KEYS.contains(&key) || key.starts_with('.'));
        if !known {
            let shown = key
                .as_str()
                .map_or_else(|| format!("{key:?}"), str::to_owned);
            return Err(PipelineError::invalid(
                path,
                format!(
                    "unknown key `{shown}`: a secrets file holds only `secrets:`, `variables:` and `id_tokens:`"
                ),
            ));
        }
    }
    if !config.contains_key("secrets") {
        return Err(PipelineError::invalid(path, "missing the `secrets:` key"));
    }
    let config: serde_norway::Mapping = config
        .into_iter()
        .filter(|(key, _)| !key.as_str().is_some_and(|k| k.starts_with('.')))
        .collect();
    let mut wrapped = serde_norway::Mapping::new();
    wrapped.insert(Value::String("secrets".to_owned()), Value::Mapping(config));
    let mut built = job::build(path, &Default::default(), wrapped, None, &budget)?;
    built
        .jobs
        .shift_remove("secrets")
        .ok_or_else(|| PipelineError::invalid(path, "missing the `secrets:` key"))
}

impl Pipeline {
    /// The job named `name`. An unknown name gives an error listing the jobs that can run (and a
    /// close match); a hidden job gives an error saying it is a template.
    pub fn job(&self, name: &str) -> Result<&Job, PipelineError> {
        match self.jobs.get(name) {
            Some(job) if job.hidden => Err(PipelineError::HiddenJob {
                file: self.path.clone(),
                job: name.to_owned(),
            }),
            Some(job) => Ok(job),
            None if let Some(unchecked) = self.unchecked.iter().find(|job| job.job == name) => {
                Err(PipelineError::Unchecked {
                    file: self.path.clone(),
                    job: unchecked.clone(),
                })
            }
            None => {
                let available: Vec<String> = self
                    .jobs
                    .values()
                    .filter(|job| !job.hidden)
                    .map(|job| job.name.clone())
                    .collect();
                Err(PipelineError::UnknownJob {
                    file: self.path.clone(),
                    job: name.to_owned(),
                    suggestion: suggest::closest(name, available.iter().map(String::as_str)),
                    available,
                })
            }
        }
    }

    /// The global variables `job` receives, honouring its `inherit: variables:`.
    pub fn global_variables_for(&self, job: &Job) -> IndexMap<String, VariableDef> {
        self.variables
            .iter()
            .filter(|(name, _)| job.inherit_variables.includes(name))
            .map(|(name, variable)| (name.clone(), variable.clone()))
            .collect()
    }
}
