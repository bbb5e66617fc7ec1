//! Connections opened before the requests that will use them.
//!
//! After its login a provider sends a wave of requests to one server at
//! once. Over HTTP/1.1 each request of the wave needs a connection of its
//! own, and a new connection costs a round trip (more with TLS) before its
//! request can go. A provider that knows the size of its next wave asks for
//! those connections while the login is in flight
//! ([`HttpClient::preconnect`](crate::HttpClient::preconnect)), and the wave
//! finds them open.
//!
//! reqwest opens connections only for requests, through its connector,
//! which it lets a tower layer wrap ([`PreconnectLayer`]) but whose request
//! and connection types it seals: a layer can neither make a connection
//! request nor name a connection. So connections are opened by requests
//! that are never sent:
//!
//! - A *warm-up client*, built like the client that sends (same proxy, DNS,
//!   TLS and timeouts), is only ever asked for warm-up requests. Its pool
//!   stays empty (none of its connections is ever handed back), so each
//!   warm-up request goes to its connector, and in the layer, the
//!   [`Intent`] the caller set in a task-local says "preconnect". The layer
//!   starts the connection on a task of its own, keeps it in the shared
//!   [`Preconnects`] under the origin, and fails the warm-up request, which
//!   therefore never reaches the network.
//! - The client that sends sets [`Intent::Request`] around every request.
//!   When its pool has no idle connection for the origin and hyper asks the
//!   connector for one, the layer hands over a kept connection (waiting for
//!   it if it is still being opened) instead of opening a new one.
//!
//! Over TLS the first connection tells (ALPN) whether the server speaks
//! HTTP/2, which carries the whole wave on one connection: the others are
//! opened only when it does not, and later waves to that origin open none
//! (the pool's HTTP/2 connection carries them). A kept connection not taken
//! within [`KEEP_FOR`] is closed, before a server would time it out.

use std::any::Any;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::Connection;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a kept connection waits for a request. Servers close a
/// connection that sends nothing after tens of seconds (a header timeout);
/// a wave follows its login within a few round trips.
pub(crate) const KEEP_FOR: Duration = Duration::from_secs(10);

tokio::task_local! {
    /// What the connector is asked a connection for, set by the caller
    /// around the request whose connection it is.
    static INTENT: Intent;
}

/// Scheme, host and port: the connections of one origin are
/// interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin(String);

impl Origin {
    pub(crate) fn of(url: &url::Url) -> Self {
        Self(url.origin().ascii_serialization())
    }

    fn is_tls(&self) -> bool {
        self.0.starts_with("https:")
    }
}

/// Why the connector is asked for a connection.
#[derive(Clone)]
pub(crate) enum Intent {
    /// A request to this origin: take a kept connection if there is one.
    Request(Origin),
    /// Open a connection to this origin and keep it.
    Preconnect(Origin, Arc<Batch>),
}

/// Runs `request` (a reqwest future) with `intent` visible to the
/// connector, which hyper calls while polling it.
pub(crate) async fn with_intent<F: Future>(intent: Intent, request: F) -> F::Output {
    INTENT.scope(intent, request).await
}

/// Polls the warm-up request `request` once, with `intent` visible to the
/// connector, and drops it. The connector, called during that poll, has
/// started the connection on a task of its own and failed the request.
pub(crate) fn start<F: Future>(intent: Intent, request: F) {
    use futures::FutureExt as _;
    // The request fails at its first poll (see `PreconnectService::call`);
    // whatever it returns, it is dropped, so nothing is ever sent.
    drop(INTENT.scope(intent, request).now_or_never());
}

/// The connections of one [`HttpClient::preconnect`](crate::HttpClient::preconnect)
/// call. Over TLS, the first one decides whether the others are needed.
#[derive(Debug)]
pub(crate) struct Batch {
    leader_taken: AtomicBool,
    /// `Some(true)` once the first connection is open and speaks HTTP/1;
    /// `Some(false)` when it speaks HTTP/2 or could not be opened.
    others_needed: watch::Sender<Option<bool>>,
}

impl Batch {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            leader_taken: AtomicBool::new(false),
            others_needed: watch::Sender::new(None),
        })
    }
}

/// Connections being opened or open, and not yet taken, by origin.
#[derive(Default)]
pub(crate) struct Preconnects {
    kept: Mutex<HashMap<Origin, VecDeque<Kept>>>,
    /// Origins whose first kept connection negotiated HTTP/2.
    multiplexed: Mutex<HashSet<Origin>>,
}

