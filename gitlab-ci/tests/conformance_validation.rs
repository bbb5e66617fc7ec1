//! Runs every vector of `tests/data/gitlab/gitlab-validation.yaml` (GitLab's own RSpec cases for
//! `secrets:` validation) against `validate_job_secrets`, and checks the ci-secrets extra rule on
//! secret names.

// Tests fail loudly on unexpected states; unwrapping is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ci_secrets_gitlab::pipeline::{Job, load_pipeline};
use ci_secrets_gitlab::validate::{
    INVALID_NAME_MESSAGE, ValidationContext, job_secret_specs, validate_job_secrets,
    validate_job_secrets_in,
};
use serde_json::Value;

/// Vectors this project does not follow, with the reason. Every other vector must pass.
const NOT_FOLLOWED: &[(&str, &str)] = &[];

fn vectors() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/gitlab/gitlab-validation.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let vectors: Value = serde_norway::from_str(&text).unwrap();
    vectors.as_array().unwrap().clone()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The messages GitLab's rules give for one vector, computed as the vector says: inside a whole
/// pipeline for `pipeline_yaml` vectors, with the project context when the vector has one.
fn messages_for(vector: &Value) -> Vec<String> {
    let context = ValidationContext {
        project_path: vector["context"]["project_full_path"]
            .as_str()
            .map(str::to_owned),
    };
    if let Some(pipeline_yaml) = vector.get("pipeline_yaml") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitlab-ci.yml");
        std::fs::write(&path, serde_norway::to_string(pipeline_yaml).unwrap()).unwrap();
        let pipeline = load_pipeline(&path).unwrap();
        let job = pipeline.job(vector["job"].as_str().unwrap()).unwrap();
        let secrets = job.secrets.as_ref().unwrap();
        assert_eq!(
            secrets, &vector["secrets"],
            "{}: loaded secrets differ",
            vector["id"]
        );
        return validate_job_secrets_in(&context, &[], &job.name, secrets);
    }
    validate_job_secrets_in(&context, &[], "deploy", &vector["secrets"])
}

#[test]
fn every_gitlab_validation_vector() {
    let vectors = vectors();
    assert!(vectors.len() >= 70, "the vector file looks truncated");
    let mut failures = Vec::new();
    for vector in &vectors {
        let id = vector["id"].as_str().unwrap();
        if NOT_FOLLOWED.iter().any(|(skipped, _)| *skipped == id) {
            continue;
        }
        let messages = messages_for(vector);
        let valid = vector["valid"].as_bool().unwrap();
        let expected = strings(&vector["errors"]);
        let ok = if valid {
            messages.is_empty()
        } else {
            match vector["errors_match"].as_str().unwrap_or("exact") {
                "include" => !messages.is_empty() && expected.iter().all(|e| messages.contains(e)),
                "exact" => messages == expected,
                other => panic!("{id}: unknown errors_match {other}"),
            }
        };
        if !ok {
            failures.push(format!(
                "{id}: valid={valid} expected {expected:?}, got {messages:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_vectors_give_one_spec_per_secret() {
    for vector in vectors()
        .iter()
        .filter(|v| v["valid"].as_bool() == Some(true))
    {
        if vector["context"].is_object() {
            continue; // needs the project context, covered above
        }
        let job = Job {
            secrets: Some(vector["secrets"].clone()),
            ..Job::new("deploy")
        };
        let specs = job_secret_specs(&[], &job).unwrap();
        let secrets = vector["secrets"].as_object().unwrap();
        assert_eq!(specs.len(), secrets.len(), "{}", vector["id"]);
        for (spec, (name, config)) in specs.iter().zip(secrets) {
            assert_eq!(&spec.variable, name);
            assert_eq!(spec.block, config[&spec.provider], "{}", vector["id"]);
            assert_eq!(
                spec.file,
                config.get("file").and_then(Value::as_bool).unwrap_or(true)
            );
            assert_eq!(
                spec.token.as_deref(),
                config.get("token").and_then(Value::as_str)
            );
        }
    }
}

#[test]
fn secret_names_must_be_environment_variable_names() {
    let secrets = serde_json::json!({
        "../../etc/passwd": {"akeyless": {"name": "/a"}},
        "1ST": {"akeyless": {"name": "/a"}},
        "GOOD_name_2": {"akeyless": {"name": "/a"}},
        "_ok": {"akeyless": {"name": "/a"}},
    });
    assert_eq!(
        validate_job_secrets(&[], "Deploy", &secrets),
        [
            format!("jobs:Deploy:secrets:../../etc/passwd {INVALID_NAME_MESSAGE}"),
            format!("jobs:Deploy:secrets:1ST {INVALID_NAME_MESSAGE}"),
        ]
    );
}

#[test]
fn gitlab_rules_beyond_the_vectors() {
    let check = |secrets: Value, expected: &[&str]| {
        assert_eq!(
            validate_job_secrets(&[], "Deploy", &secrets),
            expected,
            "{secrets}"
        );
    };
    check(
        serde_json::json!("x"),
        &["jobs:deploy:secrets config should be a hash"],
    );
    check(Value::Null, &[]);
    check(
        serde_json::json!({"A": {"akeyless": {"name": 1, "azure_object_id": true}}}),
        &[
            "jobs:deploy:secrets:a:akeyless name should be a string",
            "jobs:deploy:secrets:a:akeyless azure object should be a string",
        ],
    );
    check(
        serde_json::json!({"A": {"akeyless": "x"}}),
        &["jobs:deploy:secrets:a:akeyless config should be a hash"],
    );
    check(
        serde_json::json!({"A": {"akeyless": {}, "file": "yes", "token": 5}}),
        &["jobs:deploy:secrets:a token should be a string"],
    );
    check(
        serde_json::json!({"A": {"akeyless": {}, "file": "yes"}}),
        &["jobs:deploy:secrets:a:file config should be a boolean value"],
    );
    check(serde_json::json!({"A": {"akeyless": null}}), &[]);
    check(
        serde_json::json!({"A": null}),
        &[
            "jobs:deploy:secrets:a config must use exactly one of these keys: vault, azure_key_vault, gcp_secret_manager, akeyless, gitlab_secrets_manager, aws_secrets_manager",
        ],
    );
    check(
        serde_json::json!({"A": {"gcp_secret_manager": {"name": "n"}}}),
        &["jobs:deploy:secrets:a token is required with gcp secrets manager"],
    );
    check(
        serde_json::json!({"A": {"aws_secrets_manager": "id#f#g"}}),
        &["jobs:deploy:secrets:a:aws_secrets_manager config must contain at most one '#'"],
    );
    check(
        serde_json::json!({"A": {"vault": 5}}),
        &["jobs:Deploy:secrets:A:vault should be a hash or a string"],
    );
    check(
        serde_json::json!({"A": {"vault": ""}}),
        &["jobs:deploy:secrets:a:vault config can't be blank"],
    );
}
