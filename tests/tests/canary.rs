//! No leaks, proven: secrets holding distinctive canary values are resolved
//! through every provider and item type that runs without an external
//! server, at the most verbose settings, and no canary may show up anywhere
//! but in the requested output: not on stderr (logs, spans, errors, summary),
//! not in error messages of failing runs, not in `Debug` of the public types,
//! not in the spans exported over OTLP to a local collector, and not in a
//! server's echo of a submitted credential. Each check looks for
//! the raw value, its JSON- and Debug-escaped forms, its URL encoding and its
//! base64 forms at every alignment.

use crate::hardening_support;
use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Access, DynamicShape, Emulator, Item, Seed};
use hardening_support::{
    Emulator as EmulatorHandle, RawServer, Run, assert_no_leak, debug_bytes_form, json_response,
    run,
};
use serde_json::{Value, json};
use support::Project;

/// Every canary contains this marker, so a fragment of a value that escaped
/// is caught too, whatever its form.
const MARK: &str = "CNRY";

const KV_TEXT: &str = "CNRY-kv-text-7Yq2 \"quoted\" back\\slash é";
const KV_PEM: &str = "-----BEGIN CANARY KEY-----\nCNRY-kv-pem-line1-Q7wZ0aK3\nCNRY-kv-pem-line2-Vb8Ts1Hx\n-----END CANARY KEY-----\n";
const AK_STATIC: &str = "CNRY-ak-static-Hn4/+=&?%";
const AK_JSON_PASSWORD: &str = "CNRY-ak-json-password-Lm3";
const AK_JSON_POINTER: &str = "CNRY-ak-json-pointer-Rt5";
/// In the JSON secret, but never requested: it may not appear even on stdout.
const AK_JSON_UNREQUESTED: &str = "CNRY-ak-json-unrequested-Wq9";
const AK_ROTATED_USER: &str = "CNRY-ak-rotated-user-Bb2";
const AK_ROTATED_PASSWORD: &str = "CNRY-ak-rotated-password-Cc3";
const AK_DYNAMIC_PREFIX: &str = "CNRY-ak-dynamic-password-";
/// Credentials the run submits: never printed, not even on stdout.
const ACCESS_KEY: &str = "CNRY-access-key-Zr6KpQ2vT9";
const ACCESS_ID_JWT: &str = "p-canaryjwt001";
const ACCESS_ID_KEY: &str = "p-canarykey001";
const JWT_AUDIENCE: &str = "https://canary.example";
const SSH_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIoZOp7yROM7hm/78a5T+rPeIfEJHeTRlSoous3fjNju canary";

/// Values seeded into the stores (the dynamic one is learnt from stdout).
const SEEDED: &[&str] = &[
    KV_TEXT,
    KV_PEM,
    "CNRY-kv-pem-line1-Q7wZ0aK3",
    "CNRY-kv-pem-line2-Vb8Ts1Hx",
    AK_STATIC,
    AK_JSON_PASSWORD,
    AK_JSON_POINTER,
    AK_JSON_UNREQUESTED,
    AK_ROTATED_USER,
    AK_ROTATED_PASSWORD,
];

fn seed() -> Seed {
    Seed::new()
        .with_access(Access::jwt(ACCESS_ID_JWT, TestKeys::rsa().public_key_pem()).with_audience(JWT_AUDIENCE).allow("/canary/*"))
        .with_access(Access::access_key(ACCESS_ID_KEY, ACCESS_KEY).allow("/canary/*"))
        .with_item("/canary/static", Item::static_text(AK_STATIC))
        .with_item(
            "/canary/json",
            Item::static_json(json!({
                "user": "app",
                "password": AK_JSON_PASSWORD,
                "nested": {"token": AK_JSON_POINTER},
                "unrequested": AK_JSON_UNREQUESTED,
            })),
        )
        .with_item(
            "/canary/dynamic",
            Item::dynamic(
                json!({"user": "tmp-{{lease_id}}", "password": format!("{AK_DYNAMIC_PREFIX}{{{{random}}}}")}),
                DynamicShape::Flat,
            ),
        )
        .with_item(
            "/canary/rotated",
            Item::rotated(json!({"username": AK_ROTATED_USER, "password": AK_ROTATED_PASSWORD})),
        )
        .with_item("/canary/ssh", Item::ssh_cert_issuer(["deploy"], Duration::from_secs(600)))
        .with_item("/canary/pki", Item::pki_cert_issuer(["canary.local"], Duration::from_secs(600)))
        .with_item("/canary/certificate", Item::certificate("web.canary.local"))
        .with_item("/restricted/denied", Item::static_text("CNRY-denied-never-readable-Kk1"))
}