impl std::fmt::Debug for Preconnects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preconnects").finish_non_exhaustive()
    }
}

/// A connection being opened: the task's answer is the connection (boxed,
/// because reqwest's connection type cannot be named here), or `None` when
/// it failed or was not needed.
struct Kept {
    since: Instant,
    opening: JoinHandle<Option<Box<dyn Any + Send>>>,
}

impl Drop for Kept {
    fn drop(&mut self) {
        // A connection no request took is closed, and one still being
        // opened is given up.
        self.opening.abort();
    }
}

impl Preconnects {
    fn keep(&self, origin: Origin, opening: JoinHandle<Option<Box<dyn Any + Send>>>) {
        let kept = Kept {
            since: Instant::now(),
            opening,
        };
        self.lock().entry(origin).or_default().push_back(kept);
    }

    /// The oldest connection kept for `origin` that is still fresh; stale
    /// ones are closed on the way.
    fn take(&self, origin: &Origin) -> Option<Kept> {
        let mut kept = self.lock();
        let queue = kept.get_mut(origin)?;
        while let Some(next) = queue.pop_front() {
            if next.since.elapsed() < KEEP_FOR {
                return Some(next);
            }
        }
        kept.remove(origin);
        None
    }

    /// Whether a connection to `origin` negotiated HTTP/2: the client's
    /// pool then holds one connection that carries any wave, and opening
    /// more would cost the server handshakes that no request uses.
    pub(crate) fn multiplexes(&self, origin: &Origin) -> bool {
        self.multiplexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(origin)
    }

    fn learn_multiplexes(&self, origin: Origin) {
        self.multiplexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(origin);
    }

    /// How many connections are kept for `origin`, open or being opened.
    #[cfg(test)]
    pub(crate) fn count(&self, origin: &Origin) -> usize {
        self.lock().get(origin).map_or(0, VecDeque::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Origin, VecDeque<Kept>>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The connector layer of both the sending and the warm-up client.
#[derive(Clone)]
pub(crate) struct PreconnectLayer {
    preconnects: Arc<Preconnects>,
    connect_timeout: Duration,
}

impl PreconnectLayer {
    pub(crate) fn new(preconnects: Arc<Preconnects>, connect_timeout: Duration) -> Self {
        Self {
            preconnects,
            connect_timeout,
        }
    }
}

impl<S> Layer<S> for PreconnectLayer {
    type Service = PreconnectService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PreconnectService {
            inner,
            preconnects: self.preconnects.clone(),
            connect_timeout: self.connect_timeout,
        }
    }
}

/// See the module's documentation.
#[derive(Clone)]
pub(crate) struct PreconnectService<S> {
    inner: S,
    preconnects: Arc<Preconnects>,
    connect_timeout: Duration,
}

/// The error a warm-up request ends with: its connection was handed to a
/// task, and the request itself is never sent.
#[derive(Debug, thiserror::Error)]
#[error("the connection is kept for a later request")]
pub(crate) struct HandedOver;

impl<S, R> Service<R> for PreconnectService<S>
where
    S: Service<R, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Connection + Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, destination: R) -> Self::Future {
        // The service that was made ready is the one that must be called.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        match INTENT.try_with(Intent::clone) {
            Ok(Intent::Preconnect(origin, batch)) => {
                // The leader is chosen here, in the order the connections
                // are kept, so that a request taking the oldest takes the
                // one that does not wait for another.
                let role = origin.is_tls().then(|| {
                    if batch.leader_taken.swap(true, Ordering::AcqRel) {
                        Role::Follower(batch)
                    } else {
                        Role::Leader {
                            decision: Decision(batch),
                            preconnects: self.preconnects.clone(),
                            origin: origin.clone(),
                        }
                    }
                });
                let opening = tokio::spawn(open(inner, destination, role, self.connect_timeout));
                self.preconnects.keep(origin, opening);
                Box::pin(std::future::ready(Err(HandedOver.into())))
            }
            Ok(Intent::Request(origin)) => {
                let kept = self.preconnects.take(&origin);
                Box::pin(async move {
                    if let Some(mut kept) = kept
                        && let Ok(Some(connection)) = (&mut kept.opening).await
                        && let Ok(connection) = connection.downcast::<S::Response>()
                    {
                        return Ok(*connection);
                    }
                    // None kept, or it could not be opened: a connection of
                    // the request's own, whose failure is the request's.
                    inner.call(destination).await
                })
            }
            Err(_) => Box::pin(inner.call(destination)),
        }
    }
}

