//! Helpers for the hardening tests (`canary.rs`, `hostile_servers.rs`,
//! `hostile_input.rs`): leak detection in every encoded form, the Akeyless
//! emulator on its own runtime, and tiny HTTP(S) servers that misbehave in
//! ways the emulator cannot.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use akeyless_emulator::{EmulatorBuilder, RunningEmulator};
use base64::Engine as _;

// ---------------------------------------------------------------- leaks

/// Every form in which `secret` could show up in text: raw, JSON-escaped,
/// Rust-`Debug`-escaped, URL-encoded, and base64 (standard and URL-safe)
/// at each of the three byte alignments, so a value embedded in a larger
/// base64 blob is caught too.
pub fn leak_forms(secret: &str) -> Vec<(String, String)> {
    let mut forms = vec![("raw".to_string(), secret.to_string())];
    let json = serde_json::to_string(secret).unwrap();
    forms.push(("json-escaped".into(), json[1..json.len() - 1].to_string()));
    let debug = format!("{secret:?}");
    forms.push((
        "debug-escaped".into(),
        debug[1..debug.len() - 1].to_string(),
    ));
    forms.push(("url-encoded".into(), url_encode(secret)));
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "base64url",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for shift in 0..3usize {
            let mut shifted = vec![0u8; shift];
            shifted.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&shifted);
            // Characters touched by the padding bytes before, and the last
            // (possibly partial) group after, differ with the surroundings.
            let skip = (shift * 8).div_ceil(6);
            let core = &encoded[skip..encoded.len().saturating_sub(3)];
            if core.len() >= 12 {
                forms.push((format!("{name}@{shift}"), core.to_string()));
            }
        }
    }
    forms
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Panics with the form and the surrounding text if any form of any secret
/// occurs in `haystack`. `place` says what was searched (`stderr of ...`).
pub fn assert_no_leak(place: &str, haystack: &[u8], secrets: &[&str]) {
    let text = String::from_utf8_lossy(haystack);
    for secret in secrets {
        for (form, needle) in leak_forms(secret) {
            if let Some(at) = text.find(&needle) {
                let before: String = text[..at]
                    .chars()
                    .rev()
                    .take(80)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let after: String = text[at..]
                    .chars()
                    .take(needle.chars().count() + 80)
                    .collect();
                panic!(
                    "{place}: a secret leaked in {form} form ({needle:?}) here:\n…{before}{after}…"
                );
            }
        }
    }
}

/// The byte-list form `Debug` gives a `Vec<u8>` (`[99, 97, 110, ...`), as a
/// needle: a body printed with `{:?}` leaks this way.
pub fn debug_bytes_form(secret: &str) -> String {
    let list = format!("{:?}", secret.as_bytes());
    list[1..list.len() - 1].to_string()
}

// ---------------------------------------------------------------- runs

/// One finished run of the binary.
pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Runs `command` to completion and times it.
pub fn run(command: &mut Command) -> Run {
    let started = Instant::now();
    let output = command.output().unwrap();
    Run {
        output,
        elapsed: started.elapsed(),
    }
}

/// Waits (up to `limit`) until `condition` holds; false if it never did.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

// ---------------------------------------------------------------- emulator

/// The Akeyless emulator serving from its own runtime, so that tests stay
/// synchronous and run the binary with `std::process::Command`.
pub struct Emulator {
    // Field order matters: the emulator stops before its runtime goes.
    emulator: RunningEmulator,
    _runtime: tokio::runtime::Runtime,
}

impl Emulator {
    pub fn start(builder: EmulatorBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime.block_on(builder.start()).unwrap();
        Self {
            emulator,
            _runtime: runtime,
        }
    }
}

impl std::ops::Deref for Emulator {
    type Target = RunningEmulator;

    fn deref(&self) -> &RunningEmulator {
        &self.emulator
    }
}

// ---------------------------------------------------------------- raw servers

