//! Real pipelines as GitLab reads them (issue 15), through the binary:
//! the variables a job's secrets expand with are the ones GitLab gives the
//! job.

mod rules;

use crate::support::{Project, code, stderr, stdout};

/// Resolves job `job` of `pipeline` against a testkv store of `entries`,
/// as JSON.
fn resolve(pipeline: &str, entries: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let project = Project::new();
    project.write(".gitlab-ci.yml", pipeline);
    let store = project.store(entries);
    project.use_store(&store);
    project.resolve_job_json(extra)
}

/// Issue 15: a job variable that refers to a variable the same job
/// overrides gets the job's value (GitLab assembles the job's variables,
/// later definitions winning, then expands), whatever the order in which
/// the two are written.
#[test]
fn a_secret_path_expands_with_the_jobs_own_override_in_either_order() {
    for job_variables in [
        "    URL: $BASE/api\n    BASE: https://job.example\n",
        "    BASE: https://job.example\n    URL: $BASE/api\n",
    ] {
        let pipeline = format!(
            "variables:\n  BASE: https://global.example\njob:\n  script: [x]\n  variables:\n{job_variables}  secrets:\n    TOKEN:\n      testkv: {{key: $URL}}\n      file: false\n"
        );
        let output = resolve(
            &pipeline,
            &[
                ("https://job.example/api", "job-value"),
                ("https://global.example/api", "global-value"),
            ],
            &[],
        );
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert_eq!(
            stdout(&output),
            "{\"TOKEN\":\"job-value\"}\n",
            "{job_variables}"
        );
    }
}

