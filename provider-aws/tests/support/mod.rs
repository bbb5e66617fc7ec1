//! Test support shared by this crate's test binaries: a real moto server,
//! the provider as the core finds it, and job contexts.
#![allow(dead_code)]

pub mod moto;

use std::sync::Arc;
use std::time::Duration;

use ci_secrets_provider_api::{
    HttpSettings, JobVariables, Metrics, Provider, ProviderConfig, ResolveContext, SecretRequest,
    SecretResult, SecretValue,
};

/// The ID token the tests log in with; moto's STS accepts any.
pub const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.test-id-token-4711.c2ln";

/// The provider as the core finds it: through its `inventory` registration.
/// Calling `registration()` links the crate in, as a binary must (the
/// linking trap of `ci_secrets_provider_api::registry`).
pub fn provider() -> Box<dyn Provider> {
    assert_eq!(
        ci_secrets_provider_aws::registration().key,
        "aws_secrets_manager"
    );
    let registration = ci_secrets_provider_api::find_provider("aws_secrets_manager")
        .expect("the aws_secrets_manager provider is registered");
    (registration.build)(&ProviderConfig::new(serde_json::json!({}), "test config"))
        .expect("the provider builds")
}

/// HTTP settings that retry quickly, so failure tests stay fast.
pub fn fast_http() -> HttpSettings {
    let mut settings = HttpSettings::default();
    settings.initial_backoff = Duration::from_millis(1);
    settings.max_backoff = Duration::from_millis(5);
    settings.max_attempts = 2;
    settings
}

/// A job context with these variables, fast retries and its own metrics.
pub fn context(variables: &[(&str, &str)]) -> (ResolveContext, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let ctx = ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter(variables.iter().copied()))
        .id_token_names(vec!["AWS_ID_TOKEN".into()])
        .timeout(Duration::from_secs(20))
        .http(fast_http())
        .metrics(metrics.clone())
        .build();
    (ctx, metrics)
}

/// The variables of a job in `account` that logs in with its ID token:
/// moto's endpoint, the region, the role and `AWS_ID_TOKEN`.
pub fn job_variables(endpoint: &str, account: &str, region: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), endpoint.into()),
        ("AWS_REGION".into(), region.into()),
        ("AWS_ROLE_ARN".into(), moto::role_arn(account)),
        ("AWS_ID_TOKEN".into(), ID_TOKEN.into()),
    ]
}

/// Borrows owned variable pairs for [`context`].
pub fn borrowed(variables: &[(String, String)]) -> Vec<(&str, &str)> {
    variables
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Preflight, then resolve, as the core does.
pub async fn resolve(
    provider: &dyn Provider,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<SecretResult> {
    provider.preflight(ctx, requests).expect("preflight passes");
    let results = provider.resolve(ctx, requests).await;
    assert_eq!(results.len(), requests.len(), "one result per request");
    results
}

/// The text of a resolved value.
pub fn text(result: &SecretResult) -> &str {
    let value: &SecretValue = result.as_ref().expect("the secret resolves");
    value.expose_str().expect("a UTF-8 value")
}
