//! Hostile or broken servers, end to end through the binary: the Akeyless
//! emulator's fault injection, plus raw TCP and TLS servers in the test for
//! what the emulator cannot do. Every case ends in success or in a clean
//! exit 3 within the deadline, with nothing on stdout and no secret file
//! left in `--files-dir` on failure.

use crate::hardening_support;
use crate::support;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use akeyless_emulator::{Access, Emulator, Fault, Item, Operation, Seed};
use hardening_support::{
    Emulator as EmulatorHandle, RawServer, Run, TestPki, assert_no_leak, json_response, response,
    run, send_then_reset, stall, tls_server, wait_until,
};
use support::Project;

const ACCESS_ID: &str = "p-hostile000001";
const ACCESS_KEY: &str = "hostile-access-key-Qm2x";
const VALUE: &str = "hostile-db-value-Rw7c";
const KV_VALUE: &str = "hostile-kv-value-Ls4d";

/// Time allowed past the deadline for process start and exit.
const SLACK: Duration = Duration::from_secs(2);

fn emulator() -> EmulatorHandle {
    let seed = Seed::new()
        .with_access(Access::access_key(ACCESS_ID, ACCESS_KEY).allow("/hostile/*"))
        .with_item("/hostile/db", Item::static_text(VALUE));
    EmulatorHandle::start(Emulator::builder().seed(seed))
}

/// A job with a testkv file secret next to one Akeyless secret at `$API`,
/// so a failure of the latter must keep the former off the disk.
struct Case {
    project: Project,
    files: PathBuf,
}

impl Case {
    /// `http` is extra `[http]` settings; `ca` a CA PEM trusted for the gateway.
    fn new(http: &str, ca: Option<&str>) -> Self {
        let project = Project::new();
        let store = project.store(&[("kv", KV_VALUE)]);
        project.write(
            "ci-secrets.toml",
            &format!(
                "[providers.testkv]\nstore = {:?}\n\n[http]\n{http}\n",
                store.display().to_string()
            ),
        );
        let ca_line = match ca {
            Some(_) => ", gateway_ca_certificate: $GATEWAY_CA",
            None => "",
        };
        project.write(
            ".gitlab-ci.yml",
            &format!(
                "job:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: {ACCESS_ID}\n  secrets:\n    KV:\n      testkv: {{key: kv}}\n    DB:\n      akeyless: {{name: /hostile/db, akeyless_api_url: $API, akeyless_access_type: access_key, akeyless_access_key: $KEY{ca_line}}}\n"
            ),
        );
        if let Some(ca) = ca {
            project.write("gateway-ca.pem", ca);
        }
        let files = project.path().join("secret-files");
        Self { project, files }
    }

    fn command(&self, api: &str, deadline: f64) -> std::process::Command {
        let mut command = self.project.cli();
        command
            .args([
                "resolve",
                "--job",
                "job",
                "--format",
                "dotenv",
                "--deadline",
            ])
            .arg(deadline.to_string())
            .arg("--files-dir")
            .arg(&self.files)
            .arg("--var")
            .arg(format!("API={api}"))
            .arg("--var")
            .arg(format!("KEY={ACCESS_KEY}"));
        if let Ok(ca) = std::fs::read_to_string(self.project.path().join("gateway-ca.pem")) {
            command.arg("--var").arg(format!("GATEWAY_CA={ca}"));
        }
        command
    }

    fn resolve(&self, api: &str, deadline: f64) -> Run {
        run(&mut self.command(api, deadline))
    }

