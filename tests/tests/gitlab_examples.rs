//! The copy-paste jobs of `examples/gitlab/` run here, `script:` lines and
//! all, with `sh` against a local Akeyless emulator, so they cannot rot.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use akeyless_emulator::demo::{DEMO_JWT_ACCESS_ID, DEMO_JWT_AUDIENCE};
use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Emulator, Seed};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitlab")
}

/// `before_script` and `script` of a job, as GitLab would run them.
fn job_lines(pipeline: &serde_norway::Value, job: &str) -> Vec<String> {
    let job = &pipeline[job];
    ["before_script", "script"]
        .iter()
        .filter_map(|key| job.get(*key).and_then(|lines| lines.as_sequence()))
        .flatten()
        .map(|line| line.as_str().unwrap().to_string())
        .collect()
}

struct Runner {
    _runtime: tokio::runtime::Runtime,
    emulator: akeyless_emulator::RunningEmulator,
    bin_dir: tempfile::TempDir,
}

impl Runner {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let emulator = runtime
            .block_on(Emulator::builder().seed(Seed::demo()).start())
            .unwrap();
        // The job image has `ci-secrets` on PATH.
        let bin_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_ci-secrets-e2e"),
            bin_dir.path().join("ci-secrets"),
        )
        .unwrap();
        Self {
            _runtime: runtime,
            emulator,
            bin_dir,
        }
    }

    /// Runs one job's lines in a copy of the project, with GitLab's variables.
    fn run_job(&self, job: &str) -> std::process::Output {
        let text = std::fs::read_to_string(examples_dir().join(".gitlab-ci.yml")).unwrap();
        let pipeline: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let lines = job_lines(&pipeline, job);
        assert!(!lines.is_empty(), "job {job} has no script");
        let project = tempfile::tempdir().unwrap();
        copy_dir(&examples_dir(), project.path());
        let runner_temp = tempfile::tempdir().unwrap();
        let path = format!(
            "{}:{}",
            self.bin_dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let mut command = std::process::Command::new("sh");
        support::isolate(&mut command);
        command
            .arg("-ec")
            .arg(lines.join("\n"))
            .current_dir(project.path())
            .env("PATH", path)
            .env("RUNNER_TEMP_PROJECT_DIR", runner_temp.path())
            .env("AKEYLESS_ACCESS_ID", DEMO_JWT_ACCESS_ID)
            .env("AKEYLESS_API_URL", self.emulator.url())
            .env(
                "AKEYLESS_JWT",
                TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(300)),
            );
        command.output().unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn exec_job_deploys_with_masked_output() {
    let runner = Runner::start();
    let output = runner.run_job("deploy-exec");
    let stdout = support::stdout(&output);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        support::stderr(&output)
    );
    // Every secret is masked in the command's output, the host included.
    assert!(stdout.contains("deploying to [MASKED]"), "{stdout}");
    assert!(stdout.contains("debug: password is [MASKED]"), "{stdout}");
    assert!(!stdout.contains("demo-password"), "{stdout}");
}

#[test]
fn eval_job_loads_secrets_into_the_shell() {
    let runner = Runner::start();
    let output = runner.run_job("deploy-eval");
    let stdout = support::stdout(&output);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        support::stderr(&output)
    );
    assert!(stdout.contains("deploying to db.demo.internal"), "{stdout}");
}

#[test]
fn validate_job_checks_the_block_without_network() {
    let runner = Runner::start();
    let output = runner.run_job("validate-secrets");
    assert!(output.status.success(), "{}", support::stderr(&output));
    assert_eq!(runner.emulator.stats().total_requests(), 0);
}
