//! Helpers for the Akeyless end-to-end tests: the real `ci-secrets` binary,
//! run in isolation against an in-process emulator, plus small local cloud
//! metadata servers and checks that no secret leaks into the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use akeyless_emulator::demo::{
    DEMO_ACCESS_KEY, DEMO_JWT_AUDIENCE, DEMO_LIMITED_ACCESS_KEY, DEMO_UID_TOKEN,
    demo_aws_credentials,
};
use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Emulator, EmulatorBuilder, FaultController, RunningEmulator, Stats};

/// GitLab's message when `AKEYLESS_ACCESS_ID` is missing (D8).
pub const PROVIDER_NOT_FOUND: &str =
    "The secrets provider can not be found. Check your CI/CD variables and try again.";

/// Every secret value and credential of the demo seed. None may ever appear
/// in the output of a failed run.
pub const DEMO_SECRETS: &[&str] = &[
    "demo-password-v1",
    "demo-password-v2",
    "demo-db-password",
    "demo-rotated-password",
    "nobody-may-read-this",
    DEMO_ACCESS_KEY,
    DEMO_LIMITED_ACCESS_KEY,
    DEMO_UID_TOKEN,
    "demo/aws/secret/key/not/a/real/one/0001",
];

/// The shipped binary: `$CI_SECRETS_BIN`, else `<target>/debug/ci-secrets`
/// next to this test executable, built once when it is missing.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(explicit) = std::env::var_os("CI_SECRETS_BIN").filter(|v| !v.is_empty()) {
            return PathBuf::from(explicit);
        }
        // The test executable lives in `<target>/debug/deps/`.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let binary = profile_dir.join("ci-secrets");
        if !binary.is_file() {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let status = Command::new(env!("CARGO"))
                .args(["build", "-p", "ci-secrets", "--bin", "ci-secrets"])
                .current_dir(workspace)
                .status()
                .unwrap();
            assert!(status.success(), "building the ci-secrets binary failed");
            assert!(binary.is_file(), "{} was not built", binary.display());
        }
        binary
    })
}

/// Variables of the developer's environment that would change what the
/// binary does: credentials, cloud endpoints, proxies, logging, config.
fn is_ambient(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "AKEYLESS_",
        "CI_SECRETS_",
        "AWS_",
        "AZURE_",
        "GOOGLE_",
        "GCE_",
        "VAULT_",
        "IDENTITY_",
        "MSI_",
    ];
    const NAMES: &[&str] = &[
        "RUST_LOG",
        "RUNNER_TEMP_PROJECT_DIR",
        "GITLAB_CI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ];
    let upper = name.to_ascii_uppercase();
    PREFIXES.iter().any(|prefix| name.starts_with(prefix)) || NAMES.contains(&upper.as_str())
}

/// A project directory (the working directory and `HOME` of the binary).
#[derive(Debug)]
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The binary, isolated from the developer's environment, in this
    /// directory. `HOME` is the project, so no `~/.aws` or similar is read.
    pub fn cli(&self) -> Command {
        let mut command = Command::new(binary());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if is_ambient(&name) {
                command.env_remove(&name);
            }
        }
        command
            .env("XDG_CONFIG_HOME", self.path().join("no-such-config-home"))
            .env("HOME", self.path())
            .current_dir(self.path());
        command
    }

    /// `ci-secrets resolve --ci-file <job file> --job deploy --format <format>`.
    pub fn resolve(&self, job_file: &Path, format: &str) -> Command {
        let mut command = self.cli();
        command
            .args([
                "resolve",
                "--job",
                "deploy",
                "--format",
                format,
                "--ci-file",
            ])
            .arg(job_file);
        command
    }
}

/// One of the provider's documented job files, `provider-akeyless/tests/jobs/<name>`.
pub fn job_file(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../provider-akeyless/tests/jobs")
        .join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// A finished run of the binary and how long it took.
#[derive(Debug)]
pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn of(command: &mut Command) -> Self {
        let started = Instant::now();
        let output = command.output().unwrap();
        Self {
            output,
            elapsed: started.elapsed(),
        }
    }

    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts exit 0 and returns stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code(), 0, "stderr: {}", self.stderr());
        serde_json::from_str(&self.stdout()).unwrap()
    }

    /// Asserts that neither stream holds any of `secrets` nor any demo secret.
    pub fn assert_no_leak(&self, secrets: &[&str]) {
        let (stdout, stderr) = (self.stdout(), self.stderr());
        for secret in DEMO_SECRETS.iter().chain(secrets) {
            assert!(!secret.is_empty());
            assert!(
                !stdout.contains(secret),
                "stdout leaks {secret:?}: {stdout}"
            );
            assert!(
                !stderr.contains(secret),
                "stderr leaks {secret:?}: {stderr}"
            );
        }
    }

    /// The summary line of a successful run.
    pub fn summary(&self) -> Summary {
        let stderr = self.stderr();
        stderr
            .lines()
            .find_map(Summary::parse)
            .unwrap_or_else(|| panic!("no summary line in: {stderr}"))
    }
}