fn csr_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["app.canary.local".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "app.canary.local");
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// The Akeyless blocks of the success job; `auth` is the login part.
fn akeyless_secrets(auth: &str) -> String {
    let block =
        |extra: &str| format!("{{{extra}akeyless_api_url: $AKEYLESS_EMULATOR_URL, {auth}}}");
    format!(
        r#"
    AK_STATIC:
      file: false
      token: $AKEYLESS_JWT
      akeyless: {static_}
    AK_JSON_KEY:
      file: false
      token: $AKEYLESS_JWT
      akeyless: {json_key}
    AK_JSON_POINTER:
      token: $AKEYLESS_JWT
      akeyless: {json_pointer}
    AK_DYNAMIC:
      file: false
      token: $AKEYLESS_JWT
      akeyless: {dynamic}
    AK_ROTATED:
      token: $AKEYLESS_JWT
      akeyless: {rotated}
    AK_SSH_CERT:
      token: $AKEYLESS_JWT
      akeyless: {ssh}
    AK_PKI_CERT:
      token: $AKEYLESS_JWT
      akeyless: {pki}
    AK_CERTIFICATE:
      token: $AKEYLESS_JWT
      akeyless: {certificate}
"#,
        static_ = block("name: /canary/static, "),
        json_key = block("name: /canary/json, data_key: password, "),
        json_pointer = block("name: /canary/json, data_key: /nested/token, "),
        dynamic = block("name: /canary/dynamic, "),
        rotated = block("name: /canary/rotated, "),
        ssh =
            block("name: /canary/ssh, cert_user_name: deploy, public_key_data: $SSH_PUBLIC_KEY, "),
        pki = block("name: /canary/pki, csr_data: $CSR_PEM, "),
        certificate = block("name: /canary/certificate, "),
    )
}

struct Fixture {
    project: Project,
    emulator: EmulatorHandle,
    /// An OTLP/HTTP collector that keeps the raw bytes of every export.
    collector: RawServer,
    jwt: String,
    csr: String,
}

impl Fixture {
    fn new() -> Self {
        let emulator = EmulatorHandle::start(Emulator::builder().seed(seed()));
        let project = Project::new();
        let store = project.write(
            "store.json",
            &json!({"text": KV_TEXT, "pem": KV_PEM}).to_string(),
        );
        project.write(
            "ci-secrets.toml",
            &format!(
                "[providers.testkv]\nstore = {:?}\n\n[providers.akeyless]\napi_url = {:?}\n",
                store.display().to_string(),
                emulator.url()
            ),
        );
        let jwt_auth = "akeyless_access_type: jwt";
        let key_auth = "akeyless_access_type: access_key, akeyless_access_key: $CANARY_ACCESS_KEY";
        project.write(
            ".gitlab-ci.yml",
            &format!(
                r#"
deploy:
  script: [x]
  variables:
    AKEYLESS_ACCESS_ID: {ACCESS_ID_JWT}
  id_tokens:
    AKEYLESS_JWT:
      aud: {JWT_AUDIENCE}
  secrets:
    KV_TEXT:
      file: false
      testkv: {{key: text}}
    KV_PEM:
      testkv: {{key: pem}}
    AK_TOKEN:
      token: $AKEYLESS_JWT
      akeyless:
{jwt_secrets}
failing:
  script: [x]
  variables:
    AKEYLESS_ACCESS_ID: {ACCESS_ID_KEY}
  secrets:
    KV_TEXT:
      file: false
      testkv: {{key: text}}
    AK_STATIC:
      akeyless: {{name: /canary/static, akeyless_api_url: $AKEYLESS_EMULATOR_URL, {key_auth}}}
    AK_ROTATED:
      akeyless: {{name: /canary/rotated, akeyless_api_url: $AKEYLESS_EMULATOR_URL, {key_auth}}}
    AK_MISSING:
      akeyless: {{name: /canary/absent, akeyless_api_url: $AKEYLESS_EMULATOR_URL, {key_auth}}}
    AK_DENIED:
      akeyless: {{name: /restricted/denied, akeyless_api_url: $AKEYLESS_EMULATOR_URL, {key_auth}}}
slow:
  script: [x]
  variables:
    AKEYLESS_ACCESS_ID: {ACCESS_ID_KEY}
  secrets:
    KV_TEXT:
      testkv: {{key: text}}
    KV_SLOW:
      testkv: {{key: pem, delay_ms: "30000"}}
    AK_STATIC:
      akeyless: {{name: /canary/static, akeyless_api_url: $AKEYLESS_EMULATOR_URL, {key_auth}}}
"#,
                jwt_secrets = akeyless_secrets(jwt_auth),
            ),
        );
        let collector = RawServer::start(|mut stream, _request, _stop| {
            use std::io::Write as _;
            let _ = stream.write_all(&hardening_support::response(
                "200 OK",
                &[("Content-Type", "application/x-protobuf")],
                b"",
            ));
        });
        Self {
            project,
            collector,
            jwt: TestKeys::rsa().jwt(Some(JWT_AUDIENCE), Duration::from_secs(600)),
            csr: csr_pem(),
            emulator,
        }
    }

