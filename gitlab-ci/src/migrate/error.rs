//! What can stop a migration. Every error names the file and line, and the
//! job when there is one; none carries a secret value (migrate never
//! resolves one).

use std::path::PathBuf;

use crate::pipeline::PipelineError;

/// Why `migrate` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A layout the text edit cannot change safely: refused, never guessed.
    #[error("{}:{line}: job `{job}`: {message}", file.display())]
    Unsupported {
        /// The file that holds the definition.
        file: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// The job (or template) concerned.
        job: String,
        /// What is refused and what to do instead.
        message: String,
    },
    /// A pipeline file is not YAML the edit can read.
    #[error("{}:{line}: {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// The 1-based line the parser stopped at.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A file could not be read, copied or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A pipeline file outside the project folder (the secrets files and the
    /// proof's copy are laid out relative to it).
    #[error("{} is outside the project folder {}", file.display(), project_dir.display())]
    Outside {
        /// The file.
        file: PathBuf,
        /// The project folder.
        project_dir: PathBuf,
    },
    /// The edited pipeline does not load.
    #[error("the migrated pipeline does not load (nothing was written): {0}")]
    NewPipeline(PipelineError),
    /// Two edits of one file overlap: refused rather than merged.
    #[error("{}: two edits of this file overlap; migrate refuses rather than guess", file.display())]
    Overlap {
        /// The file.
        file: PathBuf,
    },
    /// The edited pipeline and the secrets files do not give a job what the old
    /// pipeline gave it.
    #[error("{} (nothing was written): {message}", proof_subject(job))]
    Proof {
        /// The job; empty when the difference is the pipeline's (its list of jobs, say).
        job: String,
        /// What differs (names, never values).
        message: String,
    },
}

fn proof_subject(job: &str) -> String {
    if job.is_empty() {
        "the migration is wrong".to_owned()
    } else {
        format!("the migration is wrong for job `{job}`")
    }
}

impl MigrateError {
    pub(crate) fn unsupported(
        file: impl Into<PathBuf>,
        line: usize,
        job: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::Unsupported {
            file: file.into(),
            line,
            job: job.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn proof(job: &str, message: impl Into<String>) -> Self {
        Self::Proof {
            job: job.to_owned(),
            message: message.into(),
        }
    }
}
