//! `aws_iam`: a SigV4-signed, never-sent `sts:GetCallerIdentity` request,
//! which Akeyless replays to STS to learn who we are.
//!
//! The cloud id is `base64(JSON{sts_request_method, sts_request_url,
//! sts_request_body, sts_request_headers})`, each value base64-encoded and
//! the headers a JSON map from name to a list of values, exactly as
//! Akeyless's Go cloud-id library builds it. The request is signed for the
//! configured region's STS endpoint (`us-east-1` when none is configured).
//!
//! Credentials: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN` and web identity (`AWS_ROLE_ARN` +
//! `AWS_WEB_IDENTITY_TOKEN_FILE`) from the job's variables or the process
//! environment; otherwise the AWS SDK's default chain (profiles, ECS
//! container credentials, EC2 IMDSv2, ...).

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::{StaticConfiguration, WebIdentityTokenCredentialsProvider};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_http::{AwsSdkHttpClient, HttpContext as _};
use ci_secrets_provider_api::{ErrorKind, ResolveContext};
use zeroize::Zeroizing;

use crate::env::Env;
use crate::error::Failure;

const DEFAULT_REGION: &str = "us-east-1";
const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

fn failure(kind: ErrorKind, reason: impl Into<String>) -> Failure {
    Failure::CloudId {
        cloud: "AWS",
        kind,
        reason: reason.into(),
    }
}

/// The cloud id for the credentials the environment provides, and those
/// credentials (secret key and session token): the session token travels
/// inside the cloud id, so a server that decodes it could echo it.
pub(super) async fn cloud_id(
    ctx: &ResolveContext,
    env: &Env<'_>,
) -> Result<(String, Vec<Zeroizing<String>>), Failure> {
    let region = region(env).await;
    let credentials = credentials(ctx, env, &region).await?;
    let cloud_id = signed_cloud_id(&credentials, &region, SystemTime::now())?;
    let sources = [
        Some(credentials.access_key_id()),
        Some(credentials.secret_access_key()),
        credentials.session_token(),
    ]
    .into_iter()
    .flatten()
    .map(|text| Zeroizing::new(text.to_string()))
    .collect();
    Ok((cloud_id, sources))
}

async fn region(env: &Env<'_>) -> String {
    if let Some(region) = env
        .get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
    {
        return region;
    }
    // The profile's region; IMDS is not asked, which would stall off EC2.
    let profile = aws_config::profile::ProfileFileRegionProvider::builder().build();
    match aws_config::meta::region::ProvideRegion::region(&profile).await {
        Some(region) => region.to_string(),
        None => DEFAULT_REGION.to_string(),
    }
}

async fn credentials(
    ctx: &ResolveContext,
    env: &Env<'_>,
    region: &str,
) -> Result<Credentials, Failure> {
    if let (Some(key_id), Some(secret)) = (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials::new(
            key_id,
            secret,
            env.get("AWS_SESSION_TOKEN"),
            None,
            "environment",
        ));
    }
    // STS, ECS and IMDS through the run's HTTP client: its proxies (with
    // `NO_PROXY`, as the AWS SDKs read them), roots and timeouts.
    let client = ctx.http().client(None).map_err(|err| {
        failure(
            err.kind(),
            format!("cannot build the HTTP client: {}", err.message()),
        )
    })?;
    let http_client = AwsSdkHttpClient::new(client);
    let config = ProviderConfig::without_region()
        .with_region(Some(aws_config::Region::new(region.to_string())))
        .with_http_client(http_client);
    let provided = if let (Some(role_arn), Some(token_file)) = (
        env.get("AWS_ROLE_ARN"),
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
    ) {
        WebIdentityTokenCredentialsProvider::builder()
            .configure(&config)
            .static_configuration(StaticConfiguration {
                web_identity_token_file: token_file.into(),
                role_arn,
                session_name: env
                    .get("AWS_ROLE_SESSION_NAME")
                    .unwrap_or_else(|| "ci-secrets".to_string()),
            })
            .build()
            .provide_credentials()
            .await
    } else {
        aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
            .configure(config)
            .build()
            .await
            .provide_credentials()
            .await
    };
    provided.map_err(|err| {
        failure(
            ErrorKind::Auth,
            format!("no AWS credentials: {}", error_chain(&err)),
        )
    })
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The STS endpoint of `region`, with the path `/`.
fn sts_url(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sts.{region}.{suffix}/")
}

