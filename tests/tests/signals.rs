//! Signals end a run cleanly: at any point of `resolve` or `exec`, every
//! terminating signal cancels the resolution (the providers still release
//! what they acquired), removes the secret files this run wrote, reaches
//! the command's whole process group, and ends with `128 + signal`.

use crate::hardening_support;
use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hardening_support::{RawServer, json_response, response, stall};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{Project, wait_for_file};

/// Every signal whose default action ends a process, as users and CI
/// runners send them.
const SIGNALS: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
];

/// A job whose secret takes 30 s to resolve, and logs of the provider's
/// start and finish.
struct SlowJob {
    project: Project,
    started_log: PathBuf,
    finish_log: PathBuf,
}

fn slow_job() -> SlowJob {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    SLOW:\n      testkv: {key: x, delay_ms: \"30000\"}\n",
    );
    let store = project.store(&[("x", "slow-secret-value")]);
    let started_log = project.path().join("started.log");
    let finish_log = project.path().join("finish.log");
    project.write(
        "ci-secrets.toml",
        &format!(
            "[providers.testkv]\nstore = {:?}\nstarted_log = {:?}\nfinish_log = {:?}\n",
            store.display().to_string(),
            started_log.display().to_string(),
            finish_log.display().to_string()
        ),
    );
    SlowJob {
        project,
        started_log,
        finish_log,
    }
}

fn send(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// The run's exit code and stderr.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut err).unwrap();
    }
    let status = child.wait().unwrap();
    (status.code(), err)
}

#[test]
fn a_signal_during_resolution_cancels_it_and_the_provider_still_finishes() {
    for command in ["resolve", "exec"] {
        for signal in SIGNALS {
            let job = slow_job();
            let command_ran = job.project.path().join("command-ran");
            let mut cli = job.project.cli();
            cli.args([command, "--job", "job"]);
            if command == "exec" {
                cli.args(["--", "sh", "-c", ": > \"$1\"", "sh"])
                    .arg(&command_ran);
            } else {
                cli.args(["--format", "json"]);
            }
            let child = cli
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            wait_for_file(&job.started_log);
            send(&child, signal);
            let (code, err) = finish(child);
            assert_eq!(code, Some(128 + signal as i32), "{command} {signal}: {err}");
            assert_eq!(
                std::fs::read_to_string(&job.finish_log).unwrap_or_default(),
                "finish job\n",
                "{command} {signal}: the provider was not finished"
            );
            assert!(!command_ran.exists(), "{command} {signal}: the command ran");
        }
    }
}

/// A job with one file secret under a variable name no other test uses, so
/// that its file can be found in the shared memory-backed directory.
fn file_secret_job(variable: &str) -> Project {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "job:\n  script: [x]\n  secrets:\n    {variable}:\n      testkv: {{key: cert}}\n    BIG:\n      testkv: {{key: big}}\n      file: false\n"
        ),
    );
    // Large enough to widen the window between the files and the command,
    // small enough for one environment string (Linux caps each at 128 KiB).
    let big = "b".repeat(100_000);
    let store = project.store(&[("cert", "cert-secret-value"), ("big", &big)]);
    project.use_store(&store);
    project
}

/// Files named `variable` in `ci-secrets-*` directories under `parent`.
fn secret_files_named(parent: &Path, variable: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("ci-secrets-")
        })
        .map(|entry| entry.path().join(variable))
        .filter(|path| path.exists())
        .collect()
}

