//! The ci-secrets engine: everything between the command line and the
//! providers.
//!
//! The flow of one run, one module per step. GitLab's semantics come from
//! [`ci_secrets_gitlab`]: its `pipeline` loads `.gitlab-ci.yml` (includes,
//! `extends:`, `!reference`, `default:`), its `validate` checks `secrets:`
//! exactly as GitLab does, its `variables` layers the job's variables and its
//! `expand` expands them as GitLab Runner does. Here, [`plan`] turns secrets
//! into provider requests, [`dispatch`] runs the providers concurrently under
//! one deadline, and [`deliver`] hands the values out as environment values,
//! 0600 files or printed formats. [`config`] layers the settings; [`engine`]
//! ties the steps together and reports how far it is through [`progress`].
//!
//! Which providers exist is the caller's choice: every entry point that needs
//! them takes a `&[&'static ProviderRegistration]`. `ci-secrets plan` and
//! `ci-secrets doctor` live in `ci-secrets-doctor`, on top of this crate; trace
//! export, job-log sections and the progress bar in `ci-secrets-telemetry`.

pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod mask;
pub mod plan;
pub mod progress;

pub use config::{Config, ConfigSources, LoadedConfig};
pub use engine::{JobSource, Resolution, resolve};
pub use error::CoreError;
