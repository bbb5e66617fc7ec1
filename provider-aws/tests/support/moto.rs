//! A real moto server (`moto_server`, the standalone AWS mock) for the tests
//! of one binary, with its request recorder on so tests can count what
//! reached it.
//!
//! One server per test binary: the first test to ask starts it, the rest
//! share it. Tests keep out of each other's way by using their own AWS
//! account: moto keeps each account's secrets apart, and the credentials of
//! an assumed role belong to the role's account. It dies with the test
//! process: it runs under `sh`, which waits on a pipe from this process and
//! kills the server once the pipe closes, which the kernel does when this
//! process exits, however it exits. The guard then deletes the server's
//! directory (log, recording), since statics are never dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls;
use base64::Engine as _;
use tokio::sync::OnceCell;

/// moto's account for credentials it does not know (static test keys).
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// The running server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    recording: PathBuf,
    server_log: PathBuf,
    /// Closing this pipe (at process exit) makes the `sh` guard kill the
    /// server and delete its directory.
    _guard: ChildStdin,
}

static SERVER: OnceCell<Moto> = OnceCell::const_new();

/// The shared server, started on first use.
pub async fn moto() -> &'static Moto {
    SERVER.get_or_init(Moto::start).await
}

/// Finds `moto_server`: `$CI_SECRETS_MOTO`, the workspace's `.venv`, then
/// `PATH`. Missing means the tests FAIL: the AWS tests never skip.
fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CI_SECRETS_MOTO") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("moto_server"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "moto's standalone server `moto_server` is not installed: run scripts/test.sh (it \
                 installs moto[server] into .venv), put `moto_server` on PATH, or set CI_SECRETS_MOTO"
            )
        })
}

/// The role a test assumes; its account isolates the test's secrets.
pub fn role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/ci-secrets-test")
}

impl Moto {
    async fn start() -> Moto {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        let recording = dir.join("recording.jsonl");
        let server_log = dir.join("server.log");
        let port = ci_secrets_test_support::free_port();
        let log = File::create(&server_log).expect("create the server log");
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(
                r#"dir=$1; shift; "$@" </dev/null & server=$!; read _; kill "$server"; wait "$server"; rm -rf "$dir""#,
            )
            .arg("moto-guard")
            .arg(&dir)
            .arg(moto_binary())
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn sh to run moto_server");
        let stdin = guard.stdin.take().expect("the guard's stdin pipe");
        let server = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            recording,
            server_log,
            _guard: stdin,
        };
        server.wait_until_ready(port, &mut guard).await;
        server
    }

    /// Waits for the port to accept connections; fails with the server's
    /// log if it exits or never listens.
    async fn wait_until_ready(&self, port: u16, guard: &mut std::process::Child) {
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = guard.try_wait() {
                panic!(
                    "moto_server exited with {status} before listening:\n{}",
                    self.server_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "moto_server did not listen on {} within 30 s:\n{}",
            self.endpoint,
            self.server_log()
        );
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(&self.server_log).unwrap_or_default()
    }

    /// A Secrets Manager client in `account` to seed a test's secrets: the
    /// default account with static keys, any other through an assumed role.
    pub async fn seeder(&self, account: &str, region: &str) -> aws_sdk_secretsmanager::Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = if account == DEFAULT_ACCOUNT {
            Credentials::new("testing", "testing", None, None, "moto-test")
        } else {
            let sts = aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new(region.to_string()))
                    .endpoint_url(&self.endpoint)
                    .http_client(http.clone())
                    .build(),
            );
            let assumed = sts
                .assume_role_with_web_identity()
                .role_arn(role_arn(account))
                .role_session_name("ci-secrets-seed")
                .web_identity_token("seed-token")
                .send()
                .await
                .expect("moto assumes the seeding role");
            let keys = assumed.credentials().expect("assumed-role credentials");
            Credentials::new(
                keys.access_key_id(),
                keys.secret_access_key(),
                Some(keys.session_token().to_string()),
                None,
                "moto-test",
            )
        };
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region.to_string()))
                .endpoint_url(&self.endpoint)
                .credentials_provider(credentials)
                .http_client(http)
                .build(),
        )
    }

    /// How many Secrets Manager requests of `action` (`GetSecretValue`,
    /// `BatchGetSecretValue`) whose JSON body contains `needle` reached the
    /// server, from moto's request recording.
    pub fn secrets_manager_calls(&self, action: &str, needle: &str) -> usize {
        let target = format!("secretsmanager.{action}");
        self.recorded()
            .into_iter()
            .filter(|(headers, body)| {
                headers.as_object().is_some_and(|headers| {
                    headers.iter().any(|(name, value)| {
                        name.eq_ignore_ascii_case("x-amz-target") && value == &target
                    })
                }) && body.contains(needle)
            })
            .count()
    }

    /// Every recorded request: its headers and its body as text.
    fn recorded(&self) -> Vec<(serde_json::Value, String)> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("a recording line parses: {err}: {line}"));
                let body = entry["body"].as_str().unwrap_or_default();
                let body = if entry["body_encoded"] == true {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .expect("a base64 body");
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    body.to_string()
                };
                (entry["headers"].clone(), body)
            })
            .collect()
    }

    /// How many `AssumeRoleWithWebIdentity` requests with this session name
    /// reached the server, from moto's request recording.
    pub fn sts_calls(&self, session_name: &str) -> usize {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("a recording line parses: {err}: {line}"));
                let body = entry["body"].as_str().unwrap_or_default();
                if entry["body_encoded"] == true {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .expect("a base64 body");
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    body.to_string()
                }
            })
            .filter(|body| {
                let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                let has = |key: &str, value: &str| form.iter().any(|(k, v)| k == key && v == value);
                has("Action", "AssumeRoleWithWebIdentity") && has("RoleSessionName", session_name)
            })
            .count()
    }
}
