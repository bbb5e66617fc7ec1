//! Secret files: a private directory (0700) of 0600 files, written
//! all-or-nothing, and removed when the guard says so.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ci_secrets_provider_api::SecretValue;

use ci_secrets_gitlab::validate::is_valid_variable_name as is_valid_name;

/// Errors while writing secret files. They name paths and variables, never values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The files directory is shared with other users.
    #[error(
        "the files directory {path} is writable by group or others (mode {mode:o}); use a private directory (chmod 700)"
    )]
    LoosePermissions {
        /// The directory.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The files directory belongs to another user.
    #[error("the files directory {path} is owned by uid {owner}, not by the current user")]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// The owner's uid.
        owner: u32,
    },
    /// A variable name that would escape the directory.
    #[error("{0:?} is not a valid variable name for a secret file")]
    InvalidName(String),
    /// An I/O failure.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FileError + use<> {
    let path = path.to_path_buf();
    move |source| FileError::Io {
        action,
        path,
        source,
    }
}

/// Where secret files go.
#[derive(Debug)]
pub struct SecretFiles {
    dir: PathBuf,
    /// Removed on drop: the directory (when we created it) or only our files.
    cleanup: Cleanup,
    written: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    RemoveDir,
    Keep,
}

impl SecretFiles {
    /// A new private directory under `parent` (or a memory-backed location
    /// when `parent` is `None`), removed when this value is dropped.
    pub fn ephemeral(parent: Option<&Path>) -> Result<Self, FileError> {
        let parent = match parent {
            Some(parent) => parent.to_path_buf(),
            None => memory_backed_dir(),
        };
        let dir = create_private_dir(&parent)?;
        tracing::info!(dir = %dir.display(), "secret files directory");
        Ok(Self {
            dir,
            cleanup: Cleanup::RemoveDir,
            written: Vec::new(),
        })
    }

    /// A new private directory that outlives this process (for `resolve`,
    /// which prints the paths).
    pub fn persistent_new(parent: Option<&Path>) -> Result<Self, FileError> {
        let mut files = Self::ephemeral(parent)?;
        files.cleanup = Cleanup::Keep;
        Ok(files)
    }

    /// An existing directory chosen by the user. It must be ours and not
    /// writable by others; it is created (0700) when missing.
    pub fn existing(dir: &Path) -> Result<Self, FileError> {
        match fs::metadata(dir) {
            Ok(meta) => check_private(dir, &meta)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(io_error("cannot create", dir))?;
            }
            Err(err) => return Err(io_error("cannot inspect", dir)(err)),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            cleanup: Cleanup::Keep,
            written: Vec::new(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes every `(variable, value)` byte-exact, all or nothing: each value
    /// goes to a fresh 0600 temporary file (created with `O_EXCL`), and only
    /// when all are written are they renamed into place as `<dir>/<VARIABLE>`.
    pub fn write_all<'a>(
        &mut self,
        secrets: impl IntoIterator<Item = (&'a str, &'a SecretValue)>,
    ) -> Result<Vec<PathBuf>, FileError> {
        let mut staged = Vec::new();
        for (variable, value) in secrets {
            if !is_valid_name(variable) {
                return Err(FileError::InvalidName(variable.to_string()));
            }
            let mut temp = tempfile::Builder::new()
                .prefix(".ci-secrets-")
                .permissions(fs::Permissions::from_mode(0o600))
                .tempfile_in(&self.dir)
                .map_err(io_error("cannot create a file in", &self.dir))?;
            temp.write_all(value.expose_bytes())
                .and_then(|()| temp.as_file().sync_all())
                .map_err(io_error("cannot write", temp.path()))?;
            staged.push((temp, self.dir.join(variable)));
        }
        // All content is on disk: now publish. A rename cannot half-write.
        let mut paths = Vec::with_capacity(staged.len());
        for (temp, target) in staged {
            temp.persist(&target)
                .map_err(|err| io_error("cannot move into place", &target)(err.error))?;
            self.written.push(target.clone());
            paths.push(target);
        }
        Ok(paths)
    }

    /// Removes what this run wrote (used when a later step fails, so no
    /// partial output remains in a kept directory).
    pub fn discard(&mut self) {
        for path in self.written.drain(..) {
            let _ = fs::remove_file(path);
        }
        if self.cleanup == Cleanup::Keep {
            let _ = fs::remove_dir(&self.dir); // only succeeds when empty
        }
    }

    /// Keeps the files after this value is dropped.
    pub fn keep(mut self) -> PathBuf {
        self.cleanup = Cleanup::Keep;
        self.written.clear();
        std::mem::take(&mut self.dir)
    }
}

impl Drop for SecretFiles {
    fn drop(&mut self) {
        if self.cleanup == Cleanup::RemoveDir && !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn check_private(dir: &Path, meta: &fs::Metadata) -> Result<(), FileError> {
    if !meta.is_dir() {
        return Err(io_error("not a directory:", dir)(std::io::Error::from(
            std::io::ErrorKind::NotADirectory,
        )));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(FileError::NotOwned {
            path: dir.to_path_buf(),
            owner: meta.uid(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(FileError::LoosePermissions {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

fn create_private_dir(parent: &Path) -> Result<PathBuf, FileError> {
    let dir = tempfile::Builder::new()
        .prefix("ci-secrets-")
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)
        .map_err(io_error("cannot create a private directory in", parent))?;
    Ok(dir.keep())
}

/// Prefer memory: secrets in `/dev/shm` or `$XDG_RUNTIME_DIR` never reach a disk.
pub fn memory_backed_dir() -> PathBuf {
    let candidates = [
        Some(PathBuf::from("/dev/shm")),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| is_writable_dir(dir))
        .unwrap_or_else(std::env::temp_dir)
}

fn is_writable_dir(dir: &Path) -> bool {
    dir.is_dir() && nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_exact_and_removed_with_the_guard() {
        let parent = tempfile::tempdir().unwrap();
        let value = SecretValue::text("line1\nline2");
        let dir;
        {
            let mut files = SecretFiles::ephemeral(Some(parent.path())).unwrap();
            dir = files.dir().to_path_buf();
            let paths = files.write_all([("A", &value)]).unwrap();
            assert_eq!(fs::read(&paths[0]).unwrap(), b"line1\nline2");
            let mode = fs::metadata(&paths[0]).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o600);
            assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        }
        assert!(!dir.exists());
    }

    #[test]
    fn loose_directory_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = SecretFiles::existing(parent.path()).unwrap_err();
        assert!(matches!(err, FileError::LoosePermissions { .. }), "{err}");
    }

    #[test]
    fn names_cannot_escape() {
        let parent = tempfile::tempdir().unwrap();
        let mut files = SecretFiles::existing(parent.path()).unwrap();
        let value = SecretValue::text("x");
        let err = files.write_all([("../evil", &value)]).unwrap_err();
        assert!(matches!(err, FileError::InvalidName(_)));
        assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn rewriting_replaces_atomically() {
        let parent = tempfile::tempdir().unwrap();
        fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let mut files = SecretFiles::existing(parent.path()).unwrap();
        files.write_all([("A", &SecretValue::text("old"))]).unwrap();
        files.write_all([("A", &SecretValue::text("new"))]).unwrap();
        assert_eq!(fs::read(parent.path().join("A")).unwrap(), b"new");
        let leftovers: Vec<_> = fs::read_dir(parent.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}
