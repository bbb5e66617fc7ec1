//! Asking git about the repository, for what GitLab knows from it
//! (predefined variables, `exists:`, `changes:`). git's own diagnostics are
//! not shown: a question git cannot answer is `None`.

use std::path::Path;
use std::process::{Command, Stdio};

/// The standard output of `git -C dir args`, when git runs and succeeds.
pub(crate) fn output(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}
