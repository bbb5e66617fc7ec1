//! See `ci_secrets_fuzz::rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ci_secrets_fuzz::rules(data));
