//! Every item type against the emulator, `data_key` in all its forms, and
//! SSH and PKI certificates checked with `ssh-keygen -L` and `openssl verify`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod common;

use std::process::Command;

use akeyless_emulator::demo::*;
use akeyless_emulator::{Fault, Operation};
use ci_secrets_provider_api::ErrorKind;
use common::demo_item as item;
use common::*;
use serde_json::{Value, json};

fn demo_context() -> ci_secrets_provider_api::ResolveContext {
    context(&[("AKEYLESS_ACCESS_ID", DEMO_ACCESS_KEY_ID)])
}

#[tokio::test]
async fn static_secrets_with_data_key_and_pointer() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let requests = [
        item("PASSWORD", &url, "/demo/static/password", json!({})),
        item("DB_JSON", &url, "/demo/static/db", json!({})),
        item(
            "DB_PASSWORD",
            &url,
            "/demo/static/db",
            json!({"data_key": "password"}),
        ),
        item(
            "DB_PORT",
            &url,
            "/demo/static/db",
            json!({"data_key": "/port"}),
        ),
        item(
            "DB_TYPO",
            &url,
            "/demo/static/db",
            json!({"data_key": "pasword"}),
        ),
    ];
    let results = resolve(&demo_context(), &requests).await;
    assert_eq!(text(&results[0]), "demo-password-v2");
    let whole: Value = serde_json::from_str(&text(&results[1])).unwrap();
    assert_eq!(whole["username"], "app");
    assert_eq!(text(&results[2]), "demo-db-password");
    assert_eq!(text(&results[3]), "5432", "a number is delivered as JSON");
    let err = results[4].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        "failed to extract a key out of the json data, the key pasword does not exist in /demo/static/db \
         (available keys: host, password, port, username)"
    );
    // Both names are static: the optimistic batched read answers them, and
    // the describes sent with it (two unrelated names are described, not
    // listed) are dropped, not awaited (they reach the server or not,
    // depending on which is first).
    let stats = emulator.stats();
    assert_eq!(stats.requests(Operation::GetSecretValue), 1, "{stats:?}");
    assert!(stats.requests(Operation::DescribeItem) <= 2, "{stats:?}");
    assert_eq!(stats.requests(Operation::ListItems), 0, "{stats:?}");
}

#[tokio::test]
async fn names_that_share_a_start_are_learned_from_a_listing_narrowed_to_it() {
    // A large folder: 300 static items, and three dynamic ones whose names
    // share the start `db-`. The listing of the three is narrowed by that
    // start; had the filter missed them, they would have been described.
    let dynamic = || {
        akeyless_emulator::Item::dynamic(
            json!({"user": "tmp-{{lease_id}}", "password": "{{random}}"}),
            akeyless_emulator::DynamicShape::Flat,
        )
    };
    let mut seed = akeyless_emulator::Seed::demo();
    for i in 0..300 {
        seed = seed.with_item(
            format!("/demo/big/other-{i:03}"),
            akeyless_emulator::Item::static_text(format!("v{i}")),
        );
    }
    for name in ["db-main", "db-replica", "db-reports"] {
        seed = seed.with_item(format!("/demo/big/{name}"), dynamic());
    }
    let emulator = akeyless_emulator::Emulator::builder()
        .seed(seed)
        .start()
        .await
        .unwrap();
    let url = emulator.url();
    let requests = ["db-main", "db-replica", "db-reports"].map(|name| {
        item(
            &name.to_uppercase().replace('-', "_"),
            &url,
            &format!("/demo/big/{name}"),
            json!({"data_key": "user"}),
        )
    });
    let results = resolve(&demo_context(), &requests).await;
    for result in &results {
        assert!(text(result).starts_with("tmp-"), "{result:?}");
    }
    let stats = emulator.stats();
    assert_eq!(stats.requests(Operation::ListItems), 1, "{stats:?}");
    assert_eq!(stats.requests(Operation::DescribeItem), 0, "{stats:?}");
    assert_eq!(
        stats.listed_items, 3,
        "the listing was not narrowed: {stats:?}"
    );
}

#[tokio::test]
async fn dynamic_secrets_in_both_shapes_share_one_lease_per_item() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let requests = [
        item(
            "DB_USER",
            &url,
            "/demo/dynamic/db",
            json!({"data_key": "user"}),
        ),
        item(
            "DB_LEASE",
            &url,
            "/demo/dynamic/db",
            json!({"data_key": "id"}),
        ),
        item("AWS", &url, "/demo/dynamic/aws", json!({})),
    ];
    let results = resolve(&demo_context(), &requests).await;
    assert_eq!(
        text(&results[0]),
        format!("tmp-{}", text(&results[1])),
        "same lease"
    );
    let aws: Value = serde_json::from_str(&text(&results[2])).unwrap();
    assert!(
        aws["access_key_id"]
            .as_str()
            .unwrap()
            .starts_with("ASIADEMO"),
        "wrapped shape unwrapped"
    );
    assert_eq!(
        emulator.stats().requests(Operation::GetDynamicSecretValue),
        2
    );
}

