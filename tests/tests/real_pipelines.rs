//! Real pipelines as GitLab reads them (issue 15), through the binary:
//! the variables a job's secrets expand with are the ones GitLab gives the
//! job.

use crate::support::{Project, code, stderr, stdout};

/// Resolves job `job` of `pipeline` against a testkv store of `entries`,
/// as JSON.
fn resolve(pipeline: &str, entries: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let project = Project::new();
    project.write(".gitlab-ci.yml", pipeline);
    let store = project.store(entries);
    project.use_store(&store);
    project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json"])
        .args(extra)
        .output()
        .unwrap()
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
