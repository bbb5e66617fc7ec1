//! The `testkv` provider, built through its `inventory` registration as the
//! core builds any provider, passes the provider conformance suite: the
//! suite serves a provider from another crate exactly as it serves ours.

use ci_secrets_e2e::test_provider::registration;
use ci_secrets_provider_api::{ProviderConfig, ResolveContext, SecretRequest};
use ci_secrets_provider_conformance::{Backend, run};
use serde_json::json;

#[tokio::test]
async fn testkv_passes_the_provider_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.json");
    std::fs::write(
        &store,
        json!({
            "db": "testkv-db-password",
            "api": "testkv-api-token",
            "blob": {"base64": "AAECA/7/c2VjcmV0"},
        })
        .to_string(),
    )
    .unwrap();
    let config = ProviderConfig::new(json!({"store": store}), "ci-secrets.toml");
    let build = registration().build;
    let provider = move || build(&config).unwrap();

    let key = |variable: &str, key: &str| SecretRequest::new(variable, json!({"key": key}));
    let backend = Backend::new("testkv", provider, || ResolveContext::builder("job"))
        .readable(key("DB", "db"), "testkv-db-password")
        .readable(key("API", "api"), "testkv-api-token")
        .readable(
            key("BLOB", "blob"),
            b"\x00\x01\x02\x03\xfe\xffsecret".to_vec(),
        )
        .missing(key("GONE", "no-such-key"));

    let report = run(&backend).await;
    report.assert_passed();
    // testkv has no access control, accepts any block (a missing key is
    // NotFound) and reads a local file, so there is no denied item (for
    // resolution nor for doctor), no invalid block and no server to be
    // unreachable. It has no `diagnose` either, so "doctor passes every
    // readable item" is skipped too (it used to count as passed).
    assert_eq!(report.skipped().len(), 6, "{report}");
}
