//! `ci-secrets migrate` through the binary: `--check` and its exit status,
//! the files written, and the round trip: every job's secrets, resolved
//! against the Akeyless emulator (and the `testkv` store, standing in for a
//! provider GitLab still runs), are the same from the old pipeline as from
//! the new pipeline plus its secrets file; the rewritten script line runs
//! the old script under `ci-secrets exec`.

use std::process::{Command, Output};

use ci_secrets_gitlab::pipeline::load_pipeline;
use serde_json::{Map, Value};

use crate::akeyless_support::{Harness, demo_jwt};
use crate::support::{Project, code, e2e_bin, stderr, stdout};

const TEMPLATES: &str = "\
# Akeyless, for every job that extends it.
.akeyless:
  variables:
    AKEYLESS_ACCESS_ID: p-demojwtauth1
  id_tokens:
    AKEYLESS_JWT:
      aud: https://akeyless.example
  secrets:
    DATABASE_PASSWORD:
      token: $AKEYLESS_JWT
      akeyless:
        name: /demo/static/password
        akeyless_api_url: $AKEYLESS_EMULATOR_URL
        akeyless_access_type: jwt
      file: false
";

const PIPELINE: &str = r#"# The shop's pipeline.
include:
  - local: ci/templates.yml

variables:
  APP: shop   # the application

stages: [build, deploy]

build:
  stage: build
  extends: .akeyless
  secrets:
    # Stays in the pipeline: GitLab still resolves it.
    REGISTRY_TOKEN:
      testkv: {key: registry}
      file: false
  script:
    - test "$REGISTRY_TOKEN" = registry-token
    - echo "built $APP"

deploy:
  stage: deploy
  extends: .akeyless
  script:
    - test "$DATABASE_PASSWORD" = demo-password-v2
    - echo "deployed $APP, it's done"

