//! Trace export end to end: the real binary sends OTLP/HTTP protobuf to a
//! small collector inside the test, which decodes it with
//! `opentelemetry-proto`. Also the `--log-format json` diagnostics, which
//! feed the same observability pipelines.
use crate::hardening_support;
use crate::support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use support::{Project, code, stderr, stdout};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// Distinctive values that must never leave the process except on stdout.
const CANARIES: [&str; 2] = [
    "canary-OTLP-db-5f1e9c2a",
    "canary \"quoted\" \\ OTLP-api-77d0",
];

const PIPELINE: &str = "
deploy:
  script: [echo]
  secrets:
    DB_PASSWORD:
      testkv: {key: app/db}
      file: false
    API_TOKEN:
      testkv: {key: app/api}
      file: false
";

fn project() -> Project {
    let project = Project::new();
    project.write(".gitlab-ci.yml", PIPELINE);
    let store = project.store(&[("app/db", CANARIES[0]), ("app/api", CANARIES[1])]);
    project.use_store(&store);
    project
}

/// The binary in `project`, with no OpenTelemetry setting inherited from
/// the developer's or CI's environment.
fn cli(project: &Project) -> Command {
    let mut command = project.cli();
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("OTEL_")
            || name.starts_with("CI_")
            || name == "TRACEPARENT"
            || name == "TRACESTATE"
        {
            command.env_remove(&name);
        }
    }
    command
}

/// One request as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// An OTLP/HTTP collector on 127.0.0.1 that stores every request.
struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let store = store.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap();
                        store.lock().unwrap().push(Received {
                            path: parts.uri.path().to_string(),
                            headers: parts
                                .headers
                                .iter()
                                .map(|(name, value)| {
                                    (name.to_string(), value.to_str().unwrap_or("").to_string())
                                })
                                .collect(),
                            body: body.to_vec(),
                        });
                        // An empty ExportTraceServiceResponse: full success.
                        (
                            [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                            Vec::<u8>::new(),
                        )
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { addr, received }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A span with its resource's attributes.
#[derive(Debug)]
struct Exported {
    span: Span,
    resource: BTreeMap<String, String>,
}

impl Exported {
    fn attribute(&self, key: &str) -> Option<String> {
        attributes(&self.span.attributes).remove(key)
    }
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

fn spans(requests: &[Received]) -> Vec<Exported> {
    let mut out = Vec::new();
    for request in requests {
        let decoded = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
        for resource_spans in decoded.resource_spans {
            let resource = attributes(
                &resource_spans
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
            );
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    out.push(Exported {
                        span,
                        resource: resource.clone(),
                    });
                }
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Every form a canary could take in exported bytes or logs.
fn canary_forms() -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    for canary in CANARIES {
        forms.push(canary.as_bytes().to_vec());
        forms.push(
            base64::engine::general_purpose::STANDARD
                .encode(canary)
                .into_bytes(),
        );
        forms.push(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(canary)
                .into_bytes(),
        );
        let json = serde_json::to_string(canary).unwrap();
        forms.push(json.trim_matches('"').as_bytes().to_vec());
        // A distinctive fragment, in case a value is cut or re-encoded in part.
        forms.push(
            canary
                .split_whitespace()
                .last()
                .unwrap()
                .as_bytes()
                .to_vec(),
        );
    }
    forms
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    for form in canary_forms() {
        assert!(
            !bytes
                .windows(form.len())
                .any(|window| window == form.as_slice()),
            "{what} contains a secret value ({:?})",
            String::from_utf8_lossy(&form)
        );
    }
}

fn assert_resolved(output: &Output) {
    assert_eq!(code(output), 0, "{}", stderr(output));
    let values: serde_json::Value = serde_json::from_str(&stdout(output)).unwrap();
    assert_eq!(values["DB_PASSWORD"], CANARIES[0]);
    assert_eq!(values["API_TOKEN"], CANARIES[1]);
}

#[test]
fn resolve_exports_value_free_spans_into_the_callers_trace() {
    let project = project();
    let collector = Collector::start();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20collector-token",
        )
        .env("OTEL_SERVICE_NAME", "secrets-in-ci")
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=staging",
        )
        .env("TRACEPARENT", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
        .env("CI_JOB_ID", "4242")
        .env("CI_PIPELINE_ID", "77")
        .env("CI_PROJECT_PATH", "group/app")
        // A generous budget: the flush ends as soon as the collector answers.
        .env("CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS", "20000")
        .output()
        .unwrap();
    assert_resolved(&output);
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));

    let requests = collector.received();
    assert!(!requests.is_empty(), "nothing was exported");
    for request in &requests {
        assert_eq!(request.path, "/v1/traces");
        assert_eq!(request.headers["content-type"], "application/x-protobuf");
        assert_eq!(request.headers["authorization"], "Bearer collector-token");
        assert_no_canary("an OTLP request", &request.body);
    }
    assert_no_canary("stderr", &output.stderr);

    let exported = spans(&requests);
    let by_name: HashMap<&str, &Exported> =
        exported.iter().map(|e| (e.span.name.as_str(), e)).collect();
    for name in ["run", "load", "validate", "plan", "resolve", "provider"] {
        assert!(
            by_name.contains_key(name),
            "no {name} span in {:?}",
            by_name.keys()
        );
    }

    // One trace, the caller's, with `run` under the caller's span and
    // every other span under `run`.
    let ids: HashSet<String> = exported.iter().map(|e| hex(&e.span.span_id)).collect();
    for span in &exported {
        assert_eq!(hex(&span.span.trace_id), TRACE_ID, "{}", span.span.name);
    }
    let run = by_name["run"];
    assert_eq!(hex(&run.span.parent_span_id), PARENT_SPAN_ID);
    for span in exported.iter().filter(|e| e.span.name != "run") {
        let parent = hex(&span.span.parent_span_id);
        assert!(
            ids.contains(&parent),
            "{} has parent {parent} outside the run",
            span.span.name
        );
    }
    let resolve = by_name["resolve"];
    let provider = by_name["provider"];
    assert_eq!(provider.span.parent_span_id, resolve.span.span_id);

    assert_eq!(run.attribute("command").as_deref(), Some("resolve"));
    assert_eq!(resolve.attribute("secrets").as_deref(), Some("2"));
    assert_eq!(resolve.attribute("providers").as_deref(), Some("1"));
    assert_eq!(provider.attribute("provider").as_deref(), Some("testkv"));
    assert_eq!(provider.attribute("secrets").as_deref(), Some("2"));
    assert_eq!(by_name["plan"].attribute("secrets").as_deref(), Some("2"));

    let resource = &run.resource;
    assert_eq!(resource["service.name"], "secrets-in-ci");
    assert_eq!(resource["deployment.environment.name"], "staging");
    assert_eq!(resource["cicd.pipeline.task.run.id"], "4242");
    assert_eq!(resource["cicd.pipeline.run.id"], "77");
    assert_eq!(resource["gitlab.project.path"], "group/app");
}

