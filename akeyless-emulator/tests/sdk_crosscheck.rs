//! Runs `sdk-check/check_sdk.py` (the official Akeyless Python SDK and `akeyless-cloud-id`) against
//! an in-process emulator serving the demo seed. The Python comes from `$CI_SECRETS_PYTHON` or the
//! workspace's `.venv` that `scripts/test.sh` creates; without it this test fails, by design: the
//! cross-check is the evidence that the emulator is faithful.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use akeyless_emulator::Emulator;
use akeyless_emulator::demo::*;

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("CI_SECRETS_PYTHON") {
        return PathBuf::from(python);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_cannot_tell_the_emulator_apart() {
    let python = python();
    let probe = Command::new(&python)
        .args(["-c", "import akeyless, akeyless_cloud_id"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        _ => panic!(
            "the Akeyless Python SDK is not available at {}: run scripts/test.sh (it creates .venv \
             with scripts/requirements-test.txt) or set CI_SECRETS_PYTHON",
            python.display()
        ),
    }

    let emulator = Emulator::builder().start().await.unwrap();
    let aws = demo_aws_credentials();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk-check/check_sdk.py");
    let url = emulator.url();
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .args(["--url", &url])
        .args([
            "--access-id",
            DEMO_ACCESS_KEY_ID,
            "--access-key",
            DEMO_ACCESS_KEY,
        ])
        .args([
            "--uid-access-id",
            DEMO_UID_ACCESS_ID,
            "--uid-token",
            DEMO_UID_TOKEN,
        ])
        .args(["--limited-access-id", DEMO_LIMITED_ACCESS_ID])
        .args(["--limited-access-key", DEMO_LIMITED_ACCESS_KEY])
        .args(["--aws-access-id", DEMO_AWS_ACCESS_ID])
        .env("AWS_ACCESS_KEY_ID", aws.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", aws.secret_access_key())
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK cross-check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all SDK checks passed"), "{stdout}");
    // Every operation was really exercised over HTTP.
    let stats = emulator.stats();
    for op in akeyless_emulator::Operation::ALL {
        assert!(stats.requests(op) > 0, "the SDK never called {}", op.name());
    }
    emulator.shutdown().await;
}
