//! Differential check of pipeline merging (issue 15): for every pipeline of
//! `tests/data/merge-corpus`, each job's merged `secrets:`, `variables:` and
//! `id_tokens:` as ci-secrets loads them equal what `gitlab-ci-local
//! --preview` (npm 4.60.0, installed by the test command) prints. Where
//! gitlab-ci-local deviates from GitLab's documented behaviour, the case
//! says so and checks GitLab's behaviour instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use ci_secrets_gitlab::pipeline::{LoadOptions, Pipeline, load_pipeline_with};
use serde_json::{Map, Value};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/merge-corpus")
}

fn gitlab_ci_local() -> PathBuf {
    let bin =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node/node_modules/.bin/gitlab-ci-local");
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci --prefix tests/node` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Copies `case` into a fresh git repository (gitlab-ci-local reads git).
fn repository(case: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(case, dir.path());
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.email=ci@example.com",
        "-c",
        "user.name=ci",
        "commit",
        "-qm",
        "corpus",
    ]);
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// gitlab-ci-local's merged pipeline, as JSON.
fn preview(dir: &Path) -> Map<String, Value> {
    let output = Command::new(gitlab_ci_local())
        .args(["--preview", "--json-schema-validation=false"])
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "gitlab-ci-local failed: {text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = text
        .find("---")
        .map(|start| &text[start..])
        .unwrap_or_else(|| panic!("no YAML in gitlab-ci-local's output: {text}"));
    let value: serde_norway::Value = serde_norway::from_str(yaml).unwrap();
    match serde_json::to_value(value).unwrap() {
        Value::Object(map) => map,
        other => panic!("not a hash: {other}"),
    }
}

/// What the comparison covers of one job: secrets, variables by value, token names.
fn facets_of_preview(job: &Value) -> Value {
    let variables: Map<String, Value> = job
        .get("variables")
        .and_then(Value::as_object)
        .map(|variables| {
            variables
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        Value::Object(hash) => hash.get("value").cloned().unwrap_or(Value::Null),
                        other => other.clone(),
                    };
                    let text = match value {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    (name.clone(), Value::String(text))
                })
                .collect()
        })
        .unwrap_or_default();
    let id_tokens: Vec<Value> = job
        .get("id_tokens")
        .and_then(Value::as_object)
        .map(|tokens| tokens.keys().cloned().map(Value::String).collect())
        .unwrap_or_default();
    serde_json::json!({
        "secrets": job.get("secrets").cloned().unwrap_or(Value::Null),
        "variables": variables,
        "id_tokens": id_tokens,
    })
}

fn facets_of_ours(pipeline: &Pipeline, name: &str) -> Value {
    let job = &pipeline.jobs[name];
    let variables: Map<String, Value> = job
        .variables
        .iter()
        .map(|(name, definition)| (name.clone(), Value::String(definition.value.clone())))
        .collect();
    serde_json::json!({
        "secrets": job.secrets.clone().unwrap_or(Value::Null),
        "variables": variables,
        "id_tokens": job.id_tokens,
    })
}

/// Where gitlab-ci-local 4.60.0 differs from GitLab, each checked: its
/// value must be the one listed (so a fix there is noticed), and ci-secrets
/// must give GitLab's. (case/job, JSON pointer into the facets,
/// gitlab-ci-local's value, GitLab's value, why).
const DEVIATIONS: &[(&str, &str, &str, &str, &str)] = &[
    // js-yaml reads YAML 1.2, where `no`/`off`/`on`/`yes` are text; GitLab's
    // Psych reads YAML 1.1, where they are booleans.
    (
        "anchors-yaml11/deploy",
        "/secrets/PASSWORD/file",
        r#""no""#,
        "false",
        "YAML 1.1",
    ),
    (
        "anchors-yaml11/deploy",
        "/secrets/EXTRA/file",
        r#""off""#,
        "false",
        "YAML 1.1",
    ),
    (
        "anchors-yaml11/deploy",
        "/variables/FLAG_ON",
        r#""on""#,
        r#""true""#,
        "YAML 1.1",
    ),
    (
        "anchors-yaml11/deploy",
        "/variables/FLAG_NO",
        r#""No""#,
        r#""false""#,
        "YAML 1.1",
    ),
    (
        "extends-references/deploy",
        "/variables/EXTRA",
        r#""yes""#,
        r#""true""#,
        "YAML 1.1",
    ),
    // GitLab's docs list `id_tokens` among the keywords `default:` gives every
    // job; gitlab-ci-local's preview leaves it out.
    (
        "defaults-inherit/inherits-all",
        "/id_tokens",
        "[]",
        r#"["DEFAULT_JWT"]"#,
        "default: id_tokens",
    ),
];

/// Applies the documented deviations of `case_job` to gitlab-ci-local's facets.
fn with_gitlab_values(case_job: &str, mut facets: Value) -> Value {
    for &(which, pointer, theirs, gitlab, why) in DEVIATIONS {
        if which != case_job {
            continue;
        }
        let slot = facets.pointer_mut(pointer).unwrap_or_else(|| {
            panic!("{case_job}{pointer} ({why}) is gone from gitlab-ci-local's output")
        });
        let theirs: Value = serde_json::from_str(theirs).unwrap();
        assert_eq!(
            *slot, theirs,
            "{case_job}{pointer} ({why}): gitlab-ci-local no longer deviates as documented"
        );
        *slot = serde_json::from_str(gitlab).unwrap();
    }
    facets
}

/// Keys of gitlab-ci-local's preview that are not jobs.
const NOT_JOBS: [&str; 6] = [
    "stages",
    "variables",
    "default",
    "workflow",
    "include",
    "image",
];

#[test]
fn merged_jobs_agree_with_gitlab_ci_local() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "{cases:?}");
    let mut disagreements = Vec::new();
    for case in &cases {
        let dir = repository(case);
        let theirs = preview(dir.path());
        let options = LoadOptions {
            project_dir: Some(dir.path().to_owned()),
            ..LoadOptions::default()
        };
        let ours = load_pipeline_with(&dir.path().join(".gitlab-ci.yml"), &options)
            .unwrap_or_else(|err| panic!("{}: {err}", case.display()));
        let case_name = case.file_name().unwrap().to_string_lossy().into_owned();
        let their_jobs: Vec<&String> = theirs
            .keys()
            .filter(|key| !key.starts_with('.') && !NOT_JOBS.contains(&key.as_str()))
            .collect();
        let our_jobs: Vec<&String> = ours
            .jobs
            .values()
            .filter(|job| !job.hidden)
            .map(|job| &job.name)
            .collect();
        assert_eq!(our_jobs, their_jobs, "{case_name}: job lists differ");
        for name in their_jobs {
            let expected = with_gitlab_values(
                &format!("{case_name}/{name}"),
                facets_of_preview(&theirs[name]),
            );
            let actual = facets_of_ours(&ours, name);
            if expected != actual {
                disagreements.push(format!(
                    "{case_name}/{name}:\n  gitlab-ci-local: {expected}\n  ci-secrets:      {actual}"
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
