//! The repository's GitLab CI/CD component (`templates/ci-secrets.yml`,
//! issue 17): it loads through ci-secrets' own loader as a `component:`
//! include from a GitLab instance, its job's script is what GitLab
//! (and gitlab-ci-local) make of the inputs, and that script runs
//! against the Akeyless emulator.

use std::path::{Path, PathBuf};
use std::process::Command;

use ci_secrets_test_support::gitlab_api::{FakeGitLab, GitLabContent};

use crate::akeyless_support::Harness;
use crate::support::{Project, code, isolate, stderr, stdout};

const COMPONENT: &str = include_str!("../../templates/ci-secrets.yml");

fn inputs(job: &str) -> String {
    format!(
        "    inputs:\n      job_name: {job}\n      image: registry.example.com/tools/ci-secrets:1\n      command: sh ./check.sh\n      audience: https://akeyless.example\n      secrets_file: ci/secrets.yml\n"
    )
}

#[test]
fn the_component_loads_from_the_instance_at_its_latest_release() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut content = GitLabContent::default()
        .file(
            "tools/ci-secrets",
            "1.2.0",
            "templates/ci-secrets.yml",
            COMPONENT,
        )
        .file(
            "tools/ci-secrets",
            "1.0.0",
            "templates/ci-secrets.yml",
            "broken: [",
        );
    content.releases.insert(
        "tools/ci-secrets".to_owned(),
        vec!["1.0.0".to_owned(), "1.2.0".to_owned()],
    );
    let gitlab = runtime.block_on(FakeGitLab::start(content));
    let host = gitlab.url().trim_start_matches("http://").to_owned();
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "include:\n  - component: {host}/tools/ci-secrets/ci-secrets@~latest\n{}",
            inputs("deploy-app")
        ),
    );
    let validated = project
        .cli()
        .args(["validate", "--gitlab-url"])
        .arg(gitlab.url())
        .output()
        .unwrap();
    assert_eq!(
        code(&validated),
        0,
        "{}{}",
        stdout(&validated),
        stderr(&validated)
    );
    let planned = project
        .cli()
        .args([
            "plan",
            "--job",
            "deploy-app",
            "--format",
            "json",
            "--gitlab-url",
        ])
        .arg(gitlab.url())
        .output()
        .unwrap();
    assert_eq!(code(&planned), 0, "{}", stderr(&planned));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&planned)).unwrap();
    assert_eq!(plan["job"], "deploy-app");
}

/// A directory holding `ci-secrets` (this suite's binary, the same CLI).
fn path_with_ci_secrets(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ci-secrets-e2e"), bin.join("ci-secrets"))
        .unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn gitlab_ci_local() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node/node_modules/.bin/gitlab-ci-local")
}

/// The job's script as gitlab-ci-local merges the component with its inputs
/// (a local include here: gitlab-ci-local does not fetch components), run
/// by `sh` in the project as a runner's shell executor would run it.
/// (gitlab-ci-local's own shell executor needs `rsync`, which these machines
/// do not have.)
#[test]
fn the_components_job_runs_its_command_with_the_secrets() {
    let harness = Harness::demo();
    let project = Project::new();
    project.write("templates/ci-secrets.yml", COMPONENT);
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "include:\n  - local: templates/ci-secrets.yml\n{}",
            inputs("deploy-app")
        ),
    );
    project.write(
        "ci/secrets.yml",
        "variables:\n  AKEYLESS_ACCESS_ID: p-demoaccess01\n  AKEYLESS_ACCESS_KEY: demo-access-key-not-a-secret\nsecrets:\n  DATABASE_PASSWORD:\n    file: false\n    akeyless:\n      name: /demo/static/password\n      akeyless_api_url: $AKEYLESS_EMULATOR_URL\n      akeyless_access_type: api_key\n      akeyless_access_key: $AKEYLESS_ACCESS_KEY\n",
    );
    project.write(
        "check.sh",
        "test \"$DATABASE_PASSWORD\" = demo-password-v2 && echo secret-ok-$DATABASE_PASSWORD\n",
    );
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(["-c", "user.email=ci@example.com", "-c", "user.name=ci"])
            .args(args)
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "component"]);

    let preview = Command::new(gitlab_ci_local())
        .args(["--preview", "--json-schema-validation=false"])
        .current_dir(project.path())
        .env("HOME", project.path())
        .output()
        .unwrap();
    assert!(preview.status.success(), "{}", stderr(&preview));
    let text = stdout(&preview);
    let merged: serde_json::Value =
        serde_norway::from_str(&text[text.find("---").unwrap()..]).unwrap();
    let job = &merged["deploy-app"];
    assert_eq!(job["stage"], "deploy");
    assert_eq!(
        job["id_tokens"]["AKEYLESS_JWT"]["aud"],
        "https://akeyless.example"
    );
    let script = job["script"][0].as_str().unwrap().to_owned();
    assert_eq!(
        script,
        "ci-secrets exec --secrets \"ci/secrets.yml\" -- sh ./check.sh"
    );

    let mut shell = Command::new("sh");
    isolate(&mut shell);
    let output = shell
        .arg("-c")
        .arg(&script)
        .current_dir(project.path())
        .env("PATH", path_with_ci_secrets(project.path()))
        .env("AKEYLESS_EMULATOR_URL", harness.url())
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    // The command saw the value; exec masked it in the job log.
    assert_eq!(stdout(&output), "secret-ok-[MASKED]\n");
}

/// The first ```yaml block after `heading` in the README.
fn readme_yaml_after(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let (_, rest) = readme.split_once(heading).unwrap();
    let (_, block) = rest.split_once("```yaml\n").unwrap();
    block.split("```").next().unwrap().to_owned()
}

/// The README's component example, taken from the README itself, loads
/// from a GitLab instance with the job's predefined variables, and its job
/// is there; the README's two-job dotenv recipe validates.
#[test]
fn the_readmes_component_and_recipe_examples_run() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut content = GitLabContent::default().file(
        "tools/ci-secrets",
        "1.0.0",
        "templates/ci-secrets.yml",
        COMPONENT,
    );
    content
        .releases
        .insert("tools/ci-secrets".to_owned(), vec!["1.0.0".to_owned()]);
    let gitlab = runtime.block_on(FakeGitLab::start(content));
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        &readme_yaml_after("**As a CI/CD component.**"),
    );
    let in_job = |args: &[&str]| {
        project
            .cli()
            .args(args)
            .env("CI_SERVER_URL", gitlab.url())
            .env("CI_SERVER_FQDN", gitlab.url().trim_start_matches("http://"))
            .output()
            .unwrap()
    };
    let validated = in_job(&["validate"]);
    assert_eq!(
        code(&validated),
        0,
        "{}{}",
        stdout(&validated),
        stderr(&validated)
    );
    let planned = in_job(&["plan", "--job", "ci-secrets", "--format", "json"]);
    assert_eq!(code(&planned), 0, "{}", stderr(&planned));

    project.write(
        ".gitlab-ci.yml",
        &readme_yaml_after("### Reusing the login across jobs"),
    );
    let validated = project
        .cli()
        .args(["validate", "--offline"])
        .output()
        .unwrap();
    assert_eq!(
        code(&validated),
        0,
        "{}{}",
        stdout(&validated),
        stderr(&validated)
    );
}
