//! The AWS rows of GitLab Runner's resolution vectors
//! (`tests/data/gitlab/runner-resolution.yaml`), run against a real moto
//! server that holds each row's canned `GetSecretValue` answer.
//!
//! Every `provider: aws_secrets_manager` row is run, or listed in
//! [`not_applicable`] with the reason; a new row that is neither fails the
//! test. Each row runs in its own AWS account (the account of the role it
//! assumes), so rows that reuse a secret id do not see each other's values.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ci_secrets_provider_api::{ErrorKind, SecretRequest};
use serde_json::Value;
use support::moto::{DEFAULT_ACCOUNT, Moto, moto};
use support::{borrowed, context, job_variables, provider, resolve};

const VARIABLE: &str = "AWS_SECRET";

fn aws_rows() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/gitlab/runner-resolution.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {path}: {err}"));
    let rows: Vec<Value> = serde_norway::from_str(&text).expect("the vectors parse");
    rows.into_iter()
        .filter(|row| row["provider"] == "aws_secrets_manager")
        .collect()
}

/// Rows that do not apply to ci-secrets, with the reason.
fn not_applicable(id: &str) -> Option<&'static str> {
    let reason = match id {
        "aws-is-supported-unsupported" | "aws-resolve-error-on-support-detection" => {
            "a secret without an `aws_secrets_manager` key never reaches this provider: the core picks \
             providers by key"
        }
        _ => return None,
    };
    Some(reason)
}

/// Rows whose expected error text comes from a Go mock and cannot come
/// from a real server; they run, and assert that the read fails.
fn mock_error_text(id: &str) -> Option<&'static str> {
    match id {
        "aws-resolve-error-on-field-resolving" => Some(
            "the mocked GetSecretString returns testify's assert.AnError; against moto the secret is \
             left out, so the read fails with ResourceNotFoundException instead",
        ),
        _ => None,
    }
}

/// Rows where the runner used its default AWS credentials: the job then
/// gives static keys as variables. Every other row logs in as GitLab jobs
/// do, with an ID token and a role (the runner's mocks ignore credentials).
fn uses_default_credentials(id: &str) -> bool {
    id == "aws-resolve-uses-default-credentials-when-rolearn-is-empty-and-no-jwt"
}

#[tokio::test]
async fn aws_rows_of_runner_resolution() {
    let rows = aws_rows();
    assert!(
        rows.len() >= 13,
        "expected the 13 AWS rows, found {}",
        rows.len()
    );
    let moto = moto().await;
    let mut ran = Vec::new();
    let mut skipped = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let id = row["id"].as_str().expect("every row has an id");
        if let Some(reason) = not_applicable(id) {
            skipped.push((id, reason));
            continue;
        }
        match row["call"].as_str() {
            Some("Name()") => name_row(id, row),
            Some("IsSupported()") => is_supported_row(id, row),
            Some("Resolve()") => resolve_row(moto, index, id, row).await,
            other => panic!("{id}: no runner for call {other:?}"),
        }
        ran.push(id);
    }
    println!("ran {} AWS rows: {}", ran.len(), ran.join(", "));
    for (id, reason) in &skipped {
        println!("not applicable: {id}: {reason}");
    }
    assert!(ran.len() >= 11, "too few rows ran: {ran:?}");
}

fn name_row(id: &str, row: &Value) {
    assert_eq!(
        ci_secrets_provider_aws::registration().key,
        row["expected_value"].as_str().unwrap(),
        "{id}"
    );
}

/// "Supported" means: the secret has the provider's key, and the core finds
/// the provider registered under it.
fn is_supported_row(id: &str, row: &Value) {
    assert_eq!(
        row["expected_value"], true,
        "{id}: only the supported row runs"
    );
    let key = ci_secrets_provider_aws::registration().key;
    assert!(row["secret"].get(key).is_some(), "{id}");
    assert!(
        ci_secrets_provider_api::find_provider(key).is_some(),
        "{id}"
    );
}

