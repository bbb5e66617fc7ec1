//! See `ci_secrets_fuzz::masker_pauses_change_nothing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ci_secrets_fuzz::masker_pauses_change_nothing(data));
