//! GitLab CI pipeline semantics, usable on their own: everything ci-secrets
//! knows about `.gitlab-ci.yml` before any provider is involved.
//!
//! - [`pipeline`] loads `.gitlab-ci.yml` (local `include:`, `extends:`,
//!   `!reference`, `default:`) and extracts each job's `secrets:`,
//!   `variables:` and `id_tokens:`.
//! - [`validate`] checks `secrets:` exactly as GitLab does, and checks blocks
//!   of providers GitLab does not know against the schemas of the providers
//!   the caller passes in (no global registry is consulted).
//! - [`variables`] layers the job's variables from every source GitLab knows,
//!   and [`expand`] expands `$NAME` / `${NAME}` as GitLab Runner does.
//!
//! This crate makes no network call and runs no async code: the engine
//! (`ci-secrets-core`) plans and dispatches on top of it.
//!
//! Checking a pipeline with GitLab's rules alone (no provider beyond
//! GitLab's, hence `&[]`):
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join(".gitlab-ci.yml");
//! std::fs::write(&path, "
//! deploy:
//!   secrets:
//!     DB: {akeyless: {name: /db, foo: 1}}
//!   script: [./deploy]
//! ").unwrap();
//! let pipeline = ci_secrets_gitlab::pipeline::load_pipeline(&path).unwrap();
//! assert_eq!(
//!     ci_secrets_gitlab::validate::validate_pipeline(&[], &pipeline),
//!     ["jobs:deploy:secrets:db:akeyless config contains unknown keys: foo"],
//! );
//! ```

pub mod expand;
mod git;
pub mod id_tokens;
pub mod migrate;
pub mod pipeline;
pub mod predefined;
pub mod rails_expand;
mod re2;
pub mod rules;
pub mod validate;
pub mod variables;
