//! Every include kind fetched from a test GitLab instance, through the
//! loader, with GitLab's token rules and messages.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::path::Path;
use std::sync::Arc;

use ci_secrets_gitlab::pipeline::{LoadOptions, Pipeline, PipelineError, load_pipeline_with};
use ci_secrets_gitlab_includes::{FetchSettings, GitLabToken, IncludeFetcher};
use ci_secrets_test_support::gitlab_api::{FakeGitLab, GitLabContent};

const TOKEN: &str = "glpat-test-token-value";

fn content() -> GitLabContent {
    let mut content = GitLabContent::default()
        .file(
            "group/ci",
            "v2",
            "base.yml",
            "include: {local: /vault.yml}\n.deploy: {stage: deploy}\n",
        )
        .file(
            "group/ci",
            "v2",
            "vault.yml",
            ".vault: {secrets: {DB: {vault: db/pw@ops}}}\n",
        )
        .file(
            "group/ci",
            "main",
            "base.yml",
            ".deploy: {stage: from-main}\n",
        )
        .file(
            "components/deploy",
            "1.4.0",
            "templates/deploy/template.yml",
            "include: {local: templates/shared.yml}\n.component: {variables: {FROM: component-1.4.0}}\n",
        )
        .file(
            "components/deploy",
            "1.4.0",
            "templates/shared.yml",
            ".shared: {variables: {SHARED: yes}}\n",
        )
        .file(
            "components/deploy",
            "2.0.0",
            "templates/deploy.yml",
            ".component: {variables: {FROM: component-2.0.0}}\n",
        );
    content.private.insert(
        "group/ci".to_owned(),
        vec![
            ("PRIVATE-TOKEN".to_owned(), TOKEN.to_owned()),
            ("JOB-TOKEN".to_owned(), "job-token".to_owned()),
        ],
    );
    content.releases.insert(
        "components/deploy".to_owned(),
        ["1.2.0", "1.4.0", "2.0.0", "3.0.0-rc.1"]
            .map(str::to_owned)
            .to_vec(),
    );
    content.templates.insert(
        "Jobs/Deploy".to_owned(),
        ".template: {variables: {FROM: template}}\n".to_owned(),
    );
    content.remote.insert(
        "ci/remote.yml".to_owned(),
        ".remote: {variables: {FROM: remote}}\n".to_owned(),
    );
    content
}

async fn load(
    gitlab: &FakeGitLab,
    token: Option<GitLabToken>,
    text: &str,
) -> Result<Pipeline, PipelineError> {
    let settings = FetchSettings {
        gitlab_url: Some(gitlab.url().parse().unwrap()),
        token,
        ..FetchSettings::default()
    };
    let text = text.replace("{URL}", &gitlab.url());
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitlab-ci.yml");
        std::fs::write(&path, text).unwrap();
        let options = LoadOptions {
            project_dir: Some(dir.path().to_owned()),
            includes: Some(Arc::new(IncludeFetcher::new(settings))),
            ..LoadOptions::default()
        };
        load_pipeline_with(Path::new(&path), &options)
    })
    .await
    .unwrap()
}