    /// The binary at full verbosity, with the job's inputs as `--var`s.
    fn resolve(&self, job: &str, extra: &[&str]) -> Run {
        let mut command = self.project.cli();
        command
            .env("RUST_LOG", "trace")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", self.collector.url())
            .env("CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS", "10000")
            .args(["-vvv", "resolve", "--job", job, "--format", "json"])
            .args(extra)
            .arg("--var")
            .arg(format!("AKEYLESS_EMULATOR_URL={}", self.emulator.url()))
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={}", self.jwt))
            .arg("--var")
            .arg(format!("SSH_PUBLIC_KEY={SSH_PUBLIC_KEY}"))
            .arg("--var")
            .arg(format!("CSR_PEM={}", self.csr))
            .arg("--var")
            .arg(format!("CANARY_ACCESS_KEY={ACCESS_KEY}"));
        run(&mut command)
    }

    /// Every byte exported to the collector so far, checked like stderr.
    fn assert_exports_clean(&self, what: &str, secrets: &[&str]) {
        let exported: Vec<u8> = self
            .collector
            .requests()
            .into_iter()
            .flat_map(|r| r.body)
            .collect();
        // Uncompressed protobuf: span names are readable, so a value would be too.
        assert!(
            String::from_utf8_lossy(&exported).contains("akeyless"),
            "{what}: no spans were exported"
        );
        assert_no_leak(&format!("OTLP export of {what}"), &exported, secrets);
        assert!(
            !String::from_utf8_lossy(&exported).contains(MARK),
            "OTLP export of {what} holds a canary fragment"
        );
    }

    /// Credentials the run submitted: they may appear nowhere.
    fn credentials(&self) -> Vec<&str> {
        vec![ACCESS_KEY, self.jwt.as_str()]
    }
}

/// Every string in the JSON output, and each line of multi-line ones.
fn delivered_values(stdout: &str) -> Vec<String> {
    let values: Value = serde_json::from_str(stdout).unwrap();
    let mut out = Vec::new();
    for value in values.as_object().unwrap().values() {
        let text = value.as_str().unwrap().to_string();
        for line in text.lines().filter(|line| line.len() >= 16) {
            out.push(line.to_string());
        }
        out.push(text);
    }
    out
}

fn assert_stderr_clean(what: &str, run: &Run, secrets: &[&str]) {
    assert_no_leak(&format!("stderr of {what}"), &run.output.stderr, secrets);
    let stderr = run.stderr();
    assert!(
        !stderr.contains(MARK),
        "stderr of {what} holds a canary fragment:\n{stderr}"
    );
}

