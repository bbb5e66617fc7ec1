//! The end-to-end tests: the real `ci-secrets` binary (as `ci-secrets-e2e`,
//! the same CLI with the `testkv` provider of this crate linked in) run
//! against local servers, emulators and files. One test binary for every
//! suite, so the support modules are compiled and linked once; each suite
//! is a module (`cargo test -p ci-secrets-e2e --test e2e signals::`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod akeyless_support;
mod hardening_support;
mod support;

mod akeyless_calls_and_faults;
mod akeyless_docs_examples;
mod akeyless_scheduling;
mod canary;
mod component;
mod config_env;
mod core_cli;
mod delivery;
mod dotenv_roundtrip;
mod exec_output;
mod exec_safety;
mod gitlab_examples;
mod hostile_input;
mod hostile_servers;
mod id_tokens;
mod masking;
mod merge_corpus;
mod migrate;
mod otlp;
mod plan_doctor;
mod real_pipelines;
mod signals;
mod testkv_conformance;
