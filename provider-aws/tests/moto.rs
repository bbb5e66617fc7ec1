//! The provider against a real moto server: GitLab's string and hash
//! forms, JSON fields, binary secrets, versions, missing secrets and
//! fields, login sharing, TLS failures and the deadline.
//!
//! Each test uses its own AWS account (the account of the role it assumes),
//! so tests run in parallel on one server without seeing each other's secrets.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use aws_sdk_secretsmanager::primitives::Blob;
use ci_secrets_provider_api::{ErrorKind, JobVariables, ResolveContext, SecretRequest};
use serde_json::json;
use support::moto::{moto, role_arn};
use support::{ID_TOKEN, borrowed, context, fast_http, job_variables, provider, resolve, text};

async fn create(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|err| panic!("create {name}: {err:?}"));
}

#[tokio::test]
async fn string_and_hash_forms_read_the_whole_secret_and_fields() {
    const ACCOUNT: &str = "100000000001";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    create(&seeder, "app/plain", "plain-value-1").await;
    create(
        &seeder,
        "app/json",
        r#"{"user":"app-user","password":"pw-4711","port":5432,"tls":true}"#,
    )
    .await;

    let variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    let (ctx, metrics) = context(&borrowed(&variables));
    let requests = [
        SecretRequest::new("PLAIN", json!("app/plain")),
        SecretRequest::new("PASSWORD", json!("app/json#password")),
        SecretRequest::new("PORT", json!({"secret_id": "app/json", "field": "port"})),
        SecretRequest::new("TLS", json!({"secret_id": "app/json", "field": "tls"})),
        SecretRequest::new("WHOLE", json!({"secret_id": "app/json"})),
    ];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "plain-value-1");
    assert_eq!(text(&results[1]), "pw-4711");
    assert_eq!(text(&results[2]), "5432");
    assert_eq!(text(&results[3]), "true");
    assert_eq!(
        text(&results[4]),
        r#"{"user":"app-user","password":"pw-4711","port":5432,"tls":true}"#
    );
    let counts = metrics.snapshot();
    assert_eq!(counts.logins, 1, "{counts:?}");
    assert_eq!(
        counts.api_calls, 2,
        "one STS call and one BatchGetSecretValue of the two ids: {counts:?}"
    );
}

#[tokio::test]
async fn block_keys_override_the_region_role_and_session_variables() {
    const ACCOUNT: &str = "100000000002";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "eu-west-1").await;
    create(&seeder, "regional", "from-eu-west-1").await;

    // The variables point at another account and region, with no such secret.
    let mut variables = job_variables(&moto.endpoint, "100000000099", "us-east-1");
    variables.push(("AWS_ROLE_SESSION_NAME".into(), "variable-session".into()));
    let (ctx, _) = context(&borrowed(&variables));
    let requests = [SecretRequest::new(
        "REGIONAL",
        json!({"secret_id": "regional", "region": "eu-west-1", "role_arn": role_arn(ACCOUNT),
               "role_session_name": "block-session-100000000002"}),
    )];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "from-eu-west-1");
    assert_eq!(moto.sts_calls("block-session-100000000002"), 1);
}

#[tokio::test]
async fn a_binary_secret_is_delivered_as_raw_bytes() {
    const ACCOUNT: &str = "100000000003";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    let bytes = vec![0x00, 0xff, 0xfe, b'k', b'e', b'y'];
    seeder
        .create_secret()
        .name("keystore")
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .unwrap();

    let variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    let (ctx, _) = context(&borrowed(&variables));
    let requests = [
        SecretRequest::new("KEYSTORE", json!("keystore")),
        SecretRequest::new("KEYSTORE_FIELD", json!("keystore#alias")),
    ];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let value = results[0].as_ref().unwrap();
    assert_eq!(value.expose_bytes(), bytes.as_slice());
    assert_eq!(value.expose_str(), None);
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message()
            .contains("holds a binary value (SecretBinary), so field 'alias' cannot be read"),
        "{err}"
    );
}

