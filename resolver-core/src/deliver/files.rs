//! Secret files: a private directory (0700) of 0600 files, written
//! all-or-nothing, and removed when the guard says so.
//!
//! Every check and every write goes through one open handle on the
//! directory (`O_DIRECTORY | O_NOFOLLOW`, then `fstat`, then `openat` and
//! `renameat`): what is checked is what is written into, even when another
//! user creates or swaps the path between two steps.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ci_secrets_provider_api::SecretValue;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

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
    /// The files directory is a symbolic link, which could be swapped.
    #[error(
        "the files directory {path} is a symbolic link; give the directory it points to instead"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The files path exists and is not a directory.
    #[error("the files directory {path} is not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
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

fn errno_error(action: &'static str, path: &Path) -> impl FnOnce(Errno) -> FileError + use<> {
    let to_io = io_error(action, path);
    move |errno| to_io(std::io::Error::from(errno))
}

/// Where secret files go.
#[derive(Debug)]
pub struct SecretFiles {
    dir: PathBuf,
    /// The directory as checked; every file is created relative to it.
    handle: OwnedFd,
    /// Whether this run made the directory (only then may it remove it).
    created: bool,
    /// Removed on drop: the directory (when we created it) or only our files.
    cleanup: Cleanup,
    /// Names of the files this run published, relative to `handle`.
    written: Vec<OsString>,
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
        let handle = match open_private_dir(&dir) {
            Ok(handle) => handle,
            Err(err) => {
                let _ = fs::remove_dir(&dir);
                return Err(err);
            }
        };
        tracing::info!(dir = %dir.display(), "secret files directory");
        Ok(Self {
            dir,
            handle,
            created: true,
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

    /// A directory chosen by the user. It is created (0700) when missing;
    /// either way it must be ours and not writable by others, as seen on
    /// the handle that the files are then written through.
    pub fn existing(dir: &Path) -> Result<Self, FileError> {
        let created = make_dir(dir)?;
        let handle = open_private_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            handle,
            created,
            cleanup: Cleanup::Keep,
            written: Vec::new(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes every `(variable, value)` byte-exact, all or nothing: each value
    /// goes to a fresh 0600 temporary file (created with `O_EXCL`), written
    /// and closed before the next one opens (so the count of secrets is not
    /// bounded by the open-file limit), and only when all are written are
    /// they renamed into place as `<dir>/<VARIABLE>`.
    pub fn write_all<'a>(
        &mut self,
        secrets: impl IntoIterator<Item = (&'a str, &'a SecretValue)>,
    ) -> Result<Vec<PathBuf>, FileError> {
        let mut staged = Staged {
            dir: &self.dir,
            handle: &self.handle,
            temps: Vec::new(),
        };
        for (variable, value) in secrets {
            if !is_valid_name(variable) {
                return Err(FileError::InvalidName(variable.to_string()));
            }
            staged.write(variable, value)?;
        }
        // All content is on disk: now publish. A rename cannot half-write.
        let mut paths = Vec::with_capacity(staged.temps.len());
        // Popped one at a time, so that a failed rename leaves the rest in
        // `staged`, which removes them.
        staged.temps.reverse();
        while let Some((temp, variable)) = staged.temps.pop() {
            let target = self.dir.join(variable);
            let renamed = nix::fcntl::renameat(
                self.handle.as_fd(),
                temp.as_os_str(),
                self.handle.as_fd(),
                OsStr::new(variable),
            );
            if let Err(errno) = renamed {
                let _ = nix::unistd::unlinkat(
                    self.handle.as_fd(),
                    temp.as_os_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                return Err(errno_error("cannot move into place", &target)(errno));
            }
            self.written.push(OsString::from(variable));
            paths.push(target);
        }
        Ok(paths)
    }

    /// Removes what this run wrote (used when a later step fails, so no
    /// partial output remains), and the directory only if this run made it.
    pub fn discard(&mut self) {
        for name in self.written.drain(..) {
            let _ = nix::unistd::unlinkat(
                self.handle.as_fd(),
                name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        if self.created && self.cleanup == Cleanup::Keep {
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

/// Temporary files written but not yet published; whatever is left here
/// when it drops (a failure half-way) is removed.
struct Staged<'a> {
    dir: &'a Path,
    handle: &'a OwnedFd,
    temps: Vec<(OsString, &'a str)>,
}

impl<'a> Staged<'a> {
    fn write(&mut self, variable: &'a str, value: &SecretValue) -> Result<(), FileError> {
        let (name, fd) = self.create_temp()?;
        // Recorded before writing, so a failed write is removed too.
        self.temps.push((name, variable));
        let mut file = fs::File::from(fd);
        file.write_all(value.expose_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error("cannot write", &self.dir.join(variable)))
        // `file` closes here, before the next secret opens its own.
    }

    /// A new 0600 file with a name no one else has: `O_EXCL` refuses an
    /// existing name and `O_NOFOLLOW` a planted link.
    fn create_temp(&self) -> Result<(OsString, OwnedFd), FileError> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut last = Errno::EEXIST;
        for _ in 0..64 {
            let name = OsString::from(format!(".ci-secrets-{}", temp_suffix()));
            match nix::fcntl::openat(
                self.handle.as_fd(),
                name.as_os_str(),
                flags,
                Mode::S_IRUSR | Mode::S_IWUSR,
            ) {
                Ok(fd) => return Ok((name, fd)),
                Err(Errno::EEXIST) => last = Errno::EEXIST,
                Err(errno) => {
                    last = errno;
                    break;
                }
            }
        }
        Err(errno_error("cannot create a file in", self.dir)(last))
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        for (temp, _) in self.temps.drain(..) {
            let _ = nix::unistd::unlinkat(
                self.handle.as_fd(),
                temp.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// Unpredictable enough that a guessed name rarely collides; `O_EXCL`
/// makes a collision a retry, never a shared file.
fn temp_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// `mkdir` with mode 0700; whether this call made it. Missing parents are
/// created first (they hold no secrets; the last component is what is checked).
fn make_dir(dir: &Path) -> Result<bool, FileError> {
    match nix::unistd::mkdir(dir, Mode::S_IRWXU) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST) => Ok(false),
        Err(Errno::ENOENT) => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(io_error("cannot create", parent))?;
            }
            match nix::unistd::mkdir(dir, Mode::S_IRWXU) {
                Ok(()) => Ok(true),
                Err(Errno::EEXIST) => Ok(false),
                Err(errno) => Err(errno_error("cannot create", dir)(errno)),
            }
        }
        Err(errno) => Err(errno_error("cannot create", dir)(errno)),
    }
}

/// Opens `dir` without following a final symbolic link and checks, on the
/// handle, that it is a directory of ours that no one else can write to.
fn open_private_dir(dir: &Path) -> Result<OwnedFd, FileError> {
    let handle = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| match errno {
        Errno::ELOOP => FileError::Symlink {
            path: dir.to_path_buf(),
        },
        Errno::ENOTDIR => match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => FileError::Symlink {
                path: dir.to_path_buf(),
            },
            _ => FileError::NotADirectory {
                path: dir.to_path_buf(),
            },
        },
        errno => errno_error("cannot open", dir)(errno),
    })?;
    let stat = nix::sys::stat::fstat(&handle).map_err(errno_error("cannot inspect", dir))?;
    let me = nix::unistd::geteuid().as_raw();
    if stat.st_uid != me {
        return Err(FileError::NotOwned {
            path: dir.to_path_buf(),
            owner: stat.st_uid,
        });
    }
    // `st_mode` is u16 on macOS and u32 on Linux: widen wherever it is narrower.
    #[allow(clippy::useless_conversion)]
    let mode = u32::from(stat.st_mode) & 0o7777;
    if mode & 0o022 != 0 {
        return Err(FileError::LoosePermissions {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(handle)
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
    use std::os::unix::fs::MetadataExt;

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
    fn a_directory_made_by_the_run_is_removed_on_discard_but_a_users_is_kept() {
        let parent = tempfile::tempdir().unwrap();
        let made = parent.path().join("made/by/run");
        let mut files = SecretFiles::existing(&made).unwrap();
        assert_eq!(fs::metadata(&made).unwrap().mode() & 0o777, 0o700);
        files.write_all([("A", &SecretValue::text("x"))]).unwrap();
        files.discard();
        assert!(!made.exists());

        let users = parent.path().join("users");
        fs::create_dir(&users).unwrap();
        fs::set_permissions(&users, fs::Permissions::from_mode(0o700)).unwrap();
        let mut files = SecretFiles::existing(&users).unwrap();
        files.write_all([("A", &SecretValue::text("x"))]).unwrap();
        files.discard();
        assert!(users.is_dir(), "the user's directory was removed");
        assert_eq!(fs::read_dir(&users).unwrap().count(), 0);
    }

    #[test]
    fn a_symbolic_link_as_the_directory_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let real = parent.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
        let link = parent.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = SecretFiles::existing(&link).unwrap_err();
        assert!(matches!(err, FileError::Symlink { .. }), "{err}");
        let file = parent.path().join("file");
        fs::write(&file, "").unwrap();
        let err = SecretFiles::existing(&file).unwrap_err();
        assert!(matches!(err, FileError::NotADirectory { .. }), "{err}");
    }

    #[test]
    fn files_go_where_the_handle_was_checked_even_if_the_path_is_swapped() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("dir");
        let mut files = SecretFiles::existing(&dir).unwrap();
        // Someone renames the checked directory away and puts another in its place.
        let moved = parent.path().join("moved");
        fs::rename(&dir, &moved).unwrap();
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        files.write_all([("A", &SecretValue::text("x"))]).unwrap();
        assert_eq!(fs::read(moved.join("A")).unwrap(), b"x");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
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
