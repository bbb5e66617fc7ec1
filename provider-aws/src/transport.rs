//! The AWS SDK clients of one run, configured like the shared HTTP layer.
//!
//! The SDK cannot send through `ci-secrets-provider-api`'s reqwest client, so
//! this module applies the same settings to the SDK's own client: rustls on
//! ring with the system roots plus the run's extra CA roots, the proxies of
//! `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (read as reqwest
//! reads them: both use hyper-util's matcher), the connect and per-attempt
//! timeouts, and standard-mode retries (jittered exponential backoff) with the
//! run's attempt count. Every attempt is counted into the run's metrics. The
//! overall deadline is applied by the caller.
//!
//! Endpoints can be overridden from the job's variables, as the AWS SDKs and
//! CLI do from the environment: `AWS_ENDPOINT_URL_STS` and
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL` for both.

use aws_config::{AppName, BehaviorVersion, Region};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use ci_secrets_provider_api::{
    ErrorKind, HttpSettings, JobVariables, ProviderError, ResolveContext,
};

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
}

/// Builds the STS and Secrets Manager clients of one run; they share one
/// connection pool.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: SharedHttpClient,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
    endpoints: Endpoints,
    attempts: CountAttempts,
}

impl Transport {
    /// The clients of the run, through the proxies of the environment.
    pub(crate) fn new(ctx: &ResolveContext) -> Result<Self, ProviderError> {
        Self::with_proxies(ctx, ProxyConfig::from_env())
    }

    fn with_proxies(ctx: &ResolveContext, proxies: ProxyConfig) -> Result<Self, ProviderError> {
        let settings = ctx.http_settings();
        // The shared layer parses the run's extra roots now, so a bad PEM is a
        // config error here rather than a TLS failure on the first request
        // (the SDK's client parses them lazily).
        ci_secrets_http::HttpContext::http(ctx).client(None)?;
        Ok(Self {
            http: http_client(settings, proxies)?,
            retry: RetryConfig::standard()
                .with_max_attempts(settings.max_attempts.max(1))
                .with_initial_backoff(settings.initial_backoff)
                .with_max_backoff(settings.max_backoff),
            timeouts: TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .operation_attempt_timeout(settings.request_timeout)
                .build(),
            endpoints: Endpoints::from_variables(ctx.variables())?,
            attempts: CountAttempts::new(ctx),
        })
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

/// The SDK's hyper client on rustls with ring: the system roots plus the
/// run's extra CA roots, through `proxies`.
fn http_client(
    settings: &HttpSettings,
    proxies: ProxyConfig,
) -> Result<SharedHttpClient, ProviderError> {
    let trust_store = settings
        .extra_ca_pem
        .iter()
        .fold(TrustStore::default(), |store, pem| {
            store.with_pem_certificate(pem.clone())
        });
    let tls_context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .map_err(|err| {
            ProviderError::new(
                ErrorKind::Config,
                format!("cannot set up TLS for AWS: {err}"),
            )
        })?;
    // `Builder::build_https` takes no proxy settings; the connector it would
    // build does, so the connector is built here the way `build_https` builds
    // it (the SDK's timeouts and sleep from the runtime), plus the proxies.
    Ok(
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = Connector::builder();
            connector.set_connector_settings(settings.cloned());
            connector.set_sleep_impl(components.and_then(|components| components.sleep_impl()));
            connector
                .proxy_config(proxies.clone())
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .tls_context(tls_context.clone())
                .build()
        }),
    )
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

    /// Requests take the proxy: with an STS endpoint no resolver knows,
    /// the only way the request line can reach anyone is through it.
    #[tokio::test]
    async fn requests_go_through_the_proxy() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read_exact(&mut byte).await.is_ok() {
                    head.push(byte[0]);
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = socket
                    .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let mut settings = HttpSettings::default();
        settings.max_attempts = 1;
        let ctx = ResolveContext::builder("deploy")
            .variables(JobVariables::from_iter([(
                "AWS_ENDPOINT_URL_STS",
                "http://sts.example.invalid:8443",
            )]))
            .http(settings)
            .build();
        let transport = Transport::with_proxies(&ctx, ProxyConfig::all(&proxy).unwrap()).unwrap();
        let outcome = transport
            .sts("eu-west-1")
            .assume_role_with_web_identity()
            .role_arn("arn:aws:iam::123456789012:role/ci")
            .role_session_name("ci")
            .web_identity_token("not-a-real-token")
            .send()
            .await;
        assert!(outcome.is_err(), "the proxy answers 502");
        let heads = heads.lock().unwrap().clone();
        assert!(!heads.is_empty(), "nothing reached the proxy");
        assert!(
            heads[0]
                .lines()
                .next()
                .unwrap()
                .contains("sts.example.invalid:8443"),
            "{heads:?}"
        );
    }
}
