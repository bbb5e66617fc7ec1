//! `exec` that a CI user can trust: masked output, forwarded signals, and
//! secret files that never outlive the command.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Project, code, stderr, stdout};

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";

fn project() -> Project {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    PASSWORD:\n      testkv: {key: pw}\n      file: false\n    KEY:\n      testkv: {key: pem}\n      file: false\n    PIN:\n      testkv: {key: pin}\n      file: false\n    CERT_FILE:\n      testkv: {key: pem}\n",
    );
    let store = project.store(&[("pw", "hunter2-canary"), ("pem", PEM), ("pin", "123")]);
    project.use_store(&store);
    project
}

#[test]
fn child_output_is_masked_including_pem_lines_and_encodings() {
    let project = project();
    let script = r#"
        printf 'pw=%s\n' "$PASSWORD"
        printf 'b64=%s\n' "$(printf '%s' "$PASSWORD" | base64)"
        printf '%s' "$KEY" | sed -n 2p
        printf 'half=hunter2-'; sleep 0.1; printf 'canary\n'
        printf 'err=%s\n' "$PASSWORD" >&2
        printf 'pin=%s\n' "$PIN"
    "#;
    let output = project
        .cli()
        .args(["exec", "--job", "job", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let out = stdout(&output);
    assert!(!out.contains("hunter2-canary"), "{out}");
    assert!(!out.contains("aHVudGVyMi1jYW5hcnk="), "{out}");
    assert!(!out.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "{out}");
    assert!(
        out.contains("pw=[MASKED]\n")
            && out.contains("b64=[MASKED]\n")
            && out.contains("half=[MASKED]\n"),
        "{out}"
    );
    let err = stderr(&output);
    assert!(err.contains("err=[MASKED]"), "{err}");
    assert!(err.contains("PIN is shorter than 4 bytes"), "{err}");
    assert!(out.contains("pin=123"));
}

#[test]
fn no_mask_passes_output_through() {
    let project = project();
    let output = project
        .cli()
        .args([
            "exec",
            "--no-mask",
            "--job",
            "job",
            "--",
            "sh",
            "-c",
            "printf '%s' \"$PASSWORD\"",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "hunter2-canary");
}

#[test]
fn sigterm_during_exec_reaches_the_child_and_removes_the_files() {
    let project = project();
    let mut child = project
        .cli()
        .args(["exec", "--job", "job", "--", "sh", "-c"])
        .arg("trap 'echo got-term; exit 7' TERM; echo \"$CERT_FILE\"; while :; do sleep 0.05; done")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let path = lines.next().unwrap().unwrap();
    assert!(
        std::path::Path::new(&path).exists(),
        "file should exist while the command runs"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(lines.next().unwrap().unwrap(), "got-term");
    assert_eq!(status.code(), Some(7));
    assert!(
        !std::path::Path::new(&path).exists(),
        "secret file left behind"
    );
}

#[test]
fn a_child_killed_by_a_signal_gives_128_plus_the_signal() {
    let project = project();
    let output = project
        .cli()
        .args(["exec", "--job", "job", "--", "sh", "-c", "kill -KILL $$"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 128 + 9);
}
