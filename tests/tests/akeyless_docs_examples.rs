//! Every example of GitLab's Akeyless documentation, resolved end to end by
//! the shipped `ci-secrets` binary against the in-process emulator (demo
//! seed). The job files are the provider's `provider-akeyless/tests/jobs/*.yml`;
//! each header lists the variables passed here and the expected values.

use crate::akeyless_support;

use std::collections::BTreeMap;
use std::time::Duration;

use akeyless_emulator::Operation;
use akeyless_emulator::demo::{DEMO_ACCESS_KEY, DEMO_ACCESS_KEY_ID, DEMO_AZURE_AUDIENCE};
use akeyless_emulator::testing::TestKeys;
use akeyless_support::{Harness, Project, Run, demo_aws_env, demo_jwt, job_file, tool};
use base64::Engine as _;

const PASSWORD: &str = "demo-password-v2";

/// `NAME='value'` lines of `--format dotenv` (values here hold no quote).
fn dotenv(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap();
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap();
            assert!(!value.contains('\''), "{line}");
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// A token from `POST /auth` with the demo access key, as a user would get
/// one outside the job.
fn login_with_access_key(harness: &Harness) -> String {
    let url = format!("{}/auth", harness.url());
    let answer: serde_json::Value = harness.runtime.block_on(async move {
        reqwest::Client::new()
            .post(url)
            .json(&serde_json::json!({
                "access-type": "access_key",
                "access-id": DEMO_ACCESS_KEY_ID,
                "access-key": DEMO_ACCESS_KEY,
            }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    answer["token"].as_str().unwrap().to_string()
}

#[test]
fn jwt_the_default_access_type_resolves_with_one_login() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("jwt.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt())),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    let stats = harness.stats();
    assert_eq!(stats.logins, 1);
    assert_eq!(stats.requests(Operation::GetSecretValue), 1);
    let summary = run.summary();
    assert_eq!(
        (summary.secrets, summary.providers, summary.logins),
        (1, 1, 1)
    );
    // The login, then the read and the describe together; the describe is
    // dropped once the read answered (counted if it was started, whether
    // or not it reached the server).
    assert!(stats.requests(Operation::DescribeItem) <= 1, "{stats:?}");
    assert!(
        (2..=3).contains(&summary.api_calls) && summary.api_calls >= stats.total_requests(),
        "{stats:?} {}",
        summary.api_calls
    );
}

#[test]
fn jwt_through_exec_hands_the_file_secret_to_the_command_and_removes_it() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = Run::of(
        project
            .cli()
            .args(["exec", "--job", "deploy", "--ci-file"])
            .arg(job_file("jwt.yml"))
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt()))
            .args(["--", "sh", "-c"])
            .arg(format!(
                "test \"$(cat \"$DATABASE_PASSWORD\")\" = {PASSWORD} || exit 7; echo \"$DATABASE_PASSWORD\""
            )),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let path = run.stdout().trim().to_string();
    assert!(path.ends_with("/DATABASE_PASSWORD"), "{path}");
    assert!(
        !std::path::Path::new(&path).exists(),
        "the secret file outlived the command"
    );
}

#[test]
fn akeyless_token_skips_the_login() {
    let harness = Harness::demo();
    let token = login_with_access_key(&harness);
    assert_eq!(harness.stats().requests(Operation::Auth), 1);
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("akeyless-token.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_TOKEN_VALUE={token}")),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    let stats = harness.stats();
    assert_eq!(
        stats.requests(Operation::Auth),
        1,
        "the binary called /auth"
    );
    assert_eq!(stats.requests(Operation::GetSecretValue), 1);
    assert_eq!(run.summary().logins, 0);
}

#[test]
fn api_key_and_access_key_both_log_in_with_the_access_key() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("api-key.yml"), "json")
            .arg("--var")
            .arg(harness.url_var()),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD, "DATABASE_PASSWORD_2": PASSWORD})
    );
    // Both spellings name the same identity (D2): one login.
    assert_eq!(harness.stats().logins, 1);
}

