//! Shared helpers for the end-to-end tests.
#![allow(dead_code)]

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
