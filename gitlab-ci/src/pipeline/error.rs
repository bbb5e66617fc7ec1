//! Errors of pipeline loading. Each names the file, and the job, key or include chain involved.

use std::fmt;
use std::path::{Path, PathBuf};

use super::budget::ExpansionLimit;
use super::inputs::InputsError;

/// Why a `.gitlab-ci.yml` (or a `--secrets` file) could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The file could not be read.
    #[error("{}: cannot read file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than GitLab's default YAML size limit.
    #[error("{}: file is larger than {limit} bytes (GitLab's default limit for a CI/CD YAML file)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is empty (or holds only comments).
    #[error("{}: file is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8.
    #[error("{}: not valid UTF-8 (line {line}, byte offset {offset})", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// Line of the first invalid byte (1-based).
        line: usize,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The file contains a NUL byte, which YAML does not allow.
    #[error("{}: contains a NUL byte (line {line}, byte offset {offset})", path.display())]
    NulByte {
        /// The file.
        path: PathBuf,
        /// Line of the NUL byte (1-based).
        line: usize,
        /// Byte offset of the NUL byte.
        offset: usize,
    },
    /// The YAML is malformed, too deep, or expands to too many nodes (alias bomb).
    #[error("{}: invalid YAML: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// What the parser reported, with line and column.
        message: String,
    },
    /// The file does not have the expected shape (a hash at the top level, known keys, ...).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The load needs non-local included files that its
    /// [`IncludeSource`](super::IncludeSource) has not fetched yet: fetch
    /// them and load again.
    #[error("the pipeline includes files that were not fetched yet: {}", files.iter().map(|file| format!("`{file}`")).collect::<Vec<_>>().join(", "))]
    IncludesPending {
        /// Every file still needed, sorted, without repeats.
        files: Vec<super::ExternalFile>,
    },
    /// An `include:` entry is malformed or names a file that cannot be included.
    #[error("{}{}: {message}{}", file.display(), Line(line), Chain(chain))]
    Include {
        /// The file holding the `include:`.
        file: PathBuf,
        /// The entry's line, when it can be found.
        line: Option<usize>,
        /// What is wrong.
        message: String,
        /// Files from the loaded one down to `file`.
        chain: Vec<PathBuf>,
    },
    /// The job needs something (a parent, a `!reference` target, its own
    /// definition) that only an include the load skipped could define.
    #[error("{}: {job}", file.display())]
    Unchecked {
        /// The pipeline file.
        file: PathBuf,
        /// The job, what it needs, and the skipped includes.
        job: super::UncheckedJob,
    },
    /// A file includes itself, directly or through other files.
    #[error("{}: include loop: {}", chain.first().map_or_else(String::new, |p| p.display().to_string()), Arrowed(chain))]
    IncludeLoop {
        /// The files of the loop, the repeated file last.
        chain: Vec<PathBuf>,
    },
    /// The file's `spec:` header, the inputs given to it, or its
    /// `$[[ inputs.name ]]` blocks are wrong (GitLab's message).
    #[error("{}: {error}", path.display())]
    Inputs {
        /// The file (the included one, for an include's inputs).
        path: PathBuf,
        /// What is wrong.
        error: InputsError,
    },
    /// More files are included than GitLab allows.
    #[error("{}: Maximum of {limit} nested includes are allowed!", file.display())]
    TooManyIncludes {
        /// The file whose include went over the limit.
        file: PathBuf,
        /// GitLab's limit.
        limit: usize,
    },
    /// `extends:` names a job or template that does not exist.
    #[error("{}: job `{job}`: unknown key in `extends`: `{parent}`{}", file.display(), Suggestion(suggestion))]
    ExtendsUnknown {
        /// The pipeline file.
        file: PathBuf,
        /// The job whose `extends:` is wrong.
        job: String,
        /// The unknown name.
        parent: String,
        /// A close existing name.
        suggestion: Option<String>,
    },
    /// `extends:` forms a cycle.
    #[error("{}: job `{}`: circular dependency detected in `extends`: {}", file.display(), chain.first().map_or("", String::as_str), chain.join(" -> "))]
    ExtendsLoop {
        /// The pipeline file.
        file: PathBuf,
        /// The jobs of the cycle, the repeated one last.
        chain: Vec<String>,
    },
    /// `extends:` is nested deeper than GitLab allows.
    #[error("{}: job `{}`: nesting too deep in `extends` (more than {limit} levels): {}", file.display(), chain.first().map_or("", String::as_str), chain.join(" -> "))]
    ExtendsTooDeep {
        /// The pipeline file.
        file: PathBuf,
        /// The chain of jobs.
        chain: Vec<String>,
        /// GitLab's limit.
        limit: usize,
    },
    /// `extends:` is malformed or names something that is not a hash.
    #[error("{}: job `{job}`: {message}", file.display())]
    ExtendsInvalid {
        /// The pipeline file.
        file: PathBuf,
        /// The job.
        job: String,
        /// What is wrong.
        message: String,
    },
    /// A `!reference` tag cannot be resolved.
    #[error("{}: `{key}`: {message}", file.display())]
    Reference {
        /// The pipeline file.
        file: PathBuf,
        /// The top-level key (job) holding the tag.
        key: String,
        /// What is wrong, with the reference.
        message: String,
    },
    /// Expanding the pipeline (YAML aliases, `include:`, `extends:`, `!reference`, inherited
    /// `default:` values) would build more than the loader's budget allows.
    #[error("{}: {}{expansion} makes the expanded pipeline larger than {limit} (ci-secrets' limit; every alias, include, `extends:`, `!reference` and `default:` copy counts)", file.display(), Key(key))]
    ExpansionTooLarge {
        /// The file being read, or the one defining `key`.
        file: PathBuf,
        /// The job (or other top-level key) being expanded, when the copy belongs to one.
        key: Option<String>,
        /// What made the copy.
        expansion: Expansion,
        /// The limit it went over.
        limit: ExpansionLimit,
    },
    /// A job's keyword that ci-secrets reads has a wrong shape.
    #[error("{}: job `{job}`: {message}", file.display())]
    Job {
        /// The file defining the job.
        file: PathBuf,
        /// The job.
        job: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The requested job does not exist.
    #[error("{}: no job named `{job}`{}; jobs: {}", file.display(), Suggestion(suggestion), if available.is_empty() { "(none)".to_owned() } else { available.join(", ") })]
    UnknownJob {
        /// The pipeline file.
        file: PathBuf,
        /// The requested name.
        job: String,
        /// The non-hidden jobs, in file order.
        available: Vec<String>,
        /// A close existing name.
        suggestion: Option<String>,
    },
    /// The requested job is hidden (a template), which GitLab never runs.
    #[error("{}: `{job}` is a hidden job (a template, its name starts with `.`), GitLab never runs it", file.display())]
    HiddenJob {
        /// The pipeline file.
        file: PathBuf,
        /// The requested name.
        job: String,
    },
}