/// `--var` (a CI/CD variable) wins over both, also inside references.
#[test]
fn a_cli_variable_wins_inside_pipeline_references() {
    let pipeline = "variables:\n  BASE: https://global.example\n  URL: $BASE/api\njob:\n  script: [x]\n  secrets:\n    TOKEN:\n      testkv: {key: $URL}\n      file: false\n";
    let output = resolve(
        pipeline,
        &[
            ("https://cli.example/api", "cli-value"),
            ("https://global.example/api", "global-value"),
        ],
        &["--var", "BASE=https://cli.example"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"cli-value\"}\n");
}

/// A project whose pipeline file is `ci/pipeline.yml` and whose secrets
/// come from `.gitlab/ci/get-secrets.yml`, a local include written from
/// the repository root as GitLab reads it.
fn project_with_pipeline_in_a_folder(git: bool) -> Project {
    let project = Project::new();
    if git {
        std::fs::create_dir(project.path().join(".git")).unwrap();
    }
    std::fs::create_dir_all(project.path().join("ci")).unwrap();
    std::fs::create_dir_all(project.path().join(".gitlab/ci")).unwrap();
    project.write(
        "ci/pipeline.yml",
        "include:\n  - local: .gitlab/ci/get-secrets.yml\njob:\n  extends: .secrets\n  script: [x]\n",
    );
    project.write(
        ".gitlab/ci/get-secrets.yml",
        ".secrets:\n  secrets:\n    TOKEN:\n      testkv: {key: token}\n      file: false\n",
    );
    let store = project.store(&[("token", "from-the-include")]);
    project.use_store(&store);
    project
}

/// Issue 15: with `--ci-file ci/pipeline.yml`, local includes resolve
/// from the repository root (the git top level), not the file's folder.
#[test]
fn local_includes_of_a_pipeline_in_a_folder_resolve_from_the_repository_root() {
    let project = project_with_pipeline_in_a_folder(true);
    for command in [
        &["resolve", "--format", "json"][..],
        &["validate"][..],
        &["plan"][..],
    ] {
        let output = project
            .cli()
            .args(command)
            .args(["--ci-file", "ci/pipeline.yml", "--job", "job"])
            .output()
            .unwrap();
        assert_eq!(code(&output), 0, "{command:?}: {}", stderr(&output));
        if command[0] == "resolve" {
            assert_eq!(stdout(&output), "{\"TOKEN\":\"from-the-include\"}\n");
        }
    }
}

/// Outside a git repository the root is the file's folder, and
/// `--project-dir` names it.
#[test]
fn project_dir_names_the_root_outside_a_repository() {
    let project = project_with_pipeline_in_a_folder(false);
    let without = project
        .cli()
        .args(["validate", "--ci-file", "ci/pipeline.yml"])
        .output()
        .unwrap();
    assert_eq!(code(&without), 1, "{}", stderr(&without));
    assert!(
        stdout(&without).contains(".gitlab/ci/get-secrets.yml"),
        "{}",
        stdout(&without)
    );
    let with = project.resolve_job_json(&["--ci-file", "ci/pipeline.yml", "--project-dir", "."]);
    assert_eq!(code(&with), 0, "{}", stderr(&with));
    assert_eq!(stdout(&with), "{\"TOKEN\":\"from-the-include\"}\n");
}

/// Issue 15: outside a job, a variable a secret's path refers to may be
/// unset (`${VAULT_SECRETS_PATH}` here). The path then reads another
/// secret; every command says so, naming the variable and the secret, and
/// `--strict` refuses it.
#[test]
fn an_unset_variable_in_a_secret_path_is_named_by_every_command_and_refused_by_strict() {
    let pipeline = "job:\n  script: [x]\n  secrets:\n    TOKEN:\n      testkv: {key: \"access_tokens/${VAULT_SECRETS_PATH}/semantic-release\"}\n      file: false\n";
    let project = Project::new();
    project.write(".gitlab-ci.yml", pipeline);
    let store = project.store(&[("access_tokens//semantic-release", "another-secret")]);
    project.use_store(&store);
    let run = |args: &[&str]| {
        let (command, rest) = args.split_first().unwrap();
        project
            .cli()
            .args([command, "--job", "job"])
            .args(rest)
            .output()
            .unwrap()
    };
    let warned =
        |text: &str| text.contains("secret TOKEN refers to $VAULT_SECRETS_PATH, which is not set");

    let resolved = run(&["resolve", "--format", "json"]);
    assert_eq!(code(&resolved), 0, "{}", stderr(&resolved));
    assert!(warned(&stderr(&resolved)), "{}", stderr(&resolved));

    let executed = run(&["exec", "--", "true"]);
    assert_eq!(code(&executed), 0, "{}", stderr(&executed));
    assert!(warned(&stderr(&executed)), "{}", stderr(&executed));

    let planned = run(&["plan"]);
    assert_eq!(code(&planned), 0, "{}", stderr(&planned));
    assert!(warned(&stdout(&planned)), "{}", stdout(&planned));
    let planned_json = run(&["plan", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&planned_json)).unwrap();
    assert!(warned(report["warnings"][0].as_str().unwrap()), "{report}");

    let strict = run(&["resolve", "--format", "json", "--strict"]);
    assert_eq!(code(&strict), 1, "{}", stderr(&strict));
    assert!(stdout(&strict).is_empty(), "{}", stdout(&strict));
    assert!(
        stderr(&strict).contains(
            "secret TOKEN: the block refers to $VAULT_SECRETS_PATH, which is not set (--strict)"
        ),
        "{}",
        stderr(&strict)
    );
    let strict_plan = run(&["plan", "--strict"]);
    assert_eq!(code(&strict_plan), 1, "{}", stdout(&strict_plan));

    // Set, nothing is said.
    let set = run(&[
        "resolve",
        "--format",
        "json",
        "--var",
        "VAULT_SECRETS_PATH=x",
    ]);
    assert!(!stderr(&set).contains("not set"), "{}", stderr(&set));
}

/// Issue 15: an explicit `token:` that refers to an unset ID token is a
/// problem `plan --format json` reports in the plan it prints (exit 1), as
/// it does for an implicit one; `resolve` still stops at it, naming it.
#[test]
fn plan_prints_the_whole_job_when_an_explicit_token_is_not_set() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  id_tokens:\n    VAULT_ID_TOKEN:\n      aud: https://vault.example\n  secrets:\n    DB:\n      vault: app/db@kv\n      token: $VAULT_ID_TOKEN\n",
    );
    let planned = project
        .cli()
        .args(["plan", "--job", "job", "--format", "json"])
        .args(["--var", "VAULT_SERVER_URL=https://vault.example"])
        .output()
        .unwrap();
    assert_eq!(code(&planned), 1, "{}", stderr(&planned));
    let report: serde_json::Value = serde_json::from_str(&stdout(&planned)).unwrap();
    assert_eq!(report["secrets"][0]["variable"], "DB", "{report}");
    let problems = report["problems"].to_string();
    assert!(
        problems
            .contains("token: refers to $VAULT_ID_TOKEN, an id_tokens: variable that is not set"),
        "{report}"
    );
    let resolved = project.resolve_job_json(&["--var", "VAULT_SERVER_URL=https://vault.example"]);
    assert_eq!(code(&resolved), 1, "{}", stderr(&resolved));
    assert!(stdout(&resolved).is_empty());
    assert!(
        stderr(&resolved).contains("--var VAULT_ID_TOKEN=<jwt>"),
        "{}",
        stderr(&resolved)
    );
}

