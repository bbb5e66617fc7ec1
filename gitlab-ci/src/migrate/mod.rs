//! `ci-secrets migrate`: moves the `secrets:` that GitLab no longer resolves
//! (`akeyless:` since GitLab 18.3) out of `.gitlab-ci.yml` into secrets files
//! that `ci-secrets exec --secrets FILE` (or `resolve --format shell`)
//! reads, and rewrites the jobs' `script:` to do so.
//!
//! The rewrite is a text edit ([`plan`]): only the moved entries and the
//! rewritten `script:` values change; comments, key order, anchors and the
//! rest of the formatting stay byte for byte. Then [`verify`] proves it:
//! the edited files and the secrets files, copied to a temporary folder,
//! load with the same loader, no job holds a moved provider any more, and
//! every job gets the same secrets, variables, ID tokens and script as
//! before (a migrated job's script read back from the rewritten line).
//! Layouts the edit cannot change safely are refused with the file, line
//! and job, never guessed.

mod edit;
mod error;
mod options;
mod plan;
mod render;
mod script;
mod source;
mod sweep;
mod tree;
mod verify;
mod write;

pub use error::MigrateError;
pub use options::MigrateOptions;
pub use plan::{EditedFile, MigratedJob, Migration, SecretsFile, plan};
pub use render::{ScriptShell, Style};
pub use verify::verify;
pub use write::write;
