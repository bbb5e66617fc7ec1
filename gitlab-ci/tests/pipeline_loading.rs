//! Loading real-looking pipelines (fixtures under `tests/fixtures/pipelines`) and every class of
//! bad or hostile input.

// Tests fail loudly on unexpected states; unwrapping is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ci_secrets_gitlab::pipeline::{
    Expansion, ExpansionLimit, InheritGlobal, MAX_EXPANDED_BYTES, MAX_EXTENDS_DEPTH, MAX_NODES,
    PipelineError, load_pipeline, load_pipeline_for_job, load_secrets_file,
};
use ci_secrets_gitlab::validate::{job_secret_specs, validate_pipeline};
use proptest::prelude::*;
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pipelines")
        .join(name)
}

fn error_of(path: &Path) -> PipelineError {
    load_pipeline(path).expect_err("the pipeline should not load")
}

/// Writes `text` as `.gitlab-ci.yml` in a fresh directory and loads it.
fn load_text(text: &str) -> Result<ci_secrets_gitlab::pipeline::Pipeline, PipelineError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&path, text).unwrap();
    load_pipeline(&path)
}

#[test]
fn full_pipeline_resolves_includes_extends_references_and_defaults() {
    let pipeline = load_pipeline(&fixture("full/.gitlab-ci.yml")).unwrap();

    let names: Vec<&str> = pipeline.jobs.keys().map(String::as_str).collect();
    for name in [
        ".leaf",
        ".base",
        ".deploy_base",
        ".shared_vars",
        ".akeyless_base",
        ".db_secret",
        "deploy",
        "test",
        "lint",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let visible: Vec<&str> = pipeline
        .jobs
        .values()
        .filter(|j| !j.hidden)
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(visible, ["deploy", "test", "lint"]);

    let globals: Vec<(&str, &str, bool)> = pipeline
        .variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.value.as_str(), v.expand))
        .collect();
    assert_eq!(
        globals,
        [
            ("GLOBAL_STR", "hello", true),
            ("GLOBAL_NUM", "1.1", true),
            ("GLOBAL_INT", "42", true),
            ("GLOBAL_BOOL", "true", true),
            ("DEPLOY_ENV", "production", true),
            ("LITERAL", "$NOT_EXPANDED", false),
        ]
    );

    let deploy = pipeline.job("deploy").unwrap();
    // Parents merge in `extends:` order, then the job; hashes deep-merge.
    assert_eq!(
        deploy.secrets.as_ref().unwrap(),
        &json!({
            "API_KEY": {
                "akeyless": {"akeyless_api_url": "https://gw.example/api/v2", "name": "/prod/api-key"},
                "token": "$AKEYLESS_JWT"
            },
            "BASE_SECRET": {"akeyless": {"name": "/base"}},
            "DATABASE_PASSWORD": {"file": false, "vault": "production/db/password@ops"}
        })
    );
    let deploy_vars: Vec<(&str, &str)> = deploy
        .variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        deploy_vars,
        [
            ("FROM_BASE", "base"),
            ("OVERRIDDEN", "template"),
            ("FROM_TEMPLATE", "template"),
            ("JOB_VAR", "job")
        ]
    );
    assert_eq!(
        deploy.id_tokens,
        ["AKEYLESS_JWT"],
        "a job's id_tokens replace default's"
    );
    let specs = job_secret_specs(&[], deploy).unwrap();
    let summary: Vec<(&str, &str, bool)> = specs
        .iter()
        .map(|s| (s.variable.as_str(), s.provider.as_str(), s.file))
        .collect();
    assert_eq!(
        summary,
        [
            ("API_KEY", "akeyless", true),
            ("BASE_SECRET", "akeyless", true),
            ("DATABASE_PASSWORD", "vault", false)
        ]
    );
    assert_eq!(specs[0].token.as_deref(), Some("$AKEYLESS_JWT"));

    let test = pipeline.job("test").unwrap();
    assert_eq!(
        test.variables.keys().collect::<Vec<_>>(),
        ["SHARED"],
        "!reference to a hash"
    );
    assert!(test.id_tokens.is_empty(), "inherit: default: false");
    assert_eq!(
        test.inherit_variables,
        InheritGlobal::Only(vec!["GLOBAL_STR".into()])
    );
    assert_eq!(
        pipeline
            .global_variables_for(test)
            .keys()
            .collect::<Vec<_>>(),
        ["GLOBAL_STR"]
    );
    assert_eq!(
        test.secrets.as_ref().unwrap(),
        &json!({"BASE_SECRET": {"akeyless": {"name": "/base"}}})
    );

    let lint = pipeline.job("lint").unwrap();
    assert_eq!(
        lint.id_tokens,
        ["DEFAULT_JWT"],
        "id_tokens inherited from default:"
    );
    assert!(lint.secrets.is_none());
    assert_eq!(pipeline.global_variables_for(lint).len(), 6);

    assert!(
        validate_pipeline(&[], &pipeline).is_empty(),
        "{:?}",
        validate_pipeline(&[], &pipeline)
    );
}

