//! The provider conformance suite (`ci-secrets-provider-conformance`)
//! against the emulator's demo seed: the behaviour every provider owes the
//! core, checked on Akeyless's real wire protocol.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod common;

use akeyless_emulator::demo::*;
use ci_secrets_provider_akeyless::AkeylessProvider;
use ci_secrets_provider_api::ResolveContextBuilder;
use ci_secrets_provider_conformance::{Backend, run};
use ci_secrets_test_support::refused_url;
use common::{context_builder, demo_emulator, demo_item as item};
use serde_json::json;

fn demo_context() -> ResolveContextBuilder {
    context_builder(&[("AKEYLESS_ACCESS_ID", DEMO_ACCESS_KEY_ID)])
}

#[tokio::test]
async fn akeyless_passes_the_provider_conformance_suite() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let readable = [
        (
            item("PASSWORD", &url, "/demo/static/password", json!({})),
            "demo-password-v2",
        ),
        (
            item(
                "DB_PASSWORD",
                &url,
                "/demo/static/db",
                json!({"data_key": "password"}),
            ),
            "demo-db-password",
        ),
        (
            item(
                "ADMIN_PASSWORD",
                &url,
                "/demo/rotated/admin",
                json!({"data_key": "password"}),
            ),
            "demo-rotated-password",
        ),
    ];
    let unreachable = refused_url();
    let mut backend = Backend::new(
        "akeyless (emulator)",
        || Box::new(AkeylessProvider::new()),
        demo_context,
    )
    .missing(item("GONE", &url, "/demo/static/no-such-item", json!({})))
    // The demo access key may read /demo/* only.
    .denied(item(
        "ADMIN_TOKEN",
        &url,
        "/restricted/admin-token",
        json!({}),
    ))
    // A key the JSON item does not hold is the job's mistake, not the server's.
    .invalid(item(
        "DB_TYPO",
        &url,
        "/demo/static/db",
        json!({"data_key": "pasword"}),
    ))
    .invalid(item(
        "BAD_ACCESS_TYPE",
        &url,
        "/demo/static/password",
        json!({"akeyless_access_type": "carrier_pigeon"}),
    ))
    .unreachable(
        demo_context,
        readable.iter().map(|(request, _)| {
            let mut request = request.clone();
            request.block["akeyless_api_url"] = json!(unreachable);
            request
        }),
    )
    .credential(DEMO_ACCESS_KEY)
    // Never returned, so never allowed anywhere in a message.
    .credential("nobody-may-read-this");
    for (request, value) in readable {
        backend = backend.readable(request, value);
    }
    let workload_dir = tempfile::tempdir().unwrap();
    let backend = echoing_logins(backend, &workload_dir);

    let report = run(&backend).await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "{report}");
}

// Credentials of the echoing logins: each one is sent (or is what a sent
// value was made from), and none may come back in an error.
const ECHO_ACCESS_KEY: &str = "echo-access-key-Qf83kLm2";
const ECHO_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.ZWNoby1qd3QtcGF5bG9hZA.ZWNoby1qd3Qtc2ln";
const ECHO_UID_TOKEN: &str = "u-echo-uid-token-Tr51pQ";
/// A raw service-account JWT: the provider sends it base64-encoded.
const ECHO_K8S_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.ZWNoby1rOHMtcGF5bG9hZA.ZWNoby1rOHMtc2ln";
const ECHO_AWS_SECRET_KEY: &str = "echo-aws-secret-key-Wn27vB";
/// Travels inside the signed cloud id, itself base64 inside base64.
const ECHO_AWS_SESSION_TOKEN: &str = "echo-aws-session-token-Hs93mD";
const ECHO_AZURE_HEADER: &str = "echo-azure-identity-header-Kx4q";
const ECHO_AZURE_ASSERTION: &str =
    "eyJhbGciOiJSUzI1NiJ9.ZWNoby1henVyZS1hc3NlcnRpb24.ZWNoby1henVyZS1zaWc";
const ECHO_GIVEN_TOKEN: &str = "t-echo-given-token-Zp08aa";

