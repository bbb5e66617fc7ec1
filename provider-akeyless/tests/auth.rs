//! Every access type, logging in to the emulator for real: JWT, access key
//! (both names), universal identity, Kubernetes, AWS IAM (SigV4 checked by
//! the emulator), Azure AD and GCP (tokens from local metadata servers
//! reached through the standard endpoint overrides), a given token, and
//! token reuse.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod common;

use std::time::Duration;

use akeyless_emulator::demo::*;
use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Access, Emulator, Item, Operation, Seed};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ci_secrets_test_support::refused_url;
use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "/demo/static/password";
const PASSWORD_VALUE: &str = "demo-password-v2";

fn block(api_url: &str, extra: Value) -> Value {
    let mut block = json!({"name": PASSWORD, "akeyless_api_url": api_url});
    if let (Some(map), Value::Object(extra)) = (block.as_object_mut(), extra) {
        map.extend(extra);
    }
    block
}

#[tokio::test]
async fn jwt_from_id_tokens() {
    let emulator = demo_emulator().await;
    let jwt = TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(600));
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_JWT_ACCESS_ID)]);
    let results = resolve(
        &ctx,
        &[request("DB", block(&emulator.url(), json!({})), Some(&jwt))],
    )
    .await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
    assert_eq!(emulator.stats().requests(Operation::Auth), 1);
}

#[tokio::test]
async fn jwt_without_token_fails_before_any_call() {
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_JWT_ACCESS_ID)]);
    let provider = ci_secrets_provider_akeyless::AkeylessProvider::new();
    let err = ci_secrets_provider_api::Provider::preflight(
        &provider,
        &ctx,
        &[request("DB", json!({"name": PASSWORD}), None)],
    )
    .unwrap_err();
    assert_eq!(err.kind(), ci_secrets_provider_api::ErrorKind::Config);
    assert!(
        err.to_string()
            .starts_with("DB: access type jwt needs the secret's `token:`"),
        "{err}"
    );
}

#[tokio::test]
async fn api_key_and_access_key_both_log_in_as_access_key() {
    let emulator = demo_emulator().await;
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_ACCESS_KEY_ID)]);
    for access_type in ["api_key", "access_key"] {
        let extra =
            json!({"akeyless_access_type": access_type, "akeyless_access_key": DEMO_ACCESS_KEY});
        let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
        assert_eq!(text(&results[0]), PASSWORD_VALUE, "{access_type}");
    }
    let wrong = json!({"akeyless_access_type": "api_key", "akeyless_access_key": "wrong-key"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), wrong), None)]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ci_secrets_provider_api::ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    let message = err.to_string();
    assert!(
        message.starts_with("can't authenticate with Akeyless at http://"),
        "{message}"
    );
    assert!(
        message.contains("access type access_key, access id p-demoaccess01"),
        "{message}"
    );
    assert!(!message.contains("wrong-key"), "{message}");
}

#[tokio::test]
async fn universal_identity() {
    let emulator = demo_emulator().await;
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_UID_ACCESS_ID)]);
    let extra = json!({"akeyless_access_type": "universal_identity", "uid_token": DEMO_UID_TOKEN});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
}

#[tokio::test]
async fn universal_identity_without_uid_token_uses_the_runner_message() {
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_UID_ACCESS_ID)]);
    let provider = ci_secrets_provider_akeyless::AkeylessProvider::new();
    let err = ci_secrets_provider_api::Provider::preflight(
        &provider,
        &ctx,
        &[request(
            "DB",
            json!({"akeyless_access_type": "universal_identity"}),
            None,
        )],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "DB: UidToken is required for access type \"universal_identity\""
    );
}

