//! The AWS Secrets Manager section of `BENCHMARKS.md` (issue 16): 20
//! secrets from a local moto server (`moto_server`, the standalone AWS mock)
//! with GitLab's AWS OIDC login (STS `AssumeRoleWithWebIdentity` with the
//! job's ID token, then Secrets Manager with the temporary credentials).
//! moto runs with its request recorder on, so the section counts what
//! reached the server: issue 16's target is one STS call and one Secrets
//! Manager call. Regenerated on its own with `bench-report --only aws`: it
//! sits between two markers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::BenchError;
use crate::report::{ToolRuns, ratio, verdict};
use crate::server_process::{ServerProcess, free_port};

/// Marks where the section starts in `BENCHMARKS.md`.
pub const SECTION_START: &str = "<!-- bench-report: aws -->";
/// Marks where it ends.
pub const SECTION_END: &str = "<!-- /bench-report: aws -->";

/// The secrets of the job.
pub const SECRETS: usize = 20;
/// The region of the secrets and of the job.
pub const REGION: &str = "us-east-1";
/// moto's default account: the secrets are seeded there, and the assumed
/// role belongs to it, so its credentials read them.
pub const ACCOUNT: &str = "123456789012";
/// The ID token; moto's STS accepts any (the provider tests use the same).
pub const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.test-id-token-4711.c2ln";

/// The role the job assumes.
pub fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/ci-secrets-bench")
}

/// The name of secret `index`.
pub fn secret_id(index: usize) -> String {
    format!("bench/s-{index:02}")
}

/// The value of secret `index`.
pub fn secret_value(index: usize) -> String {
    format!("aws-value-{index:02}")
}

/// How many of the [`SECRETS`] seeded values a tool's JSON output holds
/// (an object of values, by variable or by id); `None` when it is not a
/// JSON object. A value counts once, and only when it is one of the seeded
/// values.
pub fn count_seeded_values(output: &str) -> Option<usize> {
    let object: serde_json::Map<String, Value> = serde_json::from_str(output.trim()).ok()?;
    let expected: BTreeSet<String> = (0..SECRETS).map(secret_value).collect();
    let found: BTreeSet<&str> = object
        .values()
        .filter_map(Value::as_str)
        .filter(|value| expected.contains(*value))
        .collect();
    Some(found.len())
}

/// Where `moto_server` is: `$CI_SECRETS_MOTO`, else the workspace's
/// `.venv/bin/moto_server` (as the provider tests find it).
pub fn moto_binary(workspace: &Path) -> PathBuf {
    std::env::var_os("CI_SECRETS_MOTO")
        .map_or_else(|| workspace.join(".venv/bin/moto_server"), PathBuf::from)
}

/// The installed moto's version, asked of the interpreter in
/// `moto_server`'s `#!` line (pip's entry script); `None` when that does
/// not answer.
pub fn moto_version(moto: &Path) -> Option<String> {
    let text = std::fs::read_to_string(moto).ok()?;
    // `#!/path/python3`, or `#!/usr/bin/env python3`.
    let mut shebang = text.lines().next()?.strip_prefix("#!")?.split_whitespace();
    let output = Command::new(shebang.next()?)
        .args(shebang)
        .args([
            "-c",
            "import importlib.metadata; print(importlib.metadata.version('moto'))",
        ])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The API calls that reached moto, by service and operation, from its
/// request recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsCalls {
    /// (service, operation) → requests.
    pub operations: BTreeMap<(String, String), usize>,
}

/// The service name of STS in [`AwsCalls`].
pub const STS: &str = "STS";
/// The service name of Secrets Manager in [`AwsCalls`].
pub const SECRETS_MANAGER: &str = "Secrets Manager";

impl AwsCalls {
    /// Requests to `service`.
    pub fn of(&self, service: &str) -> usize {
        self.operations
            .iter()
            .filter(|((name, _), _)| name == service)
            .map(|(_, count)| count)
            .sum()
    }

    /// Every request.
    pub fn total(&self) -> usize {
        self.operations.values().sum()
    }

