//! "The secrets provider can not be found": a job with an Akeyless secret and
//! no usable `AKEYLESS_ACCESS_ID` fails before any network call (D8), end to
//! end through the shipped `ci-secrets` binary, plus the `secrets_provider_check`
//! vectors of `tests/data/gitlab/gitlab-payload-and-scheduling.yaml` that
//! concern Akeyless.
//!
//! Vectors and how they are used here:
//!
//! * `secrets-provider-v1-*` (GitLab 17.4) call `secrets_provider?(nil)`: the
//!   job's secrets play no part, any provider's variables suffice. Each runs
//!   here as a job with one Akeyless secret and the vector's CI/CD variables.
//!   - `v1-no-variables`, `v1-azure-partial`, `v1-gcp-partial` (false) and
//!     `v1-akeyless-access-id` (true): followed as they are.
//!   - `v1-vault-url`, `v1-azure-all`, `v1-gcp-all` (true in 17.4): we differ
//!     on purpose. D8 checks the variable of the provider each secret uses,
//!     as GitLab's later per-secret check (`secrets-provider-v2-*`) does:
//!     another provider's variables do not make an Akeyless secret resolvable.
//! * Not run here, because they do not concern Akeyless:
//!   - `v2-secrets-nil`, `v2-secrets-empty`: a job without secrets uses no
//!     provider;
//!   - `v2-no-variables`, `v2-vault-url`, `v2-mixed-vault-url`,
//!     `v2-mixed-no-vault-url`: Vault secrets (`VAULT_SERVER_URL`), the Vault
//!     provider's concern;
//!   - `v2-azure-partial`, `v2-azure-all`, `v2-gcp-partial`, `v2-gcp-all`,
//!     `v2-gsm`, `v2-gsm-group-source`: Azure Key Vault, GCP Secret Manager
//!     and GitLab Secrets Manager secrets, providers not built into the
//!     binary.
//!
//! The test checks that these lists cover every vector of the file, and
//! that no skipped vector has an Akeyless secret.

use crate::akeyless_support;

use akeyless_emulator::Operation;
use akeyless_support::{Harness, PROVIDER_NOT_FOUND, Project, Run, job_file};

/// A job with Akeyless secrets and no `AKEYLESS_ACCESS_ID` of its own.
const JOB_WITHOUT_ACCESS_ID: &str = "deploy:
  script: [x]
  secrets:
    DATABASE_PASSWORD:
      akeyless:
        name: /demo/static/password
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_access_type: api_key
        akeyless_access_key: demo-access-key-not-a-secret
    AKEYLESS_TOKEN:
      akeyless:
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_access_type: api_key
        akeyless_access_key: demo-access-key-not-a-secret
";

/// Resolves `JOB_WITHOUT_ACCESS_ID` with these extra `--var`s.
fn resolve_without_access_id(harness: &Harness, project: &Project, vars: &[String]) -> Run {
    let job = project.write(".gitlab-ci.yml", JOB_WITHOUT_ACCESS_ID);
    let mut command = project.resolve(&job, "json");
    command.arg("--var").arg(harness.url_var());
    for var in vars {
        command.arg("--var").arg(var);
    }
    Run::of(&mut command)
}

/// The run failed with D8: exit 1 (a configuration problem), GitLab's
/// sentence on a line of its own, then where, and nothing sent to the API.
fn assert_provider_not_found(run: &Run, harness: &Harness, before: u64) {
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(run.stdout().is_empty(), "{}", run.stdout());
    let stderr = run.stderr();
    let line = stderr
        .lines()
        .find(|line| line.ends_with(PROVIDER_NOT_FOUND))
        .unwrap_or_else(|| panic!("no provider-not-found line in: {stderr}"));
    // GitLab's sentence, unaltered, alone on its line; the next line says where.
    assert_eq!(line, PROVIDER_NOT_FOUND);
    assert!(
        stderr.contains("(provider akeyless, variables ") && stderr.contains("DATABASE_PASSWORD"),
        "{stderr}"
    );
    assert_eq!(
        harness.stats().total_requests(),
        before,
        "a request reached the API"
    );
    run.assert_no_leak(&[]);
}

#[test]
fn an_unset_access_id_fails_before_any_network_call() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = resolve_without_access_id(&harness, &project, &[]);
    assert_provider_not_found(&run, &harness, 0);
}

#[test]
fn an_empty_or_blank_access_id_fails_before_any_network_call() {
    let harness = Harness::demo();
    let project = Project::new();
    for blank in ["", "   ", "\t"] {
        let run =
            resolve_without_access_id(&harness, &project, &[format!("AKEYLESS_ACCESS_ID={blank}")]);
        assert_provider_not_found(&run, &harness, 0);
    }
}

#[test]
fn a_blank_access_id_given_with_var_fails_the_documented_jobs_too() {
    // The job files set AKEYLESS_ACCESS_ID; `--var` overrides it with blank.
    let harness = Harness::demo();
    let project = Project::new();
    for file in [
        "api-key.yml",
        "akeyless-token.yml",
        "universal-identity.yml",
    ] {
        let run = Run::of(
            project
                .resolve(&job_file(file), "json")
                .arg("--var")
                .arg(harness.url_var())
                .args([
                    "--var",
                    "AKEYLESS_TOKEN_VALUE=t-0000",
                    "--var",
                    "AKEYLESS_ACCESS_ID= ",
                ]),
        );
        // With `akeyless_token` too: GitLab refused the job all the same (§9.4).
        assert_provider_not_found(&run, &harness, 0);
    }
}

