//! How one secret reaches AWS: its region and its credentials, picked with
//! GitLab's precedence.
//!
//! GitLab builds `server: {region, role_arn, role_session_name, jwt}` from the
//! CI/CD variables `AWS_REGION`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME` and
//! the secret's `token:` (else the literal `$AWS_ID_TOKEN`, expanded by the
//! runner); the runner lets the secret's own `region`, `role_arn` and
//! `role_session_name` win over the server's. With a role it calls
//! `AssumeRoleWithWebIdentity` with the JWT; without a role and without a
//! JWT it uses the default AWS credentials; a JWT without a role is an error.

use std::fmt;

use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext, SecretRequest};
use secrecy::{ExposeSecret, SecretString};

use crate::reference::SecretReference;

/// The CI/CD variable GitLab reads the region from.
pub(crate) const REGION_VARIABLE: &str = "AWS_REGION";
/// The CI/CD variable GitLab reads the role from.
pub(crate) const ROLE_ARN_VARIABLE: &str = "AWS_ROLE_ARN";
/// The CI/CD variable GitLab reads the session name from.
pub(crate) const SESSION_NAME_VARIABLE: &str = "AWS_ROLE_SESSION_NAME";
/// The ID token GitLab uses when the secret has no `token:`.
pub(crate) const ID_TOKEN_VARIABLE: &str = "AWS_ID_TOKEN";

/// Where the web identity token came from, for messages. Never holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// The secret's expanded `token:`.
    Token,
    /// The job variable `AWS_ID_TOKEN`.
    IdTokenVariable,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Token => f.write_str("the secret's token:"),
            TokenSource::IdTokenVariable => write!(f, "the ID token {ID_TOKEN_VARIABLE}"),
        }
    }
}

/// The credentials one secret uses.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// `AssumeRoleWithWebIdentity` with the job's ID token.
    WebIdentity {
        role_arn: String,
        /// `None`: the runner's default, the login time in Unix nanoseconds.
        session_name: Option<String>,
        token: SecretString,
        token_source: TokenSource,
    },
    /// No role and no ID token: the standard AWS credential sources.
    Default,
}

/// Region and credentials. Secrets with equal `Access` share one login.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    pub(crate) region: String,
    pub(crate) credentials: Credentials,
}

impl Access {
    /// Picks the region and credentials of one secret; errors say which
    /// block key or variable to set.
    pub(crate) fn select(
        ctx: &ResolveContext,
        request: &SecretRequest,
        reference: &SecretReference,
    ) -> Result<Self, ProviderError> {
        let variables = ctx.variables();
        let from_variable = |name| variables.get_present(name).map(str::to_string);
        let region = reference
            .region
            .clone()
            .or_else(|| from_variable(REGION_VARIABLE))
            .ok_or_else(|| {
                config_error(format!(
                    "no AWS region for {reference}: set `region:` in its aws_secrets_manager block \
                     or the CI/CD variable {REGION_VARIABLE}"
                ))
            })?;
        let role_arn = reference
            .role_arn
            .clone()
            .or_else(|| from_variable(ROLE_ARN_VARIABLE));
        let session_name = reference
            .role_session_name
            .clone()
            .or_else(|| from_variable(SESSION_NAME_VARIABLE));
        let token = select_token(ctx, request);

        let credentials = match (role_arn, token) {
            (Some(role_arn), Some((token, token_source))) => Credentials::WebIdentity {
                role_arn,
                session_name,
                token,
                token_source,
            },
            (None, None) => Credentials::Default,
            (None, Some((_, source))) => {
                // The runner's words, then what to do about it.
                return Err(config_error(format!(
                    "Role ARN is required when using JWT for AWS authentication: {reference} has a JWT \
                     from {source} but no role; set `role_arn:` in its aws_secrets_manager block or the \
                     CI/CD variable {ROLE_ARN_VARIABLE}"
                )));
            }
            (Some(role_arn), None) => {
                // The runner would send an empty token and let STS refuse it.
                let why = match &request.token {
                    Some(_) => "the secret's token: is empty after variable expansion".to_string(),
                    None => format!("the job variable {ID_TOKEN_VARIABLE} is not set"),
                };
                return Err(config_error(format!(
                    "role {role_arn} for {reference} needs an ID token, but {why}; declare \
                     `id_tokens: {{{ID_TOKEN_VARIABLE}: {{aud: sts.amazonaws.com}}}}` on job {:?} \
                     or give the secret a token:",
                    ctx.job_name()
                )));
            }
        };
        Ok(Self {
            region,
            credentials,
        })
    }

    /// Whether two secrets can share one login: same region, and the same
    /// role, session name and token (or both the default credentials).
    fn same_login(&self, other: &Self) -> bool {
        self.region == other.region
            && match (&self.credentials, &other.credentials) {
                (
                    Credentials::WebIdentity {
                        role_arn,
                        session_name,
                        token,
                        ..
                    },
                    Credentials::WebIdentity {
                        role_arn: other_role,
                        session_name: other_session,
                        token: other_token,
                        ..
                    },
                ) => {
                    role_arn == other_role
                        && session_name == other_session
                        && token.expose_secret() == other_token.expose_secret()
                }
                (Credentials::Default, Credentials::Default) => true,
                _ => false,
            }
    }
}

/// The secret's `token:` when it has one (an empty one means "no JWT", as
/// in the runner), else the job variable `AWS_ID_TOKEN`.
fn select_token(
    ctx: &ResolveContext,
    request: &SecretRequest,
) -> Option<(SecretString, TokenSource)> {
    match &request.token {
        Some(token) => {
            let trimmed = token.expose_secret().trim();
            (!trimmed.is_empty())
                .then(|| (SecretString::from(trimmed.to_string()), TokenSource::Token))
        }
        None => ctx.variables().get_present(ID_TOKEN_VARIABLE).map(|value| {
            (
                SecretString::from(value.trim().to_string()),
                TokenSource::IdTokenVariable,
            )
        }),
    }
}