#[tokio::test]
async fn version_stage_and_version_id_select_a_version() {
    const ACCOUNT: &str = "100000000004";
    const V1: &str = "00000000-0000-4000-8000-000000000001";
    const V3: &str = "00000000-0000-4000-8000-000000000003";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    seeder
        .create_secret()
        .name("rotating")
        .secret_string("first")
        .client_request_token(V1)
        .send()
        .await
        .unwrap();
    // The new current version; the first becomes AWSPREVIOUS.
    seeder
        .put_secret_value()
        .secret_id("rotating")
        .secret_string("second")
        .client_request_token("00000000-0000-4000-8000-000000000002")
        .send()
        .await
        .unwrap();
    // A version under a custom label only.
    seeder
        .put_secret_value()
        .secret_id("rotating")
        .secret_string("third")
        .client_request_token(V3)
        .version_stages("STAGING")
        .send()
        .await
        .unwrap();

    let variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    let (ctx, _) = context(&borrowed(&variables));
    let requests = [
        SecretRequest::new("CURRENT", json!("rotating")),
        SecretRequest::new(
            "PREVIOUS",
            json!({"secret_id": "rotating", "version_stage": "AWSPREVIOUS"}),
        ),
        SecretRequest::new("BY_ID", json!({"secret_id": "rotating", "version_id": V1})),
        SecretRequest::new(
            "STAGING",
            json!({"secret_id": "rotating", "version_stage": "STAGING"}),
        ),
        SecretRequest::new(
            "BOTH",
            json!({"secret_id": "rotating", "version_id": V3, "version_stage": "STAGING"}),
        ),
    ];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let values: Vec<&str> = results.iter().map(text).collect();
    assert_eq!(values, ["second", "first", "first", "third", "third"]);
}

#[tokio::test]
async fn a_missing_secret_or_version_is_not_found() {
    const ACCOUNT: &str = "100000000005";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    create(&seeder, "exists", "value").await;

    let variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    let (ctx, _) = context(&borrowed(&variables));
    let requests = [
        SecretRequest::new("MISSING", json!("no/such/secret")),
        SecretRequest::new(
            "NO_STAGE",
            json!({"secret_id": "exists", "version_stage": "AWSPENDING"}),
        ),
    ];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let missing = results[0].as_ref().unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!(
        missing.message().starts_with(
            "secret 'no/such/secret' not found in AWS Secrets Manager in region us-east-1 \
             (ResourceNotFoundException"
        ),
        "{missing}"
    );
    let no_stage = results[1].as_ref().unwrap_err();
    assert_eq!(no_stage.kind(), ErrorKind::NotFound);
    assert!(
        no_stage
            .message()
            .starts_with("secret 'exists' (version stage AWSPENDING) not found"),
        "{no_stage}"
    );
    for err in [missing, no_stage] {
        assert!(!err.message().contains(ID_TOKEN), "{err}");
    }
}

#[tokio::test]
async fn a_missing_field_lists_the_keys_but_no_value() {
    const ACCOUNT: &str = "100000000006";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    create(
        &seeder,
        "db",
        r#"{"user":"user-canary","password":"password-canary"}"#,
    )
    .await;

    let variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    let (ctx, _) = context(&borrowed(&variables));
    let requests = [SecretRequest::new("DB_PASSWORD", json!("db#passwd"))];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "key 'passwd' not found in AWS Secrets Manager response for secret 'db' \
         (available keys: password, user)"
    );
    assert!(!format!("{err:?}").contains("canary"), "{err:?}");
}

#[tokio::test]
async fn twenty_secrets_need_one_sts_call_and_one_batch() {
    const ACCOUNT: &str = "100000000007";
    const SESSION: &str = "twenty-secrets-100000000007";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    for n in 0..20 {
        create(&seeder, &format!("batch/{n}"), &format!("value-{n}")).await;
    }

    let mut variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    variables.push(("AWS_ROLE_SESSION_NAME".into(), SESSION.into()));
    let (ctx, metrics) = context(&borrowed(&variables));
    let requests: Vec<SecretRequest> = (0..20)
        .map(|n| SecretRequest::new(format!("SECRET_{n}"), json!(format!("batch/{n}"))))
        .collect();
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    for (n, result) in results.iter().enumerate() {
        assert_eq!(text(result), format!("value-{n}"));
    }
    let counts = metrics.snapshot();
    assert_eq!(counts.logins, 1, "{counts:?}");
    // One STS call and one BatchGetSecretValue of the 20 ids.
    assert_eq!(counts.api_calls, 2, "{counts:?}");
    assert_eq!(counts.retries, 0, "{counts:?}");
    // What the server saw, not only what we counted.
    assert_eq!(moto.sts_calls(SESSION), 1);
    assert_eq!(
        moto.secrets_manager_calls("BatchGetSecretValue", "\"batch/19\""),
        1
    );
    assert_eq!(
        moto.secrets_manager_calls("GetSecretValue", "\"batch/19\""),
        0
    );
}

#[tokio::test]
async fn an_https_endpoint_that_answers_in_plain_http_is_a_tls_error() {
    let moto = moto().await;
    let plain = moto.endpoint.replace("http://", "https://");
    let variables = job_variables(&plain, "100000000008", "us-east-1");
    let (ctx, _) = context(&borrowed(&variables));
    let requests = [SecretRequest::new("A", json!("a"))];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.message()
            .starts_with("AWS STS AssumeRoleWithWebIdentity for role"),
        "{err}"
    );
    assert!(!err.message().contains(ID_TOKEN), "{err}");
}

