//! `ci-secrets migrate`.
mod tree;
