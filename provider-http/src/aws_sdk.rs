//! The AWS SDK's HTTP client on this crate's [`HttpClient`] (feature
//! `aws-sdk`), so that the SDK's requests get what every other request of
//! the run has: the same trust roots (Mozilla's, the OS store only when a
//! server needs it, the run's extra CA roots), proxies, DNS cache and
//! connect timeout, HTTP/2 where the server offers it, the run's connection
//! pool, and connections opened ahead of the request that needs them
//! ([`HttpClient::preconnect`]), which the SDK's own client cannot do.
//!
//! The SDK keeps what is its own: signing, retries and their
//! classification, the per-attempt timeout and its interceptors. Each call
//! here is one attempt: one request, its body read whole within the cap.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::http::{
    HttpClient as SdkHttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::HttpClient;
use crate::client::{BodyError, read_capped_body, tls_cause};

/// An AWS SDK HTTP client (`aws_smithy_runtime_api`'s `HttpClient`) that
/// sends through an [`HttpClient`]: give it to an SDK client's config
/// (`http_client(...)`) or to `aws_config`'s `ProviderConfig`. A response
/// body over the client's `max_body_bytes` is a failed attempt.
///
/// ```
/// use ci_secrets_http::{AwsSdkHttpClient, HttpFactory, HttpSettings};
///
/// let client = HttpFactory::new(HttpSettings::default()).client(None).unwrap();
/// let sdk_client = AwsSdkHttpClient::new(client);
/// # let _ = sdk_client;
/// ```
#[derive(Debug, Clone)]
pub struct AwsSdkHttpClient {
    client: HttpClient,
}

impl AwsSdkHttpClient {
    /// Sends through `client`.
    pub fn new(client: HttpClient) -> Self {
        Self { client }
    }

    async fn send(self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let request = self.to_reqwest(&request)?;
        let mut response = match self.client.execute(request).await {
            Ok(sent) => sent.map_err(classify)?,
            Err(unbuildable) => return Err(ConnectorError::user(Box::new(unbuildable))),
        };
        let status = StatusCode::try_from(response.status().as_u16())
            .map_err(|err| ConnectorError::other(Box::new(err), None))?;
        let mut answer = HttpResponse::new(status, SdkBody::empty());
        for (name, value) in response.headers() {
            // Every header the SDK reads is ASCII; one that is not cannot
            // be one of them.
            if let Ok(value) = value.to_str() {
                answer
                    .headers_mut()
                    .append(name.as_str().to_owned(), value.to_owned());
            }
        }
        let max = self.client.settings().max_body_bytes;
        let body = read_capped_body(&mut response, max)
            .await
            .map_err(|err| match err {
                BodyError::TooLarge => ConnectorError::other(
                    format!("the response body is larger than the {max}-byte limit").into(),
                    None,
                ),
                BodyError::Read(err) => classify(err),
            })?;
        *answer.body_mut() = SdkBody::from(body.to_vec());
        Ok(answer)
    }

    fn to_reqwest(&self, request: &HttpRequest) -> Result<reqwest::Request, ConnectorError> {
        let user = |err: Box<dyn StdError + Send + Sync>| ConnectorError::user(err);
        let method = reqwest::Method::from_bytes(request.method().as_bytes())
            .map_err(|err| user(Box::new(err)))?;
        let url = reqwest::Url::parse(request.uri()).map_err(|err| user(Box::new(err)))?;
        // STS and Secrets Manager requests are small and in memory.
        let body = request
            .body()
            .bytes()
            .ok_or_else(|| user("the AWS request has a streaming body".into()))?;
        let mut builder = self.client.reqwest().request(method, url);
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        builder
            .body(body.to_vec())
            .build()
            .map_err(|err| user(Box::new(err)))
    }
}

/// What the SDK's retry strategy should make of a failed attempt: timeouts
/// and connection or transfer failures are transient; a TLS failure is not
/// (the certificate will be the same at the next attempt), nor is a request
/// that could not be made.
fn classify(err: reqwest::Error) -> ConnectorError {
    if tls_cause(&err).is_some() || err.is_builder() || err.is_redirect() {
        ConnectorError::other(Box::new(err), None)
    } else if err.is_timeout() {
        ConnectorError::timeout(Box::new(err))
    } else {
        ConnectorError::io(Box::new(err))
    }
}

impl SdkHttpClient for AwsSdkHttpClient {
    /// The same connector whatever the SDK's settings: the connect timeout
    /// is the run's, set on the shared client, and the SDK applies its
    /// per-attempt timeout around each call.
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for AwsSdkHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::new(self.clone().send(request))
    }
}