/// A connection's part in a TLS batch.
enum Role {
    /// Opened at once; tells the others whether they are needed, and
    /// `preconnects` whether `origin` speaks HTTP/2.
    Leader {
        decision: Decision,
        preconnects: Arc<Preconnects>,
        origin: Origin,
    },
    /// Opened only if the leader speaks HTTP/1.
    Follower(Arc<Batch>),
}

/// Opens one kept connection (of a TLS batch, in its `role`).
async fn open<S, R>(
    mut inner: S,
    destination: R,
    role: Option<Role>,
    timeout: Duration,
) -> Option<Box<dyn Any + Send>>
where
    S: Service<R, Error = BoxError>,
    S::Response: Connection + Send + 'static,
{
    let decision = match role {
        Some(Role::Follower(batch)) => {
            let mut decided = batch.others_needed.subscribe();
            let needed = decided.wait_for(Option::is_some).await.ok()?;
            if *needed != Some(true) {
                return None;
            }
            None
        }
        Some(Role::Leader {
            decision,
            preconnects,
            origin,
        }) => Some((decision, preconnects, origin)),
        None => None,
    };
    let opened = tokio::time::timeout(timeout, inner.call(destination))
        .await
        .ok()
        .and_then(Result::ok);
    if let Some((decision, preconnects, origin)) = decision {
        let negotiated_h2 = opened
            .as_ref()
            .map(|connection| connection.connected().is_negotiated_h2());
        if negotiated_h2 == Some(true) {
            preconnects.learn_multiplexes(origin);
        }
        decision
            .0
            .others_needed
            .send_replace(Some(negotiated_h2 == Some(false)));
    }
    opened.map(|connection| Box::new(connection) as Box<dyn Any + Send>)
}

/// The first connection of a TLS batch decides for the others. If it is
/// given up before it is open (closed unused, or its request went away),
/// the others are not opened, rather than waiting for a decision that
/// never comes.
struct Decision(Arc<Batch>);

impl Drop for Decision {
    fn drop(&mut self) {
        self.0.others_needed.send_if_modified(|needed| {
            let undecided = needed.is_none();
            if undecided {
                *needed = Some(false);
            }
            undecided
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use ci_secrets_provider_api::ResolveContext;
    use rustls::pki_types::PrivateKeyDer;
    use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;
    use crate::{HttpClient, HttpFactory, HttpSettings, RetryMode};

    /// What a test server saw.
    #[derive(Default)]
    struct Seen {
        connections: AtomicUsize,
        requests: AtomicUsize,
        /// Connections that negotiated `h2` (the server then closes them).
        h2: AtomicUsize,
    }

    /// A keep-alive HTTP/1.1 server that answers each request after
    /// `delay`, so that concurrent requests overlap.
    async fn serve_http1<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
        seen: &Seen,
        delay: Duration,
    ) {
        let mut pending = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                pending.drain(..end + 4);
                seen.requests.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => pending.extend_from_slice(&buffer[..read]),
            }
        }
    }