#[tokio::test]
async fn the_deadline_bounds_a_server_that_never_answers() {
    // Connections are queued by the kernel and never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let variables = job_variables(&endpoint, "100000000009", "us-east-1");
    let ctx = ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter(borrowed(&variables)))
        .timeout(Duration::from_millis(300))
        .http(fast_http())
        .build();
    let requests = [SecretRequest::new("SLOW", json!("slow"))];
    let started = std::time::Instant::now();
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deadline, "{err}");
    assert!(
        err.message().contains("the resolution deadline passed"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_batch_leaves_missing_and_versioned_secrets_to_get_secret_value() {
    const ACCOUNT: &str = "100000000032";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    create(&seeder, "mixed/a", r#"{"user":"a-user"}"#).await;
    create(&seeder, "mixed/b", "b-value").await;
    let variables = job_variables(&moto.endpoint, ACCOUNT, "us-east-1");
    let (ctx, metrics) = context(&borrowed(&variables));
    let requests = [
        SecretRequest::new("A_USER", json!("mixed/a#user")),
        SecretRequest::new("A", json!("mixed/a")),
        SecretRequest::new("B", json!("mixed/b")),
        SecretRequest::new("MISSING", json!("mixed/missing")),
        SecretRequest::new(
            "B_CURRENT",
            json!({"secret_id": "mixed/b", "version_stage": "AWSCURRENT"}),
        ),
    ];
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "a-user");
    assert_eq!(text(&results[1]), r#"{"user":"a-user"}"#);
    assert_eq!(text(&results[2]), "b-value");
    let missing = results[3].as_ref().unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(
        missing.to_string().starts_with(
            "secret 'mixed/missing' not found in AWS Secrets Manager in region us-east-1"
        ),
        "{missing}"
    );
    assert_eq!(text(&results[4]), "b-value");
    // STS, one batch of the three current ids, then GetSecretValue for the
    // id the batch did not answer (for the runner's error) and the
    // versioned block.
    let counts = metrics.snapshot();
    assert_eq!(counts.api_calls, 4, "{counts:?}");
}

/// A front for moto that refuses `BatchGetSecretValue` as a policy without
/// `secretsmanager:BatchGetSecretValue` does, and passes every other request
/// to moto (one request per connection).
async fn refusing_batches(moto_endpoint: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = format!("http://{}", listener.local_addr().unwrap());
    let upstream = moto_endpoint.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    let n = client.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the request ended early");
                    request.extend_from_slice(&buf[..n]);
                    if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                while request.len() < head_end + length {
                    let n = client.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                let response = if head.contains("x-amz-target: secretsmanager.batchgetsecretvalue")
                {
                    let body = r#"{"__type":"AccessDeniedException","message":"not authorized to perform secretsmanager:BatchGetSecretValue"}"#;
                    format!(
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes()
                } else {
                    // Ask moto to close after its answer, so it ends at EOF.
                    let head = String::from_utf8_lossy(&request[..head_end - 2]).into_owned();
                    let kept: String = head
                        .split_inclusive("\r\n")
                        .filter(|line| !line.to_lowercase().starts_with("connection:"))
                        .collect();
                    let mut forwarded = format!("{kept}connection: close\r\n\r\n").into_bytes();
                    forwarded.extend_from_slice(&request[head_end..]);
                    let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                    server.write_all(&forwarded).await.unwrap();
                    let mut response = Vec::new();
                    server.read_to_end(&mut response).await.unwrap();
                    response
                };
                client.write_all(&response).await.unwrap();
                client.shutdown().await.ok();
            });
        }
    });
    front
}

#[tokio::test]
async fn a_refused_batch_falls_back_to_get_secret_value_per_secret() {
    const ACCOUNT: &str = "100000000033";
    let moto = moto().await;
    let seeder = moto.seeder(ACCOUNT, "us-east-1").await;
    for i in 0..3 {
        create(&seeder, &format!("denied/s{i}"), &format!("alone-{i}")).await;
    }
    let front = refusing_batches(&moto.endpoint).await;
    let variables = job_variables(&front, ACCOUNT, "us-east-1");
    let (ctx, metrics) = context(&borrowed(&variables));
    let requests: Vec<SecretRequest> = (0..3)
        .map(|i| SecretRequest::new(format!("S{i}"), json!(format!("denied/s{i}"))))
        .collect();
    let results = resolve(provider().as_ref(), &ctx, &requests).await;
    for (i, result) in results.iter().enumerate() {
        assert_eq!(text(result), format!("alone-{i}"));
    }
    // STS, the refused batch, then one GetSecretValue per secret.
    let counts = metrics.snapshot();
    assert_eq!(counts.api_calls, 5, "{counts:?}");
}