#[test]
fn canaries_reach_only_the_requested_output_at_trace_level_in_text_and_json_logs() {
    let fixture = Fixture::new();
    for log_format in ["text", "json"] {
        let run = fixture.resolve("deploy", &["--log-format", log_format]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        let stdout = run.stdout();
        let values: Value = serde_json::from_str(&stdout).unwrap();
        // The requested values did arrive, so the absence checks below mean something.
        assert_eq!(values["KV_TEXT"], KV_TEXT);
        assert_eq!(values["KV_PEM"], KV_PEM);
        assert_eq!(values["AK_STATIC"], AK_STATIC);
        assert_eq!(values["AK_JSON_KEY"], AK_JSON_PASSWORD);
        assert_eq!(values["AK_JSON_POINTER"], AK_JSON_POINTER);
        assert!(
            values["AK_DYNAMIC"]
                .as_str()
                .unwrap()
                .contains(AK_DYNAMIC_PREFIX)
        );
        assert!(
            values["AK_ROTATED"]
                .as_str()
                .unwrap()
                .contains(AK_ROTATED_PASSWORD)
        );
        assert!(
            values["AK_SSH_CERT"]
                .as_str()
                .unwrap()
                .starts_with("ssh-ed25519-cert-v01@openssh.com ")
        );
        assert!(
            values["AK_PKI_CERT"]
                .as_str()
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
        assert!(values["AK_CERTIFICATE"].as_str().unwrap().contains("BEGIN"));
        assert!(values["AK_TOKEN"].as_str().unwrap().starts_with("t-"));
        // The logs really were verbose: span closes of the provider's work
        // are only written from -vv on.
        let stderr = run.stderr();
        let span_marker = match log_format {
            "json" => "\"span\"",
            _ => "close",
        };
        assert!(
            stderr.contains(span_marker)
                && stderr.contains("akeyless.login")
                && stderr.contains("akeyless.resolve"),
            "{stderr}"
        );

        let delivered = delivered_values(&stdout);
        let mut secrets: Vec<&str> = SEEDED.to_vec();
        secrets.extend(delivered.iter().map(String::as_str));
        secrets.extend(fixture.credentials());
        assert_stderr_clean(
            &format!("resolve --log-format {log_format}"),
            &run,
            &secrets,
        );
        fixture.assert_exports_clean(&format!("resolve --log-format {log_format}"), &secrets);
        // What was not requested, and what was submitted, is not on stdout either.
        let mut never = fixture.credentials();
        never.push(AK_JSON_UNREQUESTED);
        assert_no_leak("stdout", &run.output.stdout, &never);
    }
}

#[test]
fn failing_runs_name_the_failures_without_any_canary() {
    let fixture = Fixture::new();
    let mut secrets: Vec<&str> = SEEDED.to_vec();
    secrets.extend(fixture.credentials());

    let failed = fixture.resolve("failing", &[]);
    assert_eq!(failed.code(), 3, "{}", failed.stderr());
    assert!(failed.output.stdout.is_empty(), "{}", failed.stdout());
    let stderr = failed.stderr();
    assert!(
        stderr.contains("AK_MISSING") && stderr.contains("/canary/absent"),
        "{stderr}"
    );
    assert!(
        stderr.contains("AK_DENIED") && stderr.contains("/restricted/denied"),
        "{stderr}"
    );
    assert_stderr_clean("a run with a missing and a denied item", &failed, &secrets);
    fixture.assert_exports_clean("a run with a missing and a denied item", &secrets);
    assert!(!stderr.contains("CNRY-denied"), "{stderr}");

    let late = fixture.resolve("slow", &["--deadline", "0.5", "--log-format", "json"]);
    assert_eq!(late.code(), 3, "{}", late.stderr());
    assert!(late.output.stdout.is_empty());
    assert!(late.stderr().contains("deadline"), "{}", late.stderr());
    assert_stderr_clean("a run past its deadline", &late, &secrets);
    fixture.assert_exports_clean("runs that failed", &secrets);

    let login = fixture.resolve(
        "failing",
        &["--var", "CANARY_ACCESS_KEY=CNRY-wrong-access-key-Pp4"],
    );
    assert_eq!(login.code(), 3, "{}", login.stderr());
    assert_stderr_clean(
        "a run whose login fails",
        &login,
        &["CNRY-wrong-access-key-Pp4"],
    );
}

/// A server posing as Akeyless that echoes the submitted access key, and
/// the token it issued, back in its error texts.
#[test]
fn server_error_texts_that_echo_credentials_are_scrubbed() {
    const ECHOED_KEY: &str = "CNRY-echoed-access-key-Jd7";
    const ISSUED_TOKEN: &str = "t-CNRY-issued-token-Xy8";
    for phase in ["auth", "describe-item"] {
        let server = RawServer::start(move |mut stream, request, _stop| {
            use std::io::Write as _;
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let reply = match (phase, request.path()) {
                ("auth", _) => json_response(
                    "401 Unauthorized",
                    &json!({"error": format!("invalid access key {}: access denied for {}", body["access-key"].as_str().unwrap_or(""), body)}),
                ),
                (_, "/auth") => json_response(
                    "200 OK",
                    &json!({"token": ISSUED_TOKEN, "expiration": "2099-01-01T00:00:00Z"}),
                ),
                _ => json_response(
                    "401 Unauthorized",
                    &json!({"error": format!("token {} is not valid (request {})", body["token"].as_str().unwrap_or(""), body)}),
                ),
            };
            let _ = stream.write_all(&reply);
        });
        let project = Project::new();
        project.write(
            ".gitlab-ci.yml",
            "job:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-echo00000001\n  secrets:\n    A:\n      akeyless: {name: /x, akeyless_api_url: $URL, akeyless_access_type: access_key, akeyless_access_key: $KEY}\n",
        );
        let run = run(project
            .cli()
            .env("RUST_LOG", "trace")
            .args([
                "-vvv",
                "resolve",
                "--job",
                "job",
                "--format",
                "json",
                "--deadline",
                "10",
                "--var",
            ])
            .arg(format!("URL={}", server.url()))
            .arg("--var")
            .arg(format!("KEY={ECHOED_KEY}")));
        assert_eq!(run.code(), 3, "{}", run.stderr());
        assert!(!server.requests().is_empty());
        let stderr = run.stderr();
        // The server's text is still shown, with the credential masked.
        assert!(stderr.contains("[MASKED]"), "{phase}: {stderr}");
        assert_no_leak(
            &format!("stderr when {phase} echoes"),
            &run.output.stderr,
            &[ECHOED_KEY, ISSUED_TOKEN],
        );
    }
}

/// AWS credentials pass through the signing library, which logs the
/// canonical request (with `x-amz-security-token`) at trace level: at the
/// most verbose settings, in both log formats, neither the session token
/// nor the secret key reaches stderr, through the Akeyless `aws_iam` login
/// (signed by hand) or the AWS provider (signed by the SDK).
#[test]
fn aws_credentials_stay_out_of_trace_logs_of_the_libraries_that_sign() {
    const SESSION_TOKEN: &str = "CNRY-aws-session-token-Gk27xQ";
    const SECRET_KEY: &str = "CNRY-aws-secret-key-Nb61sP";
    let server = RawServer::start(|mut stream, _request, _stop| {
        use std::io::Write as _;
        let _ = stream.write_all(&hardening_support::response(
            "400 Bad Request",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-ErrorType", "AccessDeniedException"),
            ],
            br#"{"__type":"AccessDeniedException","message":"denied","error":"denied"}"#,
        ));
    });
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-canaryaws001\n  secrets:\n    AK_AWS:\n      akeyless: {name: /x, akeyless_api_url: $URL, akeyless_access_type: aws_iam}\n    SM:\n      aws_secrets_manager: {secret_id: canary/app}\n",
    );
    for log_format in ["text", "json"] {
        let run = run(project
            .cli()
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--log-format", log_format])
            .args([
                "resolve",
                "--job",
                "job",
                "--format",
                "json",
                "--deadline",
                "10",
            ])
            .arg("--var")
            .arg(format!("URL={}", server.url()))
            .arg("--var")
            .arg(format!("AWS_ENDPOINT_URL={}", server.url()))
            .args(["--var", "AWS_REGION=eu-west-1"])
            .args(["--var", "AWS_ACCESS_KEY_ID=AKIACANARY0000000001"])
            .arg("--var")
            .arg(format!("AWS_SECRET_ACCESS_KEY={SECRET_KEY}"))
            .arg("--var")
            .arg(format!("AWS_SESSION_TOKEN={SESSION_TOKEN}")));
        assert_eq!(run.code(), 3, "{}", run.stderr());
        // Both providers signed with the token: the requests carried it.
        let signed = server
            .requests()
            .iter()
            .filter(|request| {
                let text = String::from_utf8_lossy(&request.body).into_owned() + &request.head;
                text.contains(SESSION_TOKEN) || text.contains("cloud-id")
            })
            .count();
        assert!(signed >= 2, "{log_format}: {signed} signed requests");
        assert_stderr_clean(
            &format!("AWS signing at trace level, {log_format} logs"),
            &run,
            &[SESSION_TOKEN, SECRET_KEY],
        );
    }
}