#[test]
fn a_failed_run_marks_the_root_span_as_an_error() {
    let project = project();
    project.write(
        ".gitlab-ci.yml",
        "deploy:\n  script: [echo]\n  secrets:\n    A:\n      testkv: {key: absent}\n",
    );
    let collector = Collector::start();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", collector.endpoint()),
        )
        .env("CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS", "20000")
        .output()
        .unwrap();
    assert_ne!(code(&output), 0);
    let exported = spans(&collector.received());
    let run = exported
        .iter()
        .find(|e| e.span.name == "run")
        .expect("a run span");
    // OTLP status code 2 is ERROR.
    assert_eq!(run.span.status.as_ref().map(|status| status.code), Some(2));
    assert!(
        run.span.parent_span_id.is_empty(),
        "no TRACEPARENT: run is a root"
    );
}

#[test]
fn a_disabled_sdk_exports_nothing_even_with_an_endpoint() {
    let project = project();
    let collector = Collector::start();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_SDK_DISABLED", "true")
        .output()
        .unwrap();
    assert_resolved(&output);
    assert!(collector.received().is_empty());
}

#[test]
fn an_unreachable_collector_costs_one_warning_within_the_flush_budget() {
    let project = project();
    // A port nobody listens on: bind, note the address, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{closed}"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_resolved(&output);
    let stderr = stderr(&output);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].starts_with("ci-secrets: warning: "), "{stderr}");
    assert!(warnings[0].contains("OTLP collector"), "{stderr}");
    assert!(warnings[0].contains("onnection refused"), "{stderr}");
    // The default budget is 2 s; the rest of the run takes milliseconds.
    // The margin only absorbs a loaded machine.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn a_collector_that_never_answers_is_abandoned_at_the_flush_budget() {
    let project = project();
    // The kernel completes the connection, nobody ever reads the request.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", silent.local_addr().unwrap()),
        )
        .env("CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_resolved(&output);
    let stderr = stderr(&output);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("warning"))
        .collect();
    assert_eq!(
        warnings,
        ["ci-secrets: warning: traces were not flushed to the OTLP collector within 300 ms"],
        "{stderr}"
    );
    // Without the budget the exporter would wait for its 10 s request timeout.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    drop(silent);
}

