//! The provider conformance suite (`ci-secrets-provider-conformance`) against
//! a real OpenBao server (`bao server -dev`), seeded by `support::openbao`.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ci_secrets_provider_api::{ResolveContextBuilder, SecretRequest};
use ci_secrets_provider_conformance::{Backend, run};
use ci_secrets_test_support::refused_url;
use serde_json::json;
use support::openbao::{self, AUDIENCE, ROLE};

/// The job's `id_tokens:` entry the login uses when a secret has no `token:`.
const ID_TOKEN_VARIABLE: &str = "VAULT_ID_TOKEN";

/// A job context builder for the Vault server at `server_url`, logging in
/// with `jwt` as the job's first ID token; the suite sets the deadline.
fn job_context(server_url: &str, jwt: &str) -> ResolveContextBuilder {
    support::context_builder(
        &[
            ("VAULT_SERVER_URL", server_url),
            ("VAULT_AUTH_ROLE", ROLE),
            (ID_TOKEN_VARIABLE, jwt),
        ],
        &[ID_TOKEN_VARIABLE],
    )
}

#[tokio::test]
async fn the_vault_provider_passes_the_conformance_suite_against_openbao() {
    passes_the_suite(json!({})).await;
}

/// Revoking tokens at the end of the run must not revoke one that a
/// resolution still uses, nor lose one.
#[tokio::test]
async fn it_passes_it_too_when_it_revokes_its_tokens() {
    passes_the_suite(json!({"revoke_token": true})).await;
}

async fn passes_the_suite(config: serde_json::Value) {
    let server = openbao::openbao().await;
    let address = server.address.clone();
    // The job's ID token, and a second one (another `ref` claim the role
    // accepts) given as one secret's `token:`, so that the batches hold two
    // login identities, as a job mixing `token:` and `id_tokens:` does.
    let job_jwt = server.id_token(AUDIENCE);
    let release_jwt = server.id_token_with(AUDIENCE, "release");

    // Readable: kv-v2 at the default mount (string form), kv-v2 at a named
    // mount (string form, with its own `token:`), kv-v1 (hash form). The
    // values are the ones `support::openbao` seeds.
    let readable = [
        (
            SecretRequest::new("DATABASE_PASSWORD", json!("production/db/password")),
            "db-pass-4711",
        ),
        (
            SecretRequest::new("TEAM_API_KEY", json!("team/app/api_key@secret"))
                .with_token(release_jwt.clone()),
            "team-key-42",
        ),
        (
            SecretRequest::new(
                "LEGACY_TOKEN",
                json!({"engine": {"name": "kv-v1", "path": "kv1"}, "path": "legacy/app", "field": "token"}),
            ),
            "legacy-token-9",
        ),
    ];
    let readable_requests: Vec<SecretRequest> = readable
        .iter()
        .map(|(request, _)| request.clone())
        .collect();

    let unreachable_url = refused_url();
    let unreachable_jwt = job_jwt.clone();
    let context_jwt = job_jwt.clone();
    let mut backend = Backend::new(
        format!("vault (OpenBao dev server, {config})"),
        move || support::provider(config.clone()),
        move || job_context(&address, &context_jwt),
    );
    for (request, value) in readable {
        backend = backend.readable(request, value);
    }
    let backend = backend
        // No such secret; and a secret that exists without the field asked for.
        .missing(SecretRequest::new(
            "NO_SECRET",
            json!("production/nothing/password"),
        ))
        .missing(SecretRequest::new(
            "NO_FIELD",
            json!("production/db/no_such_field"),
        ))
        // Seeded (holding "off-limits"), but outside the role's `ci-read` policy.
        .denied(SecretRequest::new(
            "ROOT_PASSWORD",
            json!("restricted/root/password"),
        ))
        // GitLab only checks that the string is present: Runner would split
        // it into an empty path.
        .invalid(SecretRequest::new("NO_PATH", json!("password")))
        // GitLab checks only that engine, path and field are present; a `..`
        // would read outside what the block names (here the denied secret).
        .invalid(SecretRequest::new(
            "DOT_DOT",
            json!({"engine": {"name": "kv-v2", "path": "kv-v2"}, "path": "production/../restricted/root", "field": "password"}),
        ))
        // The server comes from VAULT_SERVER_URL, so the readable requests
        // themselves go to the closed port.
        .unreachable(
            move || job_context(&unreachable_url, &unreachable_jwt),
            readable_requests,
        )
        .credential(job_jwt.clone())
        .credential(release_jwt.clone())
        // The login's JWT, and a `token:` one, echoed by the server.
        .echoing(move |url| {
            let requests = vec![
                SecretRequest::new("ECHOED", json!("production/db/password")),
                SecretRequest::new("ECHOED_TOKEN", json!("team/app/api_key@secret"))
                    .with_token(release_jwt.clone()),
            ];
            (job_context(url, &job_jwt), requests)
        });

    let report = run(&backend).await;
    report.assert_passed();
    // The backend describes every kind of item the suite asks about, so no
    // check may be skipped.
    assert!(report.skipped().is_empty(), "{report}");
}