/// Issue 15: a local include with GitLab's wildcards (`*` in one folder,
/// `**` across folders) includes every matching file, in path order.
#[test]
fn wildcard_local_includes_include_every_matching_file() {
    let project = Project::new();
    std::fs::create_dir_all(project.path().join("ci/sub")).unwrap();
    project.write(
        "ci/a.yml",
        ".a:\n  secrets:\n    A:\n      testkv: {key: a}\n      file: false\n",
    );
    project.write(
        "ci/b.yml",
        ".b:\n  secrets:\n    B:\n      testkv: {key: b}\n      file: false\n",
    );
    project.write(
        "ci/sub/c.yml",
        ".c:\n  secrets:\n    C:\n      testkv: {key: c}\n      file: false\n",
    );
    let store = project.store(&[("a", "va"), ("b", "vb"), ("c", "vc")]);
    project.use_store(&store);
    let resolve = |include: &str, extends: &str| {
        project.write(
            ".gitlab-ci.yml",
            &format!("include: '{include}'\njob:\n  extends: [{extends}]\n  script: [x]\n"),
        );
        project.resolve_job_json(&[])
    };
    let one_folder = resolve("ci/*.yml", ".a, .b");
    assert_eq!(code(&one_folder), 0, "{}", stderr(&one_folder));
    assert_eq!(stdout(&one_folder), "{\"A\":\"va\",\"B\":\"vb\"}\n");
    // `*` does not cross into ci/sub: .c is not defined.
    let not_across = resolve("/ci/*.yml", ".c");
    assert_eq!(code(&not_across), 1, "{}", stderr(&not_across));
    let across = resolve("ci/**.yml", ".a, .c");
    assert_eq!(code(&across), 0, "{}", stderr(&across));
    assert_eq!(stdout(&across), "{\"A\":\"va\",\"C\":\"vc\"}\n");
}

/// Issue 15: `$VARIABLES` in a local include path expand with the CI/CD
/// variables (`--var`, the environment), as GitLab Rails expands them, and
/// never with the pipeline's own `variables:`.
#[test]
fn include_paths_expand_with_ci_cd_variables() {
    let project = Project::new();
    std::fs::create_dir_all(project.path().join("ci/prod")).unwrap();
    project.write(
        "ci/prod/secrets.yml",
        ".secrets:\n  secrets:\n    TOKEN:\n      testkv: {key: token}\n      file: false\n",
    );
    project.write(
        ".gitlab-ci.yml",
        "variables:\n  STAGE_DIR: prod\ninclude:\n  - local: ci/$STAGE_DIR/secrets.yml\njob:\n  extends: .secrets\n  script: [x]\n",
    );
    let store = project.store(&[("token", "prod-token")]);
    project.use_store(&store);
    let with_var = project
        .cli()
        .args([
            "resolve",
            "--job",
            "job",
            "--format",
            "json",
            "--var",
            "STAGE_DIR=prod",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&with_var), 0, "{}", stderr(&with_var));
    assert_eq!(stdout(&with_var), "{\"TOKEN\":\"prod-token\"}\n");
    // The pipeline's own `STAGE_DIR` does not count: the path expands to ci//secrets.yml.
    let without = project.resolve_job_json(&[]);
    assert_eq!(code(&without), 1, "{}", stderr(&without));
    assert!(
        stderr(&without).contains("Local file `ci//secrets.yml` does not exist!"),
        "{}",
        stderr(&without)
    );
    let validated = project
        .cli()
        .args(["validate"])
        .env("STAGE_DIR", "prod")
        .output()
        .unwrap();
    assert_eq!(code(&validated), 0, "{}", stdout(&validated));
}