// ------------------------------------------------------------ Debug

mod debug_of_public_types {
    use super::*;
    use ci_secrets_core::dispatch::ResolvedSecret;
    use ci_secrets_gitlab::pipeline::VariableDef;
    use ci_secrets_gitlab::validate::SecretSpec;
    use ci_secrets_http::HttpResponse;
    use ci_secrets_provider_api::{JobVariables, MetricsSnapshot, SecretRequest, SecretValue};

    const VALUE: &str = "CNRY-debug-value-Tt5 \"q\"";
    const TOKEN: &str = "CNRY-debug-token-Uu6";
    const INLINE_KEY: &str = "CNRY-debug-inline-key-Vv7";

    fn assert_debug_clean(what: &str, debug: String) {
        assert_no_leak(
            &format!("Debug of {what}"),
            debug.as_bytes(),
            &[VALUE, TOKEN, INLINE_KEY],
        );
        assert!(!debug.contains(MARK), "Debug of {what}: {debug}");
        for secret in [VALUE, TOKEN, INLINE_KEY] {
            assert!(
                !debug.contains(&debug_bytes_form(secret)),
                "Debug of {what} lists the bytes: {debug}"
            );
        }
    }

    fn resolved() -> ResolvedSecret {
        ResolvedSecret {
            variable: "DB".into(),
            provider: "testkv".into(),
            file: true,
            value: SecretValue::text(VALUE),
        }
    }