fn variable(pipeline: &Pipeline, job: &str, name: &str) -> String {
    pipeline.jobs[job].variables[name].value.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_include_kind_is_fetched_and_merged() {
    let gitlab = FakeGitLab::start(content()).await;
    let host = gitlab.url().trim_start_matches("http://").to_owned();
    let text = format!(
        "\
include:
  - project: group/ci
    ref: v2
    file: [/base.yml]
  - project: group/ci
    ref: v2
    file: base.yml
  - template: Jobs/Deploy.gitlab-ci.yml
  - component: {host}/components/deploy/deploy@1
  - remote: {{URL}}/remote/ci/remote.yml
deploy:
  extends: [.deploy, .vault]
  script: [x]
a: {{extends: .component, script: [x]}}
b: {{extends: .template, script: [x]}}
c: {{extends: .remote, script: [x]}}
d: {{extends: .shared, script: [x]}}
"
    );
    let token = GitLabToken::Private(TOKEN.to_owned().into());
    let pipeline = load(&gitlab, Some(token), &text).await.unwrap();
    assert_eq!(pipeline.jobs["deploy"].stage.as_deref(), Some("deploy"));
    assert_eq!(
        pipeline.jobs["deploy"].secrets.as_ref().unwrap()["DB"]["vault"],
        "db/pw@ops"
    );
    assert_eq!(variable(&pipeline, "a", "FROM"), "component-1.4.0");
    assert_eq!(variable(&pipeline, "b", "FROM"), "template");
    assert_eq!(variable(&pipeline, "c", "FROM"), "remote");
    assert_eq!(variable(&pipeline, "d", "SHARED"), "true");
    assert!(pipeline.skipped_includes.is_empty());

    let requested = gitlab.requested();
    // Fetched once each, though `base.yml` is included twice.
    let base = requested
        .iter()
        .filter(|path| path.contains("files/base.yml"))
        .count();
    assert_eq!(base, 1, "{requested:#?}");
    assert!(
        requested.contains(&"/api/v4/projects/components/deploy/releases?per_page=100".to_owned()),
        "{requested:#?}"
    );
    // The nested local include of a project file is read from that project and ref.
    assert!(
        requested.contains(
            &"/api/v4/projects/group/ci/repository/files/vault.yml/raw?ref=v2".to_owned()
        ),
        "{requested:#?}"
    );
    // The token goes to the project API only, never to the remote URL or the templates API.
    for request in gitlab.server.received() {
        let sent = request.header("PRIVATE-TOKEN").is_some();
        assert_eq!(
            sent,
            request.path.contains("/projects/"),
            "{} {}",
            request.path,
            sent
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_and_default_branch_follow_gitlab() {
    let gitlab = FakeGitLab::start(content()).await;
    let host = gitlab.url().trim_start_matches("http://").to_owned();
    let text = format!(
        "include:\n  - component: {host}/components/deploy/deploy@~latest\n  - project: group/ci\n    file: base.yml\na: {{extends: [.component, .deploy], script: [x]}}\n"
    );
    let token = GitLabToken::Job("job-token".to_owned().into());
    let pipeline = load(&gitlab, Some(token), &text).await.unwrap();
    assert_eq!(variable(&pipeline, "a", "FROM"), "component-2.0.0");
    assert_eq!(pipeline.jobs["a"].stage.as_deref(), Some("from-main"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_carry_gitlabs_messages_and_never_the_token() {
    let gitlab = FakeGitLab::start(content()).await;
    let host = gitlab.url().trim_start_matches("http://").to_owned();
    let cases = [
        (
            "include: {project: group/ci, ref: v2, file: base.yml}\n".to_owned(),
            None,
            "Project `group/ci` not found or access denied! Make sure any includes in the pipeline configuration are correctly defined. (no credential was sent: set GITLAB_TOKEN",
        ),
        (
            "include: {project: group/ci, ref: v2, file: base.yml}\n".to_owned(),
            Some(GitLabToken::Private("wrong-token".to_owned().into())),
            "not found or access denied! Make sure any includes in the pipeline configuration are correctly defined. (tried with the GITLAB_TOKEN access token)",
        ),
        (
            "include: {project: group/ci, ref: v2, file: nope.yml}\n".to_owned(),
            Some(GitLabToken::Private(TOKEN.to_owned().into())),
            "Project `group/ci` file `nope.yml` does not exist!",
        ),
        (
            "include: {remote: '{URL}/remote/missing.yml'}\n".to_owned(),
            None,
            "/remote/missing.yml` could not be fetched because of HTTP code `404` error!",
        ),
        (
            "include: {template: Nope.gitlab-ci.yml}\n".to_owned(),
            None,
            "Included file `Nope.gitlab-ci.yml` is empty or does not exist!",
        ),
        (
            "include: {template: Nope.yml}\n".to_owned(),
            None,
            "Template file `Nope.yml` is not a valid location!",
        ),
        (
            format!("include: {{component: {host}/components/deploy/deploy@4}}\n"),
            None,
            "no released version matches (releases: 1.2.0, 1.4.0, 2.0.0, 3.0.0-rc.1)",
        ),
        (
            "include: {component: gitlab.com/components/deploy/deploy@1}\n".to_owned(),
            None,
            "its host `gitlab.com` is not the GitLab instance's",
        ),
    ];
    for (text, token, expected) in cases {
        let message = load(&gitlab, token, &format!("{text}job: {{script: [x]}}\n"))
            .await
            .unwrap_err()
            .to_string();
        assert!(message.contains(expected), "{text}: {message}");
        assert!(message.contains(".gitlab-ci.yml:1: include `"), "{message}");
        assert!(
            !message.contains(TOKEN) && !message.contains("wrong-token"),
            "{message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_instance_only_remote_includes_are_fetched() {
    let gitlab = FakeGitLab::start(content()).await;
    let text = format!(
        "include:\n  - remote: {}/remote/ci/remote.yml\n  - template: Jobs/Deploy.gitlab-ci.yml\nc: {{extends: .remote, script: [x]}}\nb: {{extends: .template, script: [x]}}\n",
        gitlab.url()
    );
    let fetcher = IncludeFetcher::new(FetchSettings::default());
    let pipeline = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitlab-ci.yml");
        std::fs::write(&path, text).unwrap();
        let options = LoadOptions {
            project_dir: Some(dir.path().to_owned()),
            includes: Some(Arc::new(fetcher)),
            ..LoadOptions::default()
        };
        load_pipeline_with(&path, &options)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(variable(&pipeline, "c", "FROM"), "remote");
    assert_eq!(pipeline.skipped_includes.len(), 1);
    assert!(
        pipeline.skipped_includes[0]
            .reason
            .starts_with("no GitLab instance is known"),
        "{:?}",
        pipeline.skipped_includes
    );
    assert_eq!(pipeline.unchecked.len(), 1);
    assert_eq!(pipeline.unchecked[0].job, "b");
}