impl PipelineError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// What made a copy that went over the expansion budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expansion {
    /// Reading a file: its values with every YAML alias replayed, on top of the files read
    /// before it.
    Yaml {
        /// Where the parser was (1-based), when it says.
        line: Option<usize>,
        /// The column there (1-based).
        column: Option<usize>,
    },
    /// Copying a parent named in `extends:`.
    Extends {
        /// The parent.
        parent: String,
    },
    /// Copying the value a `!reference` points to.
    Reference {
        /// The reference as GitLab prints it (`[".setup", "script"]`).
        path: String,
    },
    /// Keeping a job's value as it was before its `!reference` tags are replaced, for the
    /// references that read it.
    ReferenceSnapshot,
    /// Inserting input values into `$[[ inputs.name ]]` blocks.
    Interpolation,
    /// Inheriting a `default:` keyword.
    Default {
        /// The keyword.
        keyword: String,
    },
}

impl fmt::Display for Expansion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Yaml { line, column } => {
                f.write_str("the YAML")?;
                if let Some(line) = line {
                    write!(f, " up to line {line}")?;
                    if let Some(column) = column {
                        write!(f, " column {column}")?;
                    }
                }
                f.write_str(" (aliases expanded, earlier files included; a YAML alias bomb?)")
            }
            Self::Extends { parent } => write!(f, "`extends: {parent}`"),
            Self::Reference { path } => write!(f, "`!reference {path}`"),
            Self::ReferenceSnapshot => f.write_str("the copy its `!reference` tags read"),
            Self::Interpolation => f.write_str("inserting input values (`$[[ inputs.name ]]`)"),
            Self::Default { keyword } => write!(f, "inheriting `default: {keyword}:`"),
        }
    }
}

/// `` `key`: `` when there is a key.
struct Key<'a>(&'a Option<String>);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(key) => write!(f, "`{key}`: "),
            None => Ok(()),
        }
    }
}

/// ` (included from a -> b)` when the chain has more than the file itself.
/// `:LINE` after a file name, when the line is known.
struct Line<'a>(&'a Option<usize>);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

struct Chain<'a>(&'a [PathBuf]);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            write!(f, " (include chain: {})", Arrowed(self.0))?;
        }
        Ok(())
    }
}

struct Arrowed<'a>(&'a [PathBuf]);

impl fmt::Display for Arrowed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, path) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{}", path.display())?;
        }
        Ok(())
    }
}

struct Suggestion<'a>(&'a Option<String>);

impl fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, " (did you mean `{name}`?)"),
            None => Ok(()),
        }
    }
}
