//! ID tokens outside GitLab (issue 17): a job whose `token:` refers to an
//! unset `id_tokens:` variable gets one minted, for the entry's `aud:`, by
//! the CI system it runs in, and `plan` says which source it would use.
//! The tokens here are valid for the Akeyless emulator's JWT identity.

use std::os::unix::fs::PermissionsExt as _;

use ci_secrets_test_support::RecordingServer;

use crate::akeyless_support::{Harness, Run, demo_jwt, job_file};

const PASSWORD: &str = "demo-password-v2";
const AUDIENCE: &str = "https://akeyless.example";

/// A server that answers as GitHub Actions' token endpoint: a bearer
/// check, then `{"value": <jwt>}` for the `audience` asked for.
fn github_endpoint(runtime: &tokio::runtime::Runtime, jwt: String) -> RecordingServer {
    runtime.block_on(RecordingServer::start(move |request| {
        if request.header("authorization") != Some("bearer gh-request-token") {
            return (401, "application/json", r#"{"message":"bad"}"#.to_owned());
        }
        match request.query_value("audience").as_deref() {
            Some(AUDIENCE) => (
                200,
                "application/json",
                serde_json::json!({"value": jwt}).to_string(),
            ),
            _ => (
                403,
                "application/json",
                r#"{"message":"audience"}"#.to_owned(),
            ),
        }
    }))
}

#[test]
fn github_actions_mints_the_token_for_the_entrys_audience() {
    let harness = Harness::demo();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let github = github_endpoint(&runtime, demo_jwt());
    let project = harness.project();
    let with_github = |command: &mut std::process::Command| {
        command
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/token?api-version=2.0", github.url()),
            )
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token")
            .arg("--var")
            .arg(harness.url_var());
    };

    let mut plan = project.cli();
    plan.args(["plan", "--job", "deploy", "--ci-file"])
        .arg(job_file("jwt.yml"));
    with_github(&mut plan);
    let planned = Run::of(&mut plan);
    assert_eq!(
        planned.code(),
        0,
        "{}{}",
        planned.stdout(),
        planned.stderr()
    );
    assert!(
        planned.stdout().contains(&format!(
            "ID token AKEYLESS_JWT: minted by GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL) for aud {AUDIENCE}"
        )),
        "{}",
        planned.stdout()
    );
    assert!(github.received().is_empty(), "plan made a request");

    let mut resolve = project.resolve(&job_file("jwt.yml"), "json");
    with_github(&mut resolve);
    let run = Run::of(&mut resolve);
    assert_eq!(
        run.json(),
        serde_json::json!({"DATABASE_PASSWORD": PASSWORD})
    );
    let received = github.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].query_value("api-version").as_deref(),
        Some("2.0")
    );
    for credential in ["gh-request-token", &demo_jwt()] {
        assert!(!run.stderr().contains(credential), "{}", run.stderr());
        assert!(!run.stdout().contains(credential), "{}", run.stdout());
    }

    // A refusal names the source and the variable, never a token.
    let mut refused = project.resolve(&job_file("jwt.yml"), "json");
    with_github(&mut refused);
    refused.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong-request-token");
    let run = Run::of(&mut refused);
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(
        run.stderr().contains("cannot mint the ID token AKEYLESS_JWT: GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL): the endpoint answered HTTP 401"),
        "{}",
        run.stderr()
    );
    assert!(
        !run.stderr().contains("wrong-request-token"),
        "{}",
        run.stderr()
    );
}

#[test]
fn buildkite_circleci_bitbucket_and_a_command_give_the_token() {
    let harness = Harness::demo();
    let project = harness.project();
    // A `buildkite-agent` that prints the token for the audience it is asked.
    let bin = project.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let agent = bin.join("buildkite-agent");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\necho \"$@\" > \"{}/agent-args\"\n[ \"$4\" = \"{AUDIENCE}\" ] && printf '%s\\n' '{}'\n",
            project.path().display(),
            demo_jwt()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());

    // (case, environment, arguments)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<String>);
    let cases: Vec<Case<'_>> = vec![
        (
            "buildkite",
            vec![("BUILDKITE", "true".to_owned()), ("PATH", path.clone())],
            vec![],
        ),
        (
            "circleci",
            vec![("CIRCLE_OIDC_TOKEN_V2", demo_jwt())],
            vec![],
        ),
        (
            "bitbucket",
            vec![("BITBUCKET_STEP_OIDC_TOKEN", demo_jwt())],
            vec![],
        ),
        (
            "command",
            vec![("MY_JWT", demo_jwt())],
            vec![
                "--id-token-command".to_owned(),
                format!("[ \"$CI_SECRETS_ID_TOKEN_AUDIENCE\" = {AUDIENCE} ] && echo \"$MY_JWT\""),
            ],
        ),
    ];
    for (name, env, args) in cases {
        let mut resolve = project.resolve(&job_file("jwt.yml"), "json");
        resolve
            .envs(env)
            .args(args)
            .arg("--var")
            .arg(harness.url_var());
        let run = Run::of(&mut resolve);
        assert_eq!(
            run.json(),
            serde_json::json!({"DATABASE_PASSWORD": PASSWORD}),
            "{name}: {}",
            run.stderr()
        );
    }
    let args = std::fs::read_to_string(project.path().join("agent-args")).unwrap();
    assert_eq!(
        args.trim(),
        format!("oidc request-token --audience {AUDIENCE}")
    );
}

/// The repository's GitHub composite action (`action.yml`): its run step,
/// with the inputs a workflow gives and GitHub's OIDC environment, resolves
/// the secrets file (the token minted for the file's `aud:`) and runs the
/// command. The install step is `cargo install --locked` of this source,
/// which the suite does not repeat (`install: false`).
#[test]
fn the_github_action_runs_the_command_with_the_secrets() {
    let action: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../action.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["if"], "inputs.install == 'true'");
    assert!(
        steps[0]["run"]
            .as_str()
            .unwrap()
            .starts_with("cargo install --locked --path \"${{ github.action_path }}/cli\"")
    );
    let step = &steps[1];

    let harness = Harness::demo();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let github = github_endpoint(&runtime, demo_jwt());
    let project = harness.project();
    project.write(
        "secrets.yml",
        &format!(
            "variables:\n  AKEYLESS_ACCESS_ID: p-demojwtauth1\nid_tokens:\n  AKEYLESS_JWT:\n    aud: {AUDIENCE}\nsecrets:\n  DATABASE_PASSWORD:\n    token: $AKEYLESS_JWT\n    file: false\n    akeyless:\n      name: /demo/static/password\n      akeyless_api_url: {}\n",
            harness.url()
        ),
    );
    project.write(
        "check.sh",
        "test \"$DATABASE_PASSWORD\" = demo-password-v2 && echo action-ok\n",
    );
    let bin = project.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ci-secrets-e2e"), bin.join("ci-secrets"))
        .unwrap();
    // What GitHub's runner does with the step: inputs substituted into `run`,
    // `env:` set, bash.
    let script = step["run"]
        .as_str()
        .unwrap()
        .replace("${{ inputs.command }}", "sh ./check.sh");
    let mut bash = std::process::Command::new("bash");
    crate::support::isolate(&mut bash);
    let output = bash
        .arg("-c")
        .arg(&script)
        .current_dir(project.path())
        .env("CI_SECRETS_FILE", "secrets.yml")
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/token?api-version=2.0", github.url()),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "action-ok\n");
    assert_eq!(step["env"]["CI_SECRETS_FILE"], "${{ inputs.secrets-file }}");
    assert_eq!(github.received().len(), 1);
}
