//! `plan` and `doctor` of the Vault provider against a real OpenBao server:
//! the doctor logs in and asks `sys/capabilities-self` about each path; it
//! never reads a secret.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ci_secrets_provider_api::SecretRequest;
use serde_json::json;
use support::openbao::{self, AUDIENCE, ROLE};
use support::{context, provider};

#[tokio::test]
async fn doctor_logs_in_once_and_checks_the_read_permission_of_each_path() {
    let server = openbao::openbao().await;
    let jwt = server.id_token(AUDIENCE);
    let variables = [
        ("VAULT_SERVER_URL", server.address.as_str()),
        ("VAULT_AUTH_ROLE", ROLE),
        ("VAULT_ID_TOKEN", jwt.as_str()),
    ];
    let ctx = context(&variables, &["VAULT_ID_TOKEN"]);
    let requests = [
        SecretRequest::new("DB_PASSWORD", json!("production/db/password")),
        SecretRequest::new("DB_USER", json!("production/db/user")),
        SecretRequest::new("ROOT", json!("restricted/root/password")),
    ];
    let provider = provider(json!({}));

    let plans = provider.plan(&ctx, &requests);
    let identity = plans[0].identity.as_ref().unwrap();
    assert!(
        plans
            .iter()
            .all(|plan| plan.identity.as_ref() == Some(identity))
    );
    assert_eq!(identity.login.as_deref(), Some("PUT /v1/auth/jwt/login"));
    assert_eq!(identity.field("role"), Some(ROLE));
    assert_eq!(identity.field("JWT"), Some("the ID token VAULT_ID_TOKEN"));
    assert_eq!(
        plans[2].calls[0].operation,
        "GET /v1/kv-v2/data/restricted/root"
    );

    let before = server.audited_requests("sys/capabilities-self").len();
    let checks = provider.diagnose(&ctx, &requests).await;
    let outcome: Vec<(&str, bool)> = checks
        .iter()
        .map(|check| (check.name.as_str(), check.passed))
        .collect();
    assert_eq!(
        outcome,
        [
            ("login", true),
            ("read permission on kv-v2/data/production/db", true),
            ("read permission on kv-v2/data/restricted/root", false),
        ],
        "{checks:#?}"
    );
    let denied = &checks[2];
    assert!(
        denied.detail.starts_with("the token may not read it"),
        "{denied}"
    );
    assert!(
        denied
            .hint
            .as_deref()
            .unwrap()
            .contains(r#"path "kv-v2/data/restricted/root""#),
        "{denied}"
    );
    assert!(!format!("{checks:?}").contains(&jwt));
    // Two distinct paths, one capabilities call each.
    assert_eq!(
        server.audited_requests("sys/capabilities-self").len(),
        before + 2
    );
}

#[tokio::test]
async fn doctor_reports_a_refused_login_with_a_hint() {
    let server = openbao::openbao().await;
    let jwt = server.id_token("https://other.example.com");
    let variables = [
        ("VAULT_SERVER_URL", server.address.as_str()),
        ("VAULT_AUTH_ROLE", ROLE),
        ("VAULT_ID_TOKEN", jwt.as_str()),
    ];
    let ctx = context(&variables, &["VAULT_ID_TOKEN"]);
    let requests = [SecretRequest::new("A", json!("production/db/password"))];
    let checks = provider(json!({})).diagnose(&ctx, &requests).await;
    assert_eq!(checks.len(), 1, "{checks:#?}");
    assert_eq!(checks[0].name, "login");
    assert!(!checks[0].passed);
    assert!(
        checks[0]
            .hint
            .as_deref()
            .unwrap()
            .starts_with("Check VAULT_AUTH_ROLE"),
        "{:?}",
        checks[0]
    );
}
