//! The workspace's provider conformance suite (`ci-secrets-provider-conformance`)
//! against the AWS Secrets Manager provider and a real moto server, once for
//! each way a job logs in: an ID token exchanged with STS
//! `AssumeRoleWithWebIdentity` (GitLab's way), and static keys from the
//! job's variables (the runner's default credentials).
//!
//! Each login reads its own account (the assumed role's, and moto's default
//! one for static keys), so the two runs, and every other test, keep apart.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_sdk_secretsmanager::primitives::Blob;
use ci_secrets_provider_api::{JobVariables, ResolveContext, ResolveContextBuilder, SecretRequest};
use ci_secrets_provider_conformance::{Backend, Report, run};
use serde_json::json;
use support::moto::{DEFAULT_ACCOUNT, moto};
use support::{ID_TOKEN, borrowed, fast_http, job_variables, provider};

/// The role's account: no other test of this binary seeds it.
const ROLE_ACCOUNT: &str = "300000000001";
const REGION: &str = "ap-southeast-2";

/// Static keys for the second run. moto accepts any keys and files them
/// under its default account; these are distinctive so the leak check can
/// find them.
const ACCESS_KEY_ID: &str = "AKIACONFORMANCE7Q2X";
const SECRET_ACCESS_KEY: &str = "conformance-secret-access-key-9f2e61";

const ECHO_SECRET_ACCESS_KEY: &str = "echo-secret-access-key-Pq71";
/// Sent as `x-amz-security-token` on every signed request.
const ECHO_SESSION_TOKEN: &str = "echo-session-token-Fv22nR8k";

/// Distinctive values (the suite searches every message for each of them),
/// one per form the provider reads: the string form, a JSON field, the hash
/// form with a version stage, and a binary secret.
const PLAIN: &str = "plain-canary-7f3a1c";
const DB_PASSWORD: &str = "db-password-canary-29be";
const API_TOKEN: &str = "api-token-canary-5c1e80";
const BINARY: &[u8] = b"\x00\xffbinary-canary-a4d2";

/// Stores the readable items in `account`.
async fn seed(account: &str) {
    let moto = moto().await;
    let seeder = moto.seeder(account, REGION).await;
    for (name, value) in [
        ("conformance/plain", PLAIN.to_string()),
        (
            "conformance/db",
            // Other keys beside the one read, so the field read has to choose.
            json!({"user": "db-user-canary-0b17", "password": DB_PASSWORD, "port": 5432})
                .to_string(),
        ),
        ("conformance/api", API_TOKEN.to_string()),
    ] {
        seeder
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|err| panic!("create {name} in {account}: {err:?}"));
    }
    seeder
        .create_secret()
        .name("conformance/keystore")
        .secret_binary(Blob::new(BINARY))
        .send()
        .await
        .unwrap_or_else(|err| panic!("create conformance/keystore in {account}: {err:?}"));
}

/// A context builder for a job with these variables. The suite sets the
/// deadline and cancellation itself; the HTTP settings retry quickly so the
/// unreachable-server check takes milliseconds.
fn job(variables: Vec<(String, String)>) -> impl Fn() -> ResolveContextBuilder + Send + Sync {
    move || {
        ResolveContext::builder("conformance")
            .variables(JobVariables::from_iter(borrowed(&variables)))
            .id_token_names(vec!["AWS_ID_TOKEN".into()])
            .http(fast_http())
    }
}

/// The same variables with `AWS_ENDPOINT_URL` on a loopback port nothing
/// listens on (bound, then released), so every connect is refused at once.
fn unreachable(variables: &[(String, String)]) -> Vec<(String, String)> {
    let closed = ci_secrets_test_support::refused_url();
    let mut variables = variables.to_vec();
    let endpoint = variables
        .iter_mut()
        .find(|(name, _)| name == "AWS_ENDPOINT_URL")
        .expect("the job variables set the endpoint");
    endpoint.1 = closed;
    variables
}

