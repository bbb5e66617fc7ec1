//! The CLI contract, end to end through the binary, with the `testkv`
//! provider registered from the test crate.

use crate::support;

use std::os::unix::fs::PermissionsExt;

use support::{Project, code, stderr, stdout};

const PIPELINE: &str = r#"
variables:
  STORE_KEY_PREFIX: app
.secrets-template:
  secrets:
    DB_PASSWORD:
      testkv: {key: "${STORE_KEY_PREFIX}/db"}
      file: false
deploy:
  extends: .secrets-template
  script: [echo]
  secrets:
    TLS_KEY:
      testkv: {key: app/tls}
"#;

fn project_with_store() -> Project {
    let project = Project::new();
    project.write(".gitlab-ci.yml", PIPELINE);
    let store = project.store(&[
        ("app/db", "p@ss 'w$rd\""),
        ("app/tls", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"),
    ]);
    project.use_store(&store);
    project
}

#[test]
fn providers_lists_a_provider_registered_from_another_crate() {
    let project = Project::new();
    let output = project
        .cli()
        .args(["providers", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    for expected in ["akeyless", "testkv", "vault"] {
        assert!(keys.contains(&expected), "{keys:?}");
    }
}

/// The README's example provider is a dependency of the e2e binary and one
/// line of its `link_providers!`: that is all it takes for `providers` to
/// list it and for a job to resolve through it.
#[test]
fn a_provider_crate_linked_by_one_line_is_listed_and_resolves() {
    let project = Project::new();
    let store = project.write("local.json", r#"{"db": "local-json-value"}"#);
    project.write(
        "ci-secrets.toml",
        &format!(
            "[providers.localjson]\nfile = {:?}\n",
            store.display().to_string()
        ),
    );
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    DB:\n      localjson: {key: db}\n      file: false\n",
    );
    let listed = project.cli().args(["providers"]).output().unwrap();
    assert!(
        stdout(&listed).contains("localjson: secrets from a local JSON file"),
        "{}",
        stdout(&listed)
    );
    let output = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"DB\":\"local-json-value\"}\n");
}

#[test]
fn resolve_json_prints_values_and_writes_nothing() {
    let project = project_with_store();
    let output = project
        .cli()
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let values: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(values["DB_PASSWORD"], "p@ss 'w$rd\"");
    assert_eq!(
        values["TLS_KEY"],
        "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    );
    assert!(
        stderr(&output).contains("2 secrets from 1 provider"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn resolve_shell_writes_file_secrets_privately_and_evals_cleanly() {
    let project = project_with_store();
    let files = project.path().join("secret-files");
    let output = project
        .cli()
        .args([
            "resolve",
            "--job",
            "deploy",
            "--format",
            "shell",
            "--files-dir",
        ])
        .arg(&files)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let script = format!(
        "{}\nprintf '%s|%s' \"$DB_PASSWORD\" \"$(cat \"$TLS_KEY\")\"",
        stdout(&output)
    );
    let evaluated = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(evaluated.stdout).unwrap(),
        "p@ss 'w$rd\"|-----BEGIN KEY-----\nabc\n-----END KEY-----"
    );
    let tls = files.join("TLS_KEY");
    assert_eq!(
        std::fs::read(&tls).unwrap(),
        b"-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    );
    assert_eq!(
        std::fs::metadata(&tls).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&files).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn a_missing_secret_fails_everything_with_exit_3_and_no_output() {
    let project = Project::new();
    project.write(".gitlab-ci.yml", "job:\n  script: [x]\n  secrets:\n    A:\n      testkv: {key: present}\n    B:\n      testkv: {key: absent}\n");
    let store = project.store(&[("present", "value-that-must-not-leak")]);
    let files = project.path().join("out");
    let output = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "dotenv", "--var"])
        .arg(format!("TESTKV_STORE={}", store.display()))
        .arg("--files-dir")
        .arg(&files)
        .output()
        .unwrap();
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    let err = stderr(&output);
    assert!(
        err.contains("B (testkv)") && err.contains("absent"),
        "{err}"
    );
    assert!(!err.contains("value-that-must-not-leak"));
    let leftovers = std::fs::read_dir(&files).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0);
}

#[test]
fn exec_passes_values_and_removes_files_and_returns_the_exit_status() {
    let project = project_with_store();
    let output = project
        .cli()
        .args(["exec", "--job", "deploy", "--", "sh", "-c"])
        .arg("test \"$DB_PASSWORD\" = \"p@ss 'w\\$rd\\\"\" || exit 9; test -f \"$TLS_KEY\" || exit 8; echo \"$TLS_KEY\"; exit 42")
        .output()
        .unwrap();
    assert_eq!(code(&output), 42, "{}", stderr(&output));
    let path = stdout(&output).trim().to_string();
    assert!(path.ends_with("/TLS_KEY"), "{path}");
    assert!(
        !std::path::Path::new(&path).exists(),
        "secret file left behind"
    );
    assert!(
        !std::path::Path::new(&path).parent().unwrap().exists(),
        "directory left behind"
    );
}

#[test]
fn exec_never_starts_the_command_when_resolution_fails() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    A:\n      testkv: {key: absent}\n",
    );
    let store = project.store(&[]);
    let marker = project.path().join("started");
    let output = project
        .cli()
        .args(["exec", "--job", "job", "--var"])
        .arg(format!("TESTKV_STORE={}", store.display()))
        .args(["--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(code(&output), 3);
    assert!(!marker.exists());
}

#[test]
fn validate_reports_gitlab_messages_and_exit_1() {
    let project = Project::new();
    project.write("ci/templates.yml", ".base:\n  secrets:\n    DATABASE_PASSWORD:\n      akeyless:\n        name: /prod/db\n        foo: bar\n");
    project.write(
        ".gitlab-ci.yml",
        "include:\n  - local: ci/templates.yml\ndeploy:\n  extends: .base\n  script: [x]\n",
    );
    let output = project
        .cli()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["errors"][0],
        "jobs:deploy:secrets:database_password:akeyless config contains unknown keys: foo"
    );
}

#[test]
fn a_gitlab_provider_that_is_not_built_in_validates_but_does_not_resolve() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    A:\n      azure_key_vault: {name: db}\n",
    );
    let output = project.cli().args(["validate"]).output().unwrap();
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let output = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("no provider for azure_key_vault is built into this binary"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unset_id_token_suggests_var() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  id_tokens:\n    MY_JWT:\n      aud: https://example.com\n  secrets:\n    A:\n      testkv: {key: x}\n      token: $MY_JWT\n",
    );
    let output = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("--var MY_JWT="),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_deadline_ends_a_slow_resolution_with_exit_3() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    A:\n      testkv: {key: x, delay_ms: \"30000\"}\n",
    );
    let store = project.store(&[("x", "v")]);
    let finish_log = project.path().join("finish.log");
    project.write(
        "ci-secrets.toml",
        &format!(
            "[providers.testkv]\nfinish_log = {:?}\n",
            finish_log.display().to_string()
        ),
    );
    let started = std::time::Instant::now();
    let output = project
        .cli()
        .args([
            "resolve",
            "--job",
            "job",
            "--format",
            "json",
            "--deadline",
            "0.3",
            "--var",
        ])
        .arg(format!("TESTKV_STORE={}", store.display()))
        .output()
        .unwrap();
    assert_eq!(code(&output), 3);
    assert!(stderr(&output).contains("deadline"), "{}", stderr(&output));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // The resolution was abandoned at the deadline, yet the run was ended
    // once, so a provider could still release what it had acquired.
    assert_eq!(
        std::fs::read_to_string(&finish_log).unwrap(),
        "finish job\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let project = Project::new();
    let output = project
        .cli()
        .args(["resolve", "--job", "x", "--var", "NOEQUALS"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let output = project.cli().args(["frobnicate"]).output().unwrap();
    assert_eq!(code(&output), 2);
}

#[test]
fn bad_config_names_the_file_and_key_and_exits_1() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    A:\n      testkv: {key: x}\n",
    );
    project.write("ci-secrets.toml", "[http]\nmax_atempts = 3\n");
    let output = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert!(
        err.contains("max_atempts") && err.contains("ci-secrets.toml"),
        "{err}"
    );
}

#[test]
fn secrets_file_form_resolves_without_a_pipeline() {
    let project = Project::new();
    let store = project.store(&[("k", "from-secrets-file")]);
    project.write("secrets.yml", &format!("variables:\n  TESTKV_STORE: {:?}\nsecrets:\n  A:\n    testkv: {{key: k}}\n    file: false\n", store.display().to_string()));
    let output = project
        .cli()
        .args(["resolve", "--secrets", "secrets.yml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&output)).unwrap()["A"],
        "from-secrets-file"
    );
}

#[test]
fn a_registered_provider_is_validated_against_its_own_schema() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    A:\n      testkv: {key: x, foo: 1}\n    B:\n      testkv: {key: 5}\n    C:\n      testkv: just-a-string\n",
    );
    let output = project
        .cli()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        report["errors"],
        serde_json::json!([
            "jobs:job:secrets:a:testkv config contains unknown keys: foo",
            "jobs:job:secrets:b:testkv key should be a string",
            "jobs:job:secrets:c:testkv config should be a hash",
        ])
    );
}

