//! The AWS SDK clients of one run, sending through the run's shared HTTP
//! layer (`ci_secrets_http::AwsSdkHttpClient`): its trust roots plus the
//! run's extra CA roots, the proxies of `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` and `NO_PROXY`, its DNS cache, connect timeout and
//! connection pool. The SDK applies the
//! per-attempt timeout and standard-mode retries (jittered exponential
//! backoff) with the run's attempt count; every attempt is counted into the
//! run's metrics. The overall deadline is applied by the caller.
//!
//! Endpoints can be overridden from the job's variables, as the AWS SDKs and
//! CLI do from the environment: `AWS_ENDPOINT_URL_STS` and
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL` for both.

use aws_config::{AppName, BehaviorVersion, Region};
use aws_sdk_secretsmanager::config::endpoint::{DefaultResolver, Params, ResolveEndpoint as _};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use ci_secrets_http::{AwsSdkHttpClient, HttpClient, HttpContext as _};
use ci_secrets_provider_api::{
    ErrorKind, HttpSettings, JobVariables, ProviderError, ResolveContext,
};
use futures::FutureExt as _;

use crate::attempts::CountAttempts;

const ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL";
const STS_ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL_STS";
const SECRETS_MANAGER_ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";

/// Endpoint overrides; `None` means the AWS endpoint of the region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub(crate) sts: Option<String>,
    pub(crate) secrets_manager: Option<String>,
}

impl Endpoints {
    /// Reads the overrides; a value that is not an http(s) URL is a
    /// config error naming its variable.
    pub(crate) fn from_variables(variables: &JobVariables) -> Result<Self, ProviderError> {
        let read = |name: &str| -> Result<Option<String>, ProviderError> {
            match variables.get_present(name) {
                None => Ok(None),
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                    Ok(Some(url.trim().to_string()))
                }
                Some(_) => Err(ProviderError::new(
                    ErrorKind::Config,
                    format!("the variable {name} should be an http:// or https:// URL"),
                )),
            }
        };
        let shared = read(ENDPOINT_VARIABLE)?;
        Ok(Self {
            sts: read(STS_ENDPOINT_VARIABLE)?.or_else(|| shared.clone()),
            secrets_manager: read(SECRETS_MANAGER_ENDPOINT_VARIABLE)?.or(shared),
        })
    }

    /// The Secrets Manager endpoint of `region`: the override, else the
    /// one the SDK's endpoint rules give (each partition has its domain).
    pub(crate) fn secrets_manager_url(&self, region: &str) -> Option<String> {
        let params = Params::builder()
            .region(region)
            .set_endpoint(self.secrets_manager.clone())
            .use_fips(false)
            .use_dual_stack(false)
            .build()
            .ok()?;
        // The default resolver computes its answer at once: its future is
        // ready when made.
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .now_or_never()?
            .ok()?;
        Some(endpoint.url().to_string())
    }
}

/// Builds the STS and Secrets Manager clients of one run; they share the
/// run's connection pool.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    /// The shared layer's client, for connections opened ahead of a wave.
    client: HttpClient,
    http: SharedHttpClient,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
    endpoints: Endpoints,
    attempts: CountAttempts,
}

impl Transport {
    /// The clients of the run. A bad extra CA root is a config error now,
    /// not a TLS failure at the first request.
    pub(crate) fn new(ctx: &ResolveContext) -> Result<Self, ProviderError> {
        let settings: &HttpSettings = ctx.http_settings();
        let client = ctx.http().client(None)?;
        Ok(Self {
            http: SharedHttpClient::new(AwsSdkHttpClient::new(client.clone())),
            client,
            retry: RetryConfig::standard()
                .with_max_attempts(settings.max_attempts.max(1))
                .with_initial_backoff(settings.initial_backoff)
                .with_max_backoff(settings.max_backoff),
            // The connect timeout is the shared client's (`[http]`); the
            // adapter takes no connector settings from the SDK.
            timeouts: TimeoutConfig::builder()
                .operation_attempt_timeout(settings.request_timeout)
                .build(),
            endpoints: Endpoints::from_variables(ctx.variables())?,
            attempts: CountAttempts::new(ctx),
        })
    }

    /// Starts opening `connections` connections to the Secrets Manager
    /// endpoint of `region` (the SDK's own endpoint rules, or the
    /// override), for the reads that wait on the login. Best effort: an
    /// endpoint the rules cannot give opens nothing.
    pub(crate) async fn preconnect_secrets_manager(&self, region: &str, connections: usize) {
        if let Some(url) = self.endpoints.secrets_manager_url(region) {
            self.client.preconnect(&url, connections).await;
        }
    }

    /// An STS client for `region`. `AssumeRoleWithWebIdentity` is unsigned,
    /// so it needs no credentials.
    pub(crate) fn sts(&self, region: &str) -> aws_sdk_sts::Client {
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .http_client(self.http.clone())
            .retry_config(self.retry.clone())
            .timeout_config(self.timeouts.clone())
            .interceptor(self.attempts.clone());
        config.set_app_name(app_name());
        config.set_endpoint_url(self.endpoints.sts.clone());
        aws_sdk_sts::Client::from_conf(config.build())
    }

    /// A Secrets Manager client for `region` with these credentials.
    pub(crate) fn secrets_manager(
        &self,
        region: &str,
        credentials: aws_credential_types::Credentials,
    ) -> aws_sdk_secretsmanager::Client {
        let mut config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .credentials_provider(credentials)
            .http_client(self.http.clone())
            .retry_config(self.retry.clone())
            .timeout_config(self.timeouts.clone())
            .interceptor(self.attempts.clone());
        config.set_app_name(app_name());
        config.set_endpoint_url(self.endpoints.secrets_manager.clone());
        aws_sdk_secretsmanager::Client::from_conf(config.build())
    }

    /// Settings for the SDK's own credential providers (profiles, ECS,
    /// IMDS), which then use this client and its retries.
    pub(crate) fn provider_config(
        &self,
        region: &str,
    ) -> aws_config::provider_config::ProviderConfig {
        aws_config::provider_config::ProviderConfig::without_region()
            .with_region(Some(Region::new(region.to_string())))
            .with_http_client(self.http.clone())
            .with_retry_config(self.retry.clone())
    }
}

/// `ci-secrets` in the SDK's `User-Agent` (`app/ci-secrets`), like the
/// runner's `app/GitLab-Runner-<version>`. Always `Some`: the name uses only
/// characters `AppName` accepts.
fn app_name() -> Option<AppName> {
    AppName::new("ci-secrets").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_endpoints_win_over_the_shared_one() {
        let variables = JobVariables::from_iter([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_STS", "https://sts.example.test"),
        ]);
        let endpoints = Endpoints::from_variables(&variables).unwrap();
        assert_eq!(endpoints.sts.as_deref(), Some("https://sts.example.test"));
        assert_eq!(
            endpoints.secrets_manager.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            Endpoints::from_variables(&JobVariables::default()).unwrap(),
            Endpoints::default()
        );
    }

    #[test]
    fn the_secrets_manager_url_follows_the_sdks_partitions_unless_overridden() {
        let endpoints = Endpoints::default();
        assert_eq!(
            endpoints.secrets_manager_url("eu-west-1").as_deref(),
            Some("https://secretsmanager.eu-west-1.amazonaws.com")
        );
        // China's partition has its own domain.
        assert_eq!(
            endpoints.secrets_manager_url("cn-north-1").as_deref(),
            Some("https://secretsmanager.cn-north-1.amazonaws.com.cn")
        );
        let overridden = Endpoints {
            sts: None,
            secrets_manager: Some("http://127.0.0.1:5000".into()),
        };
        assert_eq!(
            overridden.secrets_manager_url("cn-north-1").as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn a_bad_endpoint_names_its_variable() {
        let variables =
            JobVariables::from_iter([("AWS_ENDPOINT_URL_SECRETS_MANAGER", "localhost:5000")]);
        let err = Endpoints::from_variables(&variables).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message().contains("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_extra_ca_is_a_config_error() {
        let mut settings = HttpSettings::default();
        settings.extra_ca_pem = vec![b"not a certificate".to_vec()];
        let ctx = ResolveContext::builder("deploy").http(settings).build();
        let err = Transport::new(&ctx).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}
