//! Issue 15, item 4: `workflow: rules:` and job `rules:` through the binary. The rule that
//! matches decides which variables the secrets expand with; a job GitLab would not create is
//! a warning (an error with `--strict`); `plan` names the rule.

use std::process::Output;

use crate::support::{Project, code, stderr, stdout};

/// A project with `pipeline` and a testkv store of `entries`.
fn project(pipeline: &str, entries: &[(&str, &str)]) -> Project {
    let project = Project::new();
    project.write(".gitlab-ci.yml", pipeline);
    let store = project.store(entries);
    project.use_store(&store);
    project
}

fn run(project: &Project, args: &[&str]) -> Output {
    let (command, rest) = args.split_first().unwrap();
    project
        .cli()
        .args([command, "--job", "job"])
        .args(rest)
        .output()
        .unwrap()
}

const JOB_RULES: &str = r#"
variables:
  ENVIRONMENT: staging
job:
  script: [x]
  rules:
    - if: $DEPLOY_BRANCH == "main" && $DEPLOY_TAG == null
      variables:
        ENVIRONMENT: production
    - if: $DEPLOY_BRANCH =~ /^release\/v\d+$/
      variables:
        ENVIRONMENT: release-$DEPLOY_BRANCH
    - when: on_success
  secrets:
    TOKEN:
      testkv: {key: kv/$ENVIRONMENT/token}
      file: false
"#;

const JOB_ENTRIES: &[(&str, &str)] = &[
    ("kv/production/token", "prod-value"),
    ("kv/staging/token", "staging-value"),
    ("kv/release-release/v2/token", "release-value"),
];

/// The matching rule's `variables:` override the global one before the secret's path is
/// expanded (and are themselves expanded like any job variable).
#[test]
fn a_rules_variables_change_the_secret_path() {
    let project = project(JOB_RULES, JOB_ENTRIES);
    for (extra, expected) in [
        (&["--var", "DEPLOY_BRANCH=main"][..], "prod-value"),
        (&["--var", "DEPLOY_BRANCH=feature"][..], "staging-value"),
        (&["--var", "DEPLOY_BRANCH=release/v2"][..], "release-value"),
        // `$DEPLOY_TAG == null` fails, the first rule does not match.
        (
            &["--var", "DEPLOY_BRANCH=main", "--var", "DEPLOY_TAG=v1"][..],
            "staging-value",
        ),
    ] {
        let output = project.resolve_job_json(extra);
        assert_eq!(code(&output), 0, "{extra:?}: {}", stderr(&output));
        assert_eq!(
            stdout(&output),
            format!("{{\"TOKEN\":\"{expected}\"}}\n"),
            "{extra:?}"
        );
        assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
    }
}

