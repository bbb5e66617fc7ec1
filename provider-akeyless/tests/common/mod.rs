//! Helpers shared by the integration tests: contexts with fast retry
//! settings, resolving through the provider, and small local HTTP servers
//! that play metadata services or a scripted Akeyless.

#![allow(dead_code)]

use std::time::Duration;

use akeyless_emulator::{Emulator, RunningEmulator, Seed};
use ci_secrets_provider_akeyless::AkeylessProvider;
use ci_secrets_provider_api::{
    HttpSettings, JobVariables, Provider, ResolveContext, ResolveContextBuilder, SecretRequest,
    SecretResult,
};
use serde_json::Value;

/// HTTP settings with short backoffs, so retry tests take milliseconds.
pub fn fast_http() -> HttpSettings {
    let mut settings = HttpSettings::default();
    settings.initial_backoff = Duration::from_millis(5);
    settings.max_backoff = Duration::from_millis(20);
    settings.request_timeout = Duration::from_secs(5);
    settings
}

/// A context with these variables, fast retries and a 20 s deadline.
pub fn context(variables: &[(&str, &str)]) -> ResolveContext {
    context_builder(variables)
        .timeout(Duration::from_secs(20))
        .build()
}

/// [`context`] before its deadline is set, for callers that set their own.
pub fn context_builder(variables: &[(&str, &str)]) -> ResolveContextBuilder {
    ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter(variables.iter().copied()))
        .http(fast_http())
}

/// Demo item `name` read with the demo access key from the API at `url`,
/// the block extended with `extra`.
pub fn demo_item(variable: &str, url: &str, name: &str, extra: Value) -> SecretRequest {
    let mut block = serde_json::json!({
        "name": name,
        "akeyless_api_url": url,
        "akeyless_access_type": "access_key",
        "akeyless_access_key": akeyless_emulator::demo::DEMO_ACCESS_KEY,
    });
    if let (Some(map), Value::Object(extra)) = (block.as_object_mut(), extra) {
        map.extend(extra);
    }
    request(variable, block, None)
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

/// A local HTTP server that answers with a closure and records requests:
/// the metadata services and scripted Akeyless servers of these tests.
#[allow(unused_imports)] // Each test binary that includes this module uses a part.
pub use ci_secrets_test_support::{Received, RecordingServer as LocalServer, Reply};
