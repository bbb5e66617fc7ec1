//! `plan` and `doctor` of the AWS Secrets Manager provider against a real
//! moto server: the doctor logs in with STS and calls `DescribeSecret`,
//! never `GetSecretValue`.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ci_secrets_provider_api::SecretRequest;
use serde_json::json;
use support::moto::{moto, role_arn};
use support::{ID_TOKEN, borrowed, context, job_variables, provider};

/// This file's own account, so no other test sees its secrets.
const ACCOUNT: &str = "100000000901";

#[tokio::test]
async fn doctor_logs_in_and_describes_each_secret_without_reading_it() {
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "eu-west-1").await;
    seeder
        .create_secret()
        .name("doctor/present")
        .secret_string("doctor-canary-value")
        .send()
        .await
        .unwrap();
    let variables = job_variables(&moto.endpoint, ACCOUNT, "eu-west-1");
    let (ctx, metrics) = context(&borrowed(&variables));
    let requests = [
        SecretRequest::new("PRESENT", json!("doctor/present")),
        SecretRequest::new("FIELD", json!("doctor/present#key")),
        SecretRequest::new("MISSING", json!("doctor/missing")),
    ];
    let provider = provider();

    let plans = provider.plan(&ctx, &requests);
    let identity = plans[0].identity.as_ref().unwrap();
    assert!(
        plans
            .iter()
            .all(|plan| plan.identity.as_ref() == Some(identity))
    );
    assert_eq!(identity.field("role"), Some(role_arn(ACCOUNT).as_str()));
    assert_eq!(
        identity.login.as_deref(),
        Some("POST sts:AssumeRoleWithWebIdentity")
    );

    let checks = provider.diagnose(&ctx, &requests).await;
    let outcome: Vec<(&str, bool)> = checks
        .iter()
        .map(|check| (check.name.as_str(), check.passed))
        .collect();
    assert_eq!(
        outcome,
        [
            ("login", true),
            ("describe doctor/present", true),
            ("describe doctor/missing", false),
        ],
        "{checks:#?}"
    );
    let missing = &checks[2];
    assert!(
        missing.detail.starts_with("ResourceNotFoundException"),
        "{missing}"
    );
    assert_eq!(
        missing.hint.as_deref(),
        Some("Check the secret id doctor/missing and the region eu-west-1")
    );
    let shown = format!("{checks:?}");
    assert!(!shown.contains("doctor-canary-value"));
    assert!(!shown.contains(ID_TOKEN));
    // One login, two describes: no read.
    assert_eq!(metrics.snapshot().logins, 1);
    assert_eq!(metrics.snapshot().api_calls, 3);
}