fn config_error(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Config, message)
}

/// Two secrets are of one identity when they can share one login.
impl PartialEq for Access {
    fn eq(&self, other: &Self) -> bool {
        self.same_login(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_secrets_provider_api::JobVariables;
    use serde_json::json;

    const ROLE: &str = "arn:aws:iam::123456789012:role/ci";

    fn context(variables: &[(&str, &str)]) -> ResolveContext {
        ResolveContext::builder("deploy")
            .variables(JobVariables::from_iter(variables.iter().copied()))
            .build()
    }

    fn select(
        variables: &[(&str, &str)],
        block: serde_json::Value,
        token: Option<&str>,
    ) -> Result<Access, ProviderError> {
        let mut request = SecretRequest::new("DB", block.clone());
        if let Some(token) = token {
            request = request.with_token(token);
        }
        let reference = SecretReference::parse(&block).unwrap();
        Access::select(&context(variables), &request, &reference)
    }

    fn web_identity(access: &Access) -> (&str, Option<&str>, &str, TokenSource) {
        match &access.credentials {
            Credentials::WebIdentity {
                role_arn,
                session_name,
                token,
                token_source,
            } => (
                role_arn,
                session_name.as_deref(),
                token.expose_secret(),
                *token_source,
            ),
            Credentials::Default => panic!("expected web identity"),
        }
    }

    #[test]
    fn variables_supply_the_server_settings() {
        // presenter-aws-full-server: region, role and session from CI/CD variables, JWT from $AWS_ID_TOKEN.
        let access = select(
            &[
                ("AWS_REGION", "us-west-2"),
                ("AWS_ROLE_ARN", ROLE),
                ("AWS_ROLE_SESSION_NAME", "gitlab-ci-session"),
                ("AWS_ID_TOKEN", "id-token"),
            ],
            json!("db"),
            None,
        )
        .unwrap();
        assert_eq!(access.region, "us-west-2");
        assert_eq!(
            web_identity(&access),
            (
                ROLE,
                Some("gitlab-ci-session"),
                "id-token",
                TokenSource::IdTokenVariable
            )
        );
    }

    #[test]
    fn block_keys_win_over_variables() {
        let access = select(
            &[
                ("AWS_REGION", "us-west-2"),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/other"),
                ("AWS_ROLE_SESSION_NAME", "from-variable"),
                ("AWS_ID_TOKEN", "id-token"),
            ],
            json!({"secret_id": "db", "region": "eu-central-1", "role_arn": ROLE,
                   "role_session_name": "from-block"}),
            None,
        )
        .unwrap();
        assert_eq!(access.region, "eu-central-1");
        assert_eq!(web_identity(&access).0, ROLE);
        assert_eq!(web_identity(&access).1, Some("from-block"));
    }

    #[test]
    fn token_wins_over_aws_id_token_and_an_empty_one_does_not_fall_back() {
        // presenter-aws-jwt-token-specified: `token:` replaces $AWS_ID_TOKEN.
        let variables = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_ID_TOKEN", "aws-id-token"),
        ];
        let access = select(&variables, json!("db"), Some("vault-id-token")).unwrap();
        assert_eq!(web_identity(&access).2, "vault-id-token");
        assert_eq!(web_identity(&access).3, TokenSource::Token);

        let err = select(&variables, json!("db"), Some("")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("token: is empty"), "{err}");
    }

    #[test]
    fn no_role_and_no_token_means_default_credentials() {
        let access = select(&[("AWS_REGION", "us-east-1")], json!("db"), None).unwrap();
        assert!(matches!(access.credentials, Credentials::Default));
    }

    #[test]
    fn a_token_without_a_role_is_the_runners_error() {
        let err = select(
            &[("AWS_REGION", "us-east-1"), ("AWS_ID_TOKEN", "t")],
            json!("db"),
            None,
        )
        .unwrap_err();
        assert!(
            err.message()
                .starts_with("Role ARN is required when using JWT for AWS authentication"),
            "{err}"
        );
        assert!(err.message().contains("AWS_ROLE_ARN"), "{err}");
    }

    #[test]
    fn a_role_without_a_token_names_the_variable() {
        let err = select(
            &[("AWS_REGION", "us-east-1"), ("AWS_ROLE_ARN", ROLE)],
            json!("db"),
            None,
        )
        .unwrap_err();
        assert!(err.message().contains("AWS_ID_TOKEN is not set"), "{err}");
    }

    #[test]
    fn missing_region_names_both_places() {
        let err = select(&[], json!("db"), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("`region:`"), "{err}");
        assert!(err.message().contains("AWS_REGION"), "{err}");
    }

    #[test]
    fn logins_are_shared_by_region_role_session_and_token() {
        let variables = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ROLE_ARN", ROLE),
            ("AWS_ID_TOKEN", "t"),
        ];
        let a = select(&variables, json!("a"), None).unwrap();
        let b = select(&variables, json!({"secret_id": "b"}), None).unwrap();
        let other_region = select(
            &variables,
            json!({"secret_id": "c", "region": "eu-west-1"}),
            None,
        )
        .unwrap();
        let other_token = select(&variables, json!("d"), Some("other")).unwrap();
        let other_session = select(
            &variables,
            json!({"secret_id": "e", "role_session_name": "s"}),
            None,
        )
        .unwrap();
        assert!(a.same_login(&b));
        assert!(!a.same_login(&other_region));
        assert!(!a.same_login(&other_token));
        assert!(!a.same_login(&other_session));
    }
}