    #[test]
    fn values_variables_specs_and_resolutions() {
        assert_debug_clean("SecretValue", format!("{:?}", SecretValue::text(VALUE)));
        assert_debug_clean(
            "SecretValue (bytes)",
            format!("{:#?}", SecretValue::bytes(VALUE.as_bytes().to_vec())),
        );
        assert_debug_clean(
            "JobVariables",
            format!(
                "{:?}",
                JobVariables::from_iter([("DB_PASSWORD", VALUE), ("CI_JOB_JWT", TOKEN)])
            ),
        );
        assert_debug_clean("ResolvedSecret", format!("{:#?}", resolved()));
        let resolution = ci_secrets_core::Resolution {
            job: "deploy".into(),
            secrets: vec![resolved(), resolved()],
            metrics: MetricsSnapshot::default(),
            providers: 1,
            elapsed: Duration::from_millis(3),
            unset_variables: Vec::new(),
            skipped_includes: Vec::new(),
            rule_warnings: Vec::new(),
        };
        assert_debug_clean("Resolution", format!("{resolution:#?}"));
        assert_debug_clean(
            "SecretSpec",
            format!(
                "{:?}",
                SecretSpec {
                    variable: "DB".into(),
                    provider: "akeyless".into(),
                    block: json!({"name": "/db", "akeyless_access_key": INLINE_KEY}),
                    file: false,
                    token: Some(TOKEN.into()),
                }
            ),
        );
        assert_debug_clean(
            "VariableDef",
            format!(
                "{:?}",
                VariableDef {
                    value: VALUE.into(),
                    expand: true,
                }
            ),
        );
    }

    #[test]
    fn a_request_shows_neither_its_token_nor_its_expanded_values() {
        let request = SecretRequest::new("DB", json!({"name": "/db"})).with_token(TOKEN);
        assert_debug_clean("SecretRequest with a token", format!("{request:?}"));
    }

    /// The block of a request is expanded, so a credential passed through a
    /// variable (`akeyless_access_key: $KEY`) sits in it in clear.
    #[test]
    fn a_request_block_with_an_inline_credential_is_not_shown() {
        let request = SecretRequest::new(
            "DB",
            json!({"name": "/db", "akeyless_access_key": INLINE_KEY}),
        );
        assert_debug_clean("SecretRequest with an inline key", format!("{request:?}"));
    }

    #[test]
    fn an_http_response_does_not_show_its_body() {
        let body = json!({"/db": VALUE}).to_string().into_bytes();
        assert_debug_clean(
            "HttpResponse",
            format!("{:?}", HttpResponse::new(200, body)),
        );
    }

