//! What the rules read from the repository: its files (`exists:`) and the files changed
//! since a base (`changes:`), both through `git` in the project folder.

use std::path::Path;

use walkdir::WalkDir;

/// Most files listed for `exists:`; a larger tree is cut there (with a warning).
pub const MAX_FILES: usize = 1_000_000;

/// The files GitLab would see at the pipeline's commit: `git ls-files` (tracked files) when
/// `project_dir` is in a git work tree, else every file under it except `.git`. Paths are
/// relative to `project_dir` with `/` separators, sorted. The flag says the list was cut at
/// [`MAX_FILES`].
pub fn worktree_files(project_dir: &Path) -> (Vec<String>, bool) {
    let mut files = match git_lines(project_dir, &["ls-files", "-z"]) {
        Some(files) => files,
        None => WalkDir::new(project_dir)
            .follow_links(false)
            .into_iter()
            .filter_entry(|entry| entry.file_name() != ".git")
            .filter_map(Result::ok)
            .filter(|entry| !entry.file_type().is_dir())
            .take(MAX_FILES + 1)
            .filter_map(|entry| {
                let relative = entry.path().strip_prefix(project_dir).ok()?;
                let parts: Vec<_> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                Some(parts.join("/"))
            })
            .collect(),
    };
    let truncated = files.len() > MAX_FILES;
    files.truncate(MAX_FILES);
    files.sort();
    (files, truncated)
}

/// The files changed between the merge base of `base` and `HEAD`, and `HEAD`
/// (`git diff --name-only base...HEAD`, relative to `project_dir`): what GitLab compares for
/// `changes: compare_to:` and, with `--changes-base`, for every `changes:`. `None` when `base`
/// is no ref of the repository (or git is missing).
pub fn changed_files(project_dir: &Path, base: &str) -> Option<Vec<String>> {
    // A ref starting with `-` would be read as an option.
    if base.is_empty() || base.starts_with('-') {
        return None;
    }
    git_lines(
        project_dir,
        &[
            "diff",
            "--name-only",
            "--relative",
            "--no-renames",
            "-z",
            &format!("{base}...HEAD"),
            "--",
        ],
    )
}

/// The NUL-separated output of `git args` in `dir`, `None` when git fails.
fn git_lines(dir: &Path, args: &[&str]) -> Option<Vec<String>> {
    Some(
        crate::git::output(dir, args)?
            .split(|byte| *byte == 0)
            .filter(|line| !line.is_empty())
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect(),
    )
}