#[test]
fn universal_identity_resolves() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("universal-identity.yml"), "json")
            .arg("--var")
            .arg(harness.url_var()),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    assert_eq!(harness.stats().logins, 1);
}

#[test]
fn k8s_through_a_gateway_url_with_api_v2_resolves() {
    let harness = Harness::demo();
    let project = Project::new();
    // A raw service-account JWT: ci-secrets base64-encodes it (D11).
    let service_account_token = TestKeys::ec().jwt(None, Duration::from_secs(600));
    let run = Run::of(
        project
            .resolve(&job_file("k8s.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("K8S_SA_TOKEN={service_account_token}")),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    assert_eq!(harness.stats().logins, 1);
}

#[test]
fn aws_iam_signs_sts_with_the_environment_credentials() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("aws-iam.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .envs(demo_aws_env()),
    );
    // The emulator recomputed the SigV4 signature with the seed's secret.
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    assert_eq!(harness.stats().logins, 1);
}

/// `aws_iam` with a web identity (EKS's IRSA: `AWS_ROLE_ARN` and
/// `AWS_WEB_IDENTITY_TOKEN_FILE`): the STS call that trades the token for
/// credentials goes through the proxy of the environment, like every other
/// request of the run (a runner behind a mandatory proxy reaches STS no
/// other way). The proxy refuses the tunnel: the run fails, after asking it.
#[test]
fn aws_iam_web_identity_goes_through_the_proxy_of_the_environment() {
    use crate::hardening_support::{RawServer, response};
    use std::io::Write as _;

    let harness = Harness::demo();
    let proxy = RawServer::start(|mut stream, _request, _stop| {
        let _ = stream.write_all(&response("502 Bad Gateway", &[], b""));
    });
    let project = Project::new();
    let token = project.write("web-identity-token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    let run = Run::of(
        project
            .resolve(&job_file("aws-iam.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci")
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
            .env("AWS_REGION", "eu-west-1")
            .env("HTTPS_PROXY", proxy.url()),
    );
    assert_ne!(run.code(), 0, "{}", run.stdout());
    let request_lines: Vec<String> = proxy
        .requests()
        .iter()
        .filter_map(|request| request.head.lines().next().map(str::to_string))
        .collect();
    assert!(
        request_lines
            .iter()
            .any(|line| line.starts_with("CONNECT sts.") && line.contains(".amazonaws.com:443")),
        "{request_lines:?}\n{}",
        run.stderr()
    );
    assert_eq!(harness.stats().logins, 0);
}

/// `aws_iam` on EC2: the SDK's credential chain finds no keys, no profile
/// and no web identity, and takes the instance role's credentials from
/// IMDSv2 (a session token first, then the role, then its keys), sent
/// through the run's HTTP client.
#[test]
fn aws_iam_takes_the_instance_role_from_imdsv2() {
    use crate::hardening_support::{RawServer, response};
    use std::io::Write as _;

    let harness = Harness::demo();
    let demo = demo_aws_env();
    let keys = serde_json::json!({
        "Code": "Success",
        "LastUpdated": "2026-12-06T00:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": demo[0].1,
        "SecretAccessKey": demo[1].1,
        "Token": "imds-session-token-Hx2",
        "Expiration": "2100-01-01T00:00:00Z",
    })
    .to_string();
    let imds = RawServer::start(move |mut stream, request, _stop| {
        let first_line = request.head.lines().next().unwrap_or_default().to_string();
        let token_given = request
            .head
            .to_ascii_lowercase()
            .contains("x-aws-ec2-metadata-token: imds-token-q7");
        let (status, body) = match first_line.split_whitespace().take(2).collect::<Vec<_>>()[..] {
            ["PUT", "/latest/api/token"] => ("200 OK", "imds-token-q7".to_string()),
            [_, _] if !token_given => ("401 Unauthorized", String::new()),
            ["GET", "/latest/meta-data/iam/security-credentials/"] => ("200 OK", "ci-role".into()),
            ["GET", "/latest/meta-data/iam/security-credentials/ci-role"] => {
                ("200 OK", keys.clone())
            }
            _ => ("404 Not Found", String::new()),
        };
        let _ = stream.write_all(&response(
            status,
            &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
            body.as_bytes(),
        ));
    });
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("aws-iam.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url())
            .env("AWS_REGION", "us-east-1"),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    let paths: Vec<String> = imds
        .requests()
        .iter()
        .map(|request| request.path().to_string())
        .collect();
    assert!(
        paths.contains(&"/latest/api/token".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/latest/meta-data/iam/security-credentials/ci-role".to_string()),
        "{paths:?}"
    );
    assert_eq!(harness.stats().logins, 1);
}

#[test]
fn azure_ad_takes_a_managed_identity_token_from_imds() {
    let harness = Harness::demo();
    let imds = harness.metadata_server(|_| {
        let token = TestKeys::ec().jwt(Some(DEMO_AZURE_AUDIENCE), Duration::from_secs(600));
        (
            200,
            serde_json::json!({"access_token": token, "token_type": "Bearer"}).to_string(),
        )
    });
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("azure-ad.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.url())
            .env("AZURE_ENVIRONMENT", "AzureCloud"),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    let received = imds.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(request.path, "/metadata/identity/oauth2/token");
    assert_eq!(request.header("metadata"), Some("true"));
    assert_eq!(
        request.query_value("resource").as_deref(),
        Some(DEMO_AZURE_AUDIENCE)
    );
    assert_eq!(
        request.query_value("object_id").as_deref(),
        Some("00000000-aaaa-bbbb-cccc-000000000001")
    );
    assert_eq!(harness.stats().logins, 1);
}

#[test]
fn gcp_takes_an_id_token_from_the_metadata_server() {
    let harness = Harness::demo();
    let metadata = harness.metadata_server(|request| {
        let audience = request.query_value("audience").unwrap_or_default();
        (
            200,
            TestKeys::rsa().jwt(Some(&audience), Duration::from_secs(600)),
        )
    });
    let project = Project::new();
    let run = Run::of(
        project
            .resolve(&job_file("gcp.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .env("GCE_METADATA_HOST", metadata.host()),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    let received = metadata.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0].path,
        "/computeMetadata/v1/instance/service-accounts/default/identity"
    );
    assert_eq!(received[0].header("metadata-flavor"), Some("Google"));
    assert_eq!(
        received[0].query_value("audience").as_deref(),
        Some("akeyless.io")
    );
    assert_eq!(harness.stats().logins, 1);
}

#[test]
fn jwt_reuse_delivers_a_working_token_from_the_same_login() {
    let harness = Harness::demo();
    let project = harness.project();
    let run = Run::of(
        project
            .resolve(&job_file("jwt-reuse.yml"), "json")
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt())),
    );
    let values = run.json();
    assert_eq!(values["DATABASE_PASSWORD"], PASSWORD);
    let token = values["AKEYLESS_TOKEN"].as_str().unwrap().to_string();
    assert!(token.starts_with("t-"), "{token}");
    assert_eq!(
        harness.stats().logins,
        1,
        "the token and the secret share one login"
    );

    // The delivered token is a real one: the `akeyless_token` example accepts it.
    let run = Run::of(
        project
            .resolve(&job_file("akeyless-token.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_TOKEN_VALUE={token}")),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    assert_eq!(harness.stats().logins, 1);
}

/// The variables GitLab takes from a dotenv report, as
/// `Ci::ParseDotenvArtifactService` reads it (each line split at the first
/// `=`, both sides stripped, no unquoting) and as the runner then expands
/// them in a later job (`$$` is a literal `$`).
fn gitlab_dotenv_report(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap();
            (name.trim().to_owned(), value.trim().replace("$$", "$"))
        })
        .collect()
}

/// Issue 17: the two-job recipe of the README. A login job writes the
/// Akeyless token as GitLab's dotenv report; a later job gets it as a
/// variable and reads its secret with `akeyless_token:`, without a login.
#[test]
fn a_gitlab_dotenv_report_carries_the_token_to_a_later_job() {
    let harness = Harness::demo();
    let project = harness.project();
    let run = Run::of(
        project
            .resolve(&job_file("jwt-reuse.yml"), "gitlab-dotenv")
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt())),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = run.stdout();
    assert!(
        report.len() <= 5 * 1024 && report.lines().count() == 2,
        "{report}"
    );
    let variables = gitlab_dotenv_report(&report);
    // `file: true` secrets are carried as values: a path of this job means nothing in the next.
    assert_eq!(variables["DATABASE_PASSWORD"], PASSWORD);
    let token = variables["AKEYLESS_TOKEN"].clone();
    assert!(token.starts_with("t-"), "{token}");

    let run = Run::of(
        project
            .resolve(&job_file("akeyless-token.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_TOKEN_VALUE={token}")),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    assert_eq!(harness.stats().logins, 1, "the later job reuses the login");
}

#[test]
fn json_data_key_picks_keys_and_pointers_and_writes_file_secrets() {
    let harness = Harness::demo();
    let project = Project::new();
    let files = project.path().join("secret-files");
    let run = Run::of(
        project
            .resolve(&job_file("json-data-key.yml"), "shell")
            .arg("--files-dir")
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt())),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let script = format!(
        "{}\nprintf '%s|%s|%s|%s' \"$DB_USER\" \"$DB_PORT\" \"$(cat \"$DB_PASSWORD\")\" \"$DB_PASSWORD\"",
        run.stdout()
    );
    let evaluated = tool("sh", &["-c", &script], project.path());
    let parts: Vec<&str> = evaluated.split('|').collect();
    assert_eq!(parts[..3], ["app", "5432", "demo-db-password"]);
    assert_eq!(parts[3], files.join("DB_PASSWORD").display().to_string());
    // One item, read once for all three variables; its describe, sent with
    // the read, is dropped once the read answered (it reached the server or
    // not), and never sent twice.
    let stats = harness.stats();
    let lookups = stats.requests(Operation::DescribeItem) + stats.requests(Operation::ListItems);
    assert!(lookups <= 1, "{stats:?}");
    assert_eq!(stats.requests(Operation::GetSecretValue), 1);
}

#[test]
fn ssh_certificate_issuance_verifies_with_ssh_keygen() {
    let harness = Harness::demo();
    let project = Project::new();
    tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "deploy@ci",
            "-f",
            "id_ed25519",
        ],
        project.path(),
    );
    let public_key = std::fs::read_to_string(project.path().join("id_ed25519.pub")).unwrap();
    let files = project.path().join("secret-files");
    let run = Run::of(
        project
            .resolve(&job_file("ssh-certificate.yml"), "dotenv")
            .arg("--files-dir")
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt()))
            .arg("--var")
            .arg(format!("SSH_PUBLIC_KEY={}", public_key.trim())),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let certificate = dotenv(&run.stdout())["SSH_CERT"].clone();
    let listing = tool("ssh-keygen", &["-L", "-f", &certificate], project.path());
    assert!(
        listing.contains("Type: ssh-ed25519-cert-v01@openssh.com user certificate"),
        "{listing}"
    );
    let principals = listing.split("Principals:").nth(1).unwrap();
    assert_eq!(
        principals.split_whitespace().next(),
        Some("deploy"),
        "{listing}"
    );

    // Signed by the emulator's CA, for our key.
    project.write("ca.pub", &harness.emulator.ssh_ca_public_key());
    let ca_fingerprint = fingerprint(&tool("ssh-keygen", &["-l", "-f", "ca.pub"], project.path()));
    let key_fingerprint = fingerprint(&tool(
        "ssh-keygen",
        &["-l", "-f", "id_ed25519.pub"],
        project.path(),
    ));
    assert!(
        listing.contains(&format!("Signing CA: ED25519 {ca_fingerprint}")),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("ED25519-CERT {key_fingerprint}")),
        "{listing}"
    );
}

