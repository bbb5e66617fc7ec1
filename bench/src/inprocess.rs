//! In-process resolution through the Akeyless provider, as the CLI does it:
//! a fresh provider (no cached login) and a fresh HTTP factory (no warm
//! connection) per job, against an emulator that adds one RTT per request.

use std::time::Duration;

use akeyless_emulator::{Emulator, RunningEmulator};
use ci_secrets_provider_akeyless::AkeylessProvider;
use ci_secrets_provider_api::{
    HttpSettings, JobVariables, Provider, ResolveContext, SecretRequest,
};

use crate::BenchError;
use crate::workload::{self, ACCESS_ID};

/// Starts the benchmark emulator (plain HTTP on loopback) with `latency`
/// added to every request.
pub async fn start_emulator(latency: Duration) -> Result<RunningEmulator, BenchError> {
    Ok(Emulator::builder()
        .seed(workload::seed())
        .latency(latency)
        .start()
        .await?)
}

/// Resolves one job from scratch and returns how many secrets resolved; any
/// failed secret is an error, so a benchmark never times a failure.
pub async fn resolve_once(requests: &[SecretRequest]) -> Result<usize, BenchError> {
    let ctx = ResolveContext::builder("bench")
        .variables(JobVariables::from_iter([("AKEYLESS_ACCESS_ID", ACCESS_ID)]))
        .http(HttpSettings::default())
        .timeout(Duration::from_secs(120))
        .build();
    let provider = AkeylessProvider::new();
    provider
        .preflight(&ctx, requests)
        .map_err(|err| BenchError::Command {
            command: "akeyless preflight".into(),
            message: err.to_string(),
        })?;
    let results = provider.resolve(&ctx, requests).await;
    let mut resolved = 0;
    for (request, result) in requests.iter().zip(&results) {
        match result {
            Ok(_) => resolved += 1,
            Err(err) => {
                return Err(BenchError::Command {
                    command: "akeyless resolve".into(),
                    message: format!("{}: {err}", request.variable),
                });
            }
        }
    }
    Ok(resolved)
}
