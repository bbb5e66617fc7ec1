//! The `run` span, root of one command, and its link to a caller's trace
//! through the W3C `TRACEPARENT` (and `TRACESTATE`) environment variables.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::settings::{Env, process_env};

/// Opens the `run` span for `command` (not entered). Everything the
/// command does should run inside it. When `TRACEPARENT` holds a valid
/// W3C trace context, the span continues that trace as a child of the
/// given span; otherwise it starts a new trace.
///
/// Its `otel.status_code` field is left empty: record `"ERROR"` there
/// when the command fails.
///
/// ```
/// let span = ci_secrets_telemetry::run_span("resolve");
/// span.in_scope(|| tracing::info!("inside the run"));
/// span.record("otel.status_code", "ERROR");
/// ```
pub fn run_span(command: &str) -> tracing::Span {
    let span = tracing::info_span!("run", command, "otel.status_code" = tracing::field::Empty,);
    if let Some(parent) = parent_context(&process_env) {
        // Fails only when nothing exports spans (no OpenTelemetry layer, or
        // the span is filtered out), and then there is no trace to continue.
        let _ = span.set_parent(parent);
    }
    span
}

/// The W3C `traceparent` of `span`, for a child process's `TRACEPARENT`
/// so that its own traces nest under ours. `None` when spans are not
/// exported (the child then inherits our environment unchanged).
///
/// ```
/// let span = tracing::info_span!("exec");
/// // No OpenTelemetry layer in this example: nothing to propagate.
/// assert_eq!(ci_secrets_telemetry::traceparent_of(&span), None);
/// ```
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The remote parent from `TRACEPARENT`/`TRACESTATE`, if valid.
fn parent_context(env: Env<'_>) -> Option<Context> {
    let traceparent = env("TRACEPARENT")?;
    let mut carrier = HashMap::from([("traceparent".to_string(), traceparent)]);
    if let Some(tracestate) = env("TRACESTATE") {
        carrier.insert("tracestate".to_string(), tracestate);
    }
    let context = TraceContextPropagator::new().extract(&carrier);
    context.span().span_context().is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;

    fn parent(traceparent: &str) -> Option<Context> {
        let value = traceparent.to_string();
        parent_context(&move |name: &str| (name == "TRACEPARENT").then(|| value.clone()))
    }

    #[test]
    fn a_valid_traceparent_becomes_a_remote_parent() {
        let context = parent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        let span = context.span();
        let remote = span.span_context();
        assert_eq!(
            remote.trace_id(),
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
        );
        assert_eq!(
            remote.span_id(),
            SpanId::from_hex("b7ad6b7169203331").unwrap()
        );
        assert!(remote.is_remote());
        assert!(remote.is_sampled());
    }

    #[test]
    fn a_child_process_gets_the_traceparent_of_the_given_span() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;

        // Spans recorded, nothing exported.
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let parent = parent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
            let run = tracing::info_span!("run");
            run.set_parent(parent).unwrap();
            let exec = run.in_scope(|| tracing::info_span!("exec"));
            let traceparent = traceparent_of(&exec).unwrap();
            let fields: Vec<&str> = traceparent.split('-').collect();
            assert_eq!(fields[0], "00");
            assert_eq!(
                fields[1], "0af7651916cd43dd8448eb211c80319c",
                "the same trace"
            );
            assert_ne!(fields[2], "b7ad6b7169203331", "a new span: exec's");
            assert_eq!(fields[3], "01");
        });
    }

    #[test]
    fn a_malformed_or_absent_traceparent_starts_a_new_trace() {
        assert!(parent("not-a-traceparent").is_none());
        assert!(parent("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none());
        assert!(parent_context(&|_: &str| None).is_none());
    }
}
