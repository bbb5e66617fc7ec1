//! Delivery of resolved values: as environment values, as 0600 files, or
//! printed in a format (`resolve`). [`prepare()`] is the one path every
//! consumer takes.

pub mod env;
pub mod files;
pub mod format;
pub mod prepared;
pub mod risky;

pub use env::{EnvValueError, env_text};
pub use files::{FileError, SecretFiles};
pub use format::{DotenvLimit, EntryKind, FormatError, OutputEntry, OutputFormat, render};
pub use prepared::{Delivery, DeliveryError, DeliveryMode, EnvVar, prepare};
pub use risky::{RiskyName, risky_names};