/// The `SHA256:...` field of `ssh-keygen -l`.
fn fingerprint(listing: &str) -> String {
    listing.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn pki_certificate_issuance_verifies_with_openssl() {
    let harness = Harness::demo();
    let project = Project::new();
    tool(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-subj",
            "/CN=app.demo.local",
            "-out",
            "csr.pem",
        ],
        project.path(),
    );
    let csr = std::fs::read_to_string(project.path().join("csr.pem")).unwrap();
    let files = project.path().join("secret-files");
    let run = Run::of(
        project
            .resolve(&job_file("pki-certificate.yml"), "dotenv")
            .arg("--files-dir")
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", demo_jwt()))
            .arg("--var")
            .arg(format!("CSR_PEM={csr}")),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let certificate = dotenv(&run.stdout())["TLS_CERT"].clone();
    project.write("pki-ca.pem", &harness.emulator.pki_ca_pem());
    let verified = tool(
        "openssl",
        &["verify", "-CAfile", "pki-ca.pem", &certificate],
        project.path(),
    );
    assert!(verified.trim_end().ends_with(": OK"), "{verified}");
    let subject = tool(
        "openssl",
        &["x509", "-noout", "-subject", "-in", &certificate],
        project.path(),
    );
    assert!(
        subject.contains("CN=app.demo.local") || subject.contains("CN = app.demo.local"),
        "{subject}"
    );
    assert_eq!(harness.stats().requests(Operation::GetPkiCertificate), 1);
}

fn gateway_run(harness: &Harness, project: &Project, pem: &str, base64: &str) -> Run {
    Run::of(
        project
            .resolve(&job_file("gateway-tls.yml"), "json")
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("GATEWAY_CA_PEM={pem}"))
            .arg("--var")
            .arg(format!("GATEWAY_CA_B64={base64}")),
    )
}

