//! Test support shared by this crate's test binaries: a real OpenBao server
//! and a recording HTTP server. Each binary uses only part of it.
#![allow(dead_code)]

pub mod openbao;
pub mod recording;

use std::time::Duration;

use ci_secrets_provider_api::{
    HttpSettings, JobVariables, Provider, ProviderConfig, ResolveContext, ResolveContextBuilder,
    SecretRequest, SecretResult, SecretValue,
};

/// The provider as the core finds it: through its `inventory` registration.
/// Calling `registration()` links the crate in, as a binary must (the
/// linking trap of `ci_secrets_provider_api::registry`).
pub fn provider(config: serde_json::Value) -> Box<dyn Provider> {
    assert_eq!(ci_secrets_provider_vault::registration().key, "vault");
    let registration =
        ci_secrets_provider_api::find_provider("vault").expect("the vault provider is registered");
    (registration.build)(&ProviderConfig::new(config, "test config")).expect("the provider builds")
}

/// A job context with these variables and `id_tokens:` names, a 20 s
/// deadline, and an HTTP layer that retries quickly so failure tests stay
/// fast.
pub fn context(variables: &[(&str, &str)], id_tokens: &[&str]) -> ResolveContext {
    context_builder(variables, id_tokens)
        .timeout(Duration::from_secs(20))
        .build()
}

/// [`context`] before its deadline is set, for callers that set their own.
pub fn context_builder(variables: &[(&str, &str)], id_tokens: &[&str]) -> ResolveContextBuilder {
    let mut settings = HttpSettings::default();
    settings.initial_backoff = Duration::from_millis(1);
    settings.max_backoff = Duration::from_millis(5);
    settings.max_attempts = 2;
    ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter(variables.iter().copied()))
        .id_token_names(id_tokens.iter().map(|name| name.to_string()).collect())
        .http(settings)
}

/// Preflight, resolve, then finish the run, as the core does.
pub async fn resolve(
    provider: &dyn Provider,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<SecretResult> {
    provider.preflight(ctx, requests).expect("preflight passes");
    let results = provider.resolve(ctx, requests).await;
    assert_eq!(results.len(), requests.len(), "one result per request");
    provider
        .finish(&ctx.for_cleanup(std::time::Duration::from_secs(5)))
        .await;
    results
}

/// The text of a resolved value.
pub fn text(result: &SecretResult) -> &str {
    let value: &SecretValue = result.as_ref().expect("the secret resolves");
    value.expose_str().expect("a UTF-8 value")
}