    /// A provider keeps logins between runs: its `Debug` must not show them.
    #[test]
    fn the_akeyless_provider_after_a_run() {
        use ci_secrets_provider_akeyless::AkeylessProvider;
        use ci_secrets_provider_api::{Provider, ResolveContext};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let emulator = Emulator::builder().seed(seed()).start().await.unwrap();
            let jwt = TestKeys::rsa().jwt(Some(JWT_AUDIENCE), Duration::from_secs(600));
            let ctx = ResolveContext::builder("deploy")
                .variables(JobVariables::from_iter([(
                    "AKEYLESS_ACCESS_ID",
                    ACCESS_ID_JWT,
                )]))
                .timeout(Duration::from_secs(20))
                .build();
            let block = |name: &str| json!({"name": name, "akeyless_api_url": emulator.url()});
            let requests = [
                SecretRequest::new("STATIC", block("/canary/static")).with_token(&jwt),
                SecretRequest::new("TOKEN", json!({"akeyless_api_url": emulator.url()}))
                    .with_token(&jwt),
            ];
            let provider = AkeylessProvider::new();
            provider.preflight(&ctx, &requests).unwrap();
            let results = provider.resolve(&ctx, &requests).await;
            let value = results[0]
                .as_ref()
                .unwrap()
                .expose_str()
                .unwrap()
                .to_string();
            let token = results[1]
                .as_ref()
                .unwrap()
                .expose_str()
                .unwrap()
                .to_string();
            assert_eq!(value, AK_STATIC);
            let debug = format!("{provider:#?}");
            assert_no_leak(
                "Debug of AkeylessProvider",
                debug.as_bytes(),
                &[AK_STATIC, &token, &jwt],
            );
            assert_no_leak(
                "Debug of ResolveContext",
                format!("{ctx:#?}").as_bytes(),
                &[AK_STATIC, &token, &jwt],
            );
        });
    }
}

// ------------------------------------------------------------ panics

/// Library code must not format values into panic messages: a panic prints
/// its message on stderr, past every redaction. This scans the non-test
/// part of each library source file for panicking macros and `expect`s
/// whose message interpolates anything.
#[test]
fn no_panic_message_in_library_code_interpolates_a_value() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let crates = [
        "provider-api",
        "provider-http",
        "gitlab-ci",
        "resolver-core",
        "doctor",
        "telemetry",
        "provider-akeyless",
        "provider-vault",
        "provider-aws",
        "cli",
    ];
    let mut scanned = 0;
    let mut offenders = Vec::new();
    for krate in crates {
        let mut stack = vec![root.join(krate).join("src")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    // A module's unit tests in their own `tests.rs` (declared
                    // `#[cfg(test)] mod tests;`) are test code, like inline ones.
                    && path.file_name().is_none_or(|name| name != "tests.rs")
                {
                    scanned += 1;
                    let text = std::fs::read_to_string(&path).unwrap();
                    offenders.extend(
                        panics_with_interpolation(&text)
                            .into_iter()
                            .map(|(line, call)| format!("{}:{line}: {call}", path.display())),
                    );
                }
            }
        }
    }
    assert!(scanned > 20, "scanned only {scanned} files");
    assert!(
        offenders.is_empty(),
        "panic messages that interpolate:\n{}",
        offenders.join("\n")
    );
}

/// `(line, call)` for each panicking call with a formatted message in the
/// code before the first `#[cfg(test)]`, comments and doc examples skipped.
fn panics_with_interpolation(source: &str) -> Vec<(usize, String)> {
    const CALLS: [&str; 8] = [
        "panic!(",
        "unreachable!(",
        "todo!(",
        "unimplemented!(",
        "assert!(",
        "assert_eq!(",
        "assert_ne!(",
        ".expect(",
    ];
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for call in CALLS {
            let Some(at) = line.find(call) else { continue };
            // The call with its arguments, up to five lines on.
            let tail: String = std::iter::once(&line[at..])
                .chain(lines.iter().skip(index + 1).take(5).copied())
                .collect::<Vec<_>>()
                .join("\n");
            let mut depth = 0usize;
            let mut end = tail.len();
            for (i, c) in tail.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let args = &tail[..end];
            if args.contains("format!")
                || args.contains('{')
                || (call != ".expect(" && args.contains(','))
            {
                found.push((index + 1, args.replace('\n', " ")));
            }
        }
    }
    found
}
