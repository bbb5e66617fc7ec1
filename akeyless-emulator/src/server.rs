//! Starting, running and stopping the emulator: [`Emulator::builder`] → [`RunningEmulator`].
//!
//! The accept loop is hyper-util's rather than `axum::serve` because fault injection must be able to
//! drop a connection without answering, and `--tls` needs rustls in front of the same loop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

use crate::api::{self, ResetConnection};
use crate::error::EmulatorError;
use crate::faults::{FaultController, FaultPlan};
use crate::seed::Seed;
use crate::state::State;
use crate::stats::Stats;

/// How long shutdown waits for in-flight requests before dropping connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Entry point of the library API.
///
/// ```no_run
/// # async fn example() -> Result<(), akeyless_emulator::EmulatorError> {
/// use akeyless_emulator::{Emulator, Seed};
/// let emulator = Emulator::builder().seed(Seed::demo()).start().await?;
/// println!("{}", emulator.url()); // http://127.0.0.1:<port>
/// emulator.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the demo seed, a free loopback port, plain HTTP and no faults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures an emulator before it starts.
#[derive(Debug)]
pub struct EmulatorBuilder {
    seed: Option<Seed>,
    listen: SocketAddr,
    tls: bool,
    faults: FaultPlan,
    latency: Option<Duration>,
    token_ttl: Option<Duration>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            seed: None,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            tls: false,
            faults: FaultPlan::new(),
            latency: None,
            token_ttl: None,
        }
    }
}

impl EmulatorBuilder {
    /// The seed to serve (default: [`Seed::demo`]).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serve HTTPS with a certificate from the emulator's CA (see [`RunningEmulator::ca_pem`]).
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Latency added to every request; overrides the latency of [`Self::faults`].
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// The fault injection to start with.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// Overrides the seed's token TTL.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = Some(ttl);
        self
    }

    /// Generates the key material, binds the port and starts serving in the background.
    pub async fn start(self) -> Result<RunningEmulator, EmulatorError> {
        self.faults.check()?;
        let mut plan = self.faults;
        if let Some(latency) = self.latency {
            plan = plan.with_latency(latency);
        }
        let faults = FaultController::new(plan);
        let seed = self.seed.unwrap_or_else(Seed::demo);
        if self.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(EmulatorError::SeedInvalid {
                origin: "<builder>".to_owned(),
                message: "the token TTL must be greater than 0".to_owned(),
            });
        }
        let state = Arc::new(State::build(seed, self.token_ttl, faults)?);
        let tls = if self.tls {
            Some(tls_acceptor(&state)?)
        } else {
            None
        };
        let listener =
            TcpListener::bind(self.listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: self.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: self.listen,
                source,
            })?;
        // A wildcard bind is reachable on loopback; the URL must be one a client can dial.
        let dial = if addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        } else {
            addr
        };
        let url = format!("{}://{dial}", if tls.is_some() { "https" } else { "http" });
        let ca_pem = tls.as_ref().map(|_| state.ca.pem().to_owned());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            api::router(state.clone()),
            tls,
            state.clone(),
            cancel.clone(),
        ));
        tracing::debug!(%url, "akeyless emulator listening");
        Ok(RunningEmulator {
            url,
            addr,
            ca_pem,
            state,
            cancel,
            task: Some(task),
        })
    }
}

fn tls_acceptor(state: &State) -> Result<TlsAcceptor, EmulatorError> {
    let (cert, key) = state.ca.server_certificate()?;
    let tls_error = |e: rustls::Error| EmulatorError::KeyMaterial {
        what: "TLS configuration",
        message: e.to_string(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(tls_error)?
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
    .map_err(tls_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Returned by the service to make hyper drop the connection: the injected "connection reset".
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct InjectedReset;

async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    cancel: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Typically EMFILE under extreme load: back off instead of spinning.
                tracing::warn!(%error, "akeyless emulator: accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        state.counters.connection();
        // Latency matters more than throughput for small JSON calls.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut router = router.clone();
            async move {
                let response = match router.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if response.extensions().get::<ResetConnection>().is_some() {
                    return Err(InjectedReset);
                }
                Ok::<_, InjectedReset>(response)
            }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let state = state.clone();
        tokio::spawn(async move {
            // Connection errors (client went away, injected resets) end that connection only.
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        state.counters.h2_connection();
                    }
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
                None => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// A running emulator. Dropping it stops the server too; [`Self::shutdown`] also waits for it.
#[derive(Debug)]
pub struct RunningEmulator {
    url: String,
    addr: SocketAddr,
    ca_pem: Option<String>,
    state: Arc<State>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// The base URL without a prefix, e.g. `http://127.0.0.1:41234`. Operations are served at
    /// `<url>/<op>`, `<url>/v2/<op>` and `<url>/api/v2/<op>`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// With TLS: the PEM of the CA that signed the server certificate (trust it in clients).
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The PEM of the CA that signs PKI certificates (`parent_cert`), with or without TLS.
    pub fn pki_ca_pem(&self) -> String {
        self.state.ca.pem().to_owned()
    }

    /// The OpenSSH public key of the CA that signs SSH certificates.
    pub fn ssh_ca_public_key(&self) -> String {
        self.state.ssh_ca.public_key_openssh().to_owned()
    }

    /// Per-operation request counts and logins (the same as `GET /__emulator/stats`).
    pub fn stats(&self) -> Stats {
        self.state.counters.snapshot()
    }

    /// Changes fault injection while running.
    pub fn faults(&self) -> FaultController {
        self.state.faults.clone()
    }

    /// Expires every token issued so far, so that the next data call gets 401 and the client must
    /// authenticate again.
    pub fn expire_all_tokens(&self) {
        self.state.tokens.expire_all(SystemTime::now());
    }

    /// Stops accepting, lets in-flight requests finish (up to 2 s) and waits for the server task.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