#[test]
fn unknown_job_lists_jobs_and_suggests() {
    let pipeline = load_pipeline(&fixture("full/.gitlab-ci.yml")).unwrap();
    let message = pipeline.job("deplyo").unwrap_err().to_string();
    assert!(message.contains("no job named `deplyo`"), "{message}");
    assert!(message.contains("did you mean `deploy`?"), "{message}");
    assert!(message.contains("jobs: deploy, test, lint"), "{message}");
    assert!(message.contains(".gitlab-ci.yml"), "{message}");
    let hidden = pipeline.job(".base").unwrap_err();
    assert!(
        matches!(hidden, PipelineError::HiddenJob { .. }),
        "{hidden}"
    );
}

#[test]
fn extends_loop_names_the_chain() {
    let message = error_of(&fixture("errors/extends-loop.yml")).to_string();
    assert!(
        message.contains("circular dependency detected in `extends`: .a -> .b -> .c -> .a"),
        "{message}"
    );
    assert!(message.contains("extends-loop.yml"), "{message}");
}

#[test]
fn extends_unknown_parent_suggests() {
    let error = error_of(&fixture("errors/extends-unknown.yml"));
    let message = error.to_string();
    assert!(matches!(error, PipelineError::ExtendsUnknown { .. }));
    assert!(
        message.contains("job `deploy`: unknown key in `extends`: `.deploy_bsae`"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `.deploy_base`?"),
        "{message}"
    );
}

fn extends_chain(levels: usize) -> String {
    let mut text = String::from(".t0:\n  variables: {LEVEL: '0'}\n");
    for level in 1..levels {
        text.push_str(&format!(".t{level}:\n  extends: .t{}\n", level - 1));
    }
    text.push_str(&format!(
        "deploy:\n  extends: .t{}\n  script: echo\n",
        levels - 1
    ));
    text
}

#[test]
fn extends_depth_follows_gitlab() {
    // `deploy` plus MAX_EXTENDS_DEPTH ancestors is allowed, one more is not.
    let pipeline = load_text(&extends_chain(MAX_EXTENDS_DEPTH)).unwrap();
    assert_eq!(
        pipeline.job("deploy").unwrap().variables["LEVEL"].value,
        "0"
    );
    let message = load_text(&extends_chain(MAX_EXTENDS_DEPTH + 1))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("nesting too deep in `extends`"),
        "{message}"
    );
}

/// Issue 15: without a source for them, non-local includes are skipped, each
/// named with its file and line, and the jobs that need nothing from them
/// load fully.
#[test]
fn non_local_includes_without_a_source_are_skipped_with_their_lines() {
    let text = "\
include:
  - template: Auto-DevOps.gitlab-ci.yml
  - 'https://example.invalid/x.yml'
  - component: gitlab.com/org/c/deploy@1.0
  - project: group/ci
    ref: v2
    file: [/a.yml, b.yml]
  - artifact: generated.yml
    job: build
deploy:
  secrets: {DB: {vault: db/pw@ops}}
  script: [./deploy]
";
    let pipeline = load_text(text).unwrap();
    let skipped: Vec<(String, Option<usize>)> = pipeline
        .skipped_includes
        .iter()
        .map(|skip| (skip.entry.clone(), skip.line))
        .collect();
    assert_eq!(
        skipped,
        [
            ("template: Auto-DevOps.gitlab-ci.yml".to_owned(), Some(2)),
            ("remote: https://example.invalid/x.yml".to_owned(), Some(3)),
            ("component: gitlab.com/org/c/deploy@1.0".to_owned(), Some(4)),
            (
                "project: group/ci, file: /a.yml, ref: v2".to_owned(),
                Some(5)
            ),
            (
                "project: group/ci, file: b.yml, ref: v2".to_owned(),
                Some(5)
            ),
            ("artifact: generated.yml, job: build".to_owned(), Some(8)),
        ]
    );
    let shown = pipeline.skipped_includes[0].to_string();
    assert!(
        shown.ends_with(".gitlab-ci.yml:2: include `template: Auto-DevOps.gitlab-ci.yml` skipped: no source for non-local includes was given"),
        "{shown}"
    );
    assert!(pipeline.unchecked.is_empty());
    assert_eq!(
        pipeline.job("deploy").unwrap().secrets.as_ref().unwrap()["DB"]["vault"],
        "db/pw@ops"
    );
}

