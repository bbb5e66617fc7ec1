//! The Vault provider: plans every secret of a job, logs in once per
//! distinct identity, reads concurrently, and revokes its tokens on request
//! when the run ends ([`Provider::finish`]).

use std::sync::{Mutex, PoisonError};

use ci_secrets_http::HttpContext as _;
use ci_secrets_provider_api::diagnostics::{Check, SecretPlan as PlanReport};
use ci_secrets_provider_api::{
    ErrorKind, Provider, ProviderConfig, ProviderError, ResolveContext, SecretRequest,
    SecretResult, async_trait,
};
use futures::future::join_all;
use secrecy::ExposeSecret;
use tracing::Instrument as _;

use crate::client::{VaultClient, VaultToken, answer_error};
use crate::config::VaultConfig;
use crate::field::{self, FieldLookup};
use crate::jwt::Jwt;
use crate::reference::SecretReference;
use crate::settings::ServerSettings;

/// Resolves `vault:` secrets against HashiCorp Vault or OpenBao.
#[derive(Debug)]
pub struct VaultProvider {
    pub(crate) config: VaultConfig,
    /// With `revoke_token`, every token obtained, recorded as soon as the
    /// login answers, so that [`Provider::finish`] revokes it even when the
    /// reads were cancelled or cut off at the deadline.
    to_revoke: Mutex<Vec<(VaultClient, VaultToken)>>,
}

impl VaultProvider {
    /// Builds the provider from its `[providers.vault]` config section.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ProviderError> {
        Ok(Self {
            config: VaultConfig::from_provider_config(config)?,
            to_revoke: Mutex::new(Vec::new()),
        })
    }

    /// Records a token for revocation at the end of the run, if configured.
    fn issued(&self, client: &VaultClient, token: &VaultToken) {
        if self.config.revoke_token {
            // A panic elsewhere cannot leave a half-pushed Vec: the list is
            // still valid, so poisoning is ignored.
            self.to_revoke
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((client.clone(), token.clone()));
        }
    }
}

/// What one secret needs: where it is, and the JWT to log in with.
#[derive(Debug)]
struct SecretPlan {
    reference: SecretReference,
    jwt: Jwt,
}

impl SecretPlan {
    fn new(ctx: &ResolveContext, request: &SecretRequest) -> Result<Self, ProviderError> {
        let reference = SecretReference::parse(&request.block)?;
        let jwt = Jwt::select(ctx, request)?;
        Ok(Self { reference, jwt })
    }
}

/// The secrets sharing one login. All of a job's secrets share its server,
/// auth path, role and namespace, so a login group is one distinct JWT.
#[derive(Debug)]
struct LoginGroup {
    jwt: Jwt,
    /// Indexes into the job's requests, with their references.
    members: Vec<(usize, SecretReference)>,
}

/// Groups the planned secrets by JWT, keeping the first-seen order.
fn group_by_login(plans: Vec<(usize, SecretPlan)>) -> Vec<LoginGroup> {
    let mut groups: Vec<LoginGroup> = Vec::new();
    for (index, plan) in plans {
        let jwt = plan.jwt.value.expose_secret();
        match groups
            .iter_mut()
            .find(|group| group.jwt.value.expose_secret() == jwt)
        {
            Some(group) => group.members.push((index, plan.reference)),
            None => groups.push(LoginGroup {
                jwt: plan.jwt,
                members: vec![(index, plan.reference)],
            }),
        }
    }
    groups
}

#[async_trait]
impl Provider for VaultProvider {
    /// Checks the variables, every block and every JWT before any request.
    fn preflight(
        &self,
        ctx: &ResolveContext,
        requests: &[SecretRequest],
    ) -> Result<(), ProviderError> {
        if requests.is_empty() {
            return Ok(());
        }
        ServerSettings::from_variables(ctx.variables())?;
        for request in requests {
            SecretPlan::new(ctx, request).map_err(|err| err.context(&request.variable))?;
        }
        Ok(())
    }

    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        if requests.is_empty() {
            return Vec::new();
        }
        let (settings, client) = match self.client(ctx) {
            Ok(pair) => pair,
            Err(err) => {
                return requests.iter().map(|_| Err(err.replicate())).collect();
            }
        };

