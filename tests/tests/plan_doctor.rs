//! `ci-secrets plan` and `ci-secrets doctor`, end to end through the e2e
//! binary (every shipped provider plus `testkv`).
//!
//! `plan` must make no network call: its URLs point at an emulator and at a
//! bare TCP listener, and both must see nothing. `doctor` runs against the
//! TLS emulator: with the right CA, a wrong CA, a bad access key and a
//! denied item; it must never fetch a value.

use crate::akeyless_support;
use crate::support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Command, Output};

use akeyless_emulator::Operation;
use akeyless_emulator::demo::{DEMO_ACCESS_KEY, DEMO_UID_TOKEN};
use akeyless_support::Harness;
use serde_json::Value;
use support::{Project, code, stderr, stdout};

/// Stands for a JWT and an Akeyless token; neither may ever be printed.
const VAULT_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.canary-vault-jwt-payload.signature";
const GIVEN_TOKEN: &str = "t-canary-given-token-0001";
const TESTKV_VALUE: &str = "testkv-canary-value";

/// Every operation that returns a value or issues a credential.
const VALUE_OPERATIONS: [Operation; 6] = [
    Operation::GetSecretValue,
    Operation::GetDynamicSecretValue,
    Operation::GetRotatedSecretValue,
    Operation::GetSshCertificate,
    Operation::GetPkiCertificate,
    Operation::GetCertificateValue,
];

/// Three providers; Akeyless with three identities (an access key, a
/// universal identity, a given token), Vault with one JWT, and testkv.
const MIXED_JOB: &str = r#"
deploy:
  script: [deploy]
  id_tokens:
    VAULT_ID_TOKEN:
      aud: https://vault.example
  variables:
    AKEYLESS_ACCESS_ID: p-demoaccess01
  secrets:
    DB_PASSWORD:
      file: false
      akeyless:
        name: /demo/static/password
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_access_type: api_key
        akeyless_access_key: demo-access-key-not-a-secret
    DB_JSON:
      akeyless:
        name: /demo/static/db
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_access_type: api_key
        akeyless_access_key: demo-access-key-not-a-secret
    ROTATED:
      file: false
      akeyless:
        name: /demo/rotated/admin
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_access_type: universal_identity
        uid_token: u-demo000000000000000000001
    REUSED:
      file: false
      akeyless:
        name: /demo/static/password
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_token: $GIVEN_TOKEN
    VAULT_DB:
      file: false
      vault: production/db/password@ops/kv
      token: $VAULT_ID_TOKEN
    VAULT_API:
      vault:
        engine: {name: kv-v1, path: kv1}
        path: app
        field: key
      token: $VAULT_ID_TOKEN
    KV_ONE:
      file: false
      testkv:
        key: one
"#;

struct PlanRun {
    output: Output,
    harness: Harness,
    vault: TcpListener,
}

impl PlanRun {
    fn new(format: &str) -> Self {
        let harness = Harness::demo();
        // Stands in for the Vault server: a connection would wait in its backlog.
        let vault = TcpListener::bind("127.0.0.1:0").unwrap();
        vault.set_nonblocking(true).unwrap();
        let project = Project::new();
        let store = project.store(&[("one", TESTKV_VALUE)]);
        let file = project.write(".gitlab-ci.yml", MIXED_JOB);
        let output = project
            .cli()
            .args(["plan", "--job", "deploy", "--format", format, "--ci-file"])
            .arg(&file)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!(
                "VAULT_SERVER_URL=http://{}",
                vault.local_addr().unwrap()
            ))
            .arg("--var")
            .arg(format!("VAULT_ID_TOKEN={VAULT_JWT}"))
            .arg("--var")
            .arg(format!("GIVEN_TOKEN={GIVEN_TOKEN}"))
            .arg("--var")
            .arg(format!("TESTKV_STORE={}", store.display()))
            .output()
            .unwrap();
        Self {
            output,
            harness,
            vault,
        }
    }

    /// Nothing reached the emulator or the Vault listener, and neither
    /// stream holds a value, a token or a credential.
    fn assert_no_network_and_no_secret(&self) {
        let stats = self.harness.stats();
        assert_eq!(stats.total_requests(), 0, "{stats:?}");
        match self.vault.accept() {
            Err(err) => assert_eq!(err.kind(), ErrorKind::WouldBlock),
            Ok((_, peer)) => panic!("plan connected to the Vault server from {peer}"),
        }
        let (out, err) = (stdout(&self.output), stderr(&self.output));
        for secret in [
            VAULT_JWT,
            GIVEN_TOKEN,
            TESTKV_VALUE,
            DEMO_ACCESS_KEY,
            DEMO_UID_TOKEN,
            "demo-password-v2",
        ] {
            assert!(!out.contains(secret), "stdout leaks {secret:?}: {out}");
            assert!(!err.contains(secret), "stderr leaks {secret:?}: {err}");
        }
    }
}

