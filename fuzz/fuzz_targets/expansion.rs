//! See `ci_secrets_fuzz::expansion`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ci_secrets_fuzz::expansion(data));
