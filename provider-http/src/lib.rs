//! The shared HTTP layer of ci-secrets providers, so that every provider
//! behaves alike on the network:
//!
//! - [`HttpFactory`]: one connection pool per trust configuration (the
//!   system roots, the run's extra roots, and a provider's CA);
//! - [`HttpClient::send`]: per-request timeouts inside the run's deadline,
//!   jittered exponential backoff that honours `Retry-After`, a response
//!   size cap, a per-client concurrency limit, redirects only within the
//!   first origin and never from https to http, and errors classified into
//!   [`ErrorKind`](ci_secrets_provider_api::ErrorKind)s;
//! - [`HttpResponse`]: a body read completely, zeroed on drop, with JSON
//!   parsing and server error text made safe to show.
//!
//! A provider reaches the pools of its run through [`HttpContext::http`] on
//! its [`ResolveContext`](ci_secrets_provider_api::ResolveContext):
//!
//! ```
//! use ci_secrets_http::HttpContext as _;
//! use ci_secrets_provider_api::ResolveContext;
//!
//! let ctx = ResolveContext::builder("deploy").build();
//! let client = ctx.http().client(None).unwrap();
//! # let _ = client;
//! ```
//!
//! This crate is separate from `ci-secrets-provider-api` because it brings
//! reqwest, rustls and hyper: a provider that reads a local file does not
//! need them.

#[cfg(feature = "aws-sdk")]
mod aws_sdk;
mod blocking;
mod client;
mod context;
mod dns;
mod factory;
mod preconnect;
mod response;
mod retry;
#[cfg(test)]
mod test_certs;
mod transport;
mod trust;

#[cfg(feature = "aws-sdk")]
pub use aws_sdk::AwsSdkHttpClient;
pub use blocking::block_on_own_runtime;
pub use ci_secrets_provider_api::HttpSettings;
pub use client::HttpClient;
pub use context::HttpContext;
pub use factory::HttpFactory;
pub use response::HttpResponse;
pub use retry::{RetryMode, status_kind};
