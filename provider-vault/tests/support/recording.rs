//! A local HTTP server that answers canned Vault replies and records every
//! request, for checks on the wire (paths, bodies, headers) and for the
//! conformance rows whose server answers are given.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

/// One canned answer: `method path` → `status` with a JSON body.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub body: Value,
}

impl Route {
    pub fn new(method: &'static str, path: impl Into<String>, status: u16, body: Value) -> Self {
        Self {
            method,
            path: path.into(),
            status,
            body,
        }
    }

    /// The same route behind a reverse-proxy path prefix such as `/vault`.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.path = format!("{prefix}{}", self.path);
        self
    }

    /// A successful JWT login at `/v1/auth/<mount>/login` giving `token`.
    pub fn login(mount: &str, token: &str) -> Self {
        Self::new(
            "PUT",
            format!("/v1/auth/{mount}/login"),
            200,
            json!({"auth": {"client_token": token, "policies": ["default"], "lease_duration": 600}}),
        )
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

#[derive(Debug)]
struct Shared {
    routes: Vec<Route>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running server; it stops with the test's runtime.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub url: String,
    shared: Arc<Shared>,
}

impl Recorder {
    /// Serves `routes` on a free loopback port; anything else gets Vault's
    /// 404 answer `{"errors":[]}`.
    pub async fn start(routes: Vec<Route>) -> Recorder {
        let shared = Arc::new(Shared {
            routes,
            requests: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("the bound address")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Recorder { url, shared }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .expect("the request log")
            .clone()
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let path = uri.path().to_string();
    shared
        .requests
        .lock()
        .expect("the request log")
        .push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
    let route = shared
        .routes
        .iter()
        .find(|route| route.method == method.as_str() && route.path == path);
    match route {
        Some(route) => (
            StatusCode::from_u16(route.status).expect("a valid status"),
            axum::Json(route.body.clone()),
        ),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"errors": []}))),
    }
}