    /// `ci-secrets doctor --format json` against `api`: exit 3 (a check
    /// failed) and the TLS check of the Akeyless identity.
    fn doctor_tls_check(&self, api: &str) -> serde_json::Value {
        let mut command = self.project.cli();
        command
            .args(["doctor", "--job", "job", "--format", "json", "--var"])
            .arg(format!("API={api}"))
            .arg("--var")
            .arg(format!("KEY={ACCESS_KEY}"));
        if let Ok(ca) = std::fs::read_to_string(self.project.path().join("gateway-ca.pem")) {
            command.arg("--var").arg(format!("GATEWAY_CA={ca}"));
        }
        let run = run(&mut command);
        assert_eq!(run.code(), 3, "{}", run.stdout());
        assert_no_leak("stdout", &run.output.stdout, &[ACCESS_KEY, VALUE, KV_VALUE]);
        let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        report["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|identity| identity["provider"] == "akeyless")
            .flat_map(|identity| identity["checks"].as_array().unwrap().iter())
            .find(|check| check["name"] == "TLS")
            .cloned()
            .unwrap_or_else(|| panic!("no TLS check: {report}"))
    }

    fn files_left(&self) -> Vec<String> {
        std::fs::read_dir(&self.files)
            .map(|dir| {
                dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A clean failure: exit 3 within the deadline, nothing delivered, no
    /// files, no credential or value on stderr. Returns stderr.
    fn assert_clean_failure(&self, run: &Run, deadline: f64) -> String {
        let stderr = run.stderr();
        assert_eq!(run.code(), 3, "{stderr}");
        assert!(run.output.stdout.is_empty(), "stdout: {}", run.stdout());
        assert!(
            self.files_left().is_empty(),
            "files left: {:?}",
            self.files_left()
        );
        assert!(
            run.elapsed < Duration::from_secs_f64(deadline) + SLACK,
            "took {:?} for a {deadline} s deadline",
            run.elapsed
        );
        assert_no_leak("stderr", &run.output.stderr, &[ACCESS_KEY, VALUE, KV_VALUE]);
        assert!(
            stderr.contains("DB (akeyless)"),
            "the failure names the secret: {stderr}"
        );
        stderr
    }

    fn assert_success(&self, run: &Run) {
        assert_eq!(run.code(), 0, "{}", run.stderr());
        let mut files = self.files_left();
        files.sort();
        assert_eq!(files, ["DB", "KV"]);
        assert_eq!(
            std::fs::read_to_string(self.files.join("DB")).unwrap(),
            VALUE
        );
        assert!(
            run.stdout()
                .contains(&self.files.join("DB").display().to_string()),
            "{}",
            run.stdout()
        );
    }
}

const FAST_RETRIES: &str = "initial_backoff_ms = 10\nmax_backoff_ms = 50";

#[test]
fn a_429_with_retry_after_is_waited_out_and_succeeds() {
    let emulator = emulator();
    emulator
        .faults()
        .fail_next(
            Operation::Auth,
            1,
            Fault::too_many_requests(Duration::from_secs(1)),
        )
        .unwrap();
    let case = Case::new(FAST_RETRIES, None);
    let run = case.resolve(&emulator.url(), 20.0);
    case.assert_success(&run);
    assert_eq!(emulator.stats().requests(Operation::Auth), 2);
    // The server asked for one second; the 10 ms backoff was not used instead.
    assert!(run.elapsed >= Duration::from_secs(1), "{:?}", run.elapsed);
}

#[test]
fn a_503_storm_ends_at_the_deadline_with_exit_3() {
    let emulator = emulator();
    emulator
        .faults()
        .fail_next_any(100_000, Fault::status(503))
        .unwrap();
    let case = Case::new(&format!("{FAST_RETRIES}\nmax_attempts = 1000"), None);
    let run = case.resolve(&emulator.url(), 1.0);
    let stderr = case.assert_clean_failure(&run, 1.0);
    assert!(
        stderr.contains("deadline") || stderr.contains("503"),
        "{stderr}"
    );
    assert!(
        emulator.stats().requests(Operation::Auth) > 3,
        "it kept retrying until the deadline"
    );
}

#[test]
fn a_connection_reset_mid_body_is_retried_then_fails_cleanly() {
    let server = RawServer::start(|stream, _request, _stop| {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n";
        send_then_reset(stream, format!("{head}{{\"token\": \"t-partial").as_bytes());
    });
    let case = Case::new(&format!("{FAST_RETRIES}\nmax_attempts = 3"), None);
    let run = case.resolve(&server.url(), 10.0);
    let stderr = case.assert_clean_failure(&run, 10.0);
    assert!(stderr.contains("POST /auth"), "{stderr}");
    assert_eq!(
        server.connections(),
        3,
        "each attempt met a reset: {stderr}"
    );
}

#[test]
fn a_server_that_never_answers_hits_the_request_timeout() {
    let server = RawServer::start(|_stream, _request, stop| stall(stop));
    let case = Case::new(
        &format!("{FAST_RETRIES}\nrequest_timeout_seconds = 0.5\nmax_attempts = 2"),
        None,
    );
    let run = case.resolve(&server.url(), 20.0);
    let stderr = case.assert_clean_failure(&run, 20.0);
    assert!(stderr.contains("timed out"), "{stderr}");
    // Two attempts of 0.5 s, far inside the 20 s deadline.
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert_eq!(server.connections(), 2);
}

/// A server whose 200 answer of `content_type` never ends (64 KiB chunks
/// until the test is over).
fn endless_body_server(content_type: &'static str) -> RawServer {
    RawServer::start(move |mut stream, _request, stop| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let _ = stream.write_all(head.as_bytes());
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
        while !stop.load(Ordering::SeqCst) {
            if stream.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    })
}

#[test]
fn a_body_that_never_ends_is_cut_at_the_size_cap() {
    let server = endless_body_server("application/json");
    let case = Case::new(FAST_RETRIES, None);
    let run = case.resolve(&server.url(), 20.0);
    let stderr = case.assert_clean_failure(&run, 20.0);
    assert!(
        stderr.contains("larger than the 10485760-byte limit"),
        "{stderr}"
    );
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[test]
fn malformed_json_is_a_protocol_error() {
    let emulator = emulator();
    emulator
        .faults()
        .fail_next(Operation::GetSecretValue, 100, Fault::MalformedJson)
        .unwrap();
    let case = Case::new(FAST_RETRIES, None);
    let run = case.resolve(&emulator.url(), 10.0);
    let stderr = case.assert_clean_failure(&run, 10.0);
    assert!(
        stderr.contains("POST /get-secret-value") && stderr.contains("not the expected JSON"),
        "{stderr}"
    );
}

#[test]
fn a_redirect_from_https_to_http_is_refused_before_the_key_is_sent_in_clear() {
    let plain = emulator();
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let location = format!("{}/auth", plain.url());
    let server = tls_server(
        &pki,
        response("307 Temporary Redirect", &[("Location", &location)], b""),
    );
    let case = Case::new(FAST_RETRIES, Some(&pki.ca_pem));
    let run = case.resolve(&format!("https://{}", server.addr()), 10.0);
    let stderr = case.assert_clean_failure(&run, 10.0);
    assert!(stderr.to_lowercase().contains("redirect"), "{stderr}");
    assert_eq!(
        server.requests().len(),
        1,
        "the TLS server was reached: {stderr}"
    );
    assert_eq!(
        plain.stats().requests(Operation::Auth),
        0,
        "the key went over plain HTTP"
    );
}

#[test]
fn a_certificate_from_an_unknown_ca_is_a_tls_error_that_says_so() {
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let other = TestPki::new(&["127.0.0.1"]);
    let server = tls_server(&pki, json_response("200 OK", &serde_json::json!({})));
    let case = Case::new(FAST_RETRIES, Some(&other.ca_pem));
    let run = case.resolve(&format!("https://{}", server.addr()), 10.0);
    let stderr = case.assert_clean_failure(&run, 10.0);
    assert!(
        stderr.contains("TLS") && stderr.contains("unknown authority"),
        "{stderr}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_certificate_for_another_name_is_a_tls_error_that_says_so() {
    let pki = TestPki::new(&["gateway.example.internal"]);
    let server = tls_server(&pki, json_response("200 OK", &serde_json::json!({})));
    let case = Case::new(FAST_RETRIES, Some(&pki.ca_pem));
    let run = case.resolve(&format!("https://{}", server.addr()), 10.0);
    let stderr = case.assert_clean_failure(&run, 10.0);
    assert!(
        stderr.contains("TLS") && stderr.contains("not valid for this host name"),
        "{stderr}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn doctor_names_the_certificate_names_when_the_host_is_not_one_of_them() {
    let pki = TestPki::new(&["gateway.example.internal"]);
    let server = tls_server(&pki, json_response("200 OK", &serde_json::json!({})));
    let case = Case::new(FAST_RETRIES, Some(&pki.ca_pem));
    let tls = case.doctor_tls_check(&format!("https://{}", server.addr()));
    assert_eq!(tls["passed"], false, "{tls}");
    assert_eq!(
        tls["detail"],
        "certificate is not valid for 127.0.0.1 (it names gateway.example.internal)"
    );
    assert!(
        tls["hint"]
            .as_str()
            .unwrap()
            .starts_with("Use a host name the certificate names"),
        "{tls}"
    );
    assert!(
        server.requests().is_empty(),
        "no request after a failed handshake"
    );
}

#[test]
fn doctor_says_when_the_certificate_expired() {
    let pki = TestPki::expired(&["127.0.0.1"]);
    let server = tls_server(&pki, json_response("200 OK", &serde_json::json!({})));
    let case = Case::new(FAST_RETRIES, Some(&pki.ca_pem));
    let tls = case.doctor_tls_check(&format!("https://{}", server.addr()));
    assert_eq!(tls["passed"], false, "{tls}");
    let detail = tls["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("certificate expired on 2021-12-31"),
        "{detail}"
    );
    assert_eq!(
        tls["hint"],
        "Renew the server's certificate (or check this machine's clock)"
    );
    assert!(
        server.requests().is_empty(),
        "no request after a failed handshake"
    );
}

/// The token expires between the login and the first data call: one new
/// login, then success.
#[test]
fn a_token_that_expires_mid_run_costs_one_new_login() {
    let emulator = emulator();
    // Hold the first read (sent with the describe) long enough to expire
    // the token under it: its 401 sends the secret down the typed path,
    // whose read logs in again.
    emulator
        .faults()
        .fail_next(
            Operation::GetSecretValue,
            1,
            Fault::Delay(Duration::from_millis(500)),
        )
        .unwrap();
    let case = Case::new(FAST_RETRIES, None);
    let child = case
        .command(&emulator.url(), 20.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || emulator
        .stats()
        .requests(Operation::GetSecretValue)
        >= 1));
    emulator.expire_all_tokens();
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    let run = Run {
        output,
        elapsed: started.elapsed(),
    };
    case.assert_success(&run);
    assert_eq!(
        emulator.stats().requests(Operation::Auth),
        2,
        "exactly one new login"
    );
}

/// A 307 or 308 to another origin would re-send the request, credentials
/// in its body or headers, to a host the job never named: the redirect is
/// refused before anything reaches that host. Akeyless (the access key in
/// the JSON body of `/auth`) and Vault (the token in `X-Vault-Token` of a
/// read) alike.
#[test]
fn a_redirect_to_another_origin_is_refused_before_the_credentials_follow() {
    for status in ["307 Temporary Redirect", "308 Permanent Redirect"] {
        let other = emulator();
        let location = format!("{}/auth", other.url());
        let server = RawServer::start(move |mut stream, _request, _stop| {
            let _ = stream.write_all(&response(status, &[("Location", &location)], b""));
        });
        let case = Case::new(FAST_RETRIES, None);
        let run = case.resolve(&server.url(), 10.0);
        let stderr = case.assert_clean_failure(&run, 10.0);
        assert!(stderr.contains("another origin"), "{status}: {stderr}");
        assert_eq!(
            other.stats().requests(Operation::Auth),
            0,
            "{status}: the access key followed the redirect"
        );
        assert_eq!(server.requests().len(), 1, "{status}: {stderr}");
    }

    const VAULT_TOKEN: &str = "hvs.hostile-redirected-token-Jq4";
    let elsewhere = RawServer::start(|mut stream, _request, _stop| {
        let _ = stream.write_all(&json_response("200 OK", &serde_json::json!({})));
    });
    let location = format!("{}/v1/kv/data/app", elsewhere.url());
    let vault = RawServer::start(move |mut stream, request, _stop| {
        let reply = if request.path().ends_with("/login") {
            json_response(
                "200 OK",
                &serde_json::json!({"auth": {"client_token": VAULT_TOKEN}}),
            )
        } else {
            response("307 Temporary Redirect", &[("Location", &location)], b"")
        };
        let _ = stream.write_all(&reply);
    });
    let run = vault_job(&vault.url(), "APP: {vault: app/password@kv, file: false}");
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(run.stderr().contains("another origin"), "{}", run.stderr());
    assert!(
        elsewhere.requests().is_empty(),
        "the Vault token followed the redirect"
    );
    assert_no_leak("stderr", &run.output.stderr, &[VAULT_TOKEN]);
}

/// `resolve` of a job whose one secret is `secret` (a YAML mapping entry),
/// against a Vault server at `url`, logging in with an ID token.
fn vault_job(url: &str, secret: &str) -> Run {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "job:\n  script: [x]\n  id_tokens:\n    VAULT_ID_TOKEN:\n      aud: https://vault.example\n  secrets:\n    {secret}\n"
        ),
    );
    run(project
        .cli()
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
        .arg(format!("VAULT_SERVER_URL={url}"))
        .args(["--var", "VAULT_ID_TOKEN=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"]))
}

/// Server text meant to forge job-log lines: a newline and a carriage
/// return, ANSI colour, GitLab's collapsible-section markers, a Unicode
/// line separator and a right-to-left override.
const HOSTILE_TEXT: &str = "denied\n\u{1b}[32;1mFORGED: all secrets resolved\u{1b}[0m\r\u{1b}[0Ksection_end:1700000000:step_script\r\u{1b}[0K\u{2028}FORGED-2\u{202e}evil";

/// The server's text is shown, on the line of the error that quotes it,
/// with every control character escaped.
fn assert_server_text_is_one_escaped_line(provider: &str, run: &Run) {
    let bytes = &run.output.stderr;
    let stderr = run.stderr();
    assert_eq!(run.code(), 3, "{provider}: {stderr}");
    assert!(
        !bytes.contains(&0x1b) && !bytes.contains(&b'\r'),
        "{provider}: a raw escape or carriage return on stderr: {stderr:?}"
    );
    assert!(
        !stderr.contains('\u{2028}') && !stderr.contains('\u{202e}'),
        "{provider}: {stderr:?}"
    );
    let quoting = stderr
        .lines()
        .find(|line| line.contains("denied"))
        .unwrap_or_else(|| panic!("{provider}: the server's text is not shown: {stderr}"));
    for part in ["FORGED: all", "section_end:1700000000", "FORGED-2", "evil"] {
        assert!(
            quoting.contains(part),
            "{provider}: {part:?} is not on the quoting line {quoting:?}"
        );
    }
    assert!(
        !stderr.lines().any(|line| line.starts_with("FORGED")
            || line.starts_with("section_end")
            || line.starts_with("\\u{1b}")),
        "{provider}: {stderr}"
    );
}

#[test]
fn akeyless_error_text_cannot_forge_log_lines() {
    let server = RawServer::start(|mut stream, _request, _stop| {
        let _ = stream.write_all(&json_response(
            "401 Unauthorized",
            &serde_json::json!({"error": HOSTILE_TEXT}),
        ));
    });
    let case = Case::new(FAST_RETRIES, None);
    let run = case.resolve(&server.url(), 10.0);
    case.assert_clean_failure(&run, 10.0);
    assert_server_text_is_one_escaped_line("akeyless", &run);
}

#[test]
fn vault_error_text_cannot_forge_log_lines() {
    let server = RawServer::start(|mut stream, _request, _stop| {
        let _ = stream.write_all(&json_response(
            "400 Bad Request",
            &serde_json::json!({"errors": [HOSTILE_TEXT, "second"]}),
        ));
    });
    let run = vault_job(&server.url(), "APP: {vault: app/password@kv, file: false}");
    assert_server_text_is_one_escaped_line("vault", &run);
}

/// `resolve --job job --format json` of an AWS job read with static keys
/// (no STS), every endpoint at `endpoint`.
fn aws_static_keys_resolve(
    project: &Project,
    endpoint: &str,
    deadline_seconds: u32,
) -> std::process::Command {
    let mut command = project.cli();
    command
        .args(["resolve", "--job", "job", "--format", "json", "--deadline"])
        .arg(deadline_seconds.to_string())
        .arg("--var")
        .arg(format!("AWS_ENDPOINT_URL={endpoint}"))
        .args(["--var", "AWS_REGION=eu-west-1"])
        .args(["--var", "AWS_ACCESS_KEY_ID=AKIAHOSTILE000000001"])
        .args(["--var", "AWS_SECRET_ACCESS_KEY=hostile-secret-key-Vb3"]);
    command
}

#[test]
fn aws_error_text_cannot_forge_log_lines() {
    let server = RawServer::start(|mut stream, _request, _stop| {
        let body = serde_json::json!({"__type": "AccessDeniedException", "message": HOSTILE_TEXT});
        let _ = stream.write_all(&response(
            "400 Bad Request",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-ErrorType", "AccessDeniedException"),
            ],
            body.to_string().as_bytes(),
        ));
    });
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    APP:\n      file: false\n      aws_secrets_manager: {secret_id: app/password}\n",
    );
    let run = run(&mut aws_static_keys_resolve(&project, &server.url(), 10));
    assert_server_text_is_one_escaped_line("aws_secrets_manager", &run);
}

/// `Retry-After` as an HTTP date far away, with a 10 s deadline: the
/// date is honoured, so no retry fits and the run ends at once saying so,
/// instead of retrying on its own backoff as if the server had said nothing.
#[test]
fn a_retry_after_http_date_is_honoured_within_the_deadline() {
    let server = RawServer::start(|mut stream, _request, _stop| {
        let _ = stream.write_all(&response(
            "503 Service Unavailable",
            &[
                ("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT"),
                ("Content-Type", "application/json"),
            ],
            b"{}",
        ));
    });
    let case = Case::new(FAST_RETRIES, None);
    let run = case.resolve(&server.url(), 10.0);
    let stderr = case.assert_clean_failure(&run, 10.0);
    assert!(
        stderr.contains("the resolution deadline leaves no time to retry"),
        "{stderr}"
    );
    assert_eq!(server.requests().len(), 1, "{stderr}");
}

/// A Vault server that holds the login for seconds: the connections of the
/// reads that follow it are opened meanwhile (plain HTTP/1.1 needs one per
/// concurrent request), and no read is sent before the token is there.
#[test]
fn vault_reads_connect_while_a_slow_login_is_in_flight() {
    const VAULT_TOKEN: &str = "hvs.slow-login-token-Zt8";
    let server = RawServer::start(|mut stream, request, stop| {
        let body = if request.path().contains("/auth/") {
            let held = std::time::Instant::now();
            while held.elapsed() < Duration::from_secs(3) && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            serde_json::json!({"auth": {"client_token": VAULT_TOKEN}})
        } else {
            serde_json::json!({"data": {"data": {"password": KV_VALUE}}})
        };
        let _ = stream.write_all(&json_response("200 OK", &body));
    });
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  id_tokens:\n    VAULT_ID_TOKEN:\n      aud: https://vault.example\n  secrets:\n    A: {vault: a/password@kv, file: false}\n    B: {vault: b/password@kv, file: false}\n    C: {vault: c/password@kv, file: false}\n    D: {vault: a/password@kv, file: false}\n",
    );
    let child = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .arg("--var")
        .arg(format!("VAULT_SERVER_URL={}", server.url()))
        .args(["--var", "VAULT_ID_TOKEN=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // One connection per read of a distinct path (D shares A's); the login
    // takes one of them.
    let reads = 3;
    // The server counts a connection when it accepts it and a request once
    // it has read it: the login may be read after the last read's
    // connection is accepted.
    wait_until(Duration::from_secs(10), || {
        let requests = server.requests().len();
        (server.connections() >= reads && requests >= 1) || requests > 1
    });
    let during_login = (server.connections(), server.requests().len());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        during_login,
        (reads, 1),
        "connections and requests while the login was held"
    );
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(values["C"], KV_VALUE);
    assert_eq!(values["D"], KV_VALUE);
    // The login and one read per distinct path. (This server answers one
    // request per connection, so the connections are not counted here.)
    assert_eq!(server.requests().len(), 1 + reads);
}

const AWS_ROLE: &str = "arn:aws:iam::123456789012:role/ci";

/// An STS that answers `AssumeRoleWithWebIdentity` after holding it for
/// `hold`, or at once.
fn slow_sts(hold: Duration) -> RawServer {
    RawServer::start(move |mut stream, _request, stop| {
        let held = std::time::Instant::now();
        while held.elapsed() < hold && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let body = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAHOSTILE000000001</AccessKeyId><SecretAccessKey>hostile-session-secret-Kp4</SecretAccessKey><SessionToken>hostile-session-token-Wq9</SessionToken><Expiration>2100-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
        let _ = stream.write_all(&response(
            "200 OK",
            &[("Content-Type", "text/xml")],
            body.as_bytes(),
        ));
    })
}

/// A job reading `ids` from AWS with a role and an ID token.
fn aws_role_job(ids: &[&str]) -> Project {
    let project = Project::new();
    let secrets: String = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            format!("    S{index}: {{aws_secrets_manager: {{secret_id: {id}, role_arn: \"{AWS_ROLE}\"}}, file: false}}\n")
        })
        .collect();
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "job:\n  script: [x]\n  id_tokens:\n    AWS_ID_TOKEN:\n      aud: https://aws.example\n  secrets:\n{secrets}"
        ),
    );
    project
}

