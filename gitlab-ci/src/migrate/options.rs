//! What `migrate` moves and how the jobs load it.

use std::path::PathBuf;

use super::render::{ScriptShell, Style};

/// What to move and how.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// The provider keys whose secrets move out of the pipeline (`akeyless`
    /// by default: GitLab 18.3 refuses it).
    pub providers: Vec<String>,
    /// Where the secrets files go, relative to the project folder.
    pub out_dir: PathBuf,
    /// How a migrated job loads them.
    pub style: Style,
    /// The shell that runs the joined script lines (`exec` style).
    pub shell: ScriptShell,
    /// How jobs call ci-secrets (`ci-secrets`: on the image's `PATH`).
    pub command: String,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            providers: vec!["akeyless".to_owned()],
            out_dir: PathBuf::from("ci/secrets"),
            style: Style::Exec,
            shell: ScriptShell::Sh,
            command: "ci-secrets".to_owned(),
        }
    }
}
