//! Test-only helpers shared by the workspace's test suites.
//!
//! [`RecordingServer`] is a small HTTP server on a loopback port that
//! answers every request through a closure and records what it received.
//! Tests use it to play cloud metadata services, scripted secrets servers
//! and anything else whose wire traffic they check.
//!
//! ```
//! use ci_secrets_test_support::RecordingServer;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = RecordingServer::start(|request| {
//!     (200, "application/json", format!(r#"{{"path":"{}"}}"#, request.path))
//! })
//! .await;
//! let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
//! stream
//!     .write_all(b"GET /token?resource=vault HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
//!     .await
//!     .unwrap();
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer).await.unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
//! assert!(answer.ends_with(r#"{"path":"/token"}"#), "{answer}");
//! let received = server.received();
//! assert_eq!(received[0].method, "GET");
//! assert_eq!(received[0].query_value("resource").as_deref(), Some("vault"));
//! # });
//! ```

pub mod gitlab_api;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `http://127.0.0.1:<port>` where nothing listens: the port was free a
/// moment ago and its listener is dropped, so connections are refused at
/// once (unless another process takes the port in between, which tests
/// accept).
pub fn refused_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// A loopback port that was free when asked for.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|err| panic!("a free loopback port: {err}"))
}

/// The headers of a [`Received`] request.
pub use axum::http::HeaderMap;

/// One request a [`RecordingServer`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (empty when there is none).
    pub query: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body.
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// The query as decoded pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The first value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Header `name`, when it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// What a [`RecordingServer`] answers: status, content type and body.
pub type Reply = (u16, &'static str, String);

type Handler = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    handler: Handler,
    received: Arc<Mutex<Vec<Received>>>,
}

/// An HTTP server on `127.0.0.1` that answers with a closure and records
/// every request, in order. It stops when dropped.
pub struct RecordingServer {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RecordingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RecordingServer {
    /// Starts a server on a free loopback port; `handler` answers each
    /// request. Panics when no port can be bound: this is test code.
    pub async fn start(handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let state = ServerState {
            handler: Arc::new(handler),
            received: Arc::default(),
        };
        let received = state.received.clone();
        let app = axum::Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|err| panic!("binding a loopback port: {err}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("the bound address: {err}"));
        let task = tokio::spawn(async move {
            // The server ends with the test; an error here only means that.
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            received,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:<port>`, for variables that take a host (`GCE_METADATA_HOST`).
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for RecordingServer {
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
    state
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", content_type)], body).into_response()
}