/// An AWS login held for seconds by STS: the connection of the batched
/// read that follows it is opened meanwhile, on the Secrets Manager
/// endpoint, and nothing is sent there before the credentials arrive.
#[test]
fn aws_reads_connect_while_a_slow_sts_login_is_in_flight() {
    let sts = slow_sts(Duration::from_secs(3));
    let secrets_manager = RawServer::start(|mut stream, request, _stop| {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let values: Vec<serde_json::Value> = body["SecretIdList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str())
            .map(|id| {
                serde_json::json!({
                    "ARN": format!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:{id}-AbCdEf"),
                    "Name": id,
                    "SecretString": format!("{KV_VALUE}-{id}"),
                    "VersionId": "v1",
                    "VersionStages": ["AWSCURRENT"],
                })
            })
            .collect();
        let answer = serde_json::json!({"SecretValues": values, "Errors": []});
        let _ = stream.write_all(&response(
            "200 OK",
            &[("Content-Type", "application/x-amz-json-1.1")],
            answer.to_string().as_bytes(),
        ));
    });
    let project = aws_role_job(&["app/a", "app/b", "app/c"]);
    let child = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .arg("--var")
        .arg(format!("AWS_ENDPOINT_URL_STS={}", sts.url()))
        .arg("--var")
        .arg(format!(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER={}",
            secrets_manager.url()
        ))
        .args(["--var", "AWS_REGION=eu-west-1"])
        .args(["--var", "AWS_ID_TOKEN=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The connection may be opened before STS has read the login.
    wait_until(Duration::from_secs(10), || {
        (secrets_manager.connections() >= 1 && !sts.requests().is_empty())
            || !secrets_manager.requests().is_empty()
    });
    let during_login = (
        secrets_manager.connections(),
        secrets_manager.requests().len(),
        sts.requests().len(),
    );
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        during_login,
        (1, 0, 1),
        "Secrets Manager connections and requests, and STS requests, while the login was held"
    );
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(values["S0"], format!("{KV_VALUE}-app/a"));
    assert_eq!(values["S2"], format!("{KV_VALUE}-app/c"));
    // One batch for the three, on the connection opened during the login.
    assert_eq!(secrets_manager.requests().len(), 1);
    assert_eq!(secrets_manager.connections(), 1);
}

/// A job reading one AWS secret with the job's static keys (no STS), its
/// run trusting `ca_pem` and allowing `max_attempts`.
fn aws_over_tls(ca_pem: &str, max_attempts: u32) -> Project {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    APP: {aws_secrets_manager: {secret_id: app/a}, file: false}\n",
    );
    let ca = project.write("ca.pem", ca_pem);
    project.write(
        "ci-secrets.toml",
        &format!(
            "[http]\nca_file = {:?}\nmax_attempts = {max_attempts}\ninitial_backoff_ms = 10\nmax_backoff_ms = 50\n",
            ca.display().to_string()
        ),
    );
    project
}

/// AWS trusts the run's extra CA roots (`[http] ca_file`), as every
/// provider does; with another CA the handshake fails, the error says TLS,
/// and it is not retried (the certificate is the same at every attempt).
#[test]
fn aws_over_tls_trusts_the_runs_ca_and_does_not_retry_a_tls_failure() {
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let answer = serde_json::json!({
        "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/a-AbCdEf",
        "Name": "app/a",
        "SecretString": KV_VALUE,
        "VersionId": "v1",
        "VersionStages": ["AWSCURRENT"],
    });
    let reply = response(
        "200 OK",
        &[("Content-Type", "application/x-amz-json-1.1")],
        answer.to_string().as_bytes(),
    );
    let resolve = |project: &Project, server: &RawServer| {
        aws_static_keys_resolve(project, &format!("https://{}", server.addr()), 20)
            .output()
            .unwrap()
    };

    let trusted = tls_server(&pki, reply.clone());
    let project = aws_over_tls(&pki.ca_pem, 5);
    let output = resolve(&project, &trusted);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(values["APP"], KV_VALUE);

    let other = TestPki::new(&["127.0.0.1"]);
    let untrusted = tls_server(&pki, reply);
    let project = aws_over_tls(&other.ca_pem, 5);
    let output = resolve(&project, &untrusted);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(output.stdout.is_empty(), "{stderr}");
    assert!(
        stderr.contains("TLS: ") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    assert!(untrusted.requests().is_empty());
    // The connection opened during the login and the one attempt: of the
    // 5 attempts allowed, no retry.
    assert!(
        untrusted.connections() <= 2,
        "{} connections: {stderr}",
        untrusted.connections()
    );
}

/// An AWS answer that never ends is cut at the run's body cap, as every
/// provider's is, and not asked again: the run fails at once saying so.
#[test]
fn an_aws_body_that_never_ends_is_cut_at_the_size_cap() {
    let server = endless_body_server("application/x-amz-json-1.1");
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    APP: {aws_secrets_manager: {secret_id: app/a}, file: false}\n",
    );
    let run = run(&mut aws_static_keys_resolve(&project, &server.url(), 20));
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert_ne!(run.output.status.code(), Some(0), "{stderr}");
    assert!(run.output.stdout.is_empty(), "{stderr}");
    assert!(
        stderr.contains("larger than the 10485760-byte limit"),
        "{stderr}"
    );
    // One attempt: a body over the cap is not asked for again.
    assert_eq!(server.requests().len(), 1, "{stderr}");
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

/// AWS requests take the proxy of the environment, like every other
/// provider's: with an STS endpoint that no resolver knows, the only way
/// its request line can reach anyone is through the proxy.
#[test]
fn aws_requests_go_through_the_proxy_of_the_environment() {
    let proxy = RawServer::start(|mut stream, _request, _stop| {
        let _ = stream.write_all(&response("502 Bad Gateway", &[], b""));
    });
    let project = aws_role_job(&["app/a"]);
    let run = run(project
        .cli()
        .args([
            "resolve",
            "--job",
            "job",
            "--format",
            "json",
            "--deadline",
            "10",
        ])
        .env("HTTP_PROXY", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args(["--var", "AWS_ENDPOINT_URL=http://sts.example.invalid:8443"])
        .args(["--var", "AWS_REGION=eu-west-1"])
        .args(["--var", "AWS_ID_TOKEN=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"]));
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert_ne!(run.output.status.code(), Some(0), "{stderr}");
    let requests = proxy.requests();
    assert!(!requests.is_empty(), "nothing reached the proxy: {stderr}");
    let request_line = requests[0]
        .head
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        request_line.contains("sts.example.invalid:8443"),
        "{request_line}"
    );
}
