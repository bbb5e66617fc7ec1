//! The validator knows only the providers its caller passes in: a provider GitLab does not know is
//! rejected as GitLab rejects it unless its registration is passed, and then its block is checked
//! against the schema it registers.

use ci_secrets_gitlab::pipeline::Job;
use ci_secrets_gitlab::validate::{job_secret_specs, validate_job_secrets};
use ci_secrets_provider_api::{
    BlockForms, BlockKey, ErrorKind, KeyType, Provider, ProviderConfig, ProviderError,
    ProviderRegistration,
};
use serde_json::json;

/// Validation never builds a provider; a registration still needs a constructor.
fn never_built(_: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    Err(ProviderError::new(
        ErrorKind::Unsupported,
        "built only to check blocks",
    ))
}

static MYSTORE: ProviderRegistration = ProviderRegistration {
    key: "mystore",
    description: "a third-party store",
    keys: &[
        BlockKey::new("path", KeyType::String, "the item"),
        BlockKey::new("fresh", KeyType::Boolean, "skip caches"),
    ],
    forms: BlockForms::MAP,
    build: never_built,
};

static ANOTHER: ProviderRegistration = ProviderRegistration {
    key: "another",
    description: "another third-party store",
    keys: &[],
    forms: BlockForms::MAP.with_string(),
    build: never_built,
};

const GITLAB_KEYS: &str = "vault, azure_key_vault, gcp_secret_manager, akeyless, gitlab_secrets_manager, aws_secrets_manager";

#[test]
fn a_provider_not_passed_in_is_rejected_as_gitlab_rejects_it() {
    let secrets = json!({"DB": {"mystore": {"path": "/db"}}});
    assert_eq!(
        validate_job_secrets(&[], "deploy", &secrets),
        [
            "jobs:deploy:secrets:db config contains unknown keys: mystore".to_string(),
            format!(
                "jobs:deploy:secrets:db config must use exactly one of these keys: {GITLAB_KEYS}"
            ),
        ],
    );
}

#[test]
fn a_provider_passed_in_is_checked_against_its_schema() {
    let valid = json!({"DB": {"mystore": {"path": "/db", "fresh": true}}});
    assert!(validate_job_secrets(&[&MYSTORE], "deploy", &valid).is_empty());

    let wrong = json!({"DB": {"mystore": {"path": 1, "extra": "x"}}});
    assert_eq!(
        validate_job_secrets(&[&MYSTORE], "deploy", &wrong),
        [
            "jobs:deploy:secrets:db:mystore config contains unknown keys: extra",
            "jobs:deploy:secrets:db:mystore path should be a string",
        ],
    );

    let job = Job {
        secrets: Some(valid),
        ..Job::new("deploy")
    };
    let specs = job_secret_specs(&[&MYSTORE], &job).unwrap();
    assert_eq!(specs[0].provider, "mystore");
    assert_eq!(specs[0].block, json!({"path": "/db", "fresh": true}));
}

#[test]
fn extra_providers_are_listed_by_key_whatever_order_they_are_passed_in() {
    let none = json!({"DB": {"file": true}});
    let expected = [format!(
        "jobs:deploy:secrets:db config must use exactly one of these keys: {GITLAB_KEYS}, another, mystore"
    )];
    assert_eq!(
        validate_job_secrets(&[&MYSTORE, &ANOTHER], "deploy", &none),
        expected
    );
    assert_eq!(
        validate_job_secrets(&[&ANOTHER, &MYSTORE], "deploy", &none),
        expected
    );
}