#[test]
fn plan_json_shows_identities_deliveries_calls_and_totals_without_network() {
    let run = PlanRun::new("json");
    assert_eq!(code(&run.output), 0, "stderr: {}", stderr(&run.output));
    run.assert_no_network_and_no_secret();
    let plan: Value = serde_json::from_str(&stdout(&run.output)).unwrap();
    let url = run.harness.url();

    assert_eq!(plan["job"], "deploy");
    assert_eq!(plan["problems"], serde_json::json!([]));
    assert_eq!(
        plan["totals"],
        serde_json::json!({
            "secrets": 7, "providers": 3, "identities": 4, "logins": 3,
            // 3 logins; access key: 2 describes (two unrelated names of
            // /demo/static) + 1 batch; universal identity and given token:
            // 1 describe + 1 read each; Vault: 2 reads; testkv: none described.
            "api_calls": 12,
        })
    );

    let secrets = plan["secrets"].as_array().unwrap();
    let by_name = |name: &str| {
        secrets
            .iter()
            .find(|secret| secret["variable"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {plan}"))
    };
    let variables: Vec<&str> = secrets
        .iter()
        .map(|secret| secret["variable"].as_str().unwrap())
        .collect();
    assert_eq!(
        variables,
        [
            "DB_PASSWORD",
            "DB_JSON",
            "ROTATED",
            "REUSED",
            "VAULT_DB",
            "VAULT_API",
            "KV_ONE"
        ]
    );

    let db = by_name("DB_PASSWORD");
    assert_eq!(db["provider"], "akeyless");
    assert_eq!(db["delivery"], "env");
    assert_eq!(db["item"], "/demo/static/password");
    assert_eq!(
        db["identity"]["label"],
        format!("akeyless {url} access_key p-demoaccess01")
    );
    assert_eq!(db["identity"]["fields"]["access type"], "access_key");
    assert_eq!(db["identity"]["fields"]["API URL"], url.as_str());
    assert_eq!(db["identity"]["fields"]["access id"], "p-demoaccess01");
    assert_eq!(db["identity"]["login"], "POST /auth");
    assert_eq!(
        db["calls"],
        serde_json::json!([
            // Two unrelated names of one folder: described, not listed.
            {"operation": "POST /describe-item", "shared_by": 1},
            {"operation": "POST /get-secret-value", "shared_by": 2},
        ])
    );
    assert_eq!(by_name("DB_JSON")["delivery"], "file");
    assert_eq!(by_name("DB_JSON")["identity"], db["identity"]);

    let rotated = by_name("ROTATED");
    assert_eq!(
        rotated["identity"]["fields"]["access type"],
        "universal_identity"
    );
    assert_eq!(
        rotated["calls"],
        serde_json::json!([
            {"operation": "POST /describe-item", "shared_by": 1},
            {"operation": "POST /get-secret-value", "shared_by": 1},
        ])
    );

    let reused = by_name("REUSED");
    assert_eq!(
        reused["identity"]["fields"]["access type"],
        "akeyless_token"
    );
    assert_eq!(reused["identity"]["login"], Value::Null);
    assert!(reused["identity"]["fields"].get("access id").is_none());

    let vault_db = by_name("VAULT_DB");
    assert_eq!(vault_db["provider"], "vault");
    assert_eq!(vault_db["delivery"], "env");
    assert_eq!(
        vault_db["identity"]["fields"]["JWT"],
        "the secret's `token:`"
    );
    assert_eq!(vault_db["identity"]["fields"]["auth path"], "auth/jwt");
    assert_eq!(vault_db["identity"]["login"], "PUT /v1/auth/jwt/login");
    assert_eq!(
        vault_db["calls"],
        serde_json::json!([{"operation": "GET /v1/ops/kv/data/production/db", "shared_by": 1}])
    );
    assert_eq!(by_name("VAULT_API")["identity"], vault_db["identity"]);
    assert_eq!(
        by_name("VAULT_API")["calls"][0]["operation"],
        "GET /v1/kv1/app"
    );

    let kv = by_name("KV_ONE");
    assert_eq!(kv["provider"], "testkv");
    assert_eq!(kv["identity"], Value::Null);
    assert!(
        kv["notes"][0]
            .as_str()
            .unwrap()
            .contains("does not describe"),
        "{kv}"
    );
}

#[test]
fn plan_text_lists_identities_then_secrets_without_network() {
    let run = PlanRun::new("text");
    assert_eq!(code(&run.output), 0, "stderr: {}", stderr(&run.output));
    run.assert_no_network_and_no_secret();
    let text = stdout(&run.output);
    let url = run.harness.url();
    assert!(
        text.starts_with(
            "Job deploy: 7 secrets from 3 providers, 4 identities (3 logins), 12 API calls expected\n"
        ),
        "{text}"
    );
    for line in [
        format!("  [1] akeyless: akeyless {url} access_key p-demoaccess01"),
        format!("  [2] akeyless: akeyless {url} universal_identity p-demoaccess01"),
        format!("  [3] akeyless: akeyless {url} akeyless_token"),
        "      login: none needed".to_string(),
        "      login: PUT /v1/auth/jwt/login".to_string(),
        "  DB_PASSWORD (akeyless, env)".to_string(),
        "  DB_JSON (akeyless, file)".to_string(),
        "      call: POST /get-secret-value (one call for 2 secrets)".to_string(),
        "  VAULT_API (vault, file)".to_string(),
        "      call: GET /v1/kv1/app".to_string(),
        "  KV_ONE (testkv, env)".to_string(),
    ] {
        assert!(
            text.lines().any(|candidate| candidate == line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn plan_reports_a_missing_access_id_as_a_problem_without_network() {
    let harness = Harness::demo();
    let project = Project::new();
    let file = project.write(
        ".gitlab-ci.yml",
        "deploy:\n  script: [x]\n  secrets:\n    A:\n      akeyless:\n        name: /demo/static/password\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL\n",
    );
    let output = project
        .cli()
        .args(["plan", "--job", "deploy", "--format", "json", "--ci-file"])
        .arg(&file)
        .arg("--var")
        .arg(harness.url_var())
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "stderr: {}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        plan["problems"],
        serde_json::json!([format!(
            "A (akeyless): {}",
            akeyless_support::PROVIDER_NOT_FOUND
        )])
    );
    assert_eq!(harness.stats().total_requests(), 0);
}

/// A job against the TLS emulator: `names` read with `access_key`, the
/// gateway CA taken from `$GW_CA`.
fn doctor_job(names: &[&str], access_key: &str) -> String {
    let mut job = String::from(
        "deploy:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-demoaccess01\n  secrets:\n",
    );
    for (index, name) in names.iter().enumerate() {
        job.push_str(&format!(
            "    SECRET_{index}:\n      akeyless:\n        name: {name}\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL\n        akeyless_access_type: api_key\n        akeyless_access_key: {access_key}\n        gateway_ca_certificate: $GW_CA\n"
        ));
    }
    job
}

struct DoctorRun {
    output: Output,
    harness: Harness,
}

impl DoctorRun {
    fn new(job: &str, ca_pem: Option<String>, format: &str) -> Self {
        Self::with_env(job, ca_pem, format, &[])
    }

    fn with_env(job: &str, ca_pem: Option<String>, format: &str, env: &[(&str, &str)]) -> Self {
        let harness = Harness::demo_tls();
        let ca = ca_pem.unwrap_or_else(|| harness.emulator.ca_pem().unwrap());
        let project = Project::new();
        let file = project.write(".gitlab-ci.yml", job);
        let mut command: Command = project.cli();
        command.envs(env.iter().copied());
        let output = command
            .args(["doctor", "--job", "deploy", "--format", format, "--ci-file"])
            .arg(&file)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("GW_CA={ca}"))
            .output()
            .unwrap();
        let run = Self { output, harness };
        run.assert_no_value_fetched();
        run
    }

    fn assert_no_value_fetched(&self) {
        let stats = self.harness.stats();
        for operation in VALUE_OPERATIONS {
            assert_eq!(stats.requests(operation), 0, "{operation:?}: {stats:?}");
        }
        let (out, err) = (stdout(&self.output), stderr(&self.output));
        for secret in akeyless_support::DEMO_SECRETS {
            assert!(!out.contains(secret), "stdout leaks {secret:?}: {out}");
            assert!(!err.contains(secret), "stderr leaks {secret:?}: {err}");
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&stdout(&self.output))
            .unwrap_or_else(|err| panic!("{err}: {}", stdout(&self.output)))
    }

    /// `(name, passed)` of every check of the one identity.
    fn checks(&self) -> Vec<(String, bool)> {
        let report = self.json();
        let identities = report["identities"].as_array().unwrap();
        assert_eq!(identities.len(), 1, "{report}");
        identities[0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|check| {
                (
                    check["name"].as_str().unwrap().to_string(),
                    check["passed"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    fn check(&self, name: &str) -> Value {
        self.json()["identities"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name} in {}", self.json()))
    }
}

fn checks(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter()
        .map(|(name, passed)| ((*name).to_string(), *passed))
        .collect()
}

#[test]
fn doctor_with_the_right_ca_passes_every_check_with_one_login() {
    let job = doctor_job(
        &["/demo/static/password", "/demo/static/db"],
        DEMO_ACCESS_KEY,
    );
    let run = DoctorRun::new(&job, None, "json");
    assert_eq!(code(&run.output), 0, "stdout: {}", stdout(&run.output));
    assert_eq!(
        run.checks(),
        checks(&[
            ("DNS", true),
            ("TCP", true),
            ("TLS", true),
            ("login", true),
            ("describe /demo/static/password", true),
            ("describe /demo/static/db", true),
        ])
    );
    let report = run.json();
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["identities"][0]["variables"],
        serde_json::json!(["SECRET_0", "SECRET_1"])
    );
    let tls = run.check("TLS")["detail"].as_str().unwrap().to_string();
    assert!(
        tls.starts_with("certificate chain trusted; CN=akeyless-emulator valid until "),
        "{tls}"
    );
    assert!(tls.ends_with(" days left)"), "{tls}");
    let stats = run.harness.stats();
    assert_eq!(stats.requests(Operation::Auth), 1, "{stats:?}");
    assert_eq!(stats.requests(Operation::DescribeItem), 2, "{stats:?}");
}

#[test]
fn doctor_with_a_wrong_ca_fails_tls_naming_gateway_ca_certificate() {
    let other_ca = rcgen::generate_simple_self_signed(vec!["other-ca.example".to_string()])
        .unwrap()
        .cert
        .pem();
    let job = doctor_job(&["/demo/static/password"], DEMO_ACCESS_KEY);
    let run = DoctorRun::new(&job, Some(other_ca.clone()), "json");
    assert_eq!(code(&run.output), 3, "stdout: {}", stdout(&run.output));
    assert_eq!(
        run.checks(),
        checks(&[("DNS", true), ("TCP", true), ("TLS", false)])
    );
    let tls = run.check("TLS");
    assert!(
        tls["detail"]
            .as_str()
            .unwrap()
            .starts_with("certificate signed by unknown authority"),
        "{tls}"
    );
    assert!(
        tls["hint"]
            .as_str()
            .unwrap()
            .starts_with("Set gateway_ca_certificate to the CA"),
        "{tls}"
    );
    assert_eq!(
        run.json()["identities"][0]["skipped"],
        "login and permission checks skipped: the TLS check failed"
    );
    // The handshake failed: no request reached the emulator.
    assert_eq!(run.harness.stats().total_requests(), 0);

    let text = DoctorRun::new(&job, Some(other_ca), "text");
    assert_eq!(code(&text.output), 3);
    let out = stdout(&text.output);
    assert!(
        out.lines().any(|line| line
            .starts_with("  FAILED TLS: certificate signed by unknown authority")
            && line.contains(". Set gateway_ca_certificate to the CA")),
        "{out}"
    );
}

#[test]
fn doctor_with_a_bad_access_key_fails_the_login_and_describes_nothing() {
    let bad_key = "canary-wrong-access-key-0001";
    let job = doctor_job(&["/demo/static/password"], bad_key);
    let run = DoctorRun::new(&job, None, "json");
    assert_eq!(code(&run.output), 3, "stdout: {}", stdout(&run.output));
    assert_eq!(
        run.checks(),
        checks(&[
            ("DNS", true),
            ("TCP", true),
            ("TLS", true),
            ("login", false)
        ])
    );
    let login = run.check("login");
    assert!(
        login["detail"]
            .as_str()
            .unwrap()
            .starts_with("can't authenticate with Akeyless at "),
        "{login}"
    );
    assert_eq!(
        login["hint"],
        "Check akeyless_access_key and that AKEYLESS_ACCESS_ID is its access id"
    );
    assert!(!stdout(&run.output).contains(bad_key));
    assert!(!stderr(&run.output).contains(bad_key));
    let stats = run.harness.stats();
    assert_eq!(stats.requests(Operation::Auth), 1);
    assert_eq!(stats.failed_logins, 1);
    assert_eq!(stats.requests(Operation::DescribeItem), 0);
}

#[test]
fn doctor_with_a_denied_item_fails_that_describe_only() {
    let job = doctor_job(
        &["/demo/static/password", "/restricted/admin-token"],
        DEMO_ACCESS_KEY,
    );
    let run = DoctorRun::new(&job, None, "json");
    assert_eq!(code(&run.output), 3, "stdout: {}", stdout(&run.output));
    assert_eq!(
        run.checks(),
        checks(&[
            ("DNS", true),
            ("TCP", true),
            ("TLS", true),
            ("login", true),
            ("describe /demo/static/password", true),
            ("describe /restricted/admin-token", false),
        ])
    );
    let denied = run.check("describe /restricted/admin-token");
    assert!(
        denied["detail"].as_str().unwrap().contains("HTTP 401"),
        "{denied}"
    );
    assert!(
        denied["hint"].as_str().unwrap().starts_with(
            "Give the access id a role with read permission on /restricted/admin-token"
        ),
        "{denied}"
    );
    let stats = run.harness.stats();
    assert_eq!(stats.requests(Operation::Auth), 1);
    assert_eq!(stats.requests(Operation::DescribeItem), 2);
}

#[test]
fn doctor_says_what_it_could_not_check_for_a_provider_without_diagnostics() {
    let project = Project::new();
    let store = project.store(&[("one", TESTKV_VALUE)]);
    let file = project.write(
        ".gitlab-ci.yml",
        "deploy:\n  script: [x]\n  secrets:\n    KV_ONE:\n      testkv:\n        key: one\n",
    );
    let output = project
        .cli()
        .args(["doctor", "--job", "deploy", "--format", "json", "--ci-file"])
        .arg(&file)
        .arg("--var")
        .arg(format!("TESTKV_STORE={}", store.display()))
        .output()
        .unwrap();
    // Nothing was checked: not a pass (issue 14; this run exited 0 before).
    assert_eq!(code(&output), 4, "stderr: {}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["checked"], 0);
    assert_eq!(
        report["identities"],
        serde_json::json!([{
            "provider": "testkv",
            "identity": null,
            "variables": ["KV_ONE"],
            "checks": [],
            "skipped": "testkv describes no identity and has no checks of its own: nothing was checked",
        }])
    );
    assert!(!stdout(&output).contains(TESTKV_VALUE));
}

#[test]
fn doctor_says_nothing_was_checked_in_text_and_does_not_pass() {
    let project = Project::new();
    let store = project.store(&[("one", TESTKV_VALUE)]);
    let file = project.write(
        ".gitlab-ci.yml",
        "deploy:\n  script: [x]\n  secrets:\n    KV_ONE:\n      testkv:\n        key: one\n",
    );
    let output = project
        .cli()
        .args(["doctor", "--job", "deploy", "--ci-file"])
        .arg(&file)
        .arg("--var")
        .arg(format!("TESTKV_STORE={}", store.display()))
        .output()
        .unwrap();
    assert_eq!(code(&output), 4, "stderr: {}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with(
            "Job deploy: 1 identity, nothing was checked: no check applies to any of them\n"
        ),
        "{text}"
    );
    assert!(!text.contains("passed"), "{text}");
    assert!(!text.contains(TESTKV_VALUE));
}

#[test]
fn doctor_of_a_job_without_secrets_says_nothing_was_checked() {
    let project = Project::new();
    let file = project.write(".gitlab-ci.yml", "deploy:\n  script: [x]\n");
    let text = project
        .cli()
        .args(["doctor", "--job", "deploy", "--ci-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(code(&text), 4, "stderr: {}", stderr(&text));
    assert_eq!(
        stdout(&text),
        "Job deploy: nothing was checked: the job has no secrets\n"
    );
    let json = project
        .cli()
        .args(["doctor", "--job", "deploy", "--format", "json", "--ci-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(code(&json), 4, "stderr: {}", stderr(&json));
    let report: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"job": "deploy", "passed": false, "checked": 0, "identities": []})
    );
}

/// An HTTP proxy on a local port that only tunnels (`CONNECT`), as
/// corporate proxies for HTTPS do, and records each request line.
struct TunnellingProxy {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TunnellingProxy {
    fn start() -> Self {
        use std::io::{BufRead, BufReader, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let request_line = line.trim_end().to_string();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    seen.lock().unwrap().push(request_line.clone());
                    let mut client = client;
                    let target = request_line
                        .strip_prefix("CONNECT ")
                        .and_then(|rest| rest.split(' ').next())
                        .and_then(|authority| std::net::TcpStream::connect(authority).ok());
                    let Some(target) = target else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    let (mut up_read, mut up_write) = (target.try_clone().unwrap(), target);
                    let mut down_write = client.try_clone().unwrap();
                    let mut down_read = reader;
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up_read, &mut down_write);
                        let _ = down_write.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut down_read, &mut up_write);
                    let _ = up_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Self { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

#[test]
fn doctor_goes_through_https_proxy_as_the_http_client_does() {
    let proxy = TunnellingProxy::start();
    let job = doctor_job(&["/demo/static/password"], DEMO_ACCESS_KEY);
    let run = DoctorRun::with_env(&job, None, "json", &[("HTTPS_PROXY", &proxy.url())]);
    assert_eq!(code(&run.output), 0, "stdout: {}", stdout(&run.output));
    assert_eq!(
        run.checks(),
        checks(&[
            ("proxy", true),
            ("DNS", true),
            ("TCP", true),
            ("proxy tunnel", true),
            ("TLS", true),
            ("login", true),
            ("describe /demo/static/password", true),
        ])
    );
    assert_eq!(
        run.check("proxy")["detail"],
        format!(
            "requests go through {} (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY)",
            proxy.url()
        )
    );
    assert_eq!(
        run.check("TCP")["detail"],
        format!("connected to 127.0.0.1:{}", proxy.port)
    );
    // The doctor's TLS check and the provider's own calls both went through
    // tunnels to the emulator: nothing reached it directly.
    let authority = reqwest::Url::parse(&run.harness.url()).unwrap();
    let connect = format!(
        "CONNECT {}:{} HTTP/1.1",
        authority.host_str().unwrap(),
        authority.port().unwrap()
    );
    let requests = proxy.requests();
    assert!(requests.len() >= 2, "{requests:?}");
    assert!(requests.iter().all(|line| *line == connect), "{requests:?}");
}
