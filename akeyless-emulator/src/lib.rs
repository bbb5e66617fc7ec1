//! A faithful local emulator of the Akeyless REST API, for tests, benchmarks and offline work.
//!
//! It serves `POST <prefix>/<operation>` for the prefixes `""`, `/v2` and `/api/v2` and the
//! operations `auth`, `describe-item`, `get-secret-value`, `get-dynamic-secret-value`,
//! `get-rotated-secret-value`, `get-ssh-certificate`, `get-pki-certificate`,
//! `get-certificate-value`, `validate-token` and `list-items`, with the request and response shapes
//! of the Akeyless API and SDKs, plus `GET /__emulator/stats`. Authentication really verifies:
//! access keys, RS256/ES256 JWTs (jwt, k8s, azure_ad, gcp), universal identity tokens and SigV4
//! signatures of `aws_iam` cloud-ids. SSH and PKI issuers sign real certificates.
//!
//! ```no_run
//! # async fn example() -> Result<(), akeyless_emulator::EmulatorError> {
//! use akeyless_emulator::{Access, Emulator, Fault, Item, Operation, Seed};
//! use std::time::Duration;
//!
//! let seed = Seed::new()
//!     .with_access(Access::access_key("p-ci0000000001", "key").allow("/prod/*"))
//!     .with_item("/prod/db/password", Item::static_text("s3cr3t"));
//! let emulator = Emulator::builder().seed(seed).start().await?;
//! // The first two logins get 429 with Retry-After: 1.
//! emulator
//!     .faults()
//!     .fail_next(Operation::Auth, 2, Fault::too_many_requests(Duration::from_secs(1)))?;
//! // ... point the client at emulator.url() ...
//! assert_eq!(emulator.stats().requests(Operation::Auth), 0);
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod access_type;
mod api;
mod aws;
mod ca;
mod cli;
mod csr_cache;
pub mod demo;
mod error;
mod faults;
mod glob;
mod jwt;
mod seed;
mod server;
mod ssh;
mod state;
mod stats;
pub mod testing;
mod tokens;

pub use access_type::AccessType;
pub use cli::{EmulatorArgs, run_cli};
pub use error::EmulatorError;
pub use faults::{Fault, FaultController, FaultPlan, RandomFailures};
pub use seed::{Access, AccessMethod, DynamicShape, Item, Seed};
pub use server::{Emulator, EmulatorBuilder, RunningEmulator};
pub use stats::{Operation, Stats};