    async fn plain_server(delay: Duration) -> (String, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let counted = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.connections.fetch_add(1, Ordering::SeqCst);
                let seen = counted.clone();
                tokio::spawn(async move { serve_http1(stream, &seen, delay).await });
            }
        });
        (url, seen)
    }

    /// A TLS server for `localhost` that offers `alpn`; the client trusts
    /// the returned CA. It serves HTTP/1.1 and counts (then closes) `h2`
    /// connections, which is all these tests need of them.
    async fn tls_server(alpn: &[&[u8]]) -> (String, Vec<u8>, Arc<Seen>) {
        let certs = crate::test_certs::localhost();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certs.server], PrivateKeyDer::Pkcs8(certs.server_key))
        .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://localhost:{}/",
            listener.local_addr().unwrap().port()
        );
        let seen = Arc::new(Seen::default());
        let counted = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, seen) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        seen.h2.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    serve_http1(stream, &seen, Duration::from_millis(50)).await;
                });
            }
        });
        (url, certs.ca_pem.into_bytes(), seen)
    }

    fn client(ca: Option<&[u8]>) -> HttpClient {
        HttpFactory::new(HttpSettings::default())
            .client(ca)
            .unwrap()
    }

    /// Waits until every connection kept for `url` is open (or given up).
    async fn settled(client: &HttpClient, url: &str) {
        let origin = Origin::of(&url::Url::parse(url).unwrap());
        for _ in 0..500 {
            let open = client
                .transports()
                .preconnects()
                .lock()
                .get(&origin)
                .is_none_or(|kept| kept.iter().all(|k| k.opening.is_finished()));
            if open {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the kept connections were not opened within 5 s");
    }

    async fn get(client: &HttpClient, url: &str) -> u16 {
        let ctx = ResolveContext::builder("job")
            .timeout(Duration::from_secs(10))
            .build();
        client
            .send(&ctx, "GET /", RetryMode::OnlyIfNotSent, |http| {
                http.get(url)
            })
            .await
            .unwrap()
            .status
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wave_takes_the_kept_connections_and_the_warm_up_sends_nothing() {
        let (url, seen) = plain_server(Duration::from_millis(50)).await;
        let client = client(None);
        client.preconnect(&url, 3).await;
        settled(&client, &url).await;
        assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
        assert_eq!(client.transports().kept(&url::Url::parse(&url).unwrap()), 3);

        // Three concurrent requests take the three connections; a fourth,
        // for which none is kept, opens its own.
        let wave = futures::future::join_all((0..4).map(|_| get(&client, &url))).await;
        assert_eq!(wave, [200; 4]);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 4);
        assert_eq!(
            seen.requests.load(Ordering::SeqCst),
            4,
            "a warm-up request was sent"
        );
        assert_eq!(client.transports().kept(&url::Url::parse(&url).unwrap()), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_waits_for_a_connection_still_being_opened() {
        let (url, seen) = plain_server(Duration::ZERO).await;
        let client = client(None);
        client.preconnect(&url, 1).await;
        // No wait: the request takes the connection however far it got.
        assert_eq!(get(&client, &url).await, 200);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_that_cannot_be_opened_leaves_the_request_its_own_error() {
        // Bound and closed at once: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/");
        let mut settings = HttpSettings::default();
        settings.max_attempts = 1;
        let client = HttpFactory::new(settings).client(None).unwrap();
        client.preconnect(&url, 2).await;
        settled(&client, &url).await;
        let ctx = ResolveContext::builder("job")
            .timeout(Duration::from_secs(10))
            .build();
        let err = client
            .send(&ctx, "GET /", RetryMode::OnlyIfNotSent, |http| {
                http.get(url.as_str())
            })
            .await
            .unwrap_err();
        assert!(err.message().contains("cannot connect"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_tls_an_http2_server_gets_one_connection() {
        let (url, ca, seen) = tls_server(&[b"h2", b"http/1.1"]).await;
        let client = client(Some(&ca));
        client.preconnect(&url, 5).await;
        // A request (the login) takes the oldest kept connection: the one
        // that is opened, not one that waits for it.
        let origin = Origin::of(&url::Url::parse(&url).unwrap());
        let mut oldest = client.transports().preconnects().take(&origin).unwrap();
        let opened = (&mut oldest.opening).await.unwrap();
        assert!(
            opened.is_some(),
            "the oldest kept connection was not opened"
        );
        settled(&client, &url).await;
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        // The server counts the connection when its side of the handshake
        // ends, which can be after the client's.
        for _ in 0..500 {
            if seen.h2.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen.h2.load(Ordering::SeqCst), 1);

        // The next wave rides the pool's HTTP/2 connection: none is opened
        // (a new batch would have opened a leader), and nothing is kept.
        let kept = client.transports().kept(&url::Url::parse(&url).unwrap());
        client.preconnect(&url, 5).await;
        settled(&client, &url).await;
        assert_eq!(
            client.transports().kept(&url::Url::parse(&url).unwrap()),
            kept
        );
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_tls_an_http1_server_gets_them_all_and_the_wave_uses_them() {
        let (url, ca, seen) = tls_server(&[b"http/1.1"]).await;
        let client = client(Some(&ca));
        client.preconnect(&url, 3).await;
        settled(&client, &url).await;
        assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
        let wave = futures::future::join_all((0..3).map(|_| get(&client, &url))).await;
        assert_eq!(wave, [200; 3]);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_kept_too_long_is_closed_not_handed_out() {
        let preconnects = Preconnects::default();
        let origin = Origin::of(&url::Url::parse("http://example.test/").unwrap());
        let opened: Box<dyn Any + Send> = Box::new(());
        preconnects.keep(origin.clone(), tokio::spawn(async move { Some(opened) }));
        tokio::time::advance(KEEP_FOR).await;
        assert!(preconnects.take(&origin).is_none());
        assert_eq!(preconnects.count(&origin), 0);
    }
}
