//! A local HTTP server that answers canned Vault replies and records every
//! request, for checks on the wire (paths, bodies, headers) and for the
//! conformance rows whose server answers are given.

use ci_secrets_test_support::{HeaderMap, RecordingServer};
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

/// The running server; it stops when dropped.
#[derive(Debug)]
pub struct Recorder {
    pub url: String,
    server: RecordingServer,
}

impl Recorder {
    /// Serves `routes` on a free loopback port; anything else gets Vault's
    /// 404 answer `{"errors":[]}`.
    pub async fn start(routes: Vec<Route>) -> Recorder {
        let server = RecordingServer::start(move |request| {
            let route = routes
                .iter()
                .find(|route| route.method == request.method && route.path == request.path);
            match route {
                Some(route) => (route.status, "application/json", route.body.to_string()),
                None => (404, "application/json", json!({"errors": []}).to_string()),
            }
        })
        .await;
        Recorder {
            url: server.url(),
            server,
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server
            .received()
            .into_iter()
            .map(|received| Recorded {
                body: received.json(),
                method: received.method,
                path: received.path,
                headers: received.headers,
            })
            .collect()
    }
}
