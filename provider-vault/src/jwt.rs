//! Which JWT a secret logs in with: GitLab's `token:`, else the job's first
//! ID token, else the legacy `CI_JOB_JWT`.

use std::fmt;

use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext, SecretRequest};
use secrecy::{ExposeSecret, SecretString};

/// The variable GitLab falls back to when a job has neither `token:` nor
/// `id_tokens:` (removed in GitLab 17.0, so usually unset).
const LEGACY_JWT_VARIABLE: &str = "CI_JOB_JWT";

/// Where a JWT came from, for messages. Never holds the JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwtSource {
    /// The secret's expanded `token:`.
    Token,
    /// The job's first `id_tokens:` entry.
    IdToken(String),
    /// The legacy `CI_JOB_JWT` variable.
    LegacyJobJwt,
}

impl fmt::Display for JwtSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtSource::Token => f.write_str("the secret's `token:`"),
            JwtSource::IdToken(name) => write!(f, "the ID token {name}"),
            JwtSource::LegacyJobJwt => f.write_str(LEGACY_JWT_VARIABLE),
        }
    }
}

/// The JWT one secret logs in with.
#[derive(Debug, Clone)]
pub(crate) struct Jwt {
    pub(crate) value: SecretString,
    pub(crate) source: JwtSource,
}

/// Two secrets with the same JWT share a login, whatever variable it came from.
impl PartialEq for Jwt {
    fn eq(&self, other: &Self) -> bool {
        self.value.expose_secret() == other.value.expose_secret()
    }
}

impl Jwt {
    /// Picks the JWT the way GitLab builds `server.auth.data.jwt`: the
    /// secret's `token:`, else `$<first id_tokens name>`, else `${CI_JOB_JWT}`.
    /// An empty result is an error that says which variable to set, rather
    /// than a login that Vault would refuse with a vaguer message.
    pub(crate) fn select(
        ctx: &ResolveContext,
        request: &SecretRequest,
    ) -> Result<Self, ProviderError> {
        if let Some(token) = &request.token {
            if token.expose_secret().trim().is_empty() {
                return Err(ProviderError::new(
                    ErrorKind::Config,
                    "the secret's token: is empty after variable expansion; \
                     is the variable it names (usually an id_tokens: entry) set?",
                ));
            }
            return Ok(Self {
                value: token.clone(),
                source: JwtSource::Token,
            });
        }
        if let Some(name) = ctx.id_token_names().first() {
            let value = ctx.variables().get_present(name).ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Config,
                    format!(
                        "the Vault login uses the job's first ID token, {name}, but the variable {name} \
                         is not set; GitLab mints it for each job, so outside GitLab set it to a JWT \
                         that Vault accepts, or give the secret a token:"
                    ),
                )
            })?;
            return Ok(Self {
                value: SecretString::from(value.trim().to_string()),
                source: JwtSource::IdToken(name.clone()),
            });
        }
        if let Some(value) = ctx.variables().get_present(LEGACY_JWT_VARIABLE) {
            return Ok(Self {
                value: SecretString::from(value.trim().to_string()),
                source: JwtSource::LegacyJobJwt,
            });
        }
        Err(ProviderError::new(
            ErrorKind::Config,
            format!(
                "no JWT for the Vault login: give the secret a token: (such as $VAULT_ID_TOKEN), \
                 or declare id_tokens: on job {:?}",
                ctx.job_name()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_secrets_provider_api::JobVariables;

    fn request() -> SecretRequest {
        SecretRequest::new("DB", serde_json::json!("a/b"))
    }

    #[test]
    fn token_wins_over_id_tokens() {
        let ctx = ResolveContext::builder("deploy")
            .id_token_names(vec!["VAULT_ID_TOKEN".into()])
            .variables(JobVariables::from_iter([(
                "VAULT_ID_TOKEN",
                "from-id-token",
            )]))
            .build();
        let jwt = Jwt::select(&ctx, &request().with_token("from-token")).unwrap();
        assert_eq!(jwt.value.expose_secret(), "from-token");
        assert_eq!(jwt.source, JwtSource::Token);
    }

    #[test]
    fn first_id_token_in_declaration_order() {
        let ctx = ResolveContext::builder("deploy")
            .id_token_names(vec!["VAULT_ID_TOKEN_1".into(), "VAULT_ID_TOKEN_2".into()])
            .variables(JobVariables::from_iter([
                ("VAULT_ID_TOKEN_1", "one"),
                ("VAULT_ID_TOKEN_2", "two"),
            ]))
            .build();
        let jwt = Jwt::select(&ctx, &request()).unwrap();
        assert_eq!(jwt.value.expose_secret(), "one");
        assert_eq!(jwt.source.to_string(), "the ID token VAULT_ID_TOKEN_1");
    }

    #[test]
    fn unset_id_token_variable_is_named() {
        let ctx = ResolveContext::builder("deploy")
            .id_token_names(vec!["VAULT_ID_TOKEN".into()])
            .build();
        let err = Jwt::select(&ctx, &request()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message()
                .contains("the variable VAULT_ID_TOKEN is not set"),
            "{err}"
        );
    }

    #[test]
    fn legacy_job_jwt_then_a_clear_error() {
        let ctx = ResolveContext::builder("deploy")
            .variables(JobVariables::from_iter([("CI_JOB_JWT", "legacy")]))
            .build();
        assert_eq!(
            Jwt::select(&ctx, &request()).unwrap().source,
            JwtSource::LegacyJobJwt
        );

        let ctx = ResolveContext::builder("deploy").build();
        let err = Jwt::select(&ctx, &request()).unwrap_err();
        assert!(
            err.message()
                .contains("declare id_tokens: on job \"deploy\""),
            "{err}"
        );
    }

    #[test]
    fn empty_token_is_refused() {
        let ctx = ResolveContext::builder("deploy").build();
        let err = Jwt::select(&ctx, &request().with_token("")).unwrap_err();
        assert!(err.message().contains("token: is empty"), "{err}");
    }
}