/// One echoing case per way of logging in, each against the echoing
/// server as Akeyless API and as the cloud's identity endpoint.
fn echoing_logins(backend: Backend, workload_dir: &tempfile::TempDir) -> Backend {
    let assertion_file = workload_dir.path().join("azure-token");
    std::fs::write(&assertion_file, ECHO_AZURE_ASSERTION).unwrap();
    let assertion_file = assertion_file.to_str().unwrap().to_string();
    let item = |url: &str, extra: serde_json::Value| {
        let mut block = json!({"name": "/demo/static/password", "akeyless_api_url": url});
        if let (Some(map), serde_json::Value::Object(extra)) = (block.as_object_mut(), extra) {
            map.extend(extra);
        }
        ci_secrets_provider_api::SecretRequest::new("ECHOED", block)
    };
    // Hides the test machine's own cloud identities.
    const NO_CLOUD: [(&str, &str); 8] = [
        ("AKEYLESS_ACCESS_ID", "p-echo0000001"),
        ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ("AZURE_CLIENT_ID", ""),
        ("AZURE_TENANT_ID", ""),
        ("IDENTITY_ENDPOINT", ""),
        ("IDENTITY_HEADER", ""),
        ("AWS_PROFILE", ""),
        ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut variables = NO_CLOUD.to_vec();
        variables.extend_from_slice(extra);
        context_builder(&variables)
    };
    [
        ECHO_ACCESS_KEY,
        ECHO_JWT,
        ECHO_UID_TOKEN,
        ECHO_K8S_TOKEN,
        ECHO_AWS_SECRET_KEY,
        ECHO_AWS_SESSION_TOKEN,
        ECHO_AZURE_HEADER,
        ECHO_AZURE_ASSERTION,
        ECHO_GIVEN_TOKEN,
    ]
    .into_iter()
    .fold(backend, Backend::credential)
    .echoing(move |url| {
        let extra =
            json!({"akeyless_access_type": "access_key", "akeyless_access_key": ECHO_ACCESS_KEY});
        (with(&[]), vec![item(url, extra)])
    })
    .echoing(move |url| {
        let request = item(url, json!({"akeyless_access_type": "jwt"})).with_token(ECHO_JWT);
        (with(&[]), vec![request])
    })
    .echoing(move |url| {
        let extra =
            json!({"akeyless_access_type": "universal_identity", "uid_token": ECHO_UID_TOKEN});
        (with(&[]), vec![item(url, extra)])
    })
    .echoing(move |url| {
        let extra = json!({
            "akeyless_access_type": "k8s",
            "k8s_service_account_token": ECHO_K8S_TOKEN,
            "k8s_auth_config_name": "echo-config",
        });
        (with(&[]), vec![item(url, extra)])
    })
    .echoing(move |url| {
        let variables = [
            ("AWS_ACCESS_KEY_ID", "AKIAECHOECHOECHO0001"),
            ("AWS_SECRET_ACCESS_KEY", ECHO_AWS_SECRET_KEY),
            ("AWS_SESSION_TOKEN", ECHO_AWS_SESSION_TOKEN),
            ("AWS_REGION", "eu-west-1"),
        ];
        let extra = json!({"akeyless_access_type": "aws_iam"});
        (with(&variables), vec![item(url, extra)])
    })
    .echoing(move |url| {
        let endpoint = format!("{url}/msi/token");
        let variables = [
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", ECHO_AZURE_HEADER),
            ("AZURE_ENVIRONMENT", "AzureCloud"),
        ];
        let extra = json!({"akeyless_access_type": "azure_ad"});
        (with(&variables), vec![item(url, extra)])
    })
    .echoing(move |url| {
        let variables = [
            ("AZURE_FEDERATED_TOKEN_FILE", assertion_file.as_str()),
            ("AZURE_CLIENT_ID", "echo-client-id"),
            ("AZURE_TENANT_ID", "echo-tenant"),
            ("AZURE_AUTHORITY_HOST", url),
            ("AZURE_ENVIRONMENT", "AzureCloud"),
        ];
        let extra = json!({"akeyless_access_type": "azure_ad"});
        (with(&variables), vec![item(url, extra)])
    })
    .echoing(move |url| {
        let extra = json!({"akeyless_token": ECHO_GIVEN_TOKEN});
        (with(&[]), vec![item(url, extra)])
    })
}