migrate-db:
  stage: deploy
  variables:
    AKEYLESS_ACCESS_ID: p-demojwtauth1
  id_tokens:
    AKEYLESS_JWT: {aud: https://akeyless.example}
  secrets:
    DB_JSON:
      akeyless: {name: /demo/static/db, akeyless_api_url: $AKEYLESS_EMULATOR_URL, akeyless_access_type: jwt}
      token: $AKEYLESS_JWT
      file: false
  script:
    - echo first
    - "false"
    - echo never
"#;

const JOBS: [&str; 3] = ["build", "deploy", "migrate-db"];

fn project(harness: &Harness) -> Project {
    let project = Project::new();
    let store = project.store(&[("registry", "registry-token")]);
    project.write(
        "ci-secrets.toml",
        &format!(
            "[providers.testkv]\nstore = {:?}\n\n[providers.akeyless]\napi_url = {:?}\n",
            store.display().to_string(),
            harness.url()
        ),
    );
    project.write("ci/templates.yml", TEMPLATES);
    project.write(".gitlab-ci.yml", PIPELINE);
    project
}

fn migrate(project: &Project, extra: &[&str]) -> Output {
    project
        .cli()
        .args(["migrate", "--project-dir", "."])
        .args(extra)
        .output()
        .unwrap()
}

/// What the environment of a job holds in GitLab, for the provider blocks:
/// the emulator's address and the ID token (a CI/CD variable and GitLab's
/// `id_tokens:`), as `--var`s.
fn runner_vars(harness: &Harness) -> Vec<String> {
    vec![
        "--var".to_owned(),
        harness.url_var(),
        "--var".to_owned(),
        format!("AKEYLESS_JWT={}", demo_jwt()),
    ]
}

fn resolve_json(project: &Project, args: &[String]) -> Map<String, Value> {
    let output = project
        .cli()
        .args(["resolve", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "resolve {args:?}: {}", stderr(&output));
    match serde_json::from_str(&stdout(&output)).unwrap() {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The secrets of `job` from the pipeline as it is now.
fn resolve_job(project: &Project, harness: &Harness, job: &str) -> Map<String, Value> {
    let mut args = vec![
        "--ci-file".to_owned(),
        ".gitlab-ci.yml".to_owned(),
        "--job".to_owned(),
        job.to_owned(),
    ];
    args.extend(runner_vars(harness));
    resolve_json(project, &args)
}

/// The file a job reads after the migration, from `migrate --format json`.
fn secrets_file_of(report: &Value, job: &str) -> String {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["job"] == job)
        .unwrap_or_else(|| panic!("{job} not migrated: {report}"))["secrets_file"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn check_exits_1_writes_nothing_and_names_the_jobs_and_files() {
    let harness = Harness::demo();
    let project = project(&harness);
    let output = migrate(&project, &["--check"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report = stdout(&output);
    for expected in [
        "job build: DATABASE_PASSWORD -> ci/secrets/build.yml",
        "stays for GitLab: REGISTRY_TOKEN",
        "job deploy: DATABASE_PASSWORD -> ci/secrets/build.yml",
        "job migrate-db: DB_JSON -> ci/secrets/migrate-db.yml",
        "would edit .gitlab-ci.yml",
        "would edit ci/templates.yml",
        "would write ci/secrets/build.yml",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from\n{report}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(project.path().join(".gitlab-ci.yml")).unwrap(),
        PIPELINE
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join("ci/templates.yml")).unwrap(),
        TEMPLATES
    );
    assert!(!project.path().join("ci/secrets").exists());
}

#[test]
fn nothing_to_migrate_exits_0_with_check_and_without() {
    let project = Project::new();
    let pipeline = "job:\n  secrets:\n    A: {testkv: {key: a}}\n  script: [x]\n";
    project.write(".gitlab-ci.yml", pipeline);
    for extra in [&["--check"][..], &[]] {
        let output = migrate(&project, extra);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert_eq!(stdout(&output), "nothing to migrate\n");
    }
    assert_eq!(
        std::fs::read_to_string(project.path().join(".gitlab-ci.yml")).unwrap(),
        pipeline
    );
    assert!(!project.path().join("ci").exists());
}

#[test]
fn a_refusal_names_the_file_line_and_job_and_writes_nothing() {
    let project = Project::new();
    let pipeline = "\
.deploy:
  script: [./deploy.sh]
deploy-prod:
  extends: .deploy
  secrets:
    KEY: {akeyless: {name: /prod}}
deploy-dev:
  extends: .deploy
";
    project.write(".gitlab-ci.yml", pipeline);
    let output = migrate(&project, &[]);
    assert_eq!(code(&output), 1);
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert!(
        message.contains(".gitlab-ci.yml:2: job `deploy-prod`: takes its `script:` from `.deploy`, and so does job `deploy-dev`"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join(".gitlab-ci.yml")).unwrap(),
        pipeline
    );
    assert!(!project.path().join("ci").exists());
}

#[test]
fn the_migrated_pipeline_gives_every_job_the_same_secrets_and_runs_its_script_under_exec() {
    let harness = Harness::demo();
    let project = project(&harness);
    let before: Vec<Map<String, Value>> = JOBS
        .iter()
        .map(|job| resolve_job(&project, &harness, job))
        .collect();
    assert_eq!(before[1]["DATABASE_PASSWORD"], "demo-password-v2");

    let output = migrate(&project, &["--format", "json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["written"], true, "{report}");
    // Same block from the same template: one file.
    assert_eq!(
        secrets_file_of(&report, "build"),
        secrets_file_of(&report, "deploy")
    );

    // GitLab 18.3 accepts it: no `akeyless:` under any `secrets:`, and
    // `validate` passes; a second run finds nothing.
    let new_pipeline = std::fs::read_to_string(project.path().join(".gitlab-ci.yml")).unwrap();
    let new_templates = std::fs::read_to_string(project.path().join("ci/templates.yml")).unwrap();
    let provider_key = |text: &str| {
        text.lines()
            .any(|line| line.trim_start().starts_with("akeyless:") || line.contains("{akeyless:"))
    };
    assert!(provider_key(PIPELINE) && provider_key(TEMPLATES));
    assert!(
        !provider_key(&new_pipeline) && !provider_key(&new_templates),
        "{new_pipeline}\n{new_templates}"
    );
    let validate = project.cli().args(["validate"]).output().unwrap();
    assert_eq!(code(&validate), 0, "{}", stderr(&validate));
    let again = migrate(&project, &["--check"]);
    assert_eq!(
        (code(&again), stdout(&again).as_str()),
        (0, "nothing to migrate\n")
    );
    // Around the edits, the text is unchanged: the comments, the global keys.
    assert!(new_pipeline.starts_with(
        "# The shop's pipeline.\ninclude:\n  - local: ci/templates.yml\n\nvariables:\n  APP: shop   # the application\n"
    ));
    assert!(
        new_pipeline.contains(
            "    # Stays in the pipeline: GitLab still resolves it.\n    REGISTRY_TOKEN:\n"
        )
    );

    let loaded = load_pipeline(&project.path().join(".gitlab-ci.yml")).unwrap();
    for (job, before) in JOBS.iter().zip(&before) {
        let file = secrets_file_of(&report, job);
        // The runner exports the job's variables (here the access id the
        // template sets) to the script, where `exec` expands the file with them.
        let mut args = vec![
            "--secrets".to_owned(),
            file.clone(),
            "--var".to_owned(),
            "AKEYLESS_ACCESS_ID=p-demojwtauth1".to_owned(),
        ];
        args.extend(runner_vars(&harness));
        let mut after = resolve_json(&project, &args);
        let stays = loaded.job(job).unwrap().secrets.is_some();
        if stays {
            after.extend(resolve_job(&project, &harness, job));
        }
        assert_eq!(&after, before, "job {job}");
    }

    // The rewritten line, run by a shell as GitLab Runner would, with
    // `ci-secrets` on the PATH and the job's environment.
    let bin_dir = project.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ci-secrets-e2e"),
        bin_dir.join("ci-secrets"),
    )
    .unwrap();
    let run_script = |job: &str| {
        let script = loaded.job(job).unwrap().script.clone().unwrap();
        let [Value::String(line)] = script.as_array().unwrap().as_slice() else {
            panic!("{job}: one line expected, got {script}");
        };
        assert!(
            line.starts_with("ci-secrets exec --secrets ci/secrets/"),
            "{line}"
        );
        let mut command = Command::new("sh");
        crate::support::isolate(&mut command);
        command
            .arg("-c")
            .arg(line)
            .current_dir(project.path())
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .env("AKEYLESS_EMULATOR_URL", harness.url())
            .env("AKEYLESS_JWT", demo_jwt())
            .env("AKEYLESS_ACCESS_ID", "p-demojwtauth1")
            .env("APP", "shop");
        command.output().unwrap()
    };
    let deployed = run_script("deploy");
    assert_eq!(code(&deployed), 0, "{}", stderr(&deployed));
    assert_eq!(stdout(&deployed), "deployed shop, it's done\n");
    // Lines run in one shell that stops at the first failure, as in GitLab.
    let stopped = run_script("migrate-db");
    assert_ne!(code(&stopped), 0);
    assert_eq!(stdout(&stopped), "first\n");
}

#[test]
fn shell_style_loads_the_variables_in_the_jobs_shell() {
    let harness = Harness::demo();
    let project = project(&harness);
    let output = migrate(&project, &["--style", "shell"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let loaded = load_pipeline(&project.path().join(".gitlab-ci.yml")).unwrap();
    let script = loaded.job("deploy").unwrap().script.clone().unwrap();
    let lines: Vec<&str> = script
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "eval \"$(ci-secrets resolve --secrets ci/secrets/build.yml --format shell || echo exit 1)\"",
            "test \"$DATABASE_PASSWORD\" = demo-password-v2",
            "echo \"deployed $APP, it's done\"",
        ]
    );
    let bin_dir = project.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ci-secrets-e2e"),
        bin_dir.join("ci-secrets"),
    )
    .unwrap();
    let run = |lines: &[&str]| {
        let mut command = Command::new("sh");
        crate::support::isolate(&mut command);
        command
            .arg("-ec")
            .arg(lines.join("\n"))
            .current_dir(project.path())
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .env("AKEYLESS_EMULATOR_URL", harness.url())
            .env("AKEYLESS_ACCESS_ID", "p-demojwtauth1")
            .env("APP", "shop");
        command
    };
    let ran = run(&lines)
        .env("AKEYLESS_JWT", demo_jwt())
        .output()
        .unwrap();
    assert_eq!(code(&ran), 0, "{}", stderr(&ran));
    assert_eq!(stdout(&ran), "deployed shop, it's done\n");
    // Without the ID token, resolve fails and so does the job, before its lines.
    let failed = run(&lines).output().unwrap();
    assert_ne!(code(&failed), 0);
    assert!(stdout(&failed).is_empty(), "{}", stdout(&failed));
}

#[test]
fn the_flags_are_in_help() {
    let output = e2e_bin().args(["migrate", "--help"]).output().unwrap();
    assert_eq!(code(&output), 0);
    for flag in [
        "--check",
        "--out-dir",
        "--provider",
        "--style",
        "--shell",
        "--command",
        "--show",
    ] {
        assert!(stdout(&output).contains(flag), "{flag}");
    }
}