#[test]
fn a_gateway_over_tls_is_trusted_through_gateway_ca_certificate_pem_or_base64() {
    let harness = Harness::demo_tls();
    assert!(harness.url().starts_with("https://"));
    let ca = harness.emulator.ca_pem().unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&ca);
    let project = Project::new();
    let run = gateway_run(&harness, &project, &ca, &encoded);
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD, "DATABASE_PASSWORD_B64": PASSWORD})
    );
}

#[test]
fn one_gateway_ca_in_pem_and_base64_is_one_identity_with_one_login() {
    let harness = Harness::demo_tls();
    let ca = harness.emulator.ca_pem().unwrap();
    // What `base64 < ca.pem` prints: the PEM with its final newline.
    let encoded = base64::engine::general_purpose::STANDARD.encode(&ca);
    let project = Project::new();
    let run = gateway_run(&harness, &project, &ca, &encoded);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    // Same URL, access type, access id and key, and the same CA.
    assert_eq!(harness.stats().logins, 1, "one identity, one login");
}

#[test]
fn a_gateway_over_tls_without_its_ca_fails_with_a_tls_error_naming_gateway_ca_certificate() {
    let harness = Harness::demo_tls();
    let project = Project::new();
    let run = gateway_run(&harness, &project, "", "");
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(run.stdout().is_empty());
    let stderr = run.stderr();
    assert!(stderr.contains("TLS"), "{stderr}");
    assert!(stderr.contains("gateway_ca_certificate"), "{stderr}");
    assert!(stderr.contains("DATABASE_PASSWORD"), "{stderr}");
    run.assert_no_leak(&[]);
    // The handshake failed: no request reached the API.
    assert_eq!(harness.stats().total_requests(), 0);
}

#[test]
fn every_documented_job_file_is_resolved_by_a_test_here() {
    let source = include_str!("akeyless_docs_examples.rs");
    let dir = job_file("jwt.yml").parent().unwrap().to_path_buf();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yml") {
            files += 1;
            let call = format!("job_file(\"{name}\")");
            assert!(
                source.contains(&call),
                "{name} in {} is not run",
                dir.display()
            );
        }
    }
    assert!(files >= 13, "{files} job files in {}", dir.display());
}