/// `N secrets from 1 provider in X ms (L logins, K API calls, R retries)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub secrets: u64,
    pub providers: u64,
    pub logins: u64,
    pub api_calls: u64,
    pub retries: u64,
}

impl Summary {
    fn parse(line: &str) -> Option<Self> {
        let (head, tail) = line.split_once(" ms (")?;
        let words: Vec<&str> = head.split(' ').collect();
        // ["N", "secret(s)", "from", "P", "provider(s)", "in", "X"]
        if words.len() != 7 || words[2] != "from" || words[5] != "in" {
            return None;
        }
        words[6].parse::<u64>().ok()?;
        let counts: Vec<u64> = tail
            .trim_end_matches(')')
            .split(", ")
            .map(|part| part.split(' ').next().and_then(|n| n.parse().ok()))
            .collect::<Option<_>>()?;
        let [logins, api_calls, retries] = counts[..] else {
            return None;
        };
        let expected_tail = format!(
            "{} login{}, {} API call{}, {} retr{})",
            logins,
            plural(logins, "s"),
            api_calls,
            plural(api_calls, "s"),
            retries,
            if retries == 1 { "y" } else { "ies" },
        );
        (tail == expected_tail).then_some(Self {
            secrets: words[0].parse().ok()?,
            providers: words[3].parse().ok()?,
            logins,
            api_calls,
            retries,
        })
    }
}

fn plural(n: u64, suffix: &'static str) -> &'static str {
    if n == 1 { "" } else { suffix }
}

/// A tokio runtime that keeps an emulator (and any local servers) serving
/// while the test thread waits for the binary.
pub struct Harness {
    pub runtime: tokio::runtime::Runtime,
    pub emulator: RunningEmulator,
}

impl Harness {
    /// The demo seed over plain HTTP.
    pub fn demo() -> Self {
        Self::with(Emulator::builder())
    }

    /// The demo seed over TLS with the emulator's own CA.
    pub fn demo_tls() -> Self {
        Self::with(Emulator::builder().tls(true))
    }

    pub fn with(builder: EmulatorBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime.block_on(builder.start()).unwrap();
        Self { runtime, emulator }
    }

    pub fn url(&self) -> String {
        self.emulator.url()
    }

    /// A project whose `ci-secrets.toml` points the Akeyless provider at this
    /// emulator (for blocks without `akeyless_api_url`, such as a bare `akeyless:`).
    pub fn project(&self) -> Project {
        let project = Project::new();
        project.write(
            "ci-secrets.toml",
            &format!("[providers.akeyless]\napi_url = {:?}\n", self.url()),
        );
        project
    }

    /// `--var AKEYLESS_EMULATOR_URL=<url>`.
    pub fn url_var(&self) -> String {
        format!("AKEYLESS_EMULATOR_URL={}", self.url())
    }

    pub fn stats(&self) -> Stats {
        self.emulator.stats()
    }

    pub fn faults(&self) -> FaultController {
        self.emulator.faults()
    }

    /// A local server answering every request with `reply`.
    pub fn metadata_server(
        &self,
        reply: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static,
    ) -> MetadataServer {
        self.runtime.block_on(MetadataServer::start(move |request| {
            let (status, body) = reply(request);
            (status, "application/json", body)
        }))
    }
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("url", &self.url()).finish()
    }
}

/// A JWT the demo seed's `jwt` access id accepts (GitLab's `id_tokens` value).
pub fn demo_jwt() -> String {
    TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(600))
}

/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` of the demo `aws_iam` identity.
pub fn demo_aws_env() -> [(&'static str, String); 2] {
    let credentials = demo_aws_credentials();
    [
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id().to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key().to_string(),
        ),
    ]
}

/// A local HTTP server playing a cloud metadata service (Azure IMDS, the
/// GCE metadata server); it records what it receives.
#[allow(unused_imports)] // Each test binary that includes this module uses a part.
pub use ci_secrets_test_support::{Received, RecordingServer as MetadataServer};

/// Runs a tool (`openssl`, `ssh-keygen`) and returns its stdout; panics with
/// its stderr when it fails.
pub fn tool(program: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("{program}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