    /// Counts one recorded request (a line of moto's recording).
    fn record(&mut self, entry: &Value) {
        let target = entry["headers"].as_object().and_then(|headers| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-target"))
                .and_then(|(_, value)| value.as_str())
        });
        let key = match target.and_then(|target| target.split_once('.')) {
            Some(("secretsmanager", operation)) => (SECRETS_MANAGER, operation.to_string()),
            Some((prefix, operation)) if prefix.starts_with("AWSSecurityTokenService") => {
                (STS, operation.to_string())
            }
            Some((prefix, operation)) => (prefix, operation.to_string()),
            // The query protocol (STS): a form with `Action=`.
            None => {
                let body = body_text(entry);
                let action = body
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("Action="))
                    .unwrap_or("unknown request");
                (STS, action.to_string())
            }
        };
        *self
            .operations
            .entry((key.0.to_string(), key.1))
            .or_default() += 1;
    }
}

/// `1 STS AssumeRoleWithWebIdentity, 1 Secrets Manager BatchGetSecretValue`.
impl std::fmt::Display for AwsCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.operations.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self
            .operations
            .iter()
            .map(|((service, operation), count)| format!("{count} {service} `{operation}`"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

fn body_text(entry: &Value) -> String {
    let body = entry["body"].as_str().unwrap_or_default();
    if entry["body_encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    } else {
        body.to_string()
    }
}

/// A running `moto_server` with its request recorder on; killed on drop.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    recording: PathBuf,
    log: PathBuf,
    process: ServerProcess,
}

impl Moto {
    /// Starts `moto` on a free loopback port, recording every request into
    /// `dir/moto-recording.jsonl` (log: `dir/moto.log`), and waits until it
    /// listens.
    pub async fn start(moto: &Path, dir: &Path) -> Result<Self, BenchError> {
        let port = free_port()?;
        let recording = dir.join("moto-recording.jsonl");
        let log = dir.join("moto.log");
        let process = ServerProcess::spawn(
            Command::new(moto)
                .args(["-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .env("MOTO_ENABLE_RECORDING", "true")
                .env("MOTO_RECORDER_FILEPATH", &recording),
            moto,
            &log,
            "moto",
        )?;
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            recording,
            log,
            process,
        };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(server);
            }
            if let Some(status) = server.process.exited() {
                return Err(BenchError::Command {
                    command: moto.display().to_string(),
                    message: format!("exited with {status} before listening: {}", server.log()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(BenchError::Http {
            what: "starting moto".into(),
            message: format!(
                "{} did not listen within 30 s: {}",
                server.endpoint,
                server.log()
            ),
        })
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.chars().take(2000).collect()
    }

    /// Creates the [`SECRETS`] secrets ([`secret_id`] → [`secret_value`])
    /// in [`ACCOUNT`] and [`REGION`] with plain HTTP calls (moto does not
    /// check signatures; the credential scope of the `Authorization` header
    /// gives the region and, for an unknown key, the default account).
    /// Returns their ids.
    pub async fn seed(&self) -> Result<Vec<String>, BenchError> {
        let client = reqwest::Client::new();
        let mut ids = Vec::with_capacity(SECRETS);
        for index in 0..SECRETS {
            let id = secret_id(index);
            let failed = |message: String| BenchError::Http {
                what: format!("moto CreateSecret {id}"),
                message,
            };
            let response = client
                .post(&self.endpoint)
                .header("X-Amz-Target", "secretsmanager.CreateSecret")
                .header("Content-Type", "application/x-amz-json-1.1")
                .header(
                    "Authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/secretsmanager/\
                         aws4_request, SignedHeaders=host, Signature=0"
                    ),
                )
                .body(json!({"Name": id, "SecretString": secret_value(index)}).to_string())
                .send()
                .await
                .map_err(|err| failed(err.to_string()))?;
            let status = response.status();
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                return Err(failed(format!("HTTP {status}: {text}")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// How many requests the recording holds so far: the mark to count
    /// from with [`Self::calls_since`].
    pub fn recorded(&self) -> usize {
        std::fs::read_to_string(&self.recording)
            .map(|text| text.lines().filter(|line| !line.trim().is_empty()).count())
            .unwrap_or(0)
    }

    /// The calls recorded after the first `mark` requests. moto writes each
    /// request to the recording before it answers it, so once a client has
    /// exited every call it made is there.
    pub fn calls_since(&self, mark: usize) -> Result<AwsCalls, BenchError> {
        let text = std::fs::read_to_string(&self.recording)
            .map_err(|err| BenchError::io("reading moto's recording", err))?;
        let mut calls = AwsCalls::default();
        for line in text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .skip(mark)
        {
            let entry: Value = serde_json::from_str(line).map_err(|err| BenchError::Command {
                command: "moto recording".into(),
                message: format!("a line does not parse: {err}"),
            })?;
            calls.record(&entry);
        }
        Ok(calls)
    }
}

/// The `ci-secrets --secrets` job: every secret from Secrets Manager
/// (`aws_secrets_manager: <id>`), GitLab's AWS OIDC set-up in its
/// variables (`AWS_REGION`, `AWS_ROLE_ARN`) and `id_tokens:`
/// (`AWS_ID_TOKEN`). The endpoint and the token's value are given with
/// `--var` (`AWS_ENDPOINT_URL`, `AWS_ID_TOKEN`), as the runner would set
/// them.
pub fn secrets_file(ids: &[String]) -> String {
    let secrets: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            (
                format!("AWS_{index:02}"),
                json!({"file": false, "aws_secrets_manager": id}),
            )
        })
        .collect();
    let file = json!({
        "variables": {"AWS_REGION": REGION, "AWS_ROLE_ARN": role_arn()},
        "id_tokens": {"AWS_ID_TOKEN": {"aud": "sts.amazonaws.com"}},
        "secrets": secrets,
    });
    // JSON is YAML.
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

/// Repeated runs of one tool, with the calls moto saw.
#[derive(Debug, Clone)]
pub struct AwsTool {
    /// The runs (their `calls` field, Akeyless counters, is unused).
    pub runs: ToolRuns,
    /// The calls of the tool's first run (its unmeasured warm-up).
    pub calls: AwsCalls,
    /// Whether every measured run made the same calls as the first.
    pub same_calls_every_run: bool,
}

/// Ours over the network model: STS and Secrets Manager each behind a
/// [`DelayProxy`](crate::netmodel::DelayProxy) of their own in front of
/// moto (two origins, as on AWS), a round trip per new connection.
#[derive(Debug, Clone)]
pub struct AwsNetwork {
    /// The modelled round trip.
    pub rtt: Duration,
    /// The runs, with the calls moto saw.
    pub tool: AwsTool,
    /// Connections each origin accepted per run (first run included).
    pub sts_connections: f64,
    pub secrets_manager_connections: f64,
}

impl AwsNetwork {
    /// The login's connection and request, then the batched read on a
    /// connection opened while the login was in flight.
    pub const FLOOR_ROUND_TRIPS: u32 = 3;

    /// The floor in milliseconds.
    pub fn floor_ms(&self) -> f64 {
        (self.rtt * Self::FLOOR_ROUND_TRIPS).as_secs_f64() * 1000.0
    }
}

/// What the section shows.
#[derive(Debug, Clone)]
pub struct AwsReport {
    /// The measurements, or why there are none (moto missing, ...).
    pub measured: Result<AwsMeasured, String>,
}

/// The measured part of [`AwsReport`].
#[derive(Debug, Clone)]
pub struct AwsMeasured {
    /// The installed moto's version, when known.
    pub moto_version: Option<String>,
    /// `ci-secrets resolve`.
    pub ours: AwsTool,
    /// Ours over the network model, or why it did not run.
    pub network: Result<AwsNetwork, String>,
    /// The boto3 peers that ran.
    pub peers: Vec<AwsTool>,
    /// Peers that did not run, and why.
    pub not_measured: Vec<String>,
}

impl AwsMeasured {
    /// Issue 16's target: one STS call and one Secrets Manager call, in the
    /// first run.
    pub fn pass(&self) -> bool {
        self.ours.calls.of(STS) == 1
            && self.ours.calls.of(SECRETS_MANAGER) == 1
            && self.ours.calls.total() == 2
            && self.ours.same_calls_every_run
    }
}

impl AwsReport {
    /// The section, with its markers.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "{SECTION_START}");
        let _ = writeln!(
            md,
            "## AWS Secrets Manager: {SECRETS} secrets on moto, OIDC role assumption\n"
        );
        let target = "1 STS call and 1 Secrets Manager call";
        let measured = match &self.measured {
            Ok(measured) => measured,
            Err(reason) => {
                let _ = writeln!(md, "Not measured: {reason}.\n");
                let _ = writeln!(
                    md,
                    "| target (issue 16) | result | |\n|---|---|---|\n\
                     | AWS {SECRETS} secrets on moto: {target} | not measured | not measured |"
                );
                let _ = writeln!(md, "{SECTION_END}");
                return md;
            }
        };
        let moto = measured
            .moto_version
            .as_deref()
            .map_or_else(|| "moto".to_string(), |version| format!("moto {version}"));
        let _ = writeln!(
            md,
            "- A local `moto_server` ({moto}, started by the harness on loopback, no added \
             latency) holds {SECRETS} secrets (`SecretString`) in {REGION}. Every tool logs in as \
             GitLab's AWS OIDC set-up does: STS `AssumeRoleWithWebIdentity` with the job's ID \
             token and `AWS_ROLE_ARN`, then reads with the temporary credentials.\n\
             - **ours**: `ci-secrets resolve --secrets <job> --format json`, a job whose \
             {SECRETS} secrets are `aws_secrets_manager: <id>` with `AWS_REGION`, `AWS_ROLE_ARN`, \
             `id_tokens: AWS_ID_TOKEN` and `AWS_ENDPOINT_URL` pointing at moto.\n\
             - **boto3** peers (`bench/python/boto3_secrets.py`, the `.venv` Python): one \
             `AssumeRoleWithWebIdentity`, then {SECRETS} `GetSecretValue` in turn (what a typical \
             job script does), or one `BatchGetSecretValue` of the {SECRETS} ids.\n\
             - API calls are what reached moto, from its request recorder \
             (`MOTO_ENABLE_RECORDING`), during each tool's first run (an unmeasured warm-up); \
             every run's output must hold the {SECRETS} seeded values. Medians of {} runs of \
             ours and {} of each peer. No latency is added: a wall is the process's start, its \
             own work and moto's time per request (a Python server on the same cores).\n",
            measured.ours.runs.samples.len(),
            measured
                .peers
                .first()
                .map_or(0, |peer| peer.runs.samples.len()),
        );
        let _ = writeln!(
            md,
            "| tool | median wall (ms) | ours / tool | peak RSS (MiB) | API calls | runs |"
        );
        let _ = writeln!(md, "|---|---:|---|---:|---|---:|");
        let ours_ms = measured.ours.runs.median_ms();
        for tool in std::iter::once(&measured.ours).chain(&measured.peers) {
            let versus = if std::ptr::eq(tool, &measured.ours) {
                "–".to_string()
            } else {
                ratio(ours_ms, tool.runs.median_ms())
            };
            let _ = writeln!(
                md,
                "| {} | {:.1} | {versus} | {:.1} | {} | {} |",
                tool.runs.tool,
                tool.runs.median_ms(),
                tool.runs.peak_rss_mib(),
                tool.calls,
                tool.runs.samples.len()
            );
        }
        match &measured.network {
            Ok(network) => {
                let rtt_ms = network.rtt.as_millis();
                let wall = network.tool.runs.median_ms();
                let _ = writeln!(
                    md,
                    "\nOver the network model: STS and Secrets Manager each behind a proxy of \
                     their own in front of moto (two origins, as on AWS), {rtt_ms} ms round trip, \
                     a round trip per new TCP connection (plain HTTP/1.1: moto serves no TLS). \
                     The floor is {} round trips ({:.0} ms): the login's connection and request, \
                     then the batched read on a connection opened while the login is in flight; \
                     opened after it, the read would wait one more round trip.\n\n\
                     | tool | median wall (ms) | over the floor (ms) | connections per run (STS, \
                     Secrets Manager) | API calls | runs |\n|---|---:|---:|---|---|---:|\n\
                     | ours, {rtt_ms} ms RTT | {wall:.1} | {:.1} | {:.1}, {:.1} | {} | {} |",
                    AwsNetwork::FLOOR_ROUND_TRIPS,
                    network.floor_ms(),
                    wall - network.floor_ms(),
                    network.sts_connections,
                    network.secrets_manager_connections,
                    network.tool.calls,
                    network.tool.runs.samples.len(),
                );
            }
            Err(reason) => {
                let _ = writeln!(md, "\nOver the network model: not measured: {reason}.");
            }
        }
        let calls = &measured.ours.calls;
        let mut result = format!(
            "{} STS, {} Secrets Manager ({calls})",
            calls.of(STS),
            calls.of(SECRETS_MANAGER)
        );
        if !measured.ours.same_calls_every_run {
            result.push_str("; the measured runs made other calls");
        }
        let _ = writeln!(
            md,
            "\n| target (issue 16) | result | |\n|---|---|---|\n\
             | AWS {SECRETS} secrets on moto: {target} | {result} | {} |",
            verdict(Some(measured.pass()))
        );
        for peer in measured
            .peers
            .iter()
            .filter(|peer| !peer.same_calls_every_run)
        {
            let _ = writeln!(
                md,
                "\n{}: the measured runs did not all make the calls of the first run.",
                peer.runs.tool
            );
        }
        if !measured.not_measured.is_empty() {
            md.push('\n');
            for reason in &measured.not_measured {
                let _ = writeln!(md, "- {reason}");
            }
        }
        let _ = writeln!(md, "{SECTION_END}");
        md
    }
}

/// `document` with its AWS section replaced by `section` (or `section`
/// appended when it has none).
pub fn splice(document: &str, section: &str) -> String {
    crate::splice_section(document, SECTION_START, SECTION_END, section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_is_counted_by_service_and_operation() {
        let mut calls = AwsCalls::default();
        calls.record(&json!({
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=x",
            "body_encoded": false,
        }));
        calls.record(&json!({
            "headers": {"X-Amz-Target": "secretsmanager.BatchGetSecretValue"},
            "body": base64::engine::general_purpose::STANDARD.encode("{}"),
            "body_encoded": true,
        }));
        assert_eq!(calls.of(STS), 1);
        assert_eq!(calls.of(SECRETS_MANAGER), 1);
        assert_eq!(
            calls.to_string(),
            "1 STS `AssumeRoleWithWebIdentity`, 1 Secrets Manager `BatchGetSecretValue`"
        );
    }

    #[test]
    fn only_seeded_values_count_once() {
        let all: serde_json::Map<String, Value> = (0..SECRETS)
            .map(|index| (secret_id(index), json!(secret_value(index))))
            .collect();
        assert_eq!(
            count_seeded_values(&Value::Object(all).to_string()),
            Some(SECRETS)
        );
        let twice = json!({"A": "aws-value-00", "B": "aws-value-00", "C": "other"});
        assert_eq!(count_seeded_values(&twice.to_string()), Some(1));
        assert_eq!(count_seeded_values("Traceback"), None);
    }

    #[test]
    fn twenty_reads_fail_the_target() {
        let mut calls = AwsCalls::default();
        calls
            .operations
            .insert((STS.into(), "AssumeRoleWithWebIdentity".into()), 1);
        calls
            .operations
            .insert((SECRETS_MANAGER.into(), "GetSecretValue".into()), SECRETS);
        let ours = AwsTool {
            runs: ToolRuns {
                tool: "ours".into(),
                samples: Vec::new(),
                calls: crate::stats::ApiCalls::default(),
            },
            calls,
            same_calls_every_run: true,
        };
        let mut measured = AwsMeasured {
            moto_version: None,
            ours: ours.clone(),
            network: Err("the proxies did not start".into()),
            peers: Vec::new(),
            not_measured: Vec::new(),
        };
        assert!(!measured.pass());
        let md = AwsReport {
            measured: Ok(measured.clone()),
        }
        .markdown();
        assert!(md.contains("| 1 STS, 20 Secrets Manager ("), "{md}");
        assert!(md.contains("| **FAIL** |"), "{md}");
        assert!(
            md.contains("Over the network model: not measured: the proxies did not start."),
            "{md}"
        );
        let mut network_runs = ours.clone();
        network_runs.runs.samples = Vec::new();
        measured.network = Ok(AwsNetwork {
            rtt: Duration::from_millis(20),
            tool: network_runs,
            sts_connections: 1.0,
            secrets_manager_connections: 1.0,
        });
        let md = AwsReport {
            measured: Ok(measured.clone()),
        }
        .markdown();
        assert!(md.contains("The floor is 3 round trips (60 ms)"), "{md}");
        assert!(md.contains("| ours, 20 ms RTT |"), "{md}");
        assert!(md.contains("| 1.0, 1.0 |"), "{md}");
        measured.ours.calls.operations.clear();
        measured
            .ours
            .calls
            .operations
            .insert((STS.into(), "AssumeRoleWithWebIdentity".into()), 1);
        measured
            .ours
            .calls
            .operations
            .insert((SECRETS_MANAGER.into(), "BatchGetSecretValue".into()), 1);
        assert!(measured.pass());
        measured.ours.same_calls_every_run = false;
        assert!(!measured.pass());
    }

    #[test]
    fn a_missing_moto_is_said_in_the_section() {
        let report = AwsReport {
            measured: Err("/x/moto_server is missing".into()),
        };
        let md = report.markdown();
        assert!(md.starts_with(SECTION_START), "{md}");
        assert!(
            md.contains("Not measured: /x/moto_server is missing."),
            "{md}"
        );
        assert!(md.trim_end().ends_with(SECTION_END), "{md}");
    }
}
