//! Credentials for one login group: `AssumeRoleWithWebIdentity` with the
//! job's ID token, or the default AWS credentials.

use std::time::{SystemTime, UNIX_EPOCH};
use tracing::Instrument as _;

use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::ProvideCredentials;
use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext};
use secrecy::ExposeSecret;

use crate::access::{Access, Credentials};
use crate::failure::{Failure, error_chain};
use crate::transport::Transport;

/// Static keys a job may carry as variables, as the AWS SDKs read them from
/// the environment. ci-secrets' job variables include the process
/// environment, so this is where GitLab Runner's default credentials came from.
const ACCESS_KEY_VARIABLE: &str = "AWS_ACCESS_KEY_ID";
const SECRET_KEY_VARIABLE: &str = "AWS_SECRET_ACCESS_KEY";
const SESSION_TOKEN_VARIABLE: &str = "AWS_SESSION_TOKEN";

/// Obtains the credentials of `access`. Errors are of kind `Auth` unless
/// the cause was the network or a rate limit.
pub(crate) async fn login(
    ctx: &ResolveContext,
    transport: &Transport,
    access: &Access,
) -> Result<AwsCredentials, ProviderError> {
    match &access.credentials {
        Credentials::WebIdentity {
            role_arn,
            session_name,
            token,
            token_source,
        } => {
            let session_name = session_name.clone().unwrap_or_else(default_session_name);
            ctx.metrics().record_login();
            let answer = transport
                .sts(&access.region)
                .assume_role_with_web_identity()
                .role_arn(role_arn)
                .role_session_name(&session_name)
                .web_identity_token(token.expose_secret())
                .send()
                .instrument(tracing::info_span!("aws.login", region = %access.region))
                .await;
            let what = format!(
                "AWS STS AssumeRoleWithWebIdentity for role {role_arn} (session {session_name}, \
                 region {}) with {token_source}",
                access.region
            );
            let output = answer.map_err(|err| {
                let failure = Failure::from_sdk(&err, &[token.expose_secret()]);
                sts_error(&what, &failure)
            })?;
            let Some(credentials) = output.credentials() else {
                return Err(ProviderError::new(
                    ErrorKind::Protocol,
                    format!("{what} answered without credentials"),
                ));
            };
            Ok(AwsCredentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_string()),
                SystemTime::try_from(*credentials.expiration()).ok(),
                "AssumeRoleWithWebIdentity",
            ))
        }
        Credentials::Default => default_credentials(ctx, transport, &access.region).await,
    }
}

/// Every credential a Secrets Manager call made with `credentials` carries
/// or was obtained with: the ID token of `access` (when it logs in with
/// one), and the access key, secret key and session token from the login.
/// Server text answering such a call is scrubbed of all of them.
pub(crate) fn credential_texts<'a>(
    access: &'a Access,
    credentials: &'a AwsCredentials,
) -> Vec<&'a str> {
    let token = match &access.credentials {
        Credentials::WebIdentity { token, .. } => Some(token.expose_secret()),
        Credentials::Default => None,
    };
    token
        .into_iter()
        .chain([credentials.access_key_id(), credentials.secret_access_key()])
        .chain(credentials.session_token())
        .collect()
}

/// The runner's default session name (the AWS Go SDK's): the current time
/// in Unix nanoseconds.
fn default_session_name() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_string()
}

/// The job's static keys, else the SDK's default chain: environment,
/// profiles, web identity token file, ECS and EC2 instance metadata.
async fn default_credentials(
    ctx: &ResolveContext,
    transport: &Transport,
    region: &str,
) -> Result<AwsCredentials, ProviderError> {
    let variables = ctx.variables();
    if let (Some(access_key), Some(secret_key)) = (
        variables.get_present(ACCESS_KEY_VARIABLE),
        variables.get_present(SECRET_KEY_VARIABLE),
    ) {
        return Ok(AwsCredentials::new(
            access_key,
            secret_key,
            variables
                .get_present(SESSION_TOKEN_VARIABLE)
                .map(str::to_string),
            None,
            "job variables",
        ));
    }
    ctx.metrics().record_login();
    let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .configure(transport.provider_config(region))
        .build()
        .await;
    chain.provide_credentials().await.map_err(|err| {
        ProviderError::new(
            ErrorKind::Auth,
            format!(
                "no AWS credentials: no role is set (role_arn: or AWS_ROLE_ARN), so the default AWS \
                 credentials are used, and none were found: {}",
                error_chain(&err)
            ),
        )
        .with_source(err)
    })
}

/// An STS failure: `Auth` with AWS's code and message, unless it was the
/// network, a rate limit or a server fault, which may pass on a later run.
fn sts_error(what: &str, failure: &Failure) -> ProviderError {
    let (kind, status) = match failure {
        Failure::Service { code, status, .. } => (
            match code.as_str() {
                // STS's own "try again": the identity provider did not answer.
                "IDPCommunicationError" => ErrorKind::Transient,
                code => match Failure::default_kind(code, *status) {
                    kind @ (ErrorKind::RateLimited | ErrorKind::Transient) => kind,
                    _ => ErrorKind::Auth,
                },
            },
            Some(*status),
        ),
        Failure::NoAnswer { kind, .. } => (*kind, None),
    };
    let error = ProviderError::new(kind, format!("{what} failed: {}", failure.describe()));
    match status {
        Some(status) => error.with_status(status),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_secrets_provider_api::scrub;

    #[test]
    fn sts_refusals_are_auth_errors_with_the_code() {
        let failure = Failure::Service {
            code: "InvalidIdentityToken".into(),
            message: scrub("token eyJabc.def is invalid", &["eyJabc.def"]),
            status: 400,
        };
        let err = sts_error("AWS STS AssumeRoleWithWebIdentity for role r", &failure);
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.status(), Some(400));
        assert_eq!(
            err.message(),
            "AWS STS AssumeRoleWithWebIdentity for role r failed: InvalidIdentityToken: token [MASKED] is invalid (HTTP 400)"
        );
    }

    #[test]
    fn sts_throttling_and_outages_keep_their_kind() {
        for (code, status, kind) in [
            ("Throttling", 400, ErrorKind::RateLimited),
            ("IDPCommunicationError", 400, ErrorKind::Transient),
            ("InternalFailure", 500, ErrorKind::Transient),
            ("AccessDenied", 403, ErrorKind::Auth),
        ] {
            let failure = Failure::Service {
                code: code.into(),
                message: String::new(),
                status,
            };
            assert_eq!(sts_error("x", &failure).kind(), kind, "{code}");
        }
    }

    #[test]
    fn default_session_name_is_unix_nanoseconds() {
        let name = default_session_name();
        assert!(
            name.len() >= 19 && name.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
    }
}