/// Issue 15: a job whose parent or `!reference` target is missing while
/// includes were skipped is unchecked (it may come from them), never
/// invalid; the other jobs are checked; without skipped includes the same
/// gap stays an error.
#[test]
fn jobs_that_need_a_skipped_include_are_unchecked() {
    let body = "\
a: {extends: .from-template, script: [x]}
b:
  secrets: !reference [.vault, secrets]
  script: [x]
c: {extends: a}
d:
  secrets: {DB: {vault: db/pw@ops}}
  script: [x]
";
    let text = format!("include: {{template: Jobs/Deploy.gitlab-ci.yml}}\n{body}");
    let pipeline = load_text(&text).unwrap();
    let unchecked: Vec<(&str, &str)> = pipeline
        .unchecked
        .iter()
        .map(|job| (job.job.as_str(), job.needs.as_str()))
        .collect();
    assert_eq!(
        unchecked,
        [
            ("a", "`extends: .from-template`"),
            ("c", "`extends: .from-template`"),
            ("b", "`!reference [\".vault\", \"secrets\"]`"),
        ]
    );
    assert!(pipeline.job("d").is_ok());
    let error = pipeline.job("a").unwrap_err();
    assert!(matches!(error, PipelineError::Unchecked { .. }), "{error}");
    assert!(
        error.to_string().contains(
            "job `a` is unchecked: it needs `extends: .from-template`, which no loaded file defines; it may come from the skipped include(s) `template: Jobs/Deploy.gitlab-ci.yml`"
        ),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&path, &text).unwrap();
    for job in ["b", "not-defined-here"] {
        let error = load_pipeline_for_job(&path, job).unwrap_err();
        assert!(matches!(error, PipelineError::Unchecked { .. }), "{error}");
    }
    assert!(load_pipeline_for_job(&path, "d").is_ok());

    let error = load_text(body).unwrap_err();
    assert!(
        matches!(error, PipelineError::ExtendsUnknown { .. }),
        "{error}"
    );
}

#[test]
fn include_loop_names_the_chain() {
    let error = error_of(&fixture("errors/include-loop-a.yml"));
    let message = error.to_string();
    assert!(
        matches!(error, PipelineError::IncludeLoop { .. }),
        "{message}"
    );
    assert!(
        message.contains("include-loop-a.yml -> ")
            && message.contains("include-loop-b.yml -> ")
            && message.ends_with("include-loop-a.yml"),
        "{message}"
    );
}

#[test]
fn include_path_problems() {
    let message = error_of(&fixture("errors/include-outside.yml")).to_string();
    assert!(
        message.contains("points outside the project directory"),
        "{message}"
    );
    let message = error_of(&fixture("errors/include-missing.yml")).to_string();
    assert!(
        message.contains("Local file `does-not-exist.yml` does not exist!"),
        "{message}"
    );
    let message = load_text("include: notes.txt\n").unwrap_err().to_string();
    assert!(
        message.contains("does not have YAML extension"),
        "{message}"
    );
    // An entry whose rules do not match is not read at all, as in GitLab.
    assert!(load_text("include: {local: x.yml, rules: [{if: $X}]}\njob: {script: [x]}\n").is_ok());
}