#[test]
fn exec_signalled_once_the_files_exist_removes_them_and_ends_the_command() {
    let memory_dirs: Vec<PathBuf> = [
        Some(PathBuf::from("/dev/shm")),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        Some(std::env::temp_dir()),
    ]
    .into_iter()
    .flatten()
    .collect();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGALRM,
    ] {
        let variable = format!("SIGNAL_TEST_{}_{}", std::process::id(), signal as i32);
        let project = file_secret_job(&variable);
        let pid_file = project.path().join("background.pid");
        // The command starts a background process and waits for it: the
        // signal must reach both.
        // The pid file appears whole (renamed into place) or not at all.
        let script = "sleep 300 & echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"; wait";
        let child = project
            .cli()
            .args([
                "exec",
                "--no-mask",
                "--job",
                "job",
                "--",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(&pid_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let file = loop {
            let found: Vec<PathBuf> = memory_dirs
                .iter()
                .flat_map(|dir| secret_files_named(dir, &variable))
                .collect();
            if let Some(file) = found.into_iter().next() {
                break file;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no secret file"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        // Whether the command has started yet or not, the outcome is the same.
        send(&child, signal);
        let (code, err) = finish(child);
        assert_eq!(code, Some(128 + signal as i32), "{signal}: {err}");
        assert!(!file.exists(), "{signal}: {} left behind", file.display());
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let pid = Pid::from_raw(pid.trim().parse().unwrap());
            wait_until_gone(pid, signal);
        }
    }
}

/// Waits (bounded, as a safety net) until `pid` is gone or a zombie.
fn wait_until_gone(pid: Pid, signal: Signal) {
    let started = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
        if stat.is_empty() || state.starts_with('Z') {
            return;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = kill(pid, Signal::SIGKILL);
            panic!("{signal}: the command's background process {pid} outlived it");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn resolve_signalled_while_its_output_is_not_read_removes_its_files() {
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR2] {
        let variable = "CERT_FILE";
        let project = file_secret_job(variable);
        let files_dir = project.path().join("files");
        // Nobody reads stdout: the 300 kB of output cannot all be written.
        let (reader, writer) = std::io::pipe().unwrap();
        let child = project
            .cli()
            .args([
                "resolve",
                "--job",
                "job",
                "--format",
                "shell",
                "--files-dir",
            ])
            .arg(&files_dir)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_file(&files_dir.join(variable));
        send(&child, signal);
        let (code, err) = finish(child);
        drop(reader);
        assert_eq!(code, Some(128 + signal as i32), "{signal}: {err}");
        assert!(
            !files_dir.join(variable).exists(),
            "{signal}: the secret file was left behind"
        );
    }
}

#[test]
fn a_completed_resolve_keeps_its_files() {
    let project = file_secret_job("CERT_FILE");
    let files_dir = project.path().join("files");
    let output = project
        .cli()
        .args([
            "resolve",
            "--job",
            "job",
            "--format",
            "shell",
            "--files-dir",
        ])
        .arg(&files_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    assert!(support::stdout(&output).contains("CERT_FILE="));
    assert_eq!(
        std::fs::read_to_string(files_dir.join("CERT_FILE")).unwrap(),
        "cert-secret-value"
    );
}

/// Item 6 of issue 13 as it was seen: with `revoke_token = true`, a Vault
/// token obtained before the signal is revoked after it, as on a timeout.
/// The server answers the login, then holds the read until the run ends.
#[test]
fn a_signal_while_vault_reads_still_revokes_the_vault_token() {
    const VAULT_TOKEN: &str = "hvs.signal-test-token-Xk2";
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let vault = RawServer::start(|mut stream, request, stop| {
            if request.path().ends_with("/login") {
                let login = serde_json::json!({"auth": {"client_token": VAULT_TOKEN}});
                let _ = stream.write_all(&json_response("200 OK", &login));
            } else if request.path().ends_with("/revoke-self") {
                let _ = stream.write_all(&response("204 No Content", &[], b""));
            } else {
                stall(stop);
            }
        });
        let project = Project::new();
        project.write(
            ".gitlab-ci.yml",
            "job:\n  script: [x]\n  id_tokens:\n    VAULT_ID_TOKEN:\n      aud: https://vault.example\n  secrets:\n    APP:\n      vault: app/password@kv\n      file: false\n",
        );
        project.write(
            "ci-secrets.toml",
            "[providers.vault]\nrevoke_token = true\n",
        );
        let child = project
            .cli()
            .args(["resolve", "--job", "job", "--format", "json"])
            .arg("--var")
            .arg(format!("VAULT_SERVER_URL={}", vault.url()))
            .args(["--var", "VAULT_ID_TOKEN=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let reading = hardening_support::wait_until(Duration::from_secs(30), || {
            vault
                .requests()
                .iter()
                .any(|request| request.path().contains("/kv/data/app"))
        });
        assert!(reading, "{signal}: the read never reached the server");
        send(&child, signal);
        let (code, err) = finish(child);
        assert_eq!(code, Some(128 + signal as i32), "{signal}: {err}");
        let revoked: Vec<_> = vault
            .requests()
            .into_iter()
            .filter(|request| request.path().ends_with("/auth/token/revoke-self"))
            .collect();
        assert_eq!(
            revoked.len(),
            1,
            "{signal}: the token was not revoked: {err}"
        );
        assert!(
            revoked[0].head.to_ascii_lowercase().contains(&format!(
                "x-vault-token: {}",
                VAULT_TOKEN.to_ascii_lowercase()
            )),
            "{signal}: the revocation did not carry the token"
        );
    }
}
