//! The Vault server and login settings of a job, from its CI/CD variables,
//! as GitLab puts them in the runner payload (`secrets.<VAR>.vault.server`).

use std::path::PathBuf;

use ci_secrets_provider_api::{ErrorKind, JobVariables, ProviderError};
use url::Url;

use crate::reference::segments;

/// The variable that names the server; GitLab refuses a job without it.
pub(crate) const SERVER_URL_VARIABLE: &str = "VAULT_SERVER_URL";
const AUTH_PATH_VARIABLE: &str = "VAULT_AUTH_PATH";
const AUTH_ROLE_VARIABLE: &str = "VAULT_AUTH_ROLE";
const NAMESPACE_VARIABLE: &str = "VAULT_NAMESPACE";
const CA_CERT_VARIABLE: &str = "VAULT_CACERT";
/// GitLab's default auth mount when `VAULT_AUTH_PATH` is not set.
const DEFAULT_AUTH_PATH: &str = "jwt";

/// Server, auth mount, role and namespace shared by the job's Vault secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerSettings {
    /// `VAULT_SERVER_URL`.
    pub(crate) url: Url,
    /// `VAULT_AUTH_PATH`, default `jwt`: the login is `auth/<path>/login`.
    pub(crate) auth_path: String,
    /// `VAULT_AUTH_ROLE`; without it Vault uses the auth method's default role.
    pub(crate) role: Option<String>,
    /// `VAULT_NAMESPACE`, sent as `X-Vault-Namespace` on every request.
    pub(crate) namespace: Option<String>,
    /// `VAULT_CACERT`: a PEM file trusted for TLS to the server.
    pub(crate) ca_cert_file: Option<PathBuf>,
}

impl ServerSettings {
    /// Reads the settings; a missing or malformed variable is a
    /// [`ErrorKind::Config`] error that names it.
    pub(crate) fn from_variables(variables: &JobVariables) -> Result<Self, ProviderError> {
        let raw_url = variables.get_present(SERVER_URL_VARIABLE).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Config,
                format!(
                    "{SERVER_URL_VARIABLE} is not set; the Vault provider needs the server's URL, \
                     such as https://vault.example.com (GitLab refuses such a job with \
                     \"The secrets provider can not be found. Check your CI/CD variables and try again.\")"
                ),
            )
        })?;
        let url = parse_server_url(raw_url.trim())?;
        let auth_path = variables
            .get_present(AUTH_PATH_VARIABLE)
            .unwrap_or(DEFAULT_AUTH_PATH)
            .trim()
            .to_string();
        if segments(&auth_path).any(|segment| segment == "..") {
            return Err(ProviderError::new(
                ErrorKind::Config,
                format!(
                    "{AUTH_PATH_VARIABLE} {auth_path:?} contains a `..` segment, which is not allowed"
                ),
            ));
        }
        if segments(&auth_path).next().is_none() {
            return Err(ProviderError::new(
                ErrorKind::Config,
                format!("{AUTH_PATH_VARIABLE} {auth_path:?} names no auth mount"),
            ));
        }
        Ok(Self {
            url,
            auth_path,
            role: variables
                .get_present(AUTH_ROLE_VARIABLE)
                .map(str::to_string),
            namespace: variables
                .get_present(NAMESPACE_VARIABLE)
                .map(|namespace| namespace.trim().to_string()),
            ca_cert_file: variables.get_present(CA_CERT_VARIABLE).map(PathBuf::from),
        })
    }

    /// The login path below `/v1/`: `auth/<auth path>/login`.
    pub(crate) fn login_segments(&self) -> Vec<&str> {
        let mut out = vec!["auth"];
        out.extend(segments(&self.auth_path));
        out.push("login");
        out
    }

    /// Reads `VAULT_CACERT`, when set, for the HTTP client's trust roots.
    pub(crate) fn read_ca_cert(&self) -> Result<Option<Vec<u8>>, ProviderError> {
        self.ca_cert_file
            .as_deref()
            .map(|path| {
                crate::config::read_pem_file(path).map_err(|err| {
                    ProviderError::new(ErrorKind::Config, format!("{CA_CERT_VARIABLE}: {err}"))
                })
            })
            .transpose()
    }
}

fn parse_server_url(raw: &str) -> Result<Url, ProviderError> {
    let invalid = |why: String| {
        ProviderError::new(
            ErrorKind::Config,
            format!("{SERVER_URL_VARIABLE} {raw:?} is not a valid server URL: {why}"),
        )
    };
    let url = Url::parse(raw).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be https or http".to_string()));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("it has no host".to_string()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "it must not have a query or a fragment".to_string(),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<ServerSettings, ProviderError> {
        ServerSettings::from_variables(&JobVariables::from_iter(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_gitlab() {
        let settings = settings(&[("VAULT_SERVER_URL", "https://vault.example.com")]).unwrap();
        assert_eq!(settings.auth_path, "jwt");
        assert_eq!(settings.role, None);
        assert_eq!(settings.namespace, None);
        assert_eq!(settings.login_segments(), ["auth", "jwt", "login"]);
    }

    #[test]
    fn every_variable_is_read() {
        let settings = settings(&[
            ("VAULT_SERVER_URL", "https://vault.example.com/"),
            ("VAULT_AUTH_PATH", "custom/path"),
            ("VAULT_AUTH_ROLE", "production"),
            ("VAULT_NAMESPACE", "custom_namespace"),
            ("VAULT_CACERT", "/etc/vault-ca.pem"),
        ])
        .unwrap();
        assert_eq!(
            settings.login_segments(),
            ["auth", "custom", "path", "login"]
        );
        assert_eq!(settings.role.as_deref(), Some("production"));
        assert_eq!(settings.namespace.as_deref(), Some("custom_namespace"));
        assert_eq!(
            settings.ca_cert_file,
            Some(PathBuf::from("/etc/vault-ca.pem"))
        );
    }

    #[test]
    fn missing_or_blank_server_url_names_the_variable() {
        for pairs in [&[][..], &[("VAULT_SERVER_URL", "  ")][..]] {
            let err = settings(pairs).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(
                err.message().starts_with("VAULT_SERVER_URL is not set"),
                "{err}"
            );
        }
    }

    #[test]
    fn malformed_server_url_is_refused() {
        for bad in ["vault.example.com", "ftp://vault", "https://vault?x=1"] {
            let err = settings(&[("VAULT_SERVER_URL", bad)]).unwrap_err();
            assert!(err.message().contains("VAULT_SERVER_URL"), "{err}");
        }
    }

    #[test]
    fn auth_path_must_name_a_mount_inside_auth() {
        let err = settings(&[
            ("VAULT_SERVER_URL", "http://v"),
            ("VAULT_AUTH_PATH", "../sys"),
        ])
        .unwrap_err();
        assert!(err.message().contains("VAULT_AUTH_PATH"), "{err}");
        let err =
            settings(&[("VAULT_SERVER_URL", "http://v"), ("VAULT_AUTH_PATH", "//")]).unwrap_err();
        assert!(err.message().contains("names no auth mount"), "{err}");
    }
}
