//! See `ci_secrets_fuzz::masker`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ci_secrets_fuzz::masker(data));
