//! Included files that live outside the repository: `remote:`, `template:`,
//! `project:` and `component:` includes, and how the loader gets them.
//!
//! This crate makes no network call. The loader asks an [`IncludeSource`]
//! for each [`ExternalFile`]; the caller decides where files come from (a
//! GitLab instance, a cache, nothing at all). A source that does not have a
//! file yet answers [`Lookup::Pending`]: the load then fails with
//! [`PipelineError::IncludesPending`](super::PipelineError::IncludesPending)
//! naming every file it still needs, so an async caller can fetch them all at
//! once and load again (a few rounds for nested includes), and the loader
//! stays synchronous.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

/// A file named by a non-local `include:` entry, after CI/CD variables are
/// expanded in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExternalFile {
    /// `include: remote: URL`: a public URL, fetched without credentials.
    Remote {
        /// The URL.
        url: String,
    },
    /// `include: template: NAME`: one of the instance's CI/CD templates.
    Template {
        /// The name, with its `.gitlab-ci.yml` suffix.
        name: String,
    },
    /// `include: project: P, ref: R, file: F` (one entry per file), and a
    /// `local:` include inside a file that came from a project.
    Project {
        /// The project's full path (`group/subgroup/project`).
        project: String,
        /// The branch, tag or commit; `None`: the default branch.
        reference: Option<String>,
        /// The file's path in the project (with or without a leading `/`).
        file: String,
    },
    /// `include: component: host/path/name@version`.
    Component {
        /// The location as written.
        location: String,
    },
}

impl fmt::Display for ExternalFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Remote { url } => write!(f, "remote: {url}"),
            Self::Template { name } => write!(f, "template: {name}"),
            Self::Project {
                project,
                reference,
                file,
            } => {
                write!(f, "project: {project}, file: {file}")?;
                match reference {
                    Some(reference) => write!(f, ", ref: {reference}"),
                    None => Ok(()),
                }
            }
            Self::Component { location } => write!(f, "component: {location}"),
        }
    }
}

impl ExternalFile {
    /// The include kind as written in YAML (`remote`, `template`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Remote { .. } => "remote",
            Self::Template { .. } => "template",
            Self::Project { .. } => "project",
            Self::Component { .. } => "component",
        }
    }
}

/// A fetched file.
#[derive(Clone)]
pub struct FetchedFile {
    /// How errors name the file (its URL, or `project@ref:path`).
    pub name: PathBuf,
    /// The file's bytes (checked like a local file: size, UTF-8, YAML).
    pub bytes: Arc<[u8]>,
    /// The project and commit or ref the file came from, when it came from a
    /// project (`project:` and `component:`): its own `local:` includes are
    /// read from there, as in GitLab.
    pub project: Option<(String, String)>,
}

/// Debug leaves the content out.
impl fmt::Debug for FetchedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchedFile")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .field("project", &self.project)
            .finish()
    }
}

/// What an [`IncludeSource`] has for a file.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The file.
    Found(FetchedFile),
    /// Not fetched yet: the load stops with
    /// [`PipelineError::IncludesPending`](super::PipelineError::IncludesPending).
    Pending,
    /// It cannot be had in this run (offline, no GitLab instance known): the
    /// include is skipped with a warning, and jobs that need what it could
    /// define are reported as unchecked.
    Skipped {
        /// Why, for the warning.
        reason: String,
    },
    /// Fetching failed in a way GitLab would fail the pipeline for (not
    /// found, access denied): an error naming the entry.
    Failed {
        /// GitLab's message, or what went wrong.
        message: String,
    },
}

/// Where the loader gets [`ExternalFile`]s. Lookups are synchronous and
/// cheap: an implementation answers from what it already holds. Both
/// methods get the CI/CD variables the load expands include locations with
/// ([`LoadOptions::include_variables`](super::LoadOptions::include_variables)):
/// inside a job they name the instance and hold its credentials.
pub trait IncludeSource: fmt::Debug + Send + Sync {
    /// What the source has for `file`.
    fn lookup(&self, file: &ExternalFile, variables: &IndexMap<String, String>) -> Lookup;

    /// Fetches `files` (all at once, so nested includes cost one round trip
    /// per level, not per file) so that [`IncludeSource::lookup`] answers
    /// each of them with something other than [`Lookup::Pending`]. Returns
    /// `false` when the source cannot fetch (the default): the load then
    /// fails with [`PipelineError::IncludesPending`](super::PipelineError::IncludesPending).
    fn fetch(&self, files: &[ExternalFile], variables: &IndexMap<String, String>) -> bool {
        let _ = (files, variables);
        false
    }
}

/// A source that has nothing: every non-local include is skipped, for
/// `--offline` runs.
#[derive(Debug, Clone)]
pub struct OfflineSource {
    /// Why the includes are skipped, shown in each warning.
    pub reason: String,
}

impl IncludeSource for OfflineSource {
    fn lookup(&self, _file: &ExternalFile, _variables: &IndexMap<String, String>) -> Lookup {
        Lookup::Skipped {
            reason: self.reason.clone(),
        }
    }
}

/// An include the load skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedInclude {
    /// The entry (`project: group/ci, file: /deploy.yml, ref: v1`).
    pub entry: String,
    /// The file holding the entry.
    pub file: PathBuf,
    /// The entry's line in that file, when it can be found.
    pub line: Option<usize>,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for SkippedInclude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": include `{}` skipped: {}", self.entry, self.reason)
    }
}

/// A job the load could not check because something it needs may come from a
/// skipped include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncheckedJob {
    /// The job.
    pub job: String,
    /// What it needs that no loaded file defines (`extends: .deploy`,
    /// `!reference [".vault", "secrets"]`).
    pub needs: String,
    /// The skipped includes, as [`SkippedInclude::entry`].
    pub skipped: Vec<String>,
}

impl fmt::Display for UncheckedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "job `{}` is unchecked: it needs {}, which no loaded file defines; it may come from the skipped include(s) {}",
            self.job,
            self.needs,
            self.skipped
                .iter()
                .map(|entry| format!("`{entry}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
