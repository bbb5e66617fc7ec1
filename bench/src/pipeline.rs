//! A generated pipeline for `ci-secrets validate`: many jobs spread over
//! local includes, each extending templates that carry `id_tokens:`,
//! `variables:` and `secrets:`, and adding secrets of its own.

use std::fmt::Write as _;
use std::path::Path;

use crate::BenchError;

/// Jobs per included file.
const JOBS_PER_FILE: usize = 100;

/// Writes `.gitlab-ci.yml` and its includes into `dir`, with `jobs` jobs;
/// returns the path of `.gitlab-ci.yml`.
pub fn write_pipeline(dir: &Path, jobs: usize) -> Result<std::path::PathBuf, BenchError> {
    let files = jobs.div_ceil(JOBS_PER_FILE);
    let ci_dir = dir.join("ci");
    std::fs::create_dir_all(&ci_dir).map_err(|err| BenchError::io("creating ci/", err))?;

    let mut root = String::from("stages: [build, test, deploy]\n\nvariables:\n");
    root.push_str("  AKEYLESS_URL: https://gateway.example.com:8000/api/v2\n");
    root.push_str("  VAULT_SERVER_URL: https://vault.example.com\n\ninclude:\n");
    root.push_str("  - local: ci/templates.yml\n");
    for file in 0..files {
        let _ = writeln!(root, "  - local: ci/jobs-{file}.yml");
    }
    write(&dir.join(".gitlab-ci.yml"), &root)?;
    write(&ci_dir.join("templates.yml"), TEMPLATES)?;

    for file in 0..files {
        let mut text = String::new();
        let first = file * JOBS_PER_FILE;
        for job in first..(first + JOBS_PER_FILE).min(jobs) {
            let template = match job % 3 {
                0 => ".deploy",
                1 => ".akeyless",
                _ => ".vault",
            };
            let _ = write!(
                text,
                "job-{job:04}:\n  extends: {template}\n  stage: {stage}\n  script:\n    - ./run.sh {job}\n  \
                 variables:\n    JOB_INDEX: \"{job}\"\n  secrets:\n    EXTRA_{job:04}:\n      \
                 file: false\n      token: $AKEYLESS_JWT\n      akeyless:\n        \
                 name: /prod/app/secret-{job:04}\n        akeyless_api_url: $AKEYLESS_URL\n        \
                 data_key: password\n\n",
                stage = ["build", "test", "deploy"][job % 3],
            );
        }
        write(&ci_dir.join(format!("jobs-{file}.yml")), &text)?;
    }
    Ok(dir.join(".gitlab-ci.yml"))
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text)
        .map_err(|err| BenchError::io(format!("writing {}", path.display()), err))
}

const TEMPLATES: &str = r#".akeyless:
  id_tokens:
    AKEYLESS_JWT:
      aud: https://akeyless.example
  variables:
    AKEYLESS_ACCESS_ID: p-pipeline00001
  secrets:
    DATABASE_PASSWORD:
      token: $AKEYLESS_JWT
      akeyless:
        name: /prod/db/password
        akeyless_api_url: $AKEYLESS_URL
    DB_USER:
      file: false
      token: $AKEYLESS_JWT
      akeyless:
        name: /prod/db/json
        akeyless_api_url: $AKEYLESS_URL
        data_key: /credentials/username

.vault:
  id_tokens:
    AKEYLESS_JWT:
      aud: https://akeyless.example
    VAULT_ID_TOKEN:
      aud: https://vault.example.com
  secrets:
    API_KEY:
      token: $VAULT_ID_TOKEN
      vault: production/api/key@secret
    SIGNING_KEY:
      token: $VAULT_ID_TOKEN
      vault:
        engine:
          name: kv-v2
          path: secret
        path: production/signing
        field: key

.deploy:
  extends: [.akeyless, .vault]
  environment: production
"#;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_has_every_job_in_its_includes() {
        let dir = tempfile::tempdir().unwrap();
        let root = write_pipeline(dir.path(), 250).unwrap();
        let text = std::fs::read_to_string(root).unwrap();
        assert_eq!(text.matches("- local: ci/jobs-").count(), 3);
        let last = std::fs::read_to_string(dir.path().join("ci/jobs-2.yml")).unwrap();
        assert!(last.contains("job-0249:"));
        assert!(!last.contains("job-0250:"));
    }
}