#[test]
fn exec_never_starts_the_command_without_an_access_id() {
    let harness = Harness::demo();
    let project = Project::new();
    let job = project.write(".gitlab-ci.yml", JOB_WITHOUT_ACCESS_ID);
    let marker = project.path().join("started");
    let run = Run::of(
        project
            .cli()
            .args(["exec", "--job", "deploy", "--ci-file"])
            .arg(&job)
            .arg("--var")
            .arg(harness.url_var())
            .args(["--", "touch"])
            .arg(&marker),
    );
    assert_provider_not_found(&run, &harness, 0);
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn the_provider_not_found_message_is_a_line_of_its_own() {
    let harness = Harness::demo();
    let project = Project::new();
    let run = resolve_without_access_id(&harness, &project, &[]);
    assert!(
        run.stderr().lines().any(|line| line == PROVIDER_NOT_FOUND),
        "{}",
        run.stderr()
    );
}

/// How a vector is followed: GitLab's answer, or ours where D8 differs.
enum Followed {
    AsIs,
    DiffersOnPurpose,
}

const APPLIED: &[(&str, Followed)] = &[
    ("secrets-provider-v1-no-variables", Followed::AsIs),
    ("secrets-provider-v1-akeyless-access-id", Followed::AsIs),
    ("secrets-provider-v1-azure-partial", Followed::AsIs),
    ("secrets-provider-v1-gcp-partial", Followed::AsIs),
    ("secrets-provider-v1-vault-url", Followed::DiffersOnPurpose),
    ("secrets-provider-v1-azure-all", Followed::DiffersOnPurpose),
    ("secrets-provider-v1-gcp-all", Followed::DiffersOnPurpose),
];

/// Vectors without an Akeyless secret (reasons in the module docs).
const NOT_AKEYLESS: &[&str] = &[
    "secrets-provider-v2-secrets-nil",
    "secrets-provider-v2-secrets-empty",
    "secrets-provider-v2-no-variables",
    "secrets-provider-v2-vault-url",
    "secrets-provider-v2-mixed-vault-url",
    "secrets-provider-v2-mixed-no-vault-url",
    "secrets-provider-v2-azure-partial",
    "secrets-provider-v2-azure-all",
    "secrets-provider-v2-gcp-partial",
    "secrets-provider-v2-gcp-all",
    "secrets-provider-v2-gsm",
    "secrets-provider-v2-gsm-group-source",
];

fn provider_checks() -> Vec<serde_json::Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/gitlab/gitlab-payload-and-scheduling.yaml"
    );
    let vectors: Vec<serde_json::Value> =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    vectors
        .into_iter()
        .filter(|vector| vector["kind"] == "secrets_provider_check")
        .collect()
}

#[test]
fn the_secrets_provider_check_vectors_that_concern_akeyless() {
    let vectors = provider_checks();
    let mut ids: Vec<&str> = vectors.iter().map(|v| v["id"].as_str().unwrap()).collect();
    let mut covered: Vec<&str> = APPLIED
        .iter()
        .map(|(id, _)| *id)
        .chain(NOT_AKEYLESS.iter().copied())
        .collect();
    ids.sort_unstable();
    covered.sort_unstable();
    assert_eq!(ids, covered, "every vector is run or listed with a reason");

    let harness = Harness::demo();
    let project = Project::new();
    for vector in &vectors {
        let id = vector["id"].as_str().unwrap();
        let Some((_, followed)) = APPLIED.iter().find(|(applied, _)| *applied == id) else {
            let secrets = vector["secrets"].as_object();
            assert!(
                secrets.is_none_or(|s| s.values().all(|secret| secret.get("akeyless").is_none())),
                "{id} has an Akeyless secret"
            );
            continue;
        };
        assert!(
            vector["secrets"].is_null(),
            "{id}: v1 checks ignore the secrets"
        );
        let vars: Vec<String> = vector["project_ci_variables"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| format!("{name}={}", value.as_str().unwrap()))
            .collect();
        let gitlab_found = vector["expected"].as_bool().unwrap();
        let found = match followed {
            Followed::AsIs => gitlab_found,
            Followed::DiffersOnPurpose => {
                assert!(gitlab_found, "{id}");
                false
            }
        };
        let before = harness.stats();
        let run = resolve_without_access_id(&harness, &project, &vars);
        if found {
            // The check passes and the secret is really asked for: the
            // vector's access id `id` is unknown to the emulator.
            assert_eq!(run.code(), 3, "{id}: {}", run.stderr());
            assert!(
                !run.stderr().contains(PROVIDER_NOT_FOUND),
                "{id}: {}",
                run.stderr()
            );
            assert!(run.stderr().contains("HTTP 401"), "{id}: {}", run.stderr());
            let after = harness.stats();
            assert_eq!(
                after.requests(Operation::Auth),
                before.requests(Operation::Auth) + 1,
                "{id}"
            );
            run.assert_no_leak(&[]);
        } else {
            assert_provider_not_found(&run, &harness, before.total_requests());
        }
    }
}