#[test]
fn an_unsupported_protocol_is_one_warning_and_no_export() {
    let project = project();
    let collector = Collector::start();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .unwrap();
    assert_resolved(&output);
    assert_eq!(
        stderr(&output)
            .lines()
            .filter(|line| line.contains("warning"))
            .collect::<Vec<_>>(),
        [
            "ci-secrets: warning: traces are not exported: OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported; only http/protobuf is"
        ]
    );
    assert!(collector.received().is_empty());
}

#[test]
fn json_logs_are_structured_and_value_free() {
    let project = project();
    let output = cli(&project)
        .args([
            "-vv",
            "--log-format",
            "json",
            "resolve",
            "--job",
            "deploy",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_resolved(&output);
    assert_no_canary("stderr", &output.stderr);
    let events: Vec<serde_json::Value> = stderr(&output)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The span close events carry the span's fields for log shippers.
    let provider_closed = events
        .iter()
        .find(|event| event["span"]["name"] == "provider")
        .expect("a provider span event");
    assert_eq!(provider_closed["span"]["provider"], "testkv");
    assert_eq!(provider_closed["span"]["secrets"], 2);
    assert!(
        events
            .iter()
            .all(|event| event["level"].is_string() && event["timestamp"].is_string())
    );
}

/// Every HTTP call of a provider is an `http.request` span carrying the
/// status the server answered, a failed call included (and marked as an
/// error).
#[test]
fn http_call_spans_carry_the_response_status_also_on_failure() {
    use akeyless_emulator::demo::{DEMO_ACCESS_KEY, DEMO_ACCESS_KEY_ID};
    let emulator = hardening_support::Emulator::start(
        akeyless_emulator::Emulator::builder().seed(akeyless_emulator::Seed::demo()),
    );
    let project = project();
    project.write(
        ".gitlab-ci.yml",
        &format!(
            "deploy:\n  script: [echo]\n  variables:\n    AKEYLESS_ACCESS_ID: {DEMO_ACCESS_KEY_ID}\n  secrets:\n    GONE:\n      file: false\n      akeyless: {{name: /demo/static/no-such-item, akeyless_api_url: $URL, akeyless_access_type: access_key, akeyless_access_key: {DEMO_ACCESS_KEY}}}\n"
        ),
    );
    let collector = Collector::start();
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json", "--var"])
        .arg(format!("URL={}", emulator.url()))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .env("CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS", "20000")
        .output()
        .unwrap();
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let exported = spans(&collector.received());
    let calls: Vec<&Exported> = exported
        .iter()
        .filter(|e| e.span.name == "http.request")
        .collect();
    let login = calls
        .iter()
        .find(|call| call.attribute("operation").as_deref() == Some("POST /auth"))
        .unwrap_or_else(|| panic!("no span of the login in {calls:?}"));
    assert_eq!(
        login.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    let failed = calls
        .iter()
        .find(|call| {
            call.attribute("http.response.status_code")
                .and_then(|status| status.parse::<u16>().ok())
                .is_some_and(|status| status >= 400)
        })
        .unwrap_or_else(|| panic!("no span of the failed call in {calls:?}"));
    // OTLP status code 2 is ERROR.
    assert_eq!(
        failed.span.status.as_ref().map(|status| status.code),
        Some(2)
    );
}

/// A collector that answers every export with a retryable 503 gets one
/// attempt: the exporter does not retry at exit, where each retry would
/// delay the job.
#[test]
fn a_failing_collector_gets_one_export_attempt() {
    let project = project();
    let collector = hardening_support::RawServer::start(|mut stream, _request, _stop| {
        use std::io::Write as _;
        let _ = stream.write_all(&hardening_support::response(
            "503 Service Unavailable",
            &[("Content-Type", "application/x-protobuf")],
            b"",
        ));
    });
    let output = cli(&project)
        .args(["resolve", "--job", "deploy", "--format", "json"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url())
        .env("CI_SECRETS_OTEL_FLUSH_TIMEOUT_MS", "20000")
        .output()
        .unwrap();
    assert_resolved(&output);
    assert!(
        stderr(&output).contains("503"),
        "the lost export is reported: {}",
        stderr(&output)
    );
    assert_eq!(collector.requests().len(), 1, "{}", stderr(&output));
}