/// Signs `GetCallerIdentity` at `time` and encodes it as a cloud id.
fn signed_cloud_id(
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<String, Failure> {
    let url = sts_url(region);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|err| {
            failure(
                ErrorKind::Config,
                format!("cannot sign for region {region}: {err}"),
            )
        })?
        .into();
    let headers = [("content-type", CONTENT_TYPE)];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.into_iter(),
        SignableBody::Bytes(BODY.as_bytes()),
    )
    .map_err(|err| {
        failure(
            ErrorKind::Config,
            format!("cannot sign the STS request: {err}"),
        )
    })?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|err| {
            failure(
                ErrorKind::Config,
                format!("cannot sign the STS request: {err}"),
            )
        })?
        .into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(())
        .map_err(|err| {
            failure(
                ErrorKind::Config,
                format!("cannot build the STS request: {err}"),
            )
        })?;
    instructions.apply_to_request_http1x(&mut request);

    // Go's `http.Header`: canonical names, lists of values, no `Host`.
    let mut header_map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in request.headers() {
        if name == http::header::HOST {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| failure(ErrorKind::Config, "a signed header is not text"))?;
        header_map
            .entry(canonical_header_name(name.as_str()))
            .or_default()
            .push(value.to_string());
    }
    let headers_json = serde_json::to_string(&header_map).map_err(|err| {
        failure(
            ErrorKind::Config,
            format!("cannot encode the headers: {err}"),
        )
    })?;
    let cloud_id = serde_json::json!({
        "sts_request_method": "POST",
        "sts_request_url": STANDARD.encode(&url),
        "sts_request_body": STANDARD.encode(BODY),
        "sts_request_headers": STANDARD.encode(headers_json),
    });
    Ok(STANDARD.encode(cloud_id.to_string()))
}

/// `x-amz-date` → `X-Amz-Date`, as Go canonicalizes header names.
fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn decode(text: &str) -> String {
        String::from_utf8(STANDARD.decode(text).unwrap()).unwrap()
    }

    #[test]
    fn cloud_id_has_the_go_library_shape() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        );
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_778_493_600);
        let cloud_id: serde_json::Value = serde_json::from_str(&decode(
            &signed_cloud_id(&credentials, "eu-west-1", time).unwrap(),
        ))
        .unwrap();
        assert_eq!(cloud_id["sts_request_method"], "POST");
        assert_eq!(
            decode(cloud_id["sts_request_url"].as_str().unwrap()),
            "https://sts.eu-west-1.amazonaws.com/"
        );
        assert_eq!(decode(cloud_id["sts_request_body"].as_str().unwrap()), BODY);
        let headers: BTreeMap<String, Vec<String>> =
            serde_json::from_str(&decode(cloud_id["sts_request_headers"].as_str().unwrap()))
                .unwrap();
        assert_eq!(
            headers.keys().collect::<Vec<_>>(),
            [
                "Authorization",
                "Content-Type",
                "X-Amz-Date",
                "X-Amz-Security-Token"
            ]
        );
        assert!(
            headers["Authorization"][0].starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260511/eu-west-1/sts/aws4_request"
            ),
            "{:?}",
            headers["Authorization"]
        );
        assert_eq!(headers["X-Amz-Date"], ["20260511T100000Z"]);
        assert_eq!(headers["X-Amz-Security-Token"], ["session"]);
    }

    #[test]
    fn china_regions_use_the_cn_endpoint() {
        assert_eq!(
            sts_url("cn-north-1"),
            "https://sts.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(
            canonical_header_name("x-amz-security-token"),
            "X-Amz-Security-Token"
        );
    }
}