/// `plan` names the rule that matched, in text and in JSON.
#[test]
fn plan_shows_the_matched_rule() {
    let project = project(JOB_RULES, JOB_ENTRIES);
    let text = run(&project, &["plan", "--var", "DEPLOY_BRANCH=main"]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    assert!(
        stdout(&text)
            .contains(r#"Rule: rules[0]: if: $DEPLOY_BRANCH == "main" && $DEPLOY_TAG == null"#),
        "{}",
        stdout(&text)
    );
    let json = run(
        &project,
        &["plan", "--format", "json", "--var", "DEPLOY_BRANCH=other"],
    );
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["rule"], "rules[2]: when: on_success", "{report}");
    assert_eq!(report["workflow_rule"], serde_json::Value::Null, "{report}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
}

const WORKFLOW_RULES: &str = r#"
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      variables:
        SECRETS_PATH: review
    - if: $CI_PIPELINE_SOURCE == "schedule"
      when: never
    - variables:
        SECRETS_PATH: default
variables:
  SECRETS_PATH: global
job:
  script: [x]
  secrets:
    TOKEN:
      testkv: {key: $SECRETS_PATH/token}
      file: false
"#;

/// `workflow: rules: variables:` override the global variables; CI/CD variables (`--var`)
/// still win, and a job's own definition wins over the workflow's.
#[test]
fn workflow_rules_variables_override_the_global_ones() {
    let entries = [
        ("review/token", "review-value"),
        ("default/token", "default-value"),
        ("global/token", "global-value"),
        ("job/token", "job-value"),
        ("cli/token", "cli-value"),
    ];
    let project = project(WORKFLOW_RULES, &entries);
    for (extra, expected) in [
        (&[][..], "default-value"),
        (
            &["--var", "CI_PIPELINE_SOURCE=merge_request_event"][..],
            "review-value",
        ),
        (
            &[
                "--var",
                "CI_PIPELINE_SOURCE=merge_request_event",
                "--var",
                "SECRETS_PATH=cli",
            ][..],
            "cli-value",
        ),
    ] {
        let output = project.resolve_job_json(extra);
        assert_eq!(code(&output), 0, "{extra:?}: {}", stderr(&output));
        assert_eq!(
            stdout(&output),
            format!("{{\"TOKEN\":\"{expected}\"}}\n"),
            "{extra:?}"
        );
    }
    let job_defined = WORKFLOW_RULES.replace(
        "  script: [x]\n",
        "  script: [x]\n  variables:\n    SECRETS_PATH: job\n",
    );
    let project = self::project(&job_defined, &entries);
    let output = project.resolve_job_json(&[]);
    assert_eq!(
        stdout(&output),
        "{\"TOKEN\":\"job-value\"}\n",
        "{}",
        stderr(&output)
    );

    let json = run(
        &project,
        &[
            "plan",
            "--format",
            "json",
            "--var",
            "CI_PIPELINE_SOURCE=push",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        report["workflow_rule"], "workflow:rules[2]: (no condition)",
        "{report}"
    );
}

/// No rule matches, or the rule says `when: never` (of the job or of the workflow): GitLab
/// would not create the job. `resolve`, `exec` and `plan` warn, naming the job and why;
/// `--strict` makes it an error.
#[test]
fn a_job_gitlab_would_not_create_is_a_warning_and_a_strict_error() {
    let pipeline = r#"
job:
  script: [x]
  rules:
    - if: $DEPLOY == "yes"
    - if: $DEPLOY == "never"
      when: never
  secrets:
    TOKEN:
      testkv: {key: token}
      file: false
"#;
    let project = project(pipeline, &[("token", "value")]);
    let warned = |text: &str| {
        text.contains(
            "job job: GitLab would not create this job (rules: no rule matched); its secrets are resolved anyway",
        )
    };
    let resolved = run(&project, &["resolve", "--format", "json"]);
    assert_eq!(code(&resolved), 0, "{}", stderr(&resolved));
    assert_eq!(stdout(&resolved), "{\"TOKEN\":\"value\"}\n");
    assert!(warned(&stderr(&resolved)), "{}", stderr(&resolved));

    let executed = run(&project, &["exec", "--", "true"]);
    assert_eq!(code(&executed), 0, "{}", stderr(&executed));
    assert!(warned(&stderr(&executed)), "{}", stderr(&executed));

    let planned = run(&project, &["plan", "--format", "json"]);
    assert_eq!(code(&planned), 0, "{}", stderr(&planned));
    let report: serde_json::Value = serde_json::from_str(&stdout(&planned)).unwrap();
    assert!(warned(report["warnings"][0].as_str().unwrap()), "{report}");
    assert_eq!(report["rule"], serde_json::Value::Null);

    let strict = run(&project, &["resolve", "--format", "json", "--strict"]);
    assert_eq!(code(&strict), 1, "{}", stderr(&strict));
    assert!(stdout(&strict).is_empty(), "{}", stdout(&strict));
    assert!(
        stderr(&strict).contains(
            "job job: GitLab would not create this job (rules: no rule matched) (--strict)"
        ),
        "{}",
        stderr(&strict)
    );
    let strict_plan = run(&project, &["plan", "--strict"]);
    assert_eq!(code(&strict_plan), 1, "{}", stdout(&strict_plan));

    let never = run(
        &project,
        &[
            "resolve",
            "--format",
            "json",
            "--strict",
            "--var",
            "DEPLOY=never",
        ],
    );
    assert_eq!(code(&never), 1, "{}", stderr(&never));
    assert!(
        stderr(&never).contains(
            r#"(rules: rules[1]: if: $DEPLOY == "never", when: never matched (when: never))"#
        ),
        "{}",
        stderr(&never)
    );
    let created = run(
        &project,
        &["resolve", "--format", "json", "--var", "DEPLOY=yes"],
    );
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    assert!(
        !stderr(&created).contains("warning"),
        "{}",
        stderr(&created)
    );

    // The workflow's `when: never` stops the whole pipeline.
    let workflow = project_with_workflow_never();
    let output = run(&workflow, &["resolve", "--format", "json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("workflow: rules: rules[0]: when: never matched (when: never), so GitLab would not create the pipeline"),
        "{}",
        stderr(&output)
    );
}

fn project_with_workflow_never() -> Project {
    project(
        "workflow:\n  rules:\n    - when: never\njob:\n  script: [x]\n  secrets:\n    TOKEN:\n      testkv: {key: token}\n      file: false\n",
        &[("token", "value")],
    )
}

/// An `if:` GitLab cannot parse is GitLab's own error, with the file and the rule index.
#[test]
fn an_invalid_rule_is_gitlabs_error() {
    let project = project(
        "job:\n  script: [x]\n  rules:\n    - when: always\n    - if: $A = 1\n  secrets:\n    TOKEN:\n      testkv: {key: token}\n      file: false\n",
        &[("token", "value")],
    );
    let output = project.resolve_job_json(&[]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            ".gitlab-ci.yml: jobs:job:rules:rule if invalid expression syntax (rules[1])"
        ),
        "{}",
        stderr(&output)
    );
}

fn git(project: &Project, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(project.path())
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// `changes:` is true with one warning without `--changes-base`; with it, the files changed
/// since the base decide. `exists:` looks at the repository's files.
#[test]
fn changes_follow_the_base_and_exists_the_repository() {
    let pipeline = r#"
job:
  script: [x]
  rules:
    - changes: [terraform/**/*.tf]
      exists: [terraform/main.tf]
      variables: {STACK: infra}
    - changes: {paths: ["*.md"]}
      variables: {STACK: docs}
    - variables: {STACK: app}
  secrets:
    TOKEN:
      testkv: {key: $STACK/token}
      file: false
"#;
    let project = project(
        pipeline,
        &[
            ("infra/token", "infra-value"),
            ("docs/token", "docs-value"),
            ("app/token", "app-value"),
        ],
    );
    project.write("terraform/main.tf", "");
    git(&project, &["init", "-q", "-b", "main"]);
    git(&project, &["add", "."]);
    git(&project, &["commit", "-q", "-m", "base"]);
    git(&project, &["checkout", "-q", "-b", "docs"]);
    project.write("README.md", "docs");
    git(&project, &["add", "README.md"]);
    git(&project, &["commit", "-q", "-m", "docs"]);

    let unknown = project.resolve_job_json(&[]);
    assert_eq!(code(&unknown), 0, "{}", stderr(&unknown));
    assert_eq!(stdout(&unknown), "{\"TOKEN\":\"infra-value\"}\n");
    assert_eq!(
        stderr(&unknown)
            .matches("`changes:` in rules cannot be checked without --changes-base REF")
            .count(),
        1,
        "{}",
        stderr(&unknown)
    );

    let docs = project.resolve_job_json(&["--changes-base", "main"]);
    assert_eq!(code(&docs), 0, "{}", stderr(&docs));
    assert_eq!(stdout(&docs), "{\"TOKEN\":\"docs-value\"}\n");
    assert!(!stderr(&docs).contains("warning"), "{}", stderr(&docs));

    let nothing = project.resolve_job_json(&["--changes-base", "docs"]);
    assert_eq!(
        stdout(&nothing),
        "{\"TOKEN\":\"app-value\"}\n",
        "{}",
        stderr(&nothing)
    );

    let bad = project.resolve_job_json(&["--changes-base", "no-such-ref"]);
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("--changes-base no-such-ref"),
        "{}",
        stderr(&bad)
    );
}

/// The README's example (section "Rules"), as written there: on `main` the secret is read
/// from `kv/production`, elsewhere from `kv/staging`.
#[test]
fn the_readme_rules_example_plans_as_it_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("### Rules").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let project = Project::new();
    project.write(".gitlab-ci.yml", example);
    for (branch, item, rule) in [
        (
            "main",
            r#"field "token" of "kv/production" in the kv-v2 engine at "secret""#,
            r#"rules[0]: if: $CI_COMMIT_BRANCH == "main" && $CI_COMMIT_TAG == null"#,
        ),
        (
            "feature",
            r#"field "token" of "kv/staging" in the kv-v2 engine at "secret""#,
            "rules[1]: when: on_success",
        ),
    ] {
        let output = project
            .cli()
            .args(["plan", "--job", "deploy", "--format", "json"])
            .args(["--var", &format!("CI_COMMIT_BRANCH={branch}")])
            .args(["--var", "VAULT_SERVER_URL=https://vault.example.com"])
            .args(["--var", "VAULT_ID_TOKEN=jwt"])
            .output()
            .unwrap();
        assert_eq!(code(&output), 0, "{}{}", stdout(&output), stderr(&output));
        let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(report["rule"], rule, "{report}");
        assert_eq!(report["secrets"][0]["item"], item, "{report}");
    }
}

/// Workflow rules run before any job exists: `CI_JOB_NAME` is not set for them, and is for
/// the job's rules.
#[test]
fn job_predefined_variables_are_for_job_rules_only() {
    let project = project(
        r#"
workflow:
  rules:
    - if: $CI_JOB_NAME
      variables: {FROM: workflow-saw-job}
    - variables: {FROM: workflow}
job:
  script: [x]
  rules:
    - if: $CI_JOB_NAME == "job"
  secrets:
    TOKEN:
      testkv: {key: $FROM}
      file: false
"#,
        &[("workflow", "right"), ("workflow-saw-job", "wrong")],
    );
    let output = run(&project, &["plan", "--format", "json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["workflow_rule"], "workflow:rules[1]: (no condition)");
    assert_eq!(report["rule"], r#"rules[0]: if: $CI_JOB_NAME == "job""#);
    let resolved = project.resolve_job_json(&[]);
    assert_eq!(
        stdout(&resolved),
        "{\"TOKEN\":\"right\"}\n",
        "{}",
        stderr(&resolved)
    );
}

/// `validate` checks every `rules:` as GitLab does (no variables needed), with GitLab's
/// messages; valid rules pass.
#[test]
fn validate_checks_rules_with_gitlabs_messages() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        r#"
workflow:
  rules:
    - when: manual
job:
  script: [x]
  rules:
    - if: $A = "x"
ok:
  script: [x]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      changes: {paths: [src/**/*], compare_to: refs/heads/main}
      variables: {A: b}
    - exists: [Cargo.toml]
      when: manual
.hidden:
  rules:
    - if: not checked, a template
"#,
    );
    let output = project
        .cli()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "{}{}", stdout(&output), stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        report["errors"],
        serde_json::json!([
            "workflow:rules:rule when unknown value: manual",
            "jobs:job:rules:rule if invalid expression syntax"
        ]),
        "{report}"
    );
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  rules:\n    - if: $A == \"x\"\n      when: never\n    - when: on_success\n",
    );
    let valid = project.cli().args(["validate"]).output().unwrap();
    assert_eq!(code(&valid), 0, "{}{}", stdout(&valid), stderr(&valid));
}

/// A project whose job takes its secret from `ci/staging.yml`, or from
/// `ci/prod.yml` when that include's `rule` (one rule's lines) matches;
/// `head` goes before the `include:`.
fn staging_and_prod(head: &str, rule: &str) -> Project {
    let project = project(
        &format!(
            "{head}include:\n  - local: ci/staging.yml\n  - local: ci/prod.yml\n    rules:\n{rule}job:\n  extends: .secret\n  script: [x]\n"
        ),
        &[("staging-db", "staging-value"), ("prod-db", "prod-value")],
    );
    for (file, key) in [("ci/staging.yml", "staging-db"), ("ci/prod.yml", "prod-db")] {
        project.write(
            file,
            &format!(
                ".secret:\n  secrets:\n    DB:\n      testkv: {{key: {key}}}\n      file: false\n"
            ),
        );
    }
    project
}

/// `include: rules:` decide which file defines the job's secret, with the
/// CI/CD variables (`--var` here) and never the pipeline's own `variables:`.
#[test]
fn include_rules_choose_the_file_that_defines_the_secret() {
    let project = staging_and_prod(
        "variables:\n  TARGET: prod\n",
        "      - if: $TARGET == \"prod\"\n",
    );
    let prod = run(
        &project,
        &["resolve", "--format", "json", "--var", "TARGET=prod"],
    );
    assert_eq!(code(&prod), 0, "{}", stderr(&prod));
    assert_eq!(stdout(&prod), "{\"DB\":\"prod-value\"}\n");
    let staging = run(&project, &["resolve", "--format", "json"]);
    assert_eq!(code(&staging), 0, "{}", stderr(&staging));
    assert_eq!(stdout(&staging), "{\"DB\":\"staging-value\"}\n");
}

/// `include: rules: changes:` follow `--changes-base` like job rules: the
/// file whose changes rule matches the diff is included, the other not.
#[test]
fn include_rules_changes_follow_the_base() {
    let project = staging_and_prod("", "      - changes: [deploy/**]\n");
    git(&project, &["init", "-q", "-b", "main"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-qm", "base"]);
    project.write("docs/readme.md", "docs");
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-qm", "docs only"]);
    let docs_only = run(
        &project,
        &["resolve", "--format", "json", "--changes-base", "HEAD~1"],
    );
    assert_eq!(code(&docs_only), 0, "{}", stderr(&docs_only));
    assert_eq!(stdout(&docs_only), "{\"DB\":\"staging-value\"}\n");
    project.write("deploy/app.yml", "x: 1");
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-qm", "deploy"]);
    let deploy = run(
        &project,
        &["resolve", "--format", "json", "--changes-base", "HEAD~1"],
    );
    assert_eq!(code(&deploy), 0, "{}", stderr(&deploy));
    assert_eq!(stdout(&deploy), "{\"DB\":\"prod-value\"}\n");
}
