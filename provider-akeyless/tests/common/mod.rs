//! Helpers shared by the integration tests: contexts with fast retry
//! settings, resolving through the provider, and small local HTTP servers
//! that play metadata services or a scripted Akeyless.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use akeyless_emulator::{Emulator, RunningEmulator, Seed};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ci_secrets_provider_akeyless::AkeylessProvider;
use ci_secrets_provider_api::{
    HttpFactory, HttpSettings, JobVariables, Provider, ResolveContext, SecretRequest, SecretResult,
};
use serde_json::Value;

/// HTTP settings with short backoffs, so retry tests take milliseconds.
pub fn fast_http() -> HttpFactory {
    let mut settings = HttpSettings::default();
    settings.initial_backoff = Duration::from_millis(5);
    settings.max_backoff = Duration::from_millis(20);
    settings.request_timeout = Duration::from_secs(5);
    HttpFactory::new(settings)
}

/// A context with these variables, fast retries and a 20 s deadline.
pub fn context(variables: &[(&str, &str)]) -> ResolveContext {
    ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter(variables.iter().copied()))
        .http(fast_http())
        .timeout(Duration::from_secs(20))
        .build()
}

/// Preflight, then resolve, with a fresh provider.
pub async fn resolve(ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
    let provider = AkeylessProvider::new();
    provider.preflight(ctx, requests).expect("preflight");
    provider.resolve(ctx, requests).await
}

/// The text of a successful result.
pub fn text(result: &SecretResult) -> String {
    match result {
        Ok(value) => value.expose_str().expect("utf-8").to_string(),
        Err(err) => panic!("expected a value, got error: {err}"),
    }
}

/// A request for variable `variable` with `block` and optional `token:`.
pub fn request(variable: &str, block: Value, token: Option<&str>) -> SecretRequest {
    let request = SecretRequest::new(variable, block);
    match token {
        Some(token) => request.with_token(token),
        None => request,
    }
}

/// The demo seed over plain HTTP.
pub async fn demo_emulator() -> RunningEmulator {
    Emulator::builder()
        .seed(Seed::demo())
        .start()
        .await
        .expect("emulator starts")
}

/// One request a [`LocalServer`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// What a [`LocalServer`] answers: status, content type and body.
pub type Reply = (u16, &'static str, String);

type Handler = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    handler: Handler,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A tiny HTTP server on 127.0.0.1 that records requests and answers with
/// `handler`.
pub struct LocalServer {
    pub addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    pub async fn start(handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let state = ServerState {
            handler: Arc::new(handler),
            received: Arc::default(),
        };
        let received = state.received.clone();
        let app = axum::Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `host:port`, for `GCE_METADATA_HOST`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    State(state): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
        body: body.to_vec(),
    };
    let (status, content_type, body) = (state.handler)(&received);
    state.received.lock().unwrap().push(received);
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", content_type)],
        body,
    )
        .into_response()
}
