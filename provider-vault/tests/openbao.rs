//! The Vault provider against a real OpenBao server (`bao server -dev`).
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ci_secrets_provider_api::{ErrorKind, SecretRequest};
use serde_json::json;
use support::openbao::{
    self, AUDIENCE, BATCH_AUTH_PATH, NAMESPACE, NAMESPACE_KV, NAMESPACE_ROLE, ROLE,
};
use support::{context, provider, resolve, text};

/// The CI/CD variables of a job that logs in with `ci` at `auth/jwt`.
fn job_variables<'a>(server: &'a openbao::OpenBao, jwt: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("VAULT_SERVER_URL", server.address.as_str()),
        ("VAULT_AUTH_ROLE", ROLE),
        ("VAULT_ID_TOKEN", jwt),
    ]
}

#[tokio::test]
async fn string_form_reads_kv_v2_at_the_default_and_a_named_engine_path() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("DATABASE_PASSWORD", json!("production/db/password")),
        SecretRequest::new("API_KEY", json!("team/app/api_key@secret")),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "db-pass-4711");
    assert_eq!(text(&results[1]), "team-key-42");
}

#[tokio::test]
async fn hash_form_reads_kv_v2_kv_v1_and_generic() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new(
            "DB_USER",
            json!({"engine": {"name": "kv-v2", "path": "kv-v2"}, "path": "production/db", "field": "user"}),
        ),
        SecretRequest::new(
            "LEGACY_TOKEN",
            json!({"engine": {"name": "kv-v1", "path": "kv1"}, "path": "legacy/app", "field": "token"}),
        ),
        SecretRequest::new(
            "LEGACY_ENABLED",
            json!({"engine": {"name": "generic", "path": "kv1"}, "path": "legacy/app", "field": "enabled"}),
        ),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "app");
    assert_eq!(text(&results[1]), "legacy-token-9");
    assert_eq!(text(&results[2]), "true");
}

#[tokio::test]
async fn non_string_fields_are_delivered_as_json_text() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("DB_PORT", json!("production/db/port")),
        SecretRequest::new("DB_TLS", json!("production/db/tls")),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "5432");
    assert_eq!(
        text(&results[1]),
        r#"{"ciphers":["a","b"],"mode":"verify-full"}"#
    );
}

#[tokio::test]
async fn a_path_outside_the_policy_is_denied_and_the_others_still_resolve() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("ROOT_PASSWORD", json!("restricted/root/password")),
        SecretRequest::new("DATABASE_PASSWORD", json!("production/db/password")),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Denied, "{err}");
    assert_eq!(err.status(), Some(403));
    let message = err.to_string();
    assert!(message.contains("\"restricted/root\""), "{message}");
    assert!(message.contains("permission denied"), "{message}");
    assert!(!message.contains("off-limits"), "{message}");
    assert_eq!(text(&results[1]), "db-pass-4711");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_at_login() {
    let server = openbao::openbao().await;
    let jwt = server.id_token("https://other.example.com");
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("A", json!("production/db/password")),
        SecretRequest::new("B", json!("production/db/user")),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        let message = err.to_string();
        assert!(
            message.starts_with("logging in with the ID token VAULT_ID_TOKEN: "),
            "{message}"
        );
        assert!(
            message.contains("auth/jwt/login refused with HTTP 400"),
            "{message}"
        );
        // Vault's own reason, e.g. "error validating token: invalid audience (aud) claim: ...".
        assert!(message.contains("aud"), "{message}");
        assert!(!message.contains(&jwt), "{message}");
    }
}

#[tokio::test]
async fn an_unknown_role_is_refused_with_vaults_reason() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(
        &[
            ("VAULT_SERVER_URL", server.address.as_str()),
            ("VAULT_AUTH_ROLE", "no-such-role"),
        ],
        &[],
    );
    let request = SecretRequest::new("A", json!("production/db/password")).with_token(jwt.clone());
    let results = resolve(&*provider(json!({})), &ctx, &[request]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("no-such-role"), "{err}");
    assert!(err.to_string().contains("the secret's `token:`"), "{err}");
}

