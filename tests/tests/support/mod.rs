//! Shared helpers for the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The CLI with every shipped provider plus the `testkv` test provider.
pub fn e2e_bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ci-secrets-e2e"));
    isolate(&mut command);
    command
}

/// Keeps the developer's own environment out of the run.
pub fn isolate(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if name.starts_with("CI_SECRETS_")
            || name.starts_with("AKEYLESS_")
            || name.starts_with("VAULT_")
            || name == "RUST_LOG"
            || name == "RUNNER_TEMP_PROJECT_DIR"
            || name == "GITLAB_CI"
            // Other CI systems' ID token sources.
            || name.starts_with("ACTIONS_ID_TOKEN_")
            || name == "BUILDKITE"
            || name == "CIRCLE_OIDC_TOKEN_V2"
            || name == "BITBUCKET_STEP_OIDC_TOKEN"
        {
            command.env_remove(&name);
        }
    }
    command.env("XDG_CONFIG_HOME", "/nonexistent-ci-secrets-test");
}

/// A project directory with files, used as the working directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The e2e binary, run in this directory.
    pub fn cli(&self) -> Command {
        let mut command = e2e_bin();
        command.current_dir(self.path());
        command
    }

    /// A testkv store with these entries, and its path.
    pub fn store(&self, entries: &[(&str, &str)]) -> PathBuf {
        let map: serde_json::Map<String, serde_json::Value> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        self.write("store.json", &serde_json::Value::Object(map).to_string())
    }

    /// `resolve --job job --format json` with `extra` arguments, run to the end.
    pub fn resolve_job_json(&self, extra: &[&str]) -> Output {
        self.cli()
            .args(["resolve", "--job", "job", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    }

    /// Writes `ci-secrets.toml` pointing the testkv provider at `store`.
    pub fn use_store(&self, store: &Path) {
        self.write(
            "ci-secrets.toml",
            &format!(
                "[providers.testkv]\nstore = {:?}\n",
                store.display().to_string()
            ),
        );
    }
}

/// Waits (bounded, as a safety net) until `path` exists.
pub fn wait_for_file(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Runs `command` to completion, its output captured, and returns the
/// output with the command's peak RSS in bytes. The peak comes from `wait4`
/// on this one child (and what it waited for), unlike
/// `getrusage(RUSAGE_CHILDREN)`, which mixes in the children of every other
/// test of this process.
// The child is reaped by `wait4` in `wait_with_peak_rss`, not by `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn output_with_peak_rss(command: &mut Command) -> (Output, u64) {
    use std::io::Read;
    use std::process::Stdio;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let (status, peak_rss) = wait_with_peak_rss(child.id());
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (output, peak_rss)
}

/// Reaps child `pid` and returns its status and peak RSS in bytes.
#[allow(unsafe_code)]
fn wait_with_peak_rss(pid: u32) -> (std::process::ExitStatus, u64) {
    use nix::libc;
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(pid).unwrap();
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes only through the two pointers, which point to
        // live locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::Interrupted,
            "wait4: {error}"
        );
    }
    // Linux reports `ru_maxrss` in KiB.
    let peak = u64::try_from(usage.ru_maxrss).unwrap() * 1024;
    (std::process::ExitStatus::from_raw(status), peak)
}
