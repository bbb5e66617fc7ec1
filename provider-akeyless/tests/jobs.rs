//! The job files in `tests/jobs/` (GitLab's documented Akeyless examples, for
//! the binary's end-to-end tests) stay well-formed: one `deploy` job whose
//! Akeyless blocks use only the 15 keys, all strings, or a bare `akeyless:`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use ci_secrets_provider_akeyless::BLOCK_KEYS;
use serde_json::Value;

#[test]
fn every_job_file_uses_only_the_akeyless_keys() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jobs");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let pipeline: Value = serde_norway::from_str(&text).unwrap();
        let secrets = pipeline["deploy"]["secrets"]
            .as_object()
            .unwrap_or_else(|| panic!("{path:?}: deploy.secrets"));
        assert!(
            text.contains("# expect"),
            "{path:?} names its expected values"
        );
        for (variable, secret) in secrets {
            let block = secret
                .get("akeyless")
                .unwrap_or_else(|| panic!("{path:?}: {variable} has akeyless"));
            let Some(block) = block.as_object() else {
                assert!(block.is_null(), "{path:?}: {variable}: a map or bare");
                continue;
            };
            for (key, value) in block {
                assert!(
                    BLOCK_KEYS.iter().any(|k| k.name == key),
                    "{path:?}: {variable}: unknown key {key}"
                );
                assert!(value.is_string(), "{path:?}: {variable}: {key} is a string");
            }
        }
    }
    assert_eq!(files, 13);
}