#[tokio::test]
async fn rotated_secrets_and_certificates() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let requests = [
        item("ADMIN", &url, "/demo/rotated/admin", json!({})),
        item(
            "ADMIN_PASSWORD",
            &url,
            "/demo/rotated/admin",
            json!({"data_key": "password"}),
        ),
        item(
            "WEB_CERT",
            &url,
            "/demo/certificate/web",
            json!({"data_key": "certificate_pem"}),
        ),
    ];
    let results = resolve(&demo_context(), &requests).await;
    // Compact JSON; the key order is the server's when serde_json keeps order.
    let admin: serde_json::Value = serde_json::from_str(&text(&results[0])).unwrap();
    assert!(!text(&results[0]).contains(' '));
    assert_eq!(
        admin,
        json!({"password": "demo-rotated-password", "username": "admin"})
    );
    assert_eq!(text(&results[1]), "demo-rotated-password");
    assert!(text(&results[2]).starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn missing_and_forbidden_items_are_reported_per_secret() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let requests = [
        item("OK", &url, "/demo/static/password", json!({})),
        item("MISSING", &url, "/demo/static/nope", json!({})),
    ];
    let results = resolve(&demo_context(), &requests).await;
    assert_eq!(text(&results[0]), "demo-password-v2");
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string()
            .starts_with("POST /describe-item of item /demo/static/nope failed: HTTP 404"),
        "{err}"
    );

    let limited = context(&[("AKEYLESS_ACCESS_ID", DEMO_LIMITED_ACCESS_ID)]);
    let block = json!({
        "name": "/demo/static/db", "akeyless_api_url": url,
        "akeyless_access_type": "api_key", "akeyless_access_key": DEMO_LIMITED_ACCESS_KEY,
    });
    let results = resolve(&limited, &[request("DB", block, None)]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Denied, "{err}");
    assert!(!err.to_string().contains(DEMO_LIMITED_ACCESS_KEY));
}

#[tokio::test]
async fn ssh_certificate_verifies_with_ssh_keygen() {
    let emulator = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let request = item(
        "SSH_CERT",
        &emulator.url(),
        "/demo/ssh/issuer",
        json!({"cert_user_name": "deploy", "public_key_data": public_key}),
    );
    let certificate = text(&resolve(&demo_context(), &[request]).await[0]);
    let cert_path = dir.path().join("id_ed25519-cert.pub");
    std::fs::write(&cert_path, &certificate).unwrap();
    let listing = Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(&cert_path)
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(listing.contains("deploy"), "{listing}");

    let ca_path = dir.path().join("ca.pub");
    std::fs::write(&ca_path, emulator.ssh_ca_public_key()).unwrap();
    let fingerprint = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&ca_path)
        .output()
        .unwrap();
    let fingerprint = String::from_utf8(fingerprint.stdout).unwrap();
    let sha = fingerprint.split_whitespace().nth(1).unwrap();
    assert!(
        listing.contains(sha),
        "signed by the issuer's CA {sha}: {listing}"
    );
}

#[tokio::test]
async fn pki_certificate_from_a_pem_csr_verifies_with_openssl() {
    let emulator = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let csr = dir.path().join("req.csr");
    let status = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=app.demo.local",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // D12: PEM given as is; the provider base64-encodes it.
    let csr_pem = std::fs::read_to_string(&csr).unwrap();
    let request = item(
        "TLS_CERT",
        &emulator.url(),
        "/demo/pki/issuer",
        json!({"csr_data": csr_pem}),
    );
    let certificate = text(&resolve(&demo_context(), &[request]).await[0]);
    let cert_path = dir.path().join("cert.pem");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&cert_path, &certificate).unwrap();
    std::fs::write(&ca_path, emulator.pki_ca_pem()).unwrap();
    let verify = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&ca_path)
        .arg(&cert_path)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
}

#[tokio::test]
async fn a_lookup_is_not_awaited_once_the_batched_read_answered_every_name() {
    let emulator = demo_emulator().await;
    // The listing (two names in /demo/static) and the describe (a name alone
    // in its folder) would answer after the request timeout, retried; had the
    // run waited for them, a timed-out listing would also have been followed
    // by describes.
    let stall = Fault::Delay(std::time::Duration::from_secs(3600));
    emulator
        .faults()
        .fail_next(Operation::ListItems, 10, stall.clone())
        .unwrap();
    emulator
        .faults()
        .fail_next(Operation::DescribeItem, 10, stall)
        .unwrap();
    let url = emulator.url();
    let requests = [
        item("PASSWORD", &url, "/demo/static/password", json!({})),
        item(
            "DB",
            &url,
            "/demo/static/db",
            json!({"data_key": "password"}),
        ),
    ];
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(4),
        resolve(&demo_context(), &requests),
    )
    .await
    .expect("the run waited for a listing it did not need");
    assert_eq!(text(&results[0]), "demo-password-v2");
    assert_eq!(text(&results[1]), "demo-db-password");

    // One name: describe and read go out together, and the read answers.
    let one = [item("PASSWORD", &url, "/demo/static/password", json!({}))];
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(4),
        resolve(&demo_context(), &one),
    )
    .await
    .expect("the run waited for a describe it did not need");
    assert_eq!(text(&results[0]), "demo-password-v2");
    let stats = emulator.stats();
    assert_eq!(stats.requests(Operation::GetSecretValue), 2, "{stats:?}");
}