/// Issue 17: completion scripts for each shell and the manual page come from
/// the command-line definition: every subcommand and the newest flags are in
/// them, bash's script parses and completes, and groff renders the page.
#[test]
fn completions_and_the_manual_page_are_generated() {
    let project = Project::new();
    let run = |args: &[&str]| {
        let output = project.cli().args(args).output().unwrap();
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run(&["completions", shell]);
        for word in [
            "resolve",
            "exec",
            "validate",
            "migrate",
            "gitlab-url",
            "offline",
        ] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let bash = project.write("ci-secrets.bash", &run(&["completions", "bash"]));
    let completed = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(ci-secrets val); COMP_CWORD=1; _ci__secrets ci-secrets val ci-secrets; echo \"${{COMPREPLY[@]}}\"",
            bash.display()
        ))
        .output()
        .unwrap();
    assert!(completed.status.success(), "{}", stderr(&completed));
    assert_eq!(stdout(&completed).trim(), "validate");

    let page = run(&["man"]);
    assert!(page.contains(".TH ci-secrets 1"), "{page}");
    let rendered = std::process::Command::new("groff")
        .args(["-man", "-Tutf8"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(page.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(rendered.status.success());
    let text = String::from_utf8_lossy(&rendered.stdout).replace("\u{8}", "");
    for word in ["resolve", "completions", "GitLab"] {
        assert!(text.contains(word), "the page lacks {word}");
    }
}
