//! The ci-secrets engine: everything between the command line and the
//! providers.
//!
//! The flow of one run, one module per step:
//! [`pipeline`] loads `.gitlab-ci.yml` (includes, `extends:`, `!reference`,
//! `default:`), [`validate`] checks `secrets:` exactly as GitLab does,
//! [`variables`] layers the job's variables and [`expand`] expands them as
//! GitLab Runner does, [`plan`] turns secrets into provider requests,
//! [`dispatch`] runs the providers concurrently under one deadline, and
//! [`deliver`] hands the values out as environment values, 0600 files or
//! printed formats. [`config`] layers the settings; [`engine`] ties the steps
//! together.

pub mod config;
pub mod deliver;
pub mod diagnose;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod expand;
pub mod mask;
pub mod pipeline;
pub mod plan;
pub mod telemetry;
pub mod validate;
pub mod variables;

pub use config::{Config, ConfigSources, LoadedConfig};
pub use engine::{JobSource, Resolution, resolve};
pub use error::CoreError;