/// One HTTP request as a raw server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    /// The request target, such as `/auth`.
    pub fn path(&self) -> &str {
        self.head.split_whitespace().nth(1).unwrap_or("")
    }
}

/// Reads one request (head and `Content-Length` body); `None` on EOF.
pub fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => data.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&data).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Request { head, body })
}

/// A complete HTTP/1.1 response that closes the connection.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A JSON response.
pub fn json_response(status: &str, body: &serde_json::Value) -> Vec<u8> {
    response(
        status,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// What a raw server does with one connection: the stream, the request it
/// read, and a flag that turns true when the test is over (handlers that
/// stall must watch it and return).
pub type Handler = dyn Fn(TcpStream, Request, &AtomicBool) + Send + Sync;

/// A plain-TCP HTTP server on 127.0.0.1 that hands each connection to a
/// handler on its own thread. It stops when dropped.
pub struct RawServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    requests: Arc<std::sync::Mutex<Vec<Request>>>,
}

impl RawServer {
    pub fn start(
        handler: impl Fn(TcpStream, Request, &AtomicBool) + Send + Sync + 'static,
    ) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        Self::serve(move |mut stream, stop, requests| {
            if let Some(request) = read_request(&mut stream) {
                requests.lock().unwrap().push(request.clone());
                handler(stream, request, stop);
            }
        })
    }

    fn serve(
        on_connection: impl Fn(TcpStream, &AtomicBool, &std::sync::Mutex<Vec<Request>>)
        + Send
        + Sync
        + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let on_connection = Arc::new(on_connection);
        {
            let (stop, connections, requests) =
                (stop.clone(), connections.clone(), requests.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false).unwrap();
                            connections.fetch_add(1, Ordering::SeqCst);
                            let (stop, requests, on_connection) =
                                (stop.clone(), requests.clone(), on_connection.clone());
                            std::thread::spawn(move || on_connection(stream, &stop, &requests));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Self {
            addr,
            stop,
            connections,
            requests,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Requests read so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Stalls until the test ends, holding the connection open.
pub fn stall(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `bytes`, then resets the connection (RST, not FIN): `SO_LINGER`
/// with a zero timeout makes the close that follows abortive.
pub fn send_then_reset(stream: TcpStream, bytes: &[u8]) {
    let mut stream = stream;
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    // Let the bytes reach the client before the reset discards the queue.
    std::thread::sleep(Duration::from_millis(20));
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::Linger, &linger).unwrap();
    drop(stream);
}

// ---------------------------------------------------------------- TLS

/// A CA and a server certificate it signed, generated per test.
pub struct TestPki {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestPki {
    /// A fresh CA and a server certificate for `names` (DNS names or IPs).
    pub fn new(names: &[&str]) -> Self {
        Self::issue(names, false)
    }

    /// Like [`TestPki::new`], but the server certificate expired at the end
    /// of 2021.
    pub fn expired(names: &[&str]) -> Self {
        Self::issue(names, true)
    }

    fn issue(names: &[&str], expired: bool) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // A distinct name per CA: a client that trusts another test CA must
        // see an unknown issuer, not a known one with a bad signature.
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::SeqCst);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("ci-secrets hardening test CA {serial}"),
        );
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2021, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 12, 31);
        }
        let server_cert = params.signed_by(&server_key, &issuer).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            server_config: Arc::new(server_config),
        }
    }
}

/// An HTTPS server that answers every request with `reply`, over TLS with
/// `pki`'s server certificate. Handshake failures (a client that does not
/// trust the certificate) just end the connection.
pub fn tls_server(pki: &TestPki, reply: Vec<u8>) -> RawServer {
    let config = pki.server_config.clone();
    RawServer::serve(move |stream, _stop, requests| {
        let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(connection, stream);
        if let Some(request) = read_request(&mut tls) {
            requests.lock().unwrap().push(request);
            let _ = tls.write_all(&reply);
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
    })
}