async fn resolve_row(moto: &Moto, index: usize, id: &str, row: &Value) {
    let mut block = row["secret"]["aws_secrets_manager"].clone();
    // `server` is what GitLab builds from CI/CD variables; a job's block
    // cannot hold it, so it becomes the variables it came from.
    let server = block
        .as_object_mut()
        .and_then(|map| map.remove("server"))
        .unwrap_or(Value::Null);
    let region = block["region"]
        .as_str()
        .or_else(|| server["region"].as_str())
        .unwrap_or("us-east-1")
        .to_string();
    if let Some(version_id) = block["version_id"].as_str() {
        // Real servers, moto included, need version ids (ClientRequestToken)
        // of 32 to 64 characters; the runner's mocks use `version`.
        if version_id.len() < 32 {
            let padded = format!("{version_id:-<32}");
            println!("{id}: version id {version_id:?} runs as {padded:?}");
            block["version_id"] = Value::String(padded);
        }
    }
    let default_credentials = uses_default_credentials(id);
    let account = if default_credentials {
        DEFAULT_ACCOUNT.to_string()
    } else {
        format!("2000000000{index:02}")
    };

    seed(moto, &account, &region, id, &block, row).await;

    let mut variables = job_variables(&moto.endpoint, &account, &region);
    if default_credentials {
        variables.retain(|(name, _)| name != "AWS_ROLE_ARN" && name != "AWS_ID_TOKEN");
        variables.push(("AWS_ACCESS_KEY_ID".into(), "testing".into()));
        variables.push(("AWS_SECRET_ACCESS_KEY".into(), "testing".into()));
    }
    if server["region"].is_string() && block["region"].is_null() {
        // The row's point: the server's (AWS_REGION's) region is used.
        assert_eq!(variables[1], ("AWS_REGION".into(), region.clone()), "{id}");
    }
    let (ctx, metrics) = context(&borrowed(&variables));
    let requests = [SecretRequest::new(VARIABLE, block)];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let result = &results[0];

    if let Some(expected) = row.get("expected_value") {
        let value = result
            .as_ref()
            .unwrap_or_else(|err| panic!("{id}: expected a value, got {err}"));
        assert_eq!(value.expose_str(), expected.as_str(), "{id}");
    } else {
        let err = result
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{id}: expected an error"));
        let expected = &row["expected_error"];
        if let Some(reason) = mock_error_text(id) {
            println!("{id}: asserting a failed read only: {reason}");
            assert_eq!(err.kind(), ErrorKind::NotFound, "{id}: {err}");
        } else {
            assert_eq!(expected["match"], "substring", "{id}");
            let text = expected["text"].as_str().unwrap();
            assert!(
                err.message().contains(text),
                "{id}: {err:?} should contain {text:?}"
            );
        }
    }
    let logins = metrics.snapshot().logins;
    assert_eq!(logins, u64::from(!default_credentials), "{id}");
}

/// Stores the row's canned answer as the secret, under the version id and
/// stage the row asks for; a canned error stores nothing.
async fn seed(moto: &Moto, account: &str, region: &str, id: &str, block: &Value, row: &Value) {
    let answer = &row["server_responses"][0];
    let Some(secret_string) = answer["secret_string"].as_str() else {
        assert!(
            answer["error"].is_string(),
            "{id}: a canned answer or error"
        );
        return;
    };
    let secret_id = block["secret_id"].as_str().unwrap();
    let seeder = moto.seeder(account, region).await;
    let mut create = seeder
        .create_secret()
        .name(secret_id)
        .secret_string(secret_string);
    if let Some(version_id) = block["version_id"].as_str() {
        create = create.client_request_token(version_id);
    }
    create
        .send()
        .await
        .unwrap_or_else(|err| panic!("{id}: seed {secret_id}: {err:?}"));
    if let (Some(version_id), Some(stage)) = (
        block["version_id"].as_str(),
        block["version_stage"].as_str(),
    ) {
        seeder
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .move_to_version_id(version_id)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{id}: stage {stage}: {err:?}"));
    }
}