        let mut results: Vec<Option<SecretResult>> = requests.iter().map(|_| None).collect();
        let mut plans = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            match SecretPlan::new(ctx, request) {
                Ok(plan) => plans.push((index, plan)),
                Err(err) => results[index] = Some(Err(err)),
            }
        }

        let groups = group_by_login(plans);
        let issued = |token: &VaultToken| self.issued(&client, token);
        let outcomes = join_all(
            groups
                .iter()
                .map(|group| resolve_group(ctx, &client, &settings, group, &issued)),
        )
        .await;

        for group_results in outcomes {
            for (index, result) in group_results {
                results[index] = Some(result);
            }
        }
        results
            .into_iter()
            .zip(requests)
            .map(|(result, request)| {
                // Every index is filled above: by a planning error, or by its
                // login group, which answers each of its members.
                result.unwrap_or_else(|| {
                    Err(ProviderError::new(
                        ErrorKind::Protocol,
                        format!(
                            "{}: the Vault provider produced no result",
                            request.variable
                        ),
                    ))
                })
            })
            .collect()
    }

    /// One login per distinct JWT, one `GET` per secret (see `diagnostics`).
    fn plan(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<PlanReport> {
        crate::diagnostics::plan(self, ctx, requests)
    }

    /// A login, then `sys/capabilities-self` per path; no secret is read.
    async fn diagnose(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<Check> {
        crate::diagnostics::diagnose(self, ctx, requests).await
    }

    /// With `revoke_token`, revokes every token the run obtained. A failure
    /// is logged, not fatal: the secrets were read, and the token expires at
    /// the end of its TTL.
    async fn finish(&self, ctx: &ResolveContext) {
        let issued = std::mem::take(
            &mut *self
                .to_revoke
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let outcomes = join_all(
            issued
                .iter()
                .map(|(client, token)| client.revoke_self(ctx, token)),
        )
        .await;
        for err in outcomes.into_iter().filter_map(Result::err) {
            tracing::warn!(error = %err, "could not revoke the Vault token; it stays valid until its TTL ends");
        }
    }
}

impl VaultProvider {
    /// The job's server settings and an HTTP client that trusts the config's
    /// `ca_cert` and the job's `VAULT_CACERT`.
    pub(crate) fn client(
        &self,
        ctx: &ResolveContext,
    ) -> Result<(ServerSettings, VaultClient), ProviderError> {
        let settings = ServerSettings::from_variables(ctx.variables())?;
        let mut ca_pem = self.config.ca_pem.clone().unwrap_or_default();
        if let Some(job_ca) = settings.read_ca_cert()? {
            ca_pem.push(b'\n');
            ca_pem.extend_from_slice(&job_ca);
        }
        let http = ctx
            .http()
            .client((!ca_pem.is_empty()).then_some(ca_pem.as_slice()))
            .map_err(|err| {
                err.context("the Vault CA certificate (VAULT_CACERT or [providers.vault] ca_cert)")
            })?;
        let client = VaultClient::new(http, &settings);
        Ok((settings, client))
    }
}

/// Logs in once for the group, hands the token to `issued`, then reads the
/// group's secrets concurrently.
async fn resolve_group(
    ctx: &ResolveContext,
    client: &VaultClient,
    settings: &ServerSettings,
    group: &LoginGroup,
    issued: &(dyn Fn(&VaultToken) + Sync),
) -> Vec<(usize, SecretResult)> {
    let login_span = tracing::info_span!("vault.login", secrets = group.members.len());
    let token = match client
        .login(ctx, settings, &group.jwt.value)
        .instrument(login_span)
        .await
    {
        Ok(token) => token,
        Err(err) => {
            let err = err.context(format_args!("logging in with {}", group.jwt.source));
            return group
                .members
                .iter()
                .map(|(index, _)| (*index, Err(err.replicate())))
                .collect();
        }
    };
    issued(&token);
    let reads = group.members.iter().map(|(index, reference)| {
        let token = &token;
        let span = tracing::info_span!(
            "vault.read",
            engine = %reference.engine_name,
            mount = %reference.engine_path,
            path = %reference.path,
            field = %reference.field,
        );
        async move {
            let result = read_secret(ctx, client, token, &group.jwt, reference)
                .instrument(span)
                .await;
            (*index, result)
        }
    });
    join_all(reads).await
}

/// Reads one secret and picks its field.
async fn read_secret(
    ctx: &ResolveContext,
    client: &VaultClient,
    token: &VaultToken,
    jwt: &Jwt,
    reference: &SecretReference,
) -> SecretResult {
    let segments = reference.api_segments();
    let response = client.read(ctx, token, &segments).await?;
    let what = format!("reading {reference}");
    if !response.is_success() {
        let scrub = VaultClient::scrub_list(token, &jwt.value);
        return Err(match response.status {
            404 => ProviderError::new(
                ErrorKind::NotFound,
                format!("secret not found: {reference}"),
            )
            .with_status(404),
            403 => answer_error(ErrorKind::Denied, &what, "was denied", &response, &scrub),
            status => answer_error(
                ci_secrets_http::status_kind(status),
                &what,
                "failed",
                &response,
                &scrub,
            ),
        });
    }
    match field::lookup(reference.kind, &response.body, &reference.field) {
        Ok(FieldLookup::Found(value)) => Ok(value),
        Ok(FieldLookup::NoSecret) => Err(ProviderError::new(
            ErrorKind::NotFound,
            format!("secret not found: {reference} (the secret has no data; was it deleted?)"),
        )),
        Ok(FieldLookup::NoField) => Err(ProviderError::new(
            ErrorKind::NotFound,
            format!("secret not found: {reference} (the secret has no such field)"),
        )),
        Err(err) => Err(
            ProviderError::new(ErrorKind::Protocol, format!("{what}: {err}"))
                .with_status(response.status),
        ),
    }
}