/// Issue 15: GitLab reads YAML 1.1, where a plain `yes`/`no`/`on`/`off`
/// (any case) is a boolean: `file: no`, `expand: No`, `inherit: variables:
/// OFF` are accepted, and a variable `ROLE: on` is `true`. Quoted, they stay
/// text.
#[test]
fn yaml_1_1_booleans_are_read_as_gitlab_reads_them() {
    let pipeline = "variables:\n  GLOBAL_ONLY: global\n  ROLE: on\n  QUOTED: 'on'\njob:\n  script: [x]\n  inherit:\n    variables: OFF\n  variables:\n    ROLE: on\n    QUOTED: 'on'\n    RAW:\n      value: $ROLE\n      expand: No\n  secrets:\n    BY_ROLE:\n      testkv: {key: \"role-$ROLE\"}\n      file: no\n    BY_QUOTED:\n      testkv: {key: \"quoted-$QUOTED\"}\n      file: no\n    BY_RAW:\n      testkv: {key: \"raw-$RAW\"}\n      file: no\n    BY_GLOBAL:\n      testkv: {key: \"global-$GLOBAL_ONLY\"}\n      file: no\n";
    let output = resolve(
        pipeline,
        &[
            ("role-true", "from-a-boolean"),
            ("quoted-on", "from-a-string"),
            ("raw-$ROLE", "not-expanded"),
            ("global-", "not-inherited"),
        ],
        &[],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "{\"BY_ROLE\":\"from-a-boolean\",\"BY_QUOTED\":\"from-a-string\",\"BY_RAW\":\"not-expanded\",\"BY_GLOBAL\":\"not-inherited\"}\n"
    );
}

/// GitLab reads YAML 1.1 integers too: a plain `010` is 8 (octal), `1_000`
/// is 1000 and `1:30` is 90 (base 60), and the job gets the decimal text;
/// found by the gitlab-ci-local differential corpus (`merge_corpus`).
#[test]
fn yaml_1_1_integers_are_read_as_gitlab_reads_them() {
    let pipeline = "job:\n  script: [x]\n  variables:\n    OCTAL: 010\n    GROUPED: 1_000\n    SIXTY: 1:30\n    QUOTED: '010'\n  secrets:\n    VALUE:\n      testkv: {key: \"$OCTAL-$GROUPED-$SIXTY-$QUOTED\"}\n      file: no\n";
    let output = resolve(pipeline, &[("8-1000-90-010", "as-psych-reads-it")], &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"VALUE\":\"as-psych-reads-it\"}\n");
}

/// Runs git in `dir`, failing the test when it fails.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=ci-secrets",
            "-c",
            "user.email=ci@example.invalid",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    stdout(&output).trim().to_owned()
}

