//! `CI_SECRETS_*` environment overrides, through the binary: they win over
//! the files, `ci-secrets config` names the variable as the origin, and a
//! bad one is an error that names the variable.

use crate::support;

use support::{Project, code, stderr, stdout};

/// `ci-secrets config --format json` as `key -> (value, origin)`.
fn effective_config(
    project: &Project,
    env: &[(&str, &str)],
) -> std::collections::BTreeMap<String, (serde_json::Value, String)> {
    let mut command = project.cli();
    command.args(["config", "--format", "json"]);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    entries
        .into_iter()
        .map(|entry| {
            (
                entry["key"].as_str().unwrap().to_string(),
                (
                    entry["value"].clone(),
                    entry["origin"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn environment_overrides_win_for_nested_and_top_level_keys_and_are_named_as_the_origin() {
    let project = Project::new();
    project.write(
        "ci-secrets.toml",
        "deadline_seconds = 30\n[http]\nmax_backoff_ms = 900\n",
    );
    let config = effective_config(
        &project,
        &[
            ("CI_SECRETS_HTTP__MAX_ATTEMPTS", "3"),
            ("CI_SECRETS_DEADLINE_SECONDS", "12.5"),
            // Lower case after the prefix sets the same keys.
            ("CI_SECRETS_http__max_concurrency", "2"),
            ("CI_SECRETS_PROVIDERS__VAULT__REVOKE_TOKEN", "true"),
            // Another tool's variable with our prefix is not ours: ignored.
            ("CI_SECRETS_PYTHON", "/usr/bin/python3"),
        ],
    );
    let expect = |key: &str, value: serde_json::Value, origin: &str| {
        let (shown, from) = config
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing: {config:?}"));
        assert_eq!(shown, &value, "{key}");
        assert_eq!(from, origin, "{key}");
    };
    expect(
        "http.max_attempts",
        serde_json::json!(3),
        "environment variable CI_SECRETS_HTTP__MAX_ATTEMPTS",
    );
    expect(
        "deadline_seconds",
        serde_json::json!(12.5),
        "environment variable CI_SECRETS_DEADLINE_SECONDS",
    );
    expect(
        "http.max_concurrency",
        serde_json::json!(2),
        "environment variable CI_SECRETS_http__max_concurrency",
    );
    expect(
        "providers.vault.revoke_token",
        serde_json::json!(true),
        "environment variable CI_SECRETS_PROVIDERS__VAULT__REVOKE_TOKEN",
    );
    // Untouched keys keep their file and default origins.
    let (backoff, from) = &config["http.max_backoff_ms"];
    assert_eq!(backoff, &serde_json::json!(900));
    assert!(from.ends_with("ci-secrets.toml"), "{from}");
    assert_eq!(config["http.initial_backoff_ms"].1, "defaults");
}

#[test]
fn the_text_report_names_the_environment_variable() {
    let project = Project::new();
    let output = project
        .cli()
        .arg("config")
        .env("CI_SECRETS_HTTP__MAX_ATTEMPTS", "4")
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines().any(|line| line
            == "http.max_attempts = 4    # environment variable CI_SECRETS_HTTP__MAX_ATTEMPTS"),
        "{text}"
    );
}

#[test]
fn a_bad_environment_override_is_an_error_naming_the_variable() {
    // Zero attempts is refused by the range check: the value from the
    // environment is the one in force, and the error names its variable.
    let project = Project::new();
    let output = project
        .cli()
        .args(["config"])
        .env("CI_SECRETS_HTTP__MAX_ATTEMPTS", "0")
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("http.max_attempts") && err.contains("CI_SECRETS_HTTP__MAX_ATTEMPTS"),
        "{err}"
    );

    let output = project
        .cli()
        .args(["config"])
        .env("CI_SECRETS_HTTP__MAX_ATEMPTS", "3")
        .output()
        .unwrap();
    assert_ne!(code(&output), 0, "a misspelt key is an error");
    let err = stderr(&output);
    assert!(
        err.contains("max_atempts") && err.contains("CI_SECRETS_HTTP__MAX_ATEMPTS"),
        "{err}"
    );
}
