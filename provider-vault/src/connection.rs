//! The job's Vault server and an HTTP client that trusts its CA, for
//! resolution and for `doctor` alike.

use ci_secrets_http::HttpContext as _;
use ci_secrets_provider_api::{ProviderError, ResolveContext};

use crate::client::VaultClient;
use crate::config::VaultConfig;
use crate::settings::ServerSettings;

/// The CA trusted for the server: the config's `ca_cert`, then `VAULT_CACERT`.
pub(crate) fn ca_pem(
    config: &VaultConfig,
    settings: &ServerSettings,
) -> Result<Option<Vec<u8>>, ProviderError> {
    let mut pem = config.ca_pem.clone().unwrap_or_default();
    if let Some(job_ca) = settings.read_ca_cert()? {
        pem.push(b'\n');
        pem.extend_from_slice(&job_ca);
    }
    Ok((!pem.is_empty()).then_some(pem))
}

/// The job's server settings and an HTTP client that trusts the config's
/// `ca_cert` and the job's `VAULT_CACERT`.
pub(crate) fn connect(
    config: &VaultConfig,
    ctx: &ResolveContext,
) -> Result<(ServerSettings, VaultClient), ProviderError> {
    let settings = ServerSettings::from_variables(ctx.variables())?;
    let ca_pem = ca_pem(config, &settings)?;
    let http = ctx.http().client(ca_pem.as_deref()).map_err(|err| {
        err.context("the Vault CA certificate (VAULT_CACERT or [providers.vault] ca_cert)")
    })?;
    let client = VaultClient::new(http, &settings);
    Ok((settings, client))
}
