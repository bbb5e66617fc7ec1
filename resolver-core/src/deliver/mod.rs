//! Delivery of resolved values: as environment values, as 0600 files, or
//! printed in a format (`resolve`).

pub mod env;
pub mod files;
pub mod format;

pub use env::{EnvValueError, env_text};
pub use files::{FileError, SecretFiles};
pub use format::{OutputEntry, OutputFormat, render};
