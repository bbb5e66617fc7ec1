//! `ci-secrets emulator`: the flags (flattened into the CLI by the `ci-secrets` crate) and the runner.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::EmulatorError;
use crate::faults::{FaultPlan, RandomFailures};
use crate::seed::Seed;
use crate::server::Emulator;

/// Flags of `ci-secrets emulator`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// YAML seed with access ids and items (default: the built-in demo seed).
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Serve HTTPS with a certificate from a CA generated at start.
    #[arg(long)]
    pub tls: bool,
    /// Write the PEM of that CA here (for `gateway_ca_certificate`); requires --tls.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_ca_out: Option<PathBuf>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction of requests (0 to 1) that fail with --fail-status.
    #[arg(long, value_name = "R", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// HTTP status of randomly failed requests (e.g. 429, 500, 503).
    #[arg(long, value_name = "S", default_value_t = 503)]
    pub fail_status: u16,
    /// Lifetime of issued tokens in seconds (default: the seed's token_ttl_seconds).
    #[arg(long, value_name = "SECONDS")]
    pub token_ttl_seconds: Option<u64>,
}

/// Runs the emulator until SIGINT or SIGTERM. The first stdout line is `listening on <url>`.
pub async fn run_cli(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let seed = match &args.seed {
        Some(path) => Seed::from_file(path)?,
        None => Seed::demo(),
    };
    let mut plan = FaultPlan::new();
    if args.fail_rate > 0.0 {
        plan = plan.with_random_failures(RandomFailures::new(args.fail_rate, args.fail_status)?);
    }
    let mut builder = Emulator::builder()
        .seed(seed)
        .listen(args.listen)
        .tls(args.tls)
        .faults(plan)
        .latency(Duration::from_millis(args.latency_ms));
    if let Some(ttl) = args.token_ttl_seconds {
        builder = builder.token_ttl(Duration::from_secs(ttl));
    }
    let emulator = builder.start().await?;
    // The CA file exists before the listening line, so a reader of that line can use it at once.
    if let (Some(path), Some(pem)) = (&args.tls_ca_out, emulator.ca_pem()) {
        std::fs::write(path, pem).map_err(|source| EmulatorError::Output {
            what: path.display().to_string(),
            source,
        })?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", emulator.url())
        .and_then(|()| stdout.flush())
        .map_err(|source| EmulatorError::Output {
            what: "stdout".to_owned(),
            source,
        })?;
    drop(stdout);
    if args.seed.is_none() {
        eprintln!("serving the built-in demo seed (see the akeyless-emulator README)");
    }
    wait_for_termination().await;
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = sigterm.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