#[test]
fn too_many_includes() {
    let dir = tempfile::tempdir().unwrap();
    // A chain of distinct files: no loop, but more than GitLab's 150 includes.
    for index in 0..160 {
        std::fs::write(
            dir.path().join(format!("f{index}.yml")),
            format!("include: f{}.yml\n.j{index}: {{}}\n", index + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("f160.yml"), ".end: {}\n").unwrap();
    let message = load_pipeline(&dir.path().join("f0.yml"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("Maximum of 150 nested includes are allowed!"),
        "{message}"
    );
}

#[test]
fn references_missing_and_circular() {
    let message = error_of(&fixture("errors/reference-missing.yml")).to_string();
    assert!(
        message.contains(r#"!reference [".setup", "before_script"] could not be found"#),
        "{message}"
    );
    assert!(message.contains("`deploy`"), "{message}");
    let message = error_of(&fixture("errors/reference-loop.yml")).to_string();
    assert!(message.contains("is part of a circular chain"), "{message}");
}

#[test]
fn nested_references_resolve_up_to_the_limit() {
    let chain = |levels: usize| {
        let mut text = String::from(".r0:\n  script: [echo deep]\n");
        for level in 1..=levels {
            text.push_str(&format!(
                ".r{level}:\n  script: !reference [.r{}, script]\n",
                level - 1
            ));
        }
        text.push_str(&format!(
            "deploy:\n  variables: {{A: '1'}}\n  script: !reference [.r{levels}, script]\n"
        ));
        text
    };
    assert!(load_text(&chain(9)).is_ok());
    let message = load_text(&chain(12)).unwrap_err().to_string();
    assert!(message.contains("nested more than 10 levels"), "{message}");
}

#[test]
fn hostile_yaml_fails_fast() {
    let error = error_of(&fixture("errors/alias-bomb.yml"));
    // The parser's own repetition limit or the node budget, whichever comes first.
    assert!(
        matches!(
            error,
            PipelineError::Yaml { .. }
                | PipelineError::ExpansionTooLarge {
                    expansion: Expansion::Yaml { .. },
                    limit: ExpansionLimit::Nodes(MAX_NODES),
                    ..
                }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("alias bomb"), "{error}");

    // Quadratic alias expansion: one big anchor repeated many times.
    let mut text = String::from("a: &a [");
    text.push_str(&"x,".repeat(20_000));
    text.push_str("x]\nb: [");
    text.push_str(&"*a,".repeat(3_000));
    text.push_str("*a]\n");
    let error = load_text(&text).unwrap_err();
    assert!(error.to_string().contains("alias"), "{error}");

    let deep = format!("a: {}1{}\n", "[".repeat(300), "]".repeat(300));
    let error = load_text(&deep).unwrap_err();
    assert!(matches!(error, PipelineError::Yaml { .. }), "{error}");
    let deep = format!("a: {}1{}\n", "[".repeat(101), "]".repeat(101));
    assert!(
        load_text(&deep)
            .unwrap_err()
            .to_string()
            .contains("deeper than 100")
    );
}

/// Writes `text` as `.gitlab-ci.yml` in a fresh directory and loads job `job` alone.
fn load_job_text(
    text: &str,
    job: &str,
) -> Result<ci_secrets_gitlab::pipeline::Pipeline, PipelineError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&path, text).unwrap();
    load_pipeline_for_job(&path, job)
}

/// A template of `bytes` bytes of text and `jobs` jobs that copy it with `how`.
fn fan_out(bytes: usize, jobs: usize, how: &str) -> String {
    let mut text = format!(".big:\n  variables:\n    BIG: \"{}\"\n", "x".repeat(bytes));
    for index in 0..jobs {
        text.push_str(&format!("job_{index}: {{{how}script: [x]}}\n"));
    }
    text
}

#[test]
fn every_copy_counts_against_the_expansion_budget_in_bytes() {
    let per_copy = 1 << 20;
    let copies_allowed = MAX_EXPANDED_BYTES / per_copy;
    // Fewer copies than the budget holds load; a few more do not, and the error names the job
    // that went over and what it copied.
    assert!(load_text(&fan_out(per_copy, copies_allowed - 2, "extends: .big, ")).is_ok());
    let error = load_text(&fan_out(per_copy, copies_allowed + 2, "extends: .big, ")).unwrap_err();
    match &error {
        PipelineError::ExpansionTooLarge {
            key: Some(job),
            expansion: Expansion::Extends { parent },
            limit: ExpansionLimit::Bytes(MAX_EXPANDED_BYTES),
            ..
        } => {
            assert!(job.starts_with("job_"), "{error}");
            assert_eq!(parent, ".big");
        }
        other => panic!("{other}"),
    }
    let error = load_text(&fan_out(
        per_copy,
        copies_allowed + 2,
        "variables: !reference [.big, variables], ",
    ))
    .unwrap_err();
    assert!(
        matches!(
            &error,
            PipelineError::ExpansionTooLarge {
                expansion: Expansion::Reference { .. },
                limit: ExpansionLimit::Bytes(_),
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains(r#"`!reference [".big", "variables"]`"#),
        "{error}"
    );
}

#[test]
fn one_job_is_loaded_without_expanding_or_checking_the_others() {
    let text = format!(
        "{}broken: {{extends: .missing}}\nlooped: {{extends: looped}}\n",
        fan_out(1 << 20, 200, "extends: .big, ")
    );
    assert!(load_text(&text).is_err());
    let pipeline = load_job_text(&text, "job_199").unwrap();
    assert_eq!(pipeline.jobs.len(), 1);
    let job = pipeline.job("job_199").unwrap();
    assert_eq!(job.variables["BIG"].value.len(), 1 << 20);
    let error = load_job_text(&text, "broken").unwrap_err();
    assert!(
        matches!(error, PipelineError::ExtendsUnknown { .. }),
        "{error}"
    );
}

#[test]
fn one_job_sees_what_a_full_load_sees() {
    let full = load_pipeline(&fixture("full/.gitlab-ci.yml")).unwrap();
    for (name, job) in full.jobs.iter().filter(|(_, job)| !job.hidden) {
        let alone = load_pipeline_for_job(&fixture("full/.gitlab-ci.yml"), name).unwrap();
        assert_eq!(alone.job(name).unwrap(), job, "{name}");
        assert_eq!(
            alone.global_variables_for(job),
            full.global_variables_for(job),
            "{name}"
        );
    }
    // References read entries as they were after `extends:`, the job's own included.
    let text = ".a: {script: [a]}\n.b: {extends: .a, variables: {X: '1'}}\n\
        job: {extends: .b, script: [j], secrets: {S: !reference [job, script]}, variables: !reference [.b, variables]}\n";
    let full = load_text(text).unwrap();
    let alone = load_job_text(text, "job").unwrap();
    assert_eq!(alone.job("job").unwrap(), full.job("job").unwrap());
    assert_eq!(alone.job("job").unwrap().secrets, Some(json!({"S": ["j"]})));
    // The nesting limit of references holds for one job too.
    let mut chain = String::from(".r0:\n  script: [echo deep]\n");
    for level in 1..=12 {
        chain.push_str(&format!(
            ".r{level}:\n  script: !reference [.r{}, script]\n",
            level - 1
        ));
    }
    chain.push_str("deploy:\n  script: !reference [.r12, script]\n");
    let message = load_job_text(&chain, "deploy").unwrap_err().to_string();
    assert!(message.contains("nested more than 10 levels"), "{message}");
}

#[test]
fn one_job_unknown_or_hidden_is_the_same_error_as_from_a_full_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitlab-ci.yml");
    std::fs::write(
        &path,
        "deploy: {script: [x]}\n.template: {script: [x]}\nvariables: {A: '1'}\n",
    )
    .unwrap();
    let full = load_pipeline(&path).unwrap();
    for name in ["deplyo", ".template", "variables"] {
        assert_eq!(
            load_pipeline_for_job(&path, name).unwrap_err().to_string(),
            full.job(name).unwrap_err().to_string(),
            "{name}"
        );
    }
}

#[test]
fn oversized_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitlab-ci.yml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(50 * 1024 * 1024).unwrap(); // sparse: 50 MB on paper
    let error = load_pipeline(&path).unwrap_err();
    assert!(matches!(error, PipelineError::TooLarge { .. }), "{error}");
    assert!(error.to_string().contains(".gitlab-ci.yml"), "{error}");
}

#[test]
fn bad_bytes_name_the_file() {
    let error = error_of(&fixture("errors/invalid-utf8.yml"));
    assert!(
        matches!(error, PipelineError::InvalidUtf8 { line: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("invalid-utf8.yml"), "{error}");
    let error = error_of(&fixture("errors/nul-byte.yml"));
    assert!(
        matches!(error, PipelineError::NulByte { line: 2, .. }),
        "{error}"
    );
    assert!(matches!(
        load_text("# only a comment\n").unwrap_err(),
        PipelineError::Empty { .. }
    ));
    assert!(
        load_text("- a\n- b\n")
            .unwrap_err()
            .to_string()
            .contains("top level must be a hash")
    );
    assert!(
        load_text("deploy: !custom x\n")
            .unwrap_err()
            .to_string()
            .contains("unsupported YAML tag `!custom`")
    );
}

#[test]
fn job_shape_errors() {
    let error = error_of(&fixture("errors/default-secrets.yml"));
    assert!(
        error
            .to_string()
            .contains("`default:` cannot hold `secrets:`"),
        "{error}"
    );
    let message = load_text("deploy: [a]\n").unwrap_err().to_string();
    assert!(
        message.contains("job `deploy`") && message.contains("must be a hash"),
        "{message}"
    );
    let message = load_text("deploy:\n  variables: {A: {value: x, bogus: 1}}\n")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`A` has the unknown key `bogus`"),
        "{message}"
    );
    // Hidden keys may hold any value (anchors are often parked there).
    assert!(load_text(".anchors: &x [1, 2]\ndeploy: {script: echo}\n").is_ok());
}

#[test]
fn secrets_file() {
    let job = load_secrets_file(&fixture("secrets-file.yml")).unwrap();
    assert_eq!(job.name, "secrets");
    assert_eq!(job.id_tokens, ["AKEYLESS_JWT"]);
    assert_eq!(job.variables["AKEYLESS_ACCESS_ID"].value, "p-123");
    let specs = job_secret_specs(&[], &job).unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!(
        specs[1].block,
        json!({"name": "/prod/tls", "akeyless_api_url": "https://gw.example/api/v2", "akeyless_access_type": "jwt"})
    );

    let message = load_secrets_file(&fixture("errors/secrets-unknown-key.yml"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("unknown key `script`"), "{message}");
    assert!(message.contains("secrets-unknown-key.yml"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yml");
    std::fs::write(&path, "variables: {A: b}\n").unwrap();
    assert!(
        load_secrets_file(&path)
            .unwrap_err()
            .to_string()
            .contains("missing the `secrets:` key")
    );
    std::fs::write(&path, "secrets: !reference [.x, secrets]\n").unwrap();
    assert!(
        load_secrets_file(&path)
            .unwrap_err()
            .to_string()
            .contains("unsupported YAML tag")
    );
}

#[test]
fn invalid_secrets_are_reported_by_validate_pipeline() {
    let pipeline = load_text(
        "Deploy:\n  script: [x]\n  secrets:\n    DB:\n      akeyless: {name: /db, foo: 1}\n.hidden:\n  secrets: {X: 1}\n",
    )
    .unwrap();
    assert_eq!(
        validate_pipeline(&[], &pipeline),
        ["jobs:deploy:secrets:db:akeyless config contains unknown keys: foo"]
    );
    let error = job_secret_specs(&[], pipeline.job("Deploy").unwrap()).unwrap_err();
    assert_eq!(error.job, "Deploy");
    assert!(error.to_string().contains("unknown keys: foo"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn loader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitlab-ci.yml");
        std::fs::write(&path, &bytes).unwrap();
        let _ = load_pipeline(&path);
        let _ = load_secrets_file(&path);
    }

    #[test]
    fn loader_never_panics_on_yaml_like_text(
        lines in proptest::collection::vec(
            (0usize..4, prop_oneof![
                Just("deploy:"), Just(".t:"), Just("extends: .t"), Just("extends: [.t, deploy]"),
                Just("secrets:"), Just("DB: {akeyless: {name: x}}"), Just("variables: {A: 1}"),
                Just("script: !reference [.t, script]"), Just("include: x.yml"), Just("<<: *a"),
                Just("a: &a {b: 1}"), Just("- x"), Just("id_tokens: {T: {aud: y}}"), Just("default:"),
                Just("inherit: {default: false}"), Just("x: !reference [deploy]"), Just("'"),
            ]),
            0..12,
        ),
    ) {
        let text: String = lines.iter().map(|(indent, line)| format!("{}{line}\n", "  ".repeat(*indent))).collect();
        if let Ok(pipeline) = load_text(&text) {
            let _ = validate_pipeline(&[], &pipeline);
            for job in pipeline.jobs.values() {
                let _ = job_secret_specs(&[], job);
            }
        }
    }

    #[test]
    fn validator_never_panics(secrets in arbitrary_json()) {
        let _ = ci_secrets_gitlab::validate::validate_job_secrets(&[], "deploy", &secrets);
        let job = ci_secrets_gitlab::pipeline::Job { secrets: Some(secrets), ..ci_secrets_gitlab::pipeline::Job::new("deploy") };
        let _ = job_secret_specs(&[], &job);
    }
}

/// JSON values biased towards the keys GitLab's validators look at.
fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("vault".to_owned()),
        Just("akeyless".to_owned()),
        Just("aws_secrets_manager".to_owned()),
        Just("gcp_secret_manager".to_owned()),
        Just("azure_key_vault".to_owned()),
        Just("gitlab_secrets_manager".to_owned()),
        Just("file".to_owned()),
        Just("token".to_owned()),
        Just("name".to_owned()),
        Just("engine".to_owned()),
        Just("path".to_owned()),
        Just("field".to_owned()),
        Just("source".to_owned()),
        Just("secret_id".to_owned()),
        "[a-zA-Z_/#.-]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z#/ @-]{0,10}|group/[a-z/ ]{0,8}|project".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A fetched file's text and the project and ref it came from.
type FakeFile = (&'static str, Option<(String, String)>);

/// A source that holds some files, says others are pending, and fails one.
#[derive(Debug)]
struct FakeSource(std::collections::HashMap<String, FakeFile>);

impl ci_secrets_gitlab::pipeline::IncludeSource for FakeSource {
    fn lookup(
        &self,
        file: &ci_secrets_gitlab::pipeline::ExternalFile,
        _variables: &indexmap::IndexMap<String, String>,
    ) -> ci_secrets_gitlab::pipeline::Lookup {
        use ci_secrets_gitlab::pipeline::{FetchedFile, Lookup};
        let key = file.to_string();
        if key.contains("forbidden") {
            return Lookup::Failed {
                message: "Project `forbidden` not found or access denied!".to_owned(),
            };
        }
        match self.0.get(&key) {
            Some((text, project)) => Lookup::Found(FetchedFile {
                name: PathBuf::from(&key),
                bytes: text.as_bytes().into(),
                project: project.clone(),
            }),
            None => Lookup::Pending,
        }
    }
}

fn load_with_source(
    text: &str,
    source: FakeSource,
) -> Result<ci_secrets_gitlab::pipeline::Pipeline, PipelineError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".gitlab-ci.yml");
    std::fs::write(&path, text).unwrap();
    let options = ci_secrets_gitlab::pipeline::LoadOptions {
        includes: Some(std::sync::Arc::new(source)),
        include_variables: [("REF".to_owned(), "v2".to_owned())].into_iter().collect(),
        ..Default::default()
    };
    ci_secrets_gitlab::pipeline::load_pipeline_with(&path, &options)
}

/// Issue 15: fetched files merge like local ones; a `local:` include inside
/// a project's file is that project's file at the same ref; files not
/// fetched yet are all listed at once; a failed fetch names the entry and
/// its line; CI/CD variables expand in `ref:`.
#[test]
fn fetched_includes_merge_and_nest_as_in_gitlab() {
    let files: std::collections::HashMap<_, _> = [
        (
            "project: group/ci, file: /base.yml, ref: v2".to_owned(),
            (
                "include: [{local: /vault.yml}]\n.deploy: {stage: deploy, variables: {ROLE: base}}\n",
                Some(("group/ci".to_owned(), "v2".to_owned())),
            ),
        ),
        (
            "project: group/ci, file: /vault.yml, ref: v2".to_owned(),
            (
                ".vault: {secrets: {DB: {vault: db/pw@ops}}}\n",
                Some(("group/ci".to_owned(), "v2".to_owned())),
            ),
        ),
    ]
    .into_iter()
    .collect();
    let text = "\
include:
  - project: group/ci
    ref: $REF
    file: /base.yml
deploy:
  extends: [.deploy, .vault]
  variables: {ROLE: own}
  script: [x]
";
    let pipeline = load_with_source(text, FakeSource(files.clone())).unwrap();
    let deploy = pipeline.job("deploy").unwrap();
    assert_eq!(deploy.stage.as_deref(), Some("deploy"));
    assert_eq!(deploy.variables["ROLE"].value, "own");
    assert_eq!(deploy.secrets.as_ref().unwrap()["DB"]["vault"], "db/pw@ops");
    assert!(pipeline.skipped_includes.is_empty());

    let pending = format!("{text}\ninclude_more: {{}}\n").replace(
        "    file: /base.yml\n",
        "    file: [/base.yml, /x.yml]\n  - remote: https://example.invalid/r.yml\n",
    );
    let error = load_with_source(&pending, FakeSource(files.clone())).unwrap_err();
    let PipelineError::IncludesPending { files: wanted } = &error else {
        panic!("{error}");
    };
    let wanted: Vec<String> = wanted.iter().map(ToString::to_string).collect();
    assert_eq!(
        wanted,
        [
            "remote: https://example.invalid/r.yml",
            "project: group/ci, file: /x.yml, ref: v2",
        ]
    );

    let failing = "job: {script: [x]}\ninclude:\n  - project: forbidden\n    file: a.yml\n";
    let message = load_with_source(failing, FakeSource(files))
        .unwrap_err()
        .to_string();
    assert!(
        message.ends_with(".gitlab-ci.yml:3: include `project: forbidden, file: a.yml`: Project `forbidden` not found or access denied!"),
        "{message}"
    );
}

/// Issue 15: `include: rules:` decide, with the CI/CD variables (never the
/// pipeline's own), `exists:` against the repository, and GitLab's
/// messages for a bad rule.
#[test]
fn include_rules_pick_the_files_gitlab_would() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    write("prod.yml", ".env: {variables: {WHERE: prod}}\n");
    write("dev.yml", ".env: {variables: {WHERE: dev}}\n");
    write("docker.yml", ".docker: {variables: {DOCKER: 'yes'}}\n");
    write("Dockerfile", "FROM scratch\n");
    let path = write(
        ".gitlab-ci.yml",
        "\
variables: {ENV: prod}
include:
  - local: dev.yml
  - local: prod.yml
    rules:
      - if: $ENV == \"prod\"
  - local: docker.yml
    rules:
      - exists: [Dockerfile]
job:
  extends: [.env, .docker]
  script: [x]
",
    );
    let load = |env: Option<&str>| {
        let options = ci_secrets_gitlab::pipeline::LoadOptions {
            project_dir: Some(dir.path().to_owned()),
            include_variables: env
                .map(|env| ("ENV".to_owned(), env.to_owned()))
                .into_iter()
                .collect(),
            ..Default::default()
        };
        ci_secrets_gitlab::pipeline::load_pipeline_with(&path, &options)
    };
    let prod = load(Some("prod")).unwrap();
    assert_eq!(prod.jobs["job"].variables["WHERE"].value, "prod");
    assert_eq!(prod.jobs["job"].variables["DOCKER"].value, "yes");
    // The pipeline's own `ENV: prod` does not count for include rules.
    for env in [Some("dev"), None] {
        let other = load(env).unwrap();
        assert_eq!(other.jobs["job"].variables["WHERE"].value, "dev", "{env:?}");
    }

    std::fs::write(
        &path,
        "include:\n  - local: dev.yml\n    rules:\n      - if: $ENV == prod\njob: {script: [x]}\n",
    )
    .unwrap();
    let message = load(Some("prod")).unwrap_err().to_string();
    assert!(message.contains(".gitlab-ci.yml:2: include"), "{message}");
    assert!(message.contains("invalid expression syntax"), "{message}");
}

/// Issue 15 (`compose!`): GitLab composes a node's children only when the
/// node itself is valid. A visible entry that is neither a job nor a trigger
/// job makes the `Jobs` entry invalid, so no job's `secrets:` is checked and
/// GitLab's messages are the only ones; a trigger job (`trigger:` or
/// `needs:` without `script:`) has no `secrets:` keyword, so its own
/// `allowed_keys` check fails and its secrets are never looked at.
#[test]
fn secrets_are_checked_only_where_gitlab_composes_them() {
    let bad_secret = "secrets: {DB: {akeyless: {name: /db, foo: 1}}}";
    let pipeline = load_text(&format!(
        "deploy: {{script: [x], {bad_secret}}}\nbuild: {{stage: build}}\nlint: {{image: x}}\n"
    ))
    .unwrap();
    assert_eq!(
        validate_pipeline(&[], &pipeline),
        [
            "jobs build config should implement the script:, run:, or trigger: keyword",
            "jobs lint config should implement the script:, run:, or trigger: keyword",
        ]
    );
    let pipeline = load_text(&format!(
        "deploy: {{trigger: group/other, image: x, {bad_secret}}}\nafter: {{needs: [deploy], {bad_secret}}}\nrun: {{run: [{{name: x, script: y}}], {bad_secret}}}\n"
    ))
    .unwrap();
    assert_eq!(
        validate_pipeline(&[], &pipeline),
        [
            "jobs:deploy config contains unknown keys: image, secrets",
            "jobs:after config contains unknown keys: secrets",
            "jobs:run:secrets:db:akeyless config contains unknown keys: foo",
        ]
    );
    let pipeline = load_text(".only-hidden: {script: [x]}\n").unwrap();
    assert_eq!(
        validate_pipeline(&[], &pipeline),
        ["jobs config should contain at least one visible job"]
    );
}