#[tokio::test]
async fn k8s_service_account_through_a_gateway_url() {
    let emulator = demo_emulator().await;
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_K8S_ACCESS_ID)]);
    // A raw JWT (base64-encoded by the provider) against the `/api/v2` prefix.
    let token = TestKeys::ec().jwt(None, Duration::from_secs(600));
    let extra = json!({
        "akeyless_access_type": "k8s",
        "k8s_service_account_token": token,
        "k8s_auth_config_name": DEMO_K8S_CONFIG_NAME,
    });
    let api_url = format!("{}/api/v2", emulator.url());
    let results = resolve(&ctx, &[request("DB", block(&api_url, extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
}

#[tokio::test]
async fn aws_iam_signs_get_caller_identity_from_job_variables() {
    let emulator = demo_emulator().await;
    let credentials = demo_aws_credentials();
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", DEMO_AWS_ACCESS_ID),
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key()),
        ("AWS_SESSION_TOKEN", ""),
        ("AWS_REGION", "eu-central-1"),
    ]);
    let extra = json!({"akeyless_access_type": "aws_iam"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
}

#[tokio::test]
async fn aws_iam_with_a_wrong_secret_key_is_refused() {
    let emulator = demo_emulator().await;
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", DEMO_AWS_ACCESS_ID),
        ("AWS_ACCESS_KEY_ID", demo_aws_credentials().access_key_id()),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ("AWS_SESSION_TOKEN", ""),
    ]);
    let extra = json!({"akeyless_access_type": "aws_iam"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(
        err.kind(),
        ci_secrets_provider_api::ErrorKind::Auth,
        "{err}"
    );
}

/// Variables that hide other Azure sources of the machine running the tests.
const NO_OTHER_AZURE: [(&str, &str); 4] = [
    ("AZURE_FEDERATED_TOKEN_FILE", ""),
    ("IDENTITY_ENDPOINT", ""),
    ("AZURE_CLIENT_ID", ""),
    ("AZURE_CLOUD", ""),
];

#[tokio::test]
async fn azure_ad_managed_identity_from_imds_with_object_id() {
    let emulator = demo_emulator().await;
    let token = TestKeys::ec().jwt(Some(DEMO_AZURE_AUDIENCE), Duration::from_secs(600));
    let imds = LocalServer::start(move |request| match request.path.as_str() {
        "/metadata/instance" => (
            200,
            "application/json",
            json!({"compute": {"azEnvironment": "AzurePublicCloud"}}).to_string(),
        ),
        "/metadata/identity/oauth2/token" => (
            200,
            "application/json",
            json!({"access_token": token}).to_string(),
        ),
        _ => (404, "text/plain", String::new()),
    })
    .await;
    let mut variables = vec![
        ("AKEYLESS_ACCESS_ID", DEMO_AZURE_ACCESS_ID),
        ("AZURE_ENVIRONMENT", ""),
    ];
    let imds_url = imds.url();
    variables.push(("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds_url));
    variables.extend(NO_OTHER_AZURE);
    let ctx = context(&variables);
    let extra = json!({"akeyless_access_type": "azure_ad", "azure_object_id": "00000000-aaaa-bbbb-cccc-000000000001"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);

    let token_request = imds
        .received()
        .into_iter()
        .find(|r| r.path == "/metadata/identity/oauth2/token")
        .expect("a token request");
    assert_eq!(token_request.headers["metadata"], "true");
    let query = token_request.query_pairs();
    assert!(
        query.contains(&("resource".into(), "https://management.azure.com/".into())),
        "{query:?}"
    );
    assert!(query.contains(&(
        "object_id".into(),
        "00000000-aaaa-bbbb-cccc-000000000001".into()
    )));
    assert!(query.contains(&("api-version".into(), "2018-02-01".into())));
}

#[tokio::test]
async fn azure_ad_sovereign_cloud_from_imds_instance_metadata() {
    let imds = LocalServer::start(|request| match request.path.as_str() {
        "/metadata/instance" => (
            200,
            "application/json",
            json!({"compute": {"azEnvironment": "AzureUSGovernment"}}).to_string(),
        ),
        "/metadata/identity/oauth2/token" => (
            200,
            "application/json",
            json!({"access_token": "h.p.s"}).to_string(),
        ),
        _ => (404, "text/plain", String::new()),
    })
    .await;
    // An Akeyless that refuses: only the token request matters here.
    let akeyless =
        LocalServer::start(|_| (401, "application/json", json!({"error": "no"}).to_string())).await;
    let imds_url = imds.url();
    let mut variables = vec![
        ("AKEYLESS_ACCESS_ID", "p-x"),
        ("AZURE_ENVIRONMENT", ""),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds_url.as_str()),
    ];
    variables.extend(NO_OTHER_AZURE);
    let ctx = context(&variables);
    let extra = json!({"akeyless_access_type": "azure_ad"});
    let _ = resolve(&ctx, &[request("DB", block(&akeyless.url(), extra), None)]).await;
    let token_request = imds
        .received()
        .into_iter()
        .find(|r| r.path == "/metadata/identity/oauth2/token")
        .expect("a token request");
    let query = token_request.query_pairs();
    assert!(
        query.contains(&(
            "resource".into(),
            "https://management.usgovcloudapi.net/".into()
        )),
        "{query:?}"
    );
    let auth = akeyless.received().pop().expect("an /auth call").json();
    assert_eq!(auth["cloud-id"], STANDARD.encode("h.p.s"));
}

#[tokio::test]
async fn azure_ad_workload_identity() {
    let emulator = demo_emulator().await;
    let token = TestKeys::ec().jwt(Some(DEMO_AZURE_AUDIENCE), Duration::from_secs(600));
    let authority = LocalServer::start(move |request| {
        if request.method == "POST" && request.path == "/tenant-1/oauth2/v2.0/token" {
            (
                200,
                "application/json",
                json!({"access_token": token, "token_type": "Bearer"}).to_string(),
            )
        } else {
            (404, "text/plain", String::new())
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, "federated.service.account\n").unwrap();
    let authority_url = format!("{}/", authority.url());
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", DEMO_AZURE_ACCESS_ID),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_AUTHORITY_HOST", &authority_url),
        ("AZURE_ENVIRONMENT", ""),
        ("AZURE_CLOUD", ""),
    ]);
    let extra = json!({"akeyless_access_type": "azure_ad"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
    let form = authority.received()[0].form();
    for expected in [
        ("client_id", "client-1"),
        ("client_assertion", "federated.service.account"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("grant_type", "client_credentials"),
        ("scope", "https://management.azure.com/.default"),
    ] {
        assert!(
            form.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {form:?}"
        );
    }
}

#[tokio::test]
async fn azure_ad_app_service_identity_endpoint() {
    let emulator = demo_emulator().await;
    let token = TestKeys::ec().jwt(Some(DEMO_AZURE_AUDIENCE), Duration::from_secs(600));
    let endpoint = LocalServer::start(move |request| {
        if request
            .headers
            .get("x-identity-header")
            .is_some_and(|h| h == "header-secret")
        {
            (
                200,
                "application/json",
                json!({"access_token": token}).to_string(),
            )
        } else {
            (
                401,
                "application/json",
                json!({"error": "missing header"}).to_string(),
            )
        }
    })
    .await;
    let identity_endpoint = format!("{}/msi/token", endpoint.url());
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", DEMO_AZURE_ACCESS_ID),
        ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ("AZURE_CLIENT_ID", ""),
        ("IDENTITY_ENDPOINT", &identity_endpoint),
        ("IDENTITY_HEADER", "header-secret"),
        ("AZURE_ENVIRONMENT", "AzureCloud"),
    ]);
    let extra = json!({"akeyless_access_type": "azure_ad"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
    let received = endpoint.received();
    assert_eq!(received[0].path, "/msi/token");
    assert!(
        received[0]
            .query_pairs()
            .contains(&("api-version".into(), "2019-08-01".into()))
    );
}

#[tokio::test]
async fn gcp_id_token_from_the_metadata_server() {
    let emulator = demo_emulator().await;
    let token = TestKeys::rsa().jwt(Some("akeyless.io"), Duration::from_secs(600));
    let metadata = LocalServer::start(move |request| {
        if request
            .headers
            .get("metadata-flavor")
            .is_some_and(|h| h == "Google")
        {
            (200, "application/text", token.clone())
        } else {
            (403, "text/plain", String::new())
        }
    })
    .await;
    let host = metadata.host();
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", DEMO_GCP_ACCESS_ID),
        ("GCE_METADATA_HOST", &host),
        ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ]);
    let extra = json!({"akeyless_access_type": "gcp"});
    let results = resolve(&ctx, &[request("DB", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
    let received = metadata.received();
    assert_eq!(
        received[0].path,
        "/computeMetadata/v1/instance/service-accounts/default/identity"
    );
    let query = received[0].query_pairs();
    assert!(
        query.contains(&("audience".into(), "akeyless.io".into())),
        "{query:?}"
    );
    assert!(query.contains(&("format".into(), "full".into())));
}

#[tokio::test]
async fn gcp_service_account_key_with_a_custom_audience() {
    // D4: the custom audience goes into the ID token and into `gcp-audience`.
    let rsa = TestKeys::rsa();
    let seed = Seed::new()
        .with_access(
            Access::gcp("p-gcpcustomaud", rsa.public_key_pem())
                .with_audience("my-audience")
                .allow("/*"),
        )
        .with_item("/gcp/secret", Item::static_text("from-gcp"));
    let emulator = Emulator::builder().seed(seed).start().await.unwrap();
    let token_server = LocalServer::start(move |request| {
        let form = request.form();
        let assertion = form
            .iter()
            .find(|(k, _)| k == "assertion")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let payload = assertion.split('.').nth(1).unwrap_or_default();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
                .unwrap_or_default();
        let grant = form
            .iter()
            .any(|(k, v)| k == "grant_type" && v == "urn:ietf:params:oauth:grant-type:jwt-bearer");
        if grant
            && claims["target_audience"] == "my-audience"
            && claims["iss"] == "ci@project.iam.gserviceaccount.com"
        {
            let id_token = TestKeys::rsa().jwt(Some("my-audience"), Duration::from_secs(600));
            (
                200,
                "application/json",
                json!({"id_token": id_token}).to_string(),
            )
        } else {
            (
                400,
                "application/json",
                json!({"error": "invalid_grant", "error_description": "bad assertion"}).to_string(),
            )
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    let key = json!({
        "type": "service_account",
        "client_email": "ci@project.iam.gserviceaccount.com",
        "private_key_id": "kid-1",
        "private_key": rsa.private_key_pem(),
        "token_uri": format!("{}/token", token_server.url()),
    });
    std::fs::write(&key_file, key.to_string()).unwrap();
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", "p-gcpcustomaud"),
        ("GOOGLE_APPLICATION_CREDENTIALS", key_file.to_str().unwrap()),
    ]);
    let extra = json!({"name": "/gcp/secret", "akeyless_access_type": "gcp", "gcp_audience": "my-audience"});
    let results = resolve(&ctx, &[request("S", block(&emulator.url(), extra), None)]).await;
    assert_eq!(text(&results[0]), "from-gcp");
}

#[tokio::test]
async fn given_akeyless_token_skips_the_login() {
    let emulator = demo_emulator().await;
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_ACCESS_KEY_ID)]);
    // Get a token in token mode first.
    let login = json!({"akeyless_api_url": emulator.url(), "akeyless_access_type": "access_key", "akeyless_access_key": DEMO_ACCESS_KEY});
    let token = text(&resolve(&ctx, &[request("TOKEN", login, None)]).await[0]);
    assert!(token.starts_with("t-"), "a token");
    assert_eq!(emulator.stats().requests(Operation::Auth), 1);

    let given =
        json!({"name": PASSWORD, "akeyless_api_url": emulator.url(), "akeyless_token": token});
    let bare = json!({"akeyless_api_url": emulator.url(), "akeyless_token": token});
    let results = resolve(
        &ctx,
        &[request("DB", given, None), request("ECHO", bare, None)],
    )
    .await;
    assert_eq!(text(&results[0]), PASSWORD_VALUE);
    assert_eq!(
        text(&results[1]),
        token,
        "token mode echoes the given token"
    );
    assert_eq!(
        emulator.stats().requests(Operation::Auth),
        1,
        "no second login"
    );
}

#[tokio::test]
async fn bare_akeyless_reuses_the_jwt_login_for_the_token() {
    // D7: GitLab's "JWT reuse" example, `AKEYLESS_TOKEN: {token: $AKEYLESS_JWT, akeyless: }`.
    let emulator = demo_emulator().await;
    let jwt = TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(600));
    let url = emulator.url();
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_JWT_ACCESS_ID)]);
    let provider = ci_secrets_provider_akeyless::AkeylessProvider::new();
    let requests = [
        request(
            "AKEYLESS_TOKEN",
            json!({"akeyless_api_url": url}),
            Some(&jwt),
        ),
        request("DB", block(&url, json!({})), Some(&jwt)),
    ];
    let results = ci_secrets_provider_api::Provider::resolve(&provider, &ctx, &requests).await;
    assert!(text(&results[0]).starts_with("t-"));
    assert_eq!(text(&results[1]), PASSWORD_VALUE);
    assert_eq!(
        emulator.stats().requests(Operation::Auth),
        1,
        "one login for both"
    );

    // A bare block goes to the public API by default: only check the block parses to token mode.
    let bare = [request("AKEYLESS_TOKEN", Value::Null, Some(&jwt))];
    assert!(ci_secrets_provider_api::Provider::preflight(&provider, &ctx, &bare).is_ok());
}

/// The GCP assertion is signed at run time, so no test can declare it in
/// advance: a token endpoint that echoes it (and its base64 payload,
/// decoded) in its error must not get it into the message.
#[tokio::test]
async fn gcp_assertion_echoed_by_the_token_endpoint_is_masked() {
    let rsa = TestKeys::rsa();
    let token_server = LocalServer::start(move |request| {
        let assertion = request
            .form()
            .into_iter()
            .find(|(k, _)| k == "assertion")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let payload = assertion.split('.').nth(1).unwrap_or_default().to_string();
        let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(&payload).unwrap_or_default())
            .unwrap_or_default();
        (
            400,
            "application/json",
            json!({"error": "invalid_grant", "error_description": format!("bad assertion {assertion} with claims {claims}")})
                .to_string(),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    let key = json!({
        "type": "service_account",
        "client_email": "ci@project.iam.gserviceaccount.com",
        "private_key_id": "kid-1",
        "private_key": rsa.private_key_pem(),
        "token_uri": format!("{}/token", token_server.url()),
    });
    std::fs::write(&key_file, key.to_string()).unwrap();
    let ctx = context(&[
        ("AKEYLESS_ACCESS_ID", "p-gcpecho"),
        ("GOOGLE_APPLICATION_CREDENTIALS", key_file.to_str().unwrap()),
    ]);
    let extra = json!({"akeyless_access_type": "gcp"});
    let results = resolve(&ctx, &[request("S", block(&refused_url(), extra), None)]).await;
    let err = results[0].as_ref().unwrap_err();
    let assertion = token_server.received()[0]
        .form()
        .into_iter()
        .find(|(k, _)| k == "assertion")
        .map(|(_, v)| v)
        .unwrap();
    let payload = assertion.split('.').nth(1).unwrap().to_string();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("bad assertion [MASKED]"), "{shown}");
    assert!(!shown.contains(&assertion), "{shown}");
    assert!(!shown.contains(&payload), "{shown}");
}
