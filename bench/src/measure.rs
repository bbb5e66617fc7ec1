//! Timing a whole process and its peak RSS.
//!
//! `getrusage(RUSAGE_CHILDREN)` reports the largest peak RSS of all waited
//! children, so the harness cannot use it for many children in turn. It runs
//! each measured command through a copy of itself (the helper, selected by
//! [`HELPER_ARG`]) that has exactly one child: the helper times spawn to
//! exit, then reads its children's peak RSS and prints both as JSON.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::time::TimeValLike as _;
use serde::{Deserialize, Serialize};

use crate::BenchError;

/// The first argument that turns the harness binary into the helper.
pub const HELPER_ARG: &str = "__measure-child";

/// One measured run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Sample {
    /// Spawn to exit.
    pub wall_us: u64,
    /// Peak resident set size of the process, in KiB.
    pub max_rss_kib: u64,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// CPU time of the process, user + system, in microseconds.
    #[serde(default)]
    pub cpu_us: u64,
}

impl Sample {
    /// The wall time in milliseconds.
    pub fn wall_ms(&self) -> f64 {
        Duration::from_micros(self.wall_us).as_secs_f64() * 1000.0
    }
}

/// A command to measure. Its environment is cleared except for `PATH`,
/// `HOME` and what [`Invocation::env`] adds, so that no configuration of
/// the machine leaks in.
#[derive(Debug, Clone)]
pub struct Invocation {
    label: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl Invocation {
    /// `program` run in `dir`; `label` names it in errors.
    pub fn new(label: impl Into<String>, program: impl Into<PathBuf>, dir: &Path) -> Self {
        Self {
            label: label.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs it once through the helper. The child's stdout goes to
    /// `stdout`; a non-zero exit is an error carrying its stderr.
    pub fn measure(&self, stdout: &Path) -> Result<Sample, BenchError> {
        let harness = harness_binary()?;
        let stderr = stdout.with_extension("stderr");
        let mut command = Command::new(harness);
        command
            .arg(HELPER_ARG)
            .arg(stdout)
            .arg(&stderr)
            .arg(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .env_clear()
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        for name in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = command
            .output()
            .map_err(|err| BenchError::io(format!("running {}", self.label), err))?;
        let sample: Sample =
            serde_json::from_slice(&output.stdout).map_err(|err| BenchError::Command {
                command: self.label.clone(),
                message: format!("the measuring helper answered no sample ({err})"),
            })?;
        if sample.code != 0 {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            let cut: String = text.chars().take(2000).collect();
            return Err(BenchError::Command {
                command: self.label.clone(),
                message: format!("exit code {}: {cut}", sample.code),
            });
        }
        Ok(sample)
    }
}

/// This harness's own binary, which also runs as the measuring helper and
/// as the masking section's relay.
pub fn harness_binary() -> Result<PathBuf, BenchError> {
    std::env::current_exe().map_err(|err| BenchError::io("locating the harness binary", err))
}

/// The helper's main: `HELPER_ARG <stdout file> <stderr file> <program> [args...]`.
/// Prints one [`Sample`] as JSON; returns the helper's exit code.
pub fn run_helper(args: &[OsString]) -> Result<Sample, BenchError> {
    let [stdout, stderr, program, rest @ ..] = args else {
        return Err(BenchError::Command {
            command: HELPER_ARG.into(),
            message: "usage: <stdout file> <stderr file> <program> [args...]".into(),
        });
    };
    let stdout = File::create(stdout).map_err(|err| BenchError::io("creating stdout file", err))?;
    let stderr = File::create(stderr).map_err(|err| BenchError::io("creating stderr file", err))?;
    let start = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(|err| BenchError::io(format!("starting {}", program.to_string_lossy()), err))?;
    let wall = start.elapsed();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_err(|err| BenchError::io("getrusage", err.into()))?;
    Ok(Sample {
        wall_us: u64::try_from(wall.as_micros()).unwrap_or(u64::MAX),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(usage.max_rss()).unwrap_or(0),
        code: status.code().unwrap_or(-1),
        cpu_us: u64::try_from(
            usage.user_time().num_microseconds() + usage.system_time().num_microseconds(),
        )
        .unwrap_or(0),
    })
}