#[tokio::test]
async fn missing_fields_and_secrets_are_not_found_naming_path_and_field() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("NO_FIELD", json!("production/db/no_such_field")),
        SecretRequest::new("NULL_FIELD", json!("production/db/rotated")),
        SecretRequest::new("NO_SECRET", json!("production/nothing/password")),
        SecretRequest::new(
            "NO_LEGACY",
            json!({"engine": {"name": "kv-v1", "path": "kv1"}, "path": "legacy/gone", "field": "token"}),
        ),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    let expected = [
        ("NO_FIELD", "\"production/db\"", "\"no_such_field\""),
        ("NULL_FIELD", "\"production/db\"", "\"rotated\""),
        ("NO_SECRET", "\"production/nothing\"", "\"password\""),
        ("NO_LEGACY", "\"legacy/gone\"", "\"token\""),
    ];
    for (result, (_variable, path, field)) in results.iter().zip(expected) {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let message = err.to_string();
        assert!(message.starts_with("secret not found: "), "{message}");
        assert!(
            message.contains(path) && message.contains(field),
            "{message}"
        );
        assert!(!message.contains("db-pass-4711"), "{message}");
    }
}

#[tokio::test]
async fn the_namespace_header_reaches_the_namespace() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let secret = format!("app/password@{NAMESPACE_KV}");
    let mut variables = vec![
        ("VAULT_SERVER_URL", server.address.as_str()),
        ("VAULT_AUTH_ROLE", NAMESPACE_ROLE),
        ("VAULT_ID_TOKEN", jwt.as_str()),
        ("VAULT_NAMESPACE", NAMESPACE),
    ];
    let ctx = context(&variables, &["VAULT_ID_TOKEN"]);
    let request = SecretRequest::new("NS_PASSWORD", json!(secret));
    let results = resolve(&*provider(json!({})), &ctx, std::slice::from_ref(&request)).await;
    assert_eq!(text(&results[0]), "namespaced-pass");

    // The role and the mount exist only inside the namespace: without the
    // header the same job cannot log in, so the header did the work above.
    variables.pop();
    let ctx = context(&variables, &["VAULT_ID_TOKEN"]);
    let results = resolve(&*provider(json!({})), &ctx, &[request]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains(NAMESPACE_ROLE), "{err}");
}

#[tokio::test]
async fn twenty_secrets_cost_one_login_and_distinct_tokens_one_each() {
    let server = openbao::openbao().await;
    let login_path = format!("auth/{BATCH_AUTH_PATH}/login");
    let jwt = server.id_token(AUDIENCE);
    let variables = [
        ("VAULT_SERVER_URL", server.address.as_str()),
        ("VAULT_AUTH_PATH", BATCH_AUTH_PATH),
        ("VAULT_AUTH_ROLE", ROLE),
        ("VAULT_ID_TOKEN", jwt.as_str()),
    ];
    let ctx = context(&variables, &["VAULT_ID_TOKEN"]);
    let requests: Vec<SecretRequest> = (0..20)
        .map(|index| {
            SecretRequest::new(
                format!("BATCH_{index}"),
                json!(format!("production/batch/{index}/value")),
            )
        })
        .collect();
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    for (index, result) in results.iter().enumerate() {
        assert_eq!(text(result), format!("batch-value-{index}"));
    }
    assert_eq!(
        server.audited_requests(&login_path).len(),
        1,
        "one login for 20 secrets"
    );
    assert_eq!(ctx.metrics().snapshot().logins, 1);

    // Two distinct `token:` values are two identities: one login each.
    let main_jwt = server.id_token_with(AUDIENCE, "main");
    let release_jwt = server.id_token_with(AUDIENCE, "release");
    let ctx = context(&variables, &["VAULT_ID_TOKEN"]);
    let requests: Vec<SecretRequest> = (0..4)
        .map(|index| {
            let jwt = if index % 2 == 0 {
                &main_jwt
            } else {
                &release_jwt
            };
            SecretRequest::new(
                format!("MIXED_{index}"),
                json!(format!("production/batch/{index}/value")),
            )
            .with_token(jwt.clone())
        })
        .collect();
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.audited_requests(&login_path).len(), 3);
}

#[tokio::test]
async fn revoke_token_revokes_the_vault_token_after_the_reads() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let ctx = context(&job_variables(server, &jwt), &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("A", json!("production/db/password")),
        SecretRequest::new("B", json!("production/db/user")),
    ];
    let results = resolve(&*provider(json!({"revoke_token": true})), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "db-pass-4711");
    assert_eq!(text(&results[1]), "app");
    // Only this test revokes a JWT-role token (the dev server revokes its own
    // initial root token at start): the audit log shows one revocation.
    let revocations: Vec<_> = server
        .audited_responses("auth/token/revoke-self")
        .into_iter()
        .filter(|entry| entry["auth"]["metadata"]["role"] == ROLE)
        .collect();
    assert_eq!(revocations.len(), 1, "{revocations:?}");
    assert!(revocations[0].get("error").is_none(), "{revocations:?}");
}
