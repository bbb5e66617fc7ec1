//! `localjson` passes the provider conformance suite, built through its
//! registration as the core builds any provider, and its block and config
//! are checked by their serde types.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use ci_secrets_provider_api::{ErrorKind, ProviderConfig, ResolveContext, SecretRequest};
use ci_secrets_provider_conformance::{Backend, run};
use ci_secrets_provider_localjson::registration;
use serde_json::json;

fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let values = json!({"db": "localjson-db-password", "api": "localjson-api-token"});
    std::fs::write(dir.path().join("store.json"), values.to_string()).unwrap();
    dir
}

#[tokio::test]
async fn localjson_passes_the_provider_conformance_suite() {
    let dir = store();
    let config = ProviderConfig::new(json!({"file": dir.path().join("store.json")}), "ci.toml");
    let build = registration().build;
    let provider = move || build(&config).unwrap();

    let key = |variable: &str, key: &str| SecretRequest::new(variable, json!({"key": key}));
    let backend = Backend::new("localjson", provider, || ResolveContext::builder("job"))
        .readable(key("DB", "db"), "localjson-db-password")
        .readable(key("API", "api"), "localjson-api-token")
        .missing(key("GONE", "no-such-key"))
        .invalid(SecretRequest::new("BAD", json!({"name": "db"})));

    let report = run(&backend).await;
    report.assert_passed();
    let skipped: Vec<_> = report.skipped().iter().map(|(check, _)| *check).collect();
    // A local file has no access control, no server and no `diagnose`.
    assert_eq!(
        skipped,
        [
            "a denied item fails alone, as Denied",
            "an unreachable server fails every secret, as Transient",
            "doctor passes every readable item",
            "doctor flags a denied item",
            "no credential in any error when the server echoes every request",
        ],
        "{report}"
    );
}

#[test]
fn the_config_requires_file_and_refuses_unknown_keys() {
    let build = registration().build;
    let missing = build(&ProviderConfig::new(json!(null), "defaults")).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Config);
    assert_eq!(
        missing.to_string(),
        "[providers.localjson] in defaults: missing field `file`"
    );
    let typo = build(&ProviderConfig::new(
        json!({"file": "x", "fille": "y"}),
        "ci.toml",
    ));
    assert_eq!(
        typo.unwrap_err().to_string(),
        "[providers.localjson] in ci.toml key `fille`: unknown field `fille`, expected `file`"
    );
}

#[test]
fn preflight_names_the_variable_and_the_unknown_key() {
    let dir = store();
    let config = ProviderConfig::new(json!({"file": dir.path().join("store.json")}), "ci.toml");
    let provider = (registration().build)(&config).unwrap();
    let ctx = ResolveContext::builder("job").build();
    let requests = [
        SecretRequest::new("DB", json!({"key": "db"})),
        SecretRequest::new("API", json!({"key": "api", "field": "x"})),
    ];
    let err = provider.preflight(&ctx, &requests).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        "API: the block key `field`: unknown field `field`, expected `key`"
    );
}
