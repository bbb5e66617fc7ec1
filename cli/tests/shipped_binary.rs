//! Checks on the shipped `ci-secrets` binary itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::process::Command;

fn ci_secrets() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ci-secrets"))
}

/// `inventory` only sees linked crates: this fails if `main.rs` stops
/// referencing a provider crate and the linker drops it.
#[test]
fn the_binary_lists_every_provider_it_ships() {
    let output = ci_secrets()
        .args(["providers", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|provider| provider["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["akeyless", "aws_secrets_manager", "vault"]);
}

#[test]
fn version_and_help_exit_0_and_usage_errors_exit_2() {
    let version = ci_secrets().arg("--version").output().unwrap();
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ci-secrets "));
    let help = ci_secrets().arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let bad = ci_secrets().arg("--no-such-flag").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn global_flags_work_after_the_subcommand() {
    let output = ci_secrets()
        .args(["providers", "-v", "--quiet"])
        .output()
        .unwrap();
    // -v and --quiet conflict: a usage error wherever they are placed.
    assert_eq!(output.status.code(), Some(2));
    let output = ci_secrets()
        .args(["providers", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

/// The README's first command: it must work on a fresh machine with no setup.
#[test]
fn demo_resolves_every_item_type_against_the_in_process_emulator() {
    let output = ci_secrets()
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for item_type in [
        "STATIC_SECRET",
        "DYNAMIC_SECRET",
        "ROTATED_SECRET",
        "SSH_CERT_ISSUER",
        "PKI_CERT_ISSUER",
        "(token reuse)",
    ] {
        assert!(
            stdout.contains(item_type),
            "{item_type} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("7 secrets from 1 provider"), "{stdout}");
    // Previews only: no full value is shown.
    assert!(!stdout.contains("demo-password-v2"), "{stdout}");
    assert!(!stdout.contains("BEGIN CERTIFICATE-----\n"), "{stdout}");
}
