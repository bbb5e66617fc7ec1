//! End-to-end test support: the `testkv` provider and helpers to run binaries.

pub mod test_provider;
