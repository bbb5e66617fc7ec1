//! Observability for the `ci-secrets` binary: OpenTelemetry trace export,
//! the root `run` span, GitLab job-log sections and the terminal progress
//! bar. The engine (`ci-secrets-core`) does not depend on this crate: it
//! emits `tracing` spans and reports progress through its `Progress` trait,
//! which [`TerminalProgress`] implements.
//!
//! # Trace export
//!
//! Spans are `tracing` spans; [`TraceExport`] turns the ones from our
//! crates (INFO and above, whatever the stderr verbosity) into OTLP spans
//! sent over HTTP/protobuf. Nothing is set up, and nothing costs, unless
//! an endpoint is configured. Span fields name providers, items, counts and
//! statuses, never values or tokens.
//!
//! | variable | effect |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` | export to this collector (the latter gets `/v1/traces` appended) |
//! | `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` | request headers (`key=value,...`), e.g. credentials |
//! | `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` | per-request timeout in ms (default 10000) |
//! | `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` | must be `http/protobuf` if set |
//! | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | resource attributes (see [`GITLAB_ATTRIBUTES`] for the GitLab job ones) |
//! | `OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none` | no export |
//! | `OTEL_BSP_*` | batch processor tuning, as the SDK reads them |
//! | `TRACEPARENT`, `TRACESTATE` | continue this W3C trace ([`run_span`]) |
//! | [`FLUSH_TIMEOUT_VARIABLE`] (`CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS`) | the most the exit flush waits, in ms (default 2000) |
//!
//! Export never fails or slows the job: spans go out from a background
//! thread in batches, and the exit flush is bounded. An unreachable
//! collector costs at most the flush budget, and [`TraceExport::shutdown`]
//! reports the failure once.

mod error;
mod export;
mod gitlab_section;
mod health;
mod http_client;
mod progress;
mod resource;
mod root_span;
mod settings;

pub use error::TelemetryError;
pub use export::TraceExport;
pub use gitlab_section::{GitLabSection, SECTION_NAME};
pub use progress::{ProgressReporter, TerminalProgress, suspend_progress};
pub use resource::{DEFAULT_SERVICE_NAME, GITLAB_ATTRIBUTES};
pub use root_span::{run_span, traceparent_of};
pub use settings::{DEFAULT_FLUSH_TIMEOUT, ExportSettings, FLUSH_TIMEOUT_VARIABLE};