/// The backend of a job with these variables: the seeded items, items that
/// do not exist, blocks the provider must refuse, and the closed port.
fn backend(name: &str, variables: Vec<(String, String)>) -> Backend {
    let readable = [
        (
            SecretRequest::new("PLAIN", json!("conformance/plain")),
            PLAIN.as_bytes(),
        ),
        (
            SecretRequest::new("DB_PASSWORD", json!("conformance/db#password")),
            DB_PASSWORD.as_bytes(),
        ),
        (
            SecretRequest::new(
                "API_TOKEN",
                json!({"secret_id": "conformance/api", "version_stage": "AWSCURRENT"}),
            ),
            API_TOKEN.as_bytes(),
        ),
        (
            SecretRequest::new("KEYSTORE", json!({"secret_id": "conformance/keystore"})),
            BINARY,
        ),
    ];
    let mut backend = Backend::new(name, provider, job(variables.clone()))
        // The server is the job's AWS_ENDPOINT_URL, so the readable requests
        // themselves go to the closed port.
        .unreachable(
            job(unreachable(&variables)),
            readable.iter().map(|(request, _)| request.clone()),
        )
        // No such secret; no such key in an existing JSON secret; no version
        // under that stage. The runner reports each as "not found".
        .missing(SecretRequest::new("ABSENT", json!("conformance/absent")))
        .missing(SecretRequest::new(
            "NO_KEY",
            json!("conformance/db#no_such_key"),
        ))
        .missing(SecretRequest::new(
            "NO_STAGE",
            json!({"secret_id": "conformance/plain", "version_stage": "AWSPENDING"}),
        ))
        // GitLab accepts a string with at most one `#`, so `#password`
        // passes its validation, but it names no secret.
        .invalid(SecretRequest::new("NO_SECRET_ID", json!("#password")));
    for (request, expected) in readable {
        backend = backend.readable(request, expected);
    }
    echoing_logins(backend)
}

/// Echoing cases: the ID token login (STS answers in XML) and static keys
/// with a session token (Secrets Manager answers in JSON), each against a
/// server that repeats every request, signed headers included.
fn echoing_logins(backend: Backend) -> Backend {
    let request = || vec![SecretRequest::new("ECHOED", json!("conformance/plain"))];
    backend
        .credential(ID_TOKEN)
        .credential(ECHO_SECRET_ACCESS_KEY)
        .credential(ECHO_SESSION_TOKEN)
        .echoing(move |url| (job(job_variables(url, ROLE_ACCOUNT, REGION))(), request()))
        .echoing(move |url| {
            let variables = [
                ("AWS_ENDPOINT_URL", url),
                ("AWS_REGION", REGION),
                ("AWS_ACCESS_KEY_ID", "AKIAECHOECHO0000001"),
                ("AWS_SECRET_ACCESS_KEY", ECHO_SECRET_ACCESS_KEY),
                ("AWS_SESSION_TOKEN", ECHO_SESSION_TOKEN),
            ];
            let variables = variables
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            (job(variables)(), request())
        })
}

/// What both runs must show: every check passed but the two about a denied
/// item ("a denied item fails alone, as Denied" and "doctor flags a denied
/// item"), skipped: moto's server does not enforce IAM (any identity reads
/// every secret of its account, and the shared server is started without
/// moto's opt-in enforcement), so no item can exist that the job may not
/// read. The Denied mapping (AccessDeniedException, DecryptionFailure) is
/// covered by the unit tests of `src/fetch.rs` instead.
fn assert_all_but_denied(report: &Report) {
    report.assert_passed();
    assert_eq!(report.skipped().len(), 2, "{report}");
    assert!(
        report
            .skipped()
            .iter()
            .all(|(check, _)| check.contains("denied")),
        "{report}"
    );
    assert_eq!(report.passed().len(), 13, "{report}");
}

#[tokio::test]
async fn the_provider_passes_the_conformance_suite_against_moto() {
    let endpoint = &moto().await.endpoint;

    // GitLab's way: the ID token for the role in ROLE_ACCOUNT. The token is
    // the only credential this job carries (the session keys STS returns
    // never reach the context).
    seed(ROLE_ACCOUNT).await;
    let id_token = backend(
        "aws_secrets_manager on moto, ID token login",
        job_variables(endpoint, ROLE_ACCOUNT, REGION),
    )
    // A `token:` that expands to nothing: GitLab cannot see that, and the
    // role needs an ID token (the runner would send an empty one to STS).
    .invalid(SecretRequest::new("EMPTY_TOKEN", json!("conformance/plain")).with_token(""))
    .credential(ID_TOKEN);
    assert_all_but_denied(&run(&id_token).await);

    // No role and no ID token: the job's static keys. The login needs no
    // request here, so the deadline and cancellation checks reach the reads.
    seed(DEFAULT_ACCOUNT).await;
    let mut variables = job_variables(endpoint, DEFAULT_ACCOUNT, REGION);
    variables.retain(|(name, _)| name != "AWS_ROLE_ARN" && name != "AWS_ID_TOKEN");
    variables.push(("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()));
    variables.push(("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()));
    let static_keys = backend("aws_secrets_manager on moto, static keys", variables)
        .credential(ACCESS_KEY_ID)
        .credential(SECRET_ACCESS_KEY);
    assert_all_but_denied(&run(&static_keys).await);
}