/// Issue 15: outside a job, GitLab's predefined variables a secret path
/// refers to are derived from the repository as GitLab defines them
/// (project from the `origin` remote, branch, its slug, commit, job), and
/// `--var` overrides each.
#[test]
fn predefined_variables_come_from_the_repository_outside_a_job() {
    let project = Project::new();
    let dir = project.path();
    git(dir, &["init", "-q", "-b", "feature/Add_Login"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            "git@gitlab.example.com:group/app.git",
        ],
    );
    project.write(
        ".gitlab-ci.yml",
        "deploy:\n  stage: release\n  script: [x]\n  secrets:\n    TOKEN:\n      testkv: {key: \"$CI_PROJECT_PATH/$CI_COMMIT_REF_SLUG/$CI_JOB_NAME/$CI_JOB_STAGE\"}\n      file: false\n    SHA:\n      testkv: {key: \"sha-$CI_COMMIT_SHORT_SHA\"}\n      file: false\n    SERVER:\n      testkv: {key: \"$CI_PIPELINE_SOURCE:$CI_SERVER_PROTOCOL://$CI_SERVER_FQDN:$CI_SERVER_PORT/$CI_PROJECT_ROOT_NAMESPACE/$CI_PROJECT_PATH_SLUG $CI_PROJECT_URL\"}\n      file: false\n",
    );
    git(dir, &["add", ".gitlab-ci.yml"]);
    git(dir, &["commit", "-q", "-m", "pipeline"]);
    let sha = git(dir, &["rev-parse", "HEAD"]);
    let short = format!("sha-{}", &sha[..8]);
    let store = project.store(&[
        ("group/app/feature-add-login/deploy/release", "derived"),
        ("other/x/feature-add-login/deploy/release", "overridden"),
        (&short, "by-commit"),
        (
            "push:https://gitlab.example.com:443/group/group-app https://gitlab.example.com/group/app",
            "server",
        ),
    ]);
    project.use_store(&store);
    let run = |extra: &[&str]| {
        project
            .cli()
            .args(["resolve", "--job", "deploy", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let derived = run(&[]);
    assert_eq!(code(&derived), 0, "{}", stderr(&derived));
    assert_eq!(
        stdout(&derived),
        "{\"TOKEN\":\"derived\",\"SHA\":\"by-commit\",\"SERVER\":\"server\"}\n"
    );
    assert!(
        !stderr(&derived).contains("not set"),
        "{}",
        stderr(&derived)
    );
    let overridden = run(&["--var", "CI_PROJECT_PATH=other/x"]);
    assert_eq!(code(&overridden), 0, "{}", stderr(&overridden));
    assert!(stdout(&overridden).contains("\"TOKEN\":\"overridden\""));
}

/// A test GitLab instance serving a private project's file that holds the
/// job's `secrets:`, on a runtime of its own (the binary runs blocking).
fn gitlab_with_secrets_project() -> (
    tokio::runtime::Runtime,
    ci_secrets_test_support::gitlab_api::FakeGitLab,
) {
    use ci_secrets_test_support::gitlab_api::{FakeGitLab, GitLabContent};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut content = GitLabContent::default()
        .file(
            "platform/ci",
            "v3",
            "secrets.yml",
            "include: {local: /vault.yml}\n.deploy: {variables: {KEY: from-project}}\n",
        )
        .file(
            "platform/ci",
            "v3",
            "vault.yml",
            ".secrets:\n  secrets:\n    TOKEN:\n      testkv: {key: $KEY}\n      file: false\n",
        );
    content.private.insert(
        "platform/ci".to_owned(),
        vec![
            ("PRIVATE-TOKEN".to_owned(), "glpat-e2e".to_owned()),
            ("JOB-TOKEN".to_owned(), "job-e2e".to_owned()),
        ],
    );
    let gitlab = runtime.block_on(FakeGitLab::start(content));
    (runtime, gitlab)
}

const PROJECT_INCLUDE: &str = "\
include:
  - project: platform/ci
    ref: v3
    file: /secrets.yml
job:
  extends: [.deploy, .secrets]
  script: [x]
";

/// Issue 15: a job whose secrets come from another project's file, fetched
/// from the instance with `--gitlab-url` and `GITLAB_TOKEN`, or inside a job
/// with `CI_SERVER_URL` and `CI_JOB_TOKEN`.
#[test]
fn project_includes_are_fetched_with_the_token_gitlab_allows() {
    let (_runtime, gitlab) = gitlab_with_secrets_project();
    let project = Project::new();
    project.write(".gitlab-ci.yml", PROJECT_INCLUDE);
    let store = project.store(&[("from-project", "project-value")]);
    project.use_store(&store);
    let clean = |command: &mut std::process::Command| {
        for name in [
            "CI_SERVER_URL",
            "GITLAB_TOKEN",
            "CI_JOB_TOKEN",
            "CI_SECRETS_GITLAB_URL",
        ] {
            command.env_remove(name);
        }
    };
    let mut with_flag = project.cli();
    clean(&mut with_flag);
    let output = with_flag
        .args([
            "resolve",
            "--job",
            "job",
            "--format",
            "json",
            "--gitlab-url",
        ])
        .arg(gitlab.url())
        .env("GITLAB_TOKEN", "glpat-e2e")
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"project-value\"}\n");

    let mut in_job = project.cli();
    clean(&mut in_job);
    let output = in_job
        .args(["resolve", "--job", "job", "--format", "json"])
        .env("CI_SERVER_URL", gitlab.url())
        .env("CI_JOB_TOKEN", "job-e2e")
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"project-value\"}\n");
    let tokens: Vec<Option<String>> = gitlab
        .server
        .received()
        .iter()
        .map(|request| request.header("JOB-TOKEN").map(str::to_owned))
        .collect();
    assert!(tokens.contains(&Some("job-e2e".to_owned())), "{tokens:?}");

    // A wrong token: GitLab's message, the entry and its line, never the token.
    let mut wrong = project.cli();
    clean(&mut wrong);
    let output = wrong
        .args(["resolve", "--job", "job", "--gitlab-url"])
        .arg(gitlab.url())
        .env("GITLAB_TOKEN", "glpat-wrong-value")
        .output()
        .unwrap();
    assert_ne!(code(&output), 0);
    let message = stderr(&output);
    assert!(
        message.contains(".gitlab-ci.yml:2: include `project: platform/ci, file: /secrets.yml, ref: v3`: Project `platform/ci` not found or access denied!"),
        "{message}"
    );
    assert!(!message.contains("glpat-wrong-value"), "{message}");
}

/// Issue 15: `validate --offline` (or no instance known) skips non-local
/// includes with a warning naming each entry and line, checks the jobs
/// that do not need them, reports the others as unchecked (exit 0),
/// `--strict` makes them errors, and resolving one fails with the reason.
#[test]
fn offline_validation_reports_unchecked_jobs() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "\
include:
  - template: Jobs/Deploy.gitlab-ci.yml
  - project: platform/ci
    file: /secrets.yml
checked:
  secrets: {DB: {vault: db/pw@ops}}
  script: [x]
job:
  extends: .secrets
  script: [x]
",
    );
    let validate = |extra: &[&str]| {
        let mut command = project.cli();
        for name in ["CI_SERVER_URL", "CI_SECRETS_GITLAB_URL"] {
            command.env_remove(name);
        }
        command.arg("validate").args(extra).output().unwrap()
    };
    let output = validate(&["--offline"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let message = stderr(&output);
    for expected in [
        "ci-secrets: warning: includes skipped (--offline):",
        ".gitlab-ci.yml:2: template: Jobs/Deploy.gitlab-ci.yml",
        ".gitlab-ci.yml:3: project: platform/ci, file: /secrets.yml",
        "job `job` is unchecked: it needs `extends: .secrets`",
        ".gitlab-ci.yml: valid (1 job(s) unchecked)",
    ] {
        assert!(message.contains(expected), "{expected}\n{message}");
    }

    let output = validate(&["--format", "json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["unchecked"][0]["job"], "job");
    assert_eq!(report["unchecked"][0]["needs"], "`extends: .secrets`");
    assert_eq!(report["warnings"].as_array().unwrap().len(), 2);
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no GitLab instance is known"),
        "{report}"
    );

    let output = validate(&["--offline", "--strict"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("job `job` is unchecked"),
        "{}",
        stdout(&output)
    );

    let output = project
        .cli()
        .args(["resolve", "--job", "job", "--offline"])
        .output()
        .unwrap();
    assert_ne!(code(&output), 0);
    assert!(
        stderr(&output).contains("job `job` is unchecked: it needs `extends: .secrets`, which no loaded file defines; it may come from the skipped include(s) `template: Jobs/Deploy.gitlab-ci.yml`, `project: platform/ci, file: /secrets.yml`"),
        "{}",
        stderr(&output)
    );
}

// --- `spec:` headers and inputs (issue 15, item 3) ---

/// The included template of the inputs tests: a header with a required
/// input limited to options, a defaulted one, a boolean, a number and a
/// regex, and a content document whose secret path is built from them.
const VAULT_TEMPLATE: &str = r#"spec:
  inputs:
    env:
      description: Where to deploy
      options: [staging, prod]
    suffix:
      default: token-for-apps
    audit:
      type: boolean
      default: false
    replicas:
      type: number
      default: 1
    team:
      regex: ^[a-z]+$
      default: ops
---
.vault:
  variables:
    AUDIT: $[[ inputs.audit ]]
  secrets:
    TOKEN:
      testkv: {key: "$[[ inputs.team ]]/$[[ inputs.env ]]/$[[ inputs.suffix | truncate(0,5) ]]/$[[ inputs.replicas ]]"}
      file: false
"#;

/// A project whose `.gitlab-ci.yml` includes `ci/vault.yml` with `inputs`
/// (YAML flow hash, or `None` for no `inputs:`), and a store holding the
/// paths the template can build.
fn project_including_vault(inputs: Option<&str>) -> Project {
    let project = Project::new();
    project.write("ci/vault.yml", VAULT_TEMPLATE);
    let include = match inputs {
        Some(inputs) => format!("include:\n  - local: ci/vault.yml\n    inputs: {inputs}\n"),
        None => "include:\n  - local: ci/vault.yml\n".to_owned(),
    };
    project.write(
        ".gitlab-ci.yml",
        &format!("{include}job:\n  extends: .vault\n  script: [x]\n"),
    );
    let store = project.store(&[
        ("ops/prod/token/1", "prod-default"),
        ("dev/staging/token/3", "staging-three"),
    ]);
    project.use_store(&store);
    project
}

/// Issue 15: a local include's `inputs:` reach the included file's
/// `$[[ inputs.x ]]` blocks (functions applied, defaults filled in, numbers
/// kept as numbers) and so the job's secret path.
#[test]
fn include_inputs_are_interpolated_into_the_secret_path() {
    let project = project_including_vault(Some("{env: staging, team: dev, replicas: 3}"));
    let output = project.resolve_job_json(&[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"staging-three\"}\n");
    // Only the required input given: every other one takes its default.
    let project = project_including_vault(Some("{env: prod}"));
    let output = project.resolve_job_json(&[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"prod-default\"}\n");
    let validated = project.cli().args(["validate"]).output().unwrap();
    assert_eq!(code(&validated), 0, "{}", stdout(&validated));
}

/// Issue 15: every kind of wrong input fails with GitLab's message, naming
/// the included file and the input, in `resolve` and in `validate`.
#[test]
fn wrong_include_inputs_fail_with_gitlabs_messages() {
    let cases = [
        (None, "`env` input: required value has not been provided"),
        (
            Some("{team: ops}"),
            "`env` input: required value has not been provided",
        ),
        (
            Some("{env: dev}"),
            "`env` input: `dev` cannot be used because it is not in the list of allowed options",
        ),
        (
            Some("{env: prod, audit: maybe}"),
            "`audit` input: provided value is not a boolean",
        ),
        (
            Some("{env: prod, replicas: many}"),
            "`replicas` input: provided value is not a number",
        ),
        (
            Some("{env: prod, team: Ops1}"),
            "`team` input: provided value does not match required RegEx pattern",
        ),
        (
            Some("{env: prod, region: eu}"),
            "unknown input arguments: region",
        ),
    ];
    for (inputs, message) in cases {
        let project = project_including_vault(inputs);
        let output = project.resolve_job_json(&[]);
        assert_eq!(code(&output), 1, "{inputs:?}: {}", stdout(&output));
        let expected = format!("ci/vault.yml: {message}");
        assert!(
            stderr(&output).contains(&expected),
            "{inputs:?}: {}",
            stderr(&output)
        );
        let validated = project.cli().args(["validate"]).output().unwrap();
        assert_ne!(code(&validated), 0, "{inputs:?}");
        let both = format!("{}{}", stdout(&validated), stderr(&validated));
        assert!(both.contains(&expected), "{inputs:?}: {both}");
    }
}

/// Issue 15: inputs given to a file without a `spec:` header, and a block
/// naming an input the header does not define, are GitLab's errors.
#[test]
fn inputs_without_a_header_and_unknown_blocks_are_refused() {
    let project = Project::new();
    project.write("ci/plain.yml", ".plain:\n  script: [x]\n");
    project.write(
        ".gitlab-ci.yml",
        "include:\n  - local: ci/plain.yml\n    inputs: {env: prod}\njob:\n  extends: .plain\n",
    );
    let output = project.cli().args(["validate"]).output().unwrap();
    let both = format!("{}{}", stdout(&output), stderr(&output));
    assert_ne!(code(&output), 0, "{both}");
    assert!(
        both.contains(
            "ci/plain.yml: Given inputs not defined in the `spec` section of the included configuration file"
        ),
        "{both}"
    );
    project.write(
        "ci/plain.yml",
        "spec:\n  inputs:\n    env:\n---\n.plain:\n  script: [\"deploy $[[ inputs.region ]]\"]\n",
    );
    let output = project.cli().args(["validate"]).output().unwrap();
    let both = format!("{}{}", stdout(&output), stderr(&output));
    assert_ne!(code(&output), 0, "{both}");
    assert!(
        both.contains("ci/plain.yml: unknown interpolation key: `region`"),
        "{both}"
    );
}

/// Issue 15: a root pipeline with a `spec:` header takes its inputs from
/// `--input NAME=VALUE` (text, cast by the input's type as GitLab casts
/// pipeline inputs given as text); `expand_vars` expands CI/CD variables.
#[test]
fn pipeline_inputs_come_from_the_command_line() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        r#"spec:
  inputs:
    env:
      options: [staging, prod]
    shards:
      type: number
      default: 1
    path:
      default: $TEAM/db
---
job:
  script: [x]
  parallel: $[[ inputs.shards ]]
  secrets:
    TOKEN:
      testkv: {key: "$[[ inputs.env ]]/$[[ inputs.path | expand_vars ]]/$[[ inputs.shards ]]"}
      file: false
"#,
    );
    let store = project.store(&[
        ("prod/ops/db/2", "two-shards"),
        ("prod/ops/db/1", "one-shard"),
    ]);
    project.use_store(&store);
    let output = project.resolve_job_json(&[
        "--input", "env=prod", "--input", "shards=2", "--var", "TEAM=ops",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"two-shards\"}\n");
    let output = project.resolve_job_json(&["--input", "env=prod", "--var", "TEAM=ops"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "{\"TOKEN\":\"one-shard\"}\n");
    let missing = project.resolve_job_json(&["--var", "TEAM=ops"]);
    assert_eq!(code(&missing), 1);
    assert!(
        stderr(&missing)
            .contains(".gitlab-ci.yml: `env` input: required value has not been provided"),
        "{}",
        stderr(&missing)
    );
    let not_a_number = project
        .cli()
        .args(["validate", "--input", "env=prod", "--input", "shards=two"])
        .output()
        .unwrap();
    let both = format!("{}{}", stdout(&not_a_number), stderr(&not_a_number));
    assert_ne!(code(&not_a_number), 0, "{both}");
    assert!(
        both.contains("`shards` input: provided value is not a number"),
        "{both}"
    );
    let validated = project
        .cli()
        .args(["validate", "--input", "env=staging"])
        .output()
        .unwrap();
    assert_eq!(code(&validated), 0, "{}", stdout(&validated));
    let malformed = project
        .cli()
        .args(["validate", "--input", "env"])
        .output()
        .unwrap();
    assert_eq!(code(&malformed), 2, "{}", stderr(&malformed));
}

/// The README's inputs example, taken from the README itself: `validate`
/// accepts it, and the wrong value it quotes gives the message it quotes.
#[test]
fn the_readmes_inputs_example_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("### Inputs and `spec:` headers")
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .unwrap();
    let project = Project::new();
    let mut written = Vec::new();
    for block in section.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let name = block
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("# ")
            .to_owned();
        project.write(&name, block);
        written.push(name);
    }
    assert_eq!(written, ["ci/vault.yml", ".gitlab-ci.yml"]);
    let validated = project.cli().args(["validate"]).output().unwrap();
    assert_eq!(code(&validated), 0, "{}", stdout(&validated));
    let pipeline = std::fs::read_to_string(project.path().join(".gitlab-ci.yml")).unwrap();
    project.write(
        ".gitlab-ci.yml",
        &pipeline.replace("env: production", "env: dev"),
    );
    let refused = project.cli().args(["validate"]).output().unwrap();
    assert_eq!(code(&refused), 1);
    let quoted = "ci/vault.yml: `env` input: `dev` cannot be used because it is not in the list of allowed options";
    assert!(section.contains(quoted));
    assert!(stdout(&refused).contains(quoted), "{}", stdout(&refused));
}

/// Inputs cannot amplify memory: an included file that inserts a large
/// input many times is refused once the loader's budget is spent, quickly
/// and with bounded memory.
#[test]
fn an_input_amplification_is_refused_with_bounded_memory() {
    let project = Project::new();
    let items: String = (0..200)
        .map(|_| "    - \"$[[ inputs.x ]] $[[ inputs.x ]]\"\n")
        .collect();
    project.write(
        "ci/bomb.yml",
        &format!("spec:\n  inputs:\n    x:\n---\n.bomb:\n  script:\n{items}"),
    );
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "include:\n  - local: ci/bomb.yml\n    inputs:\n      x: {}\njob:\n  extends: .bomb\n",
            "x".repeat(512 * 1024)
        ),
    );
    let started = std::time::Instant::now();
    let (output, peak_rss) = crate::support::output_with_peak_rss(project.cli().args(["validate"]));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(peak_rss < 256 << 20, "peak RSS {} MiB", peak_rss >> 20);
    assert_eq!(code(&output), 1, "{}", stdout(&output));
    assert!(
        stdout(&output).contains("ci/bomb.yml: inserting input values (`$[[ inputs.name ]]`) makes the expanded pipeline larger than 64 MiB of text"),
        "{}",
        stdout(&output)
    );
}

/// Issue 15 (`compose!`): `validate` reports what GitLab reports. A visible
/// entry with no `script:`, `run:` or `trigger:` makes GitLab refuse the
/// pipeline before any job's `secrets:` is looked at; a trigger job cannot
/// hold `secrets:` at all.
#[test]
fn validate_reports_only_what_gitlab_composes() {
    let project = Project::new();
    let validate = |pipeline: &str, extra: &[&str]| {
        project.write(".gitlab-ci.yml", pipeline);
        project
            .cli()
            .args(["validate", "--offline"])
            .args(extra)
            .output()
            .unwrap()
    };
    let bad_secret = "secrets: {DB: {akeyless: {name: /db, foo: 1}}}";
    let output = validate(
        &format!("deploy: {{script: [x], {bad_secret}}}\nnotes: {{stage: test}}\n"),
        &[],
    );
    assert_eq!(code(&output), 1);
    assert_eq!(
        stdout(&output),
        "jobs notes config should implement the script:, run:, or trigger: keyword\n"
    );
    let output = validate(
        &format!("downstream: {{trigger: group/app, {bad_secret}}}\n"),
        &["--job", "downstream"],
    );
    assert_eq!(code(&output), 1);
    assert_eq!(
        stdout(&output),
        "jobs:downstream config contains unknown keys: secrets\n"
    );
}
