//! `/get-ssh-certificate` and `/get-pki-certificate`, verified with OpenSSH and OpenSSL.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{CertificateParams, KeyPair};
use serde_json::{Value, json};

use crate::{Harness, error_text};

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ssh_public_key(dir: &Path) -> String {
    let key = dir.join("id_ed25519");
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
    );
    std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap()
}

#[tokio::test]
async fn ssh_certificates_are_real_openssh_certificates() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let dir = tempfile::tempdir().unwrap();
    let public_key = ssh_public_key(dir.path());
    let (status, out) = h
        .post(
            "get-ssh-certificate",
            json!({"cert-issuer-name": "/demo/ssh/issuer", "cert-username": "deploy",
                   "public-key-data": public_key, "ttl": 600, "token": token}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let cert_path = dir.path().join("id_ed25519-cert.pub");
    std::fs::write(&cert_path, out["data"].as_str().unwrap()).unwrap();
    let listing = run("ssh-keygen", &["-L", "-f", cert_path.to_str().unwrap()]);
    assert!(listing.contains("user certificate"), "{listing}");
    assert!(
        listing.contains("Principals: \n                deploy"),
        "{listing}"
    );
    let ca = h.emulator.ssh_ca_public_key();
    let ca_fingerprint_field = ca.split_whitespace().nth(1).unwrap();
    assert!(!ca_fingerprint_field.is_empty());
    assert!(listing.contains("Signing CA: ED25519"), "{listing}");
}

#[tokio::test]
async fn ssh_issuer_enforces_allowed_users_ttl_and_key_format() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let dir = tempfile::tempdir().unwrap();
    let public_key = ssh_public_key(dir.path());
    let request = |user: &str, key: &str, ttl: i64| {
        json!({"cert-issuer-name": "/demo/ssh/issuer", "cert-username": user,
               "public-key-data": key, "ttl": ttl, "token": token})
    };
    let (status, out) = h
        .post("get-ssh-certificate", request("root", &public_key, 60))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&out).contains("not allowed"));
    let (status, out) = h
        .post("get-ssh-certificate", request("deploy", &public_key, 7200))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&out).contains("exceeds"));
    let (status, _) = h
        .post(
            "get-ssh-certificate",
            request("deploy", "ssh-ed25519 garbage", 60),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = h
        .post("get-ssh-certificate", json!({"cert-issuer-name": "/demo/pki/issuer", "cert-username": "deploy", "public-key-data": public_key, "token": token}))
        .await;
    assert_eq!(status, 400);
}

async fn pki(h: &Harness, body: Value) -> (u16, Value) {
    h.post("get-pki-certificate", body).await
}

fn openssl_verify(dir: &Path, parent: &str, cert: &str) -> String {
    let parent_path = dir.join("parent.pem");
    let cert_path = dir.join("cert.pem");
    std::fs::write(&parent_path, parent).unwrap();
    std::fs::write(&cert_path, cert).unwrap();
    run(
        "openssl",
        &[
            "verify",
            "-CAfile",
            parent_path.to_str().unwrap(),
            cert_path.to_str().unwrap(),
        ],
    );
    run(
        "openssl",
        &[
            "x509",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
            "-in",
            cert_path.to_str().unwrap(),
        ],
    )
}

#[tokio::test]
async fn pki_certificates_from_a_csr_verify_against_parent_cert() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["api.demo.local".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "api.demo.local");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let (status, out) = pki(
        &h,
        json!({"cert-issuer-name": "/demo/pki/issuer", "csr-data-base64": B64.encode(&csr), "ttl": "600", "token": token}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["parent_cert"].as_str().unwrap(),
        h.emulator.pki_ca_pem()
    );
    let dir = tempfile::tempdir().unwrap();
    let text = openssl_verify(
        dir.path(),
        out["parent_cert"].as_str().unwrap(),
        out["data"].as_str().unwrap(),
    );
    assert!(text.contains("api.demo.local"), "{text}");
}

#[tokio::test]
async fn pki_certificates_from_a_public_key_carry_the_common_name_and_alt_names() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let key = KeyPair::generate().unwrap();
    let (status, out) = pki(
        &h,
        json!({"cert-issuer-name": "/demo/pki/issuer", "key-data-base64": B64.encode(key.public_key_pem()),
               "common-name": "svc.example.com", "alt-names": "a.svc.example.com, demo.local",
               "extended-key-usage": "clientauth", "token": token}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let dir = tempfile::tempdir().unwrap();
    let text = openssl_verify(
        dir.path(),
        out["parent_cert"].as_str().unwrap(),
        out["data"].as_str().unwrap(),
    );
    assert!(
        text.contains("svc.example.com")
            && text.contains("a.svc.example.com")
            && text.contains("DNS:demo.local"),
        "{text}"
    );
}

#[tokio::test]
async fn pki_issuer_enforces_domains_ttl_and_inputs() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let public_key = B64.encode(KeyPair::generate().unwrap().public_key_pem());
    let request = |cn: &str, ttl: &str| json!({"cert-issuer-name": "/demo/pki/issuer", "key-data-base64": public_key, "common-name": cn, "ttl": ttl, "token": token});
    let (status, out) = pki(&h, request("evil.org", "60")).await;
    assert_eq!(status, 400);
    assert!(error_text(&out).contains("not an allowed domain"));
    // A suffix that is not a subdomain does not count.
    assert_eq!(pki(&h, request("notexample.com", "60")).await.0, 400);
    assert_eq!(pki(&h, request("svc.example.com", "999999")).await.0, 400);
    assert_eq!(pki(&h, request("svc.example.com", "soon")).await.0, 400);
    assert_eq!(
        pki(
            &h,
            json!({"cert-issuer-name": "/demo/pki/issuer", "token": token})
        )
        .await
        .0,
        400
    );
    let bad_csr = json!({"cert-issuer-name": "/demo/pki/issuer", "csr-data-base64": B64.encode("nope"), "token": token});
    assert_eq!(pki(&h, bad_csr).await.0, 400);
}
