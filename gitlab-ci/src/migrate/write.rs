//! Writing a proved migration: every file first goes to a temporary file
//! next to its destination, and only when all are written are they renamed
//! over their destinations, so a failure while writing leaves the project as
//! it was. (The renames themselves are not one atomic step: a crash between
//! two of them leaves some files new, each of them whole.)

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::error::MigrateError;
use super::plan::Migration;

/// Writes the edited pipeline files and the secrets files of `migration`
/// under its project folder. Returns the paths written (relative to it).
/// A secrets file that exists with other content is refused: it may be
/// someone's.
pub fn write(migration: &Migration) -> Result<Vec<PathBuf>, MigrateError> {
    let root = &migration.project_dir;
    let mut planned: Vec<(PathBuf, &str)> = Vec::new();
    for file in &migration.edited {
        planned.push((file.relative.clone(), file.new.as_str()));
    }
    for file in &migration.secrets_files {
        let path = root.join(&file.relative);
        if let Ok(existing) = std::fs::read_to_string(&path)
            && existing != file.text
        {
            return Err(MigrateError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists with other content; remove it or choose another --out-dir",
                ),
            });
        }
        planned.push((file.relative.clone(), file.text.as_str()));
    }
    let mut staged = Vec::with_capacity(planned.len());
    for (relative, text) in &planned {
        let path = root.join(relative);
        staged.push((stage(&path, text)?, path));
    }
    for (temporary, path) in staged {
        temporary.persist(&path).map_err(|error| MigrateError::Io {
            path: path.clone(),
            source: error.error,
        })?;
    }
    Ok(planned.into_iter().map(|(relative, _)| relative).collect())
}

fn stage(path: &Path, text: &str) -> Result<tempfile::NamedTempFile, MigrateError> {
    let io = |source| MigrateError::Io {
        path: path.to_owned(),
        source,
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).map_err(io)?;
    let mut file = tempfile::Builder::new()
        .prefix(".ci-secrets-migrate")
        .tempfile_in(&folder)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    // An edited pipeline file keeps its permissions; a new secrets file holds
    // no value and is committed like the pipeline: readable, as a new file
    // would be (the temporary file is private).
    let permissions = match std::fs::metadata(path) {
        Ok(metadata) => Some(metadata.permissions()),
        Err(_) => new_file_permissions(&folder),
    };
    if let Some(permissions) = permissions {
        file.as_file().set_permissions(permissions).map_err(io)?;
    }
    file.as_file().sync_all().map_err(io)?;
    Ok(file)
}

#[cfg(unix)]
fn new_file_permissions(_folder: &Path) -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt as _;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions(folder: &Path) -> Option<std::fs::Permissions> {
    let mut permissions = std::fs::metadata(folder).ok()?.permissions();
    permissions.set_readonly(false);
    Some(permissions)
}
