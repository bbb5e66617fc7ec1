//! The OTLP trace pipeline: a batch processor that exports from its own
//! thread, so a slow or absent collector never holds the job up, and a
//! bounded flush at exit that reports failure once.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use super::error::TelemetryError;
use super::health::ExportHealth;
use super::http_client::BlockingHttpClient;
use super::resource::resource;
use super::settings::{ExportSettings, process_env};

/// Spans and events exported: ours (every crate named `ci_secrets*`,
/// providers included) at INFO and above, whatever `-v` or `RUST_LOG` say
/// for stderr. Dependencies and the emulator stay out.
const EXPORTED_TARGET_PREFIX: &str = "ci_secrets";

/// A running trace export. Keep it for the whole run, then call
/// [`shutdown`](Self::shutdown); spans still queued then are sent within
/// the flush budget.
#[derive(Debug)]
pub struct TraceExport {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    health: Arc<ExportHealth>,
    flush_timeout: Duration,
}

impl TraceExport {
    /// Starts exporting if the environment asks for it (see
    /// [`ExportSettings::from_env`]); `Ok(None)` costs nothing.
    ///
    /// ```
    /// use ci_secrets_telemetry::TraceExport;
    ///
    /// match TraceExport::from_env() {
    ///     Ok(Some(export)) => {
    ///         // Install `export.layer()` in the subscriber, run, then:
    ///         if let Err(err) = export.shutdown() {
    ///             eprintln!("warning: {err}");
    ///         }
    ///     }
    ///     Ok(None) => {}
    ///     Err(err) => eprintln!("warning: traces are not exported: {err}"),
    /// }
    /// ```
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        ExportSettings::from_env()?
            .map(|settings| Self::start(&settings))
            .transpose()
    }

    /// Starts the pipeline. Endpoint and headers come from the standard
    /// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` and `..._HEADERS` variables,
    /// which the OTLP exporter reads itself.
    pub fn start(settings: &ExportSettings) -> Result<Self, TelemetryError> {
        let health = Arc::new(ExportHealth::default());
        let client = BlockingHttpClient::new(settings.request_timeout, health.clone())?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(settings.request_timeout)
            // One attempt: export happens at exit, inside the flush budget,
            // and the exporter's default three retries with backoff cost
            // every run against an absent collector most of a second. A
            // lost batch is reported once instead.
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .with_http_client(client)
            .build()
            .map_err(|err| TelemetryError::Setup(err.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(AccountedExporter {
                inner: exporter,
                health: health.clone(),
            })
            .with_resource(resource(&process_env))
            .build();
        let scope = InstrumentationScope::builder("ci-secrets")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope);
        Ok(Self {
            provider,
            tracer,
            health,
            flush_timeout: settings.flush_timeout,
        })
    }

    /// The `tracing` layer that turns our spans into OpenTelemetry spans.
    /// It carries its own filter, so stderr verbosity does not change what
    /// is exported.
    pub fn layer<S>(&self) -> impl Layer<S> + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            .with_threads(false)
            .with_filter(Targets::new().with_target(EXPORTED_TARGET_PREFIX, tracing::Level::INFO))
    }

    /// Sends what is still queued, waiting at most the flush budget, and
    /// says whether every span reached the collector. Spans must be closed
    /// before this (a span is exported when it ends).
    pub fn shutdown(self) -> Result<(), TelemetryError> {
        let flushed = self.provider.shutdown_with_timeout(self.flush_timeout);
        let cause = self.health.last_failure();
        if let Err(err) = flushed {
            // The provider folds the processor's timeout into a text; an
            // export still under way is the structured sign of it.
            if self.health.exporting() || matches!(err, OTelSdkError::Timeout(_)) {
                return Err(TelemetryError::FlushTimeout {
                    timeout: self.flush_timeout,
                    cause,
                });
            }
            return Err(TelemetryError::Shutdown(err.to_string()));
        }
        match self.health.lost_spans() {
            0 => Ok(()),
            spans => Err(TelemetryError::Export {
                spans,
                cause: cause.unwrap_or_else(|| "unknown export failure".to_string()),
            }),
        }
    }
}

/// The OTLP exporter, counting the spans of every batch it fails to send
/// (the batch processor drops a failed batch without telling anyone).
#[derive(Debug)]
struct AccountedExporter {
    inner: opentelemetry_otlp::SpanExporter,
    health: Arc<ExportHealth>,
}

impl SpanExporter for AccountedExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        self.health.set_exporting(true);
        let exported = self.inner.export(batch).await;
        self.health.set_exporting(false);
        if let Err(err) = &exported {
            self.health.record_lost(spans);
            if self.health.last_failure().is_none() {
                self.health.record_failure(err.to_string());
            }
        }
        exported
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
