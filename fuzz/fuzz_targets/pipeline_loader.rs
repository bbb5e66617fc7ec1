//! `load_pipeline` (and `load_secrets_file`, validation, planning) on
//! arbitrary files; see `ci_secrets_fuzz::pipeline_loader`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// One directory per fuzzing process: the files are rewritten each run.
static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir =
        DIR.get_or_init(|| tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}")));
    ci_secrets_fuzz::pipeline_loader(data, dir.path());
});
