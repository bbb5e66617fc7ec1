//! The Vault provider: plans every secret of a job, logs in once per
//! distinct identity, reads concurrently, and revokes its tokens on request
//! when the run ends ([`Provider::finish`]).

use std::sync::{Mutex, PoisonError};

use ci_secrets_http::HttpResponse;
use ci_secrets_provider_api::diagnostics::{Check, SecretPlan as PlanReport};
use ci_secrets_provider_api::{
    ErrorKind, Provider, ProviderConfig, ProviderError, ResolveContext, SecretRequest,
    SecretResult, async_trait, grouping,
};
use futures::future::join_all;
use indexmap::IndexMap;
use tracing::Instrument as _;

use crate::client::{VaultClient, VaultToken, answer_error};
use crate::config::VaultConfig;
use crate::connection::connect;
use crate::field::{self, FieldLookup};
use crate::jwt::Jwt;
use crate::reference::SecretReference;
use crate::request::VaultRequest;
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
        grouping::check_each(requests, |request| VaultRequest::parse(ctx, request))
    }

    /// One login per distinct JWT (a job's secrets share its server, auth
    /// path, role and namespace), then the group's reads, concurrently.
    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        if requests.is_empty() {
            return Vec::new();
        }
        let (settings, client) = match connect(&self.config, ctx) {
            Ok(pair) => pair,
            Err(err) => {
                return requests.iter().map(|_| Err(err.replicate())).collect();
            }
        };
        let issued = |token: &VaultToken| self.issued(&client, token);
        grouping::resolve_by_identity(
            requests,
            |request| {
                VaultRequest::parse(ctx, request).map(|parsed| (parsed.jwt, parsed.reference))
            },
            |jwt, references| resolve_group(ctx, &client, &settings, jwt, references, &issued),
        )
        .await
    }

    /// One login per distinct JWT, one `GET` per distinct path (see `diagnostics`).
    fn plan(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<PlanReport> {
        crate::diagnostics::plan(&self.config, ctx, requests)
    }

    /// A login, then `sys/capabilities-self` per path; no secret is read.
    async fn diagnose(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<Check> {
        crate::diagnostics::diagnose(&self.config, ctx, requests).await
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

/// Logs in once for the group, hands the token to `issued`, then reads the
/// group's secrets concurrently; a failed login is every member's error.
async fn resolve_group(
    ctx: &ResolveContext,
    client: &VaultClient,
    settings: &ServerSettings,
    jwt: Jwt,
    references: Vec<SecretReference>,
    issued: &(dyn Fn(&VaultToken) + Sync),
) -> Result<Vec<SecretResult>, ProviderError> {
    // Secrets of one path (a user name and a password, say) share its read:
    // one `GET` per distinct path, and each secret takes its field from the
    // answer, as it would from a read of its own at the same moment.
    let mut paths: IndexMap<Vec<&str>, &SecretReference> = IndexMap::new();
    let read_of: Vec<usize> = references
        .iter()
        .map(|reference| {
            let path = paths.entry(reference.api_segments());
            let read = path.index();
            path.or_insert(reference);
            read
        })
        .collect();
    // The reads go out at once after the login; over HTTP/1.1 each needs a
    // connection. They open now, while the login is in flight. The login
    // takes one of them, and its connection is free again for the reads.
    client.preconnect(paths.len()).await;
    let login_span = tracing::info_span!("vault.login", secrets = references.len());
    let token = client
        .login(ctx, settings, &jwt.value)
        .instrument(login_span)
        .await
        .map_err(|err| err.context(format_args!("logging in with {}", jwt.source)))?;
    issued(&token);
    let reads = paths.iter().map(|(segments, reference)| {
        let span = tracing::info_span!(
            "vault.read",
            engine = %reference.engine_name,
            mount = %reference.engine_path,
            path = %reference.path,
        );
        client.read(ctx, &token, segments).instrument(span)
    });
    let answers = join_all(reads).await;
    Ok(references
        .iter()
        .zip(read_of)
        .map(|(reference, read)| match &answers[read] {
            Ok(response) => field_of(&token, &jwt, reference, response),
            Err(err) => Err(err.replicate()),
        })
        .collect())
}

/// The secret `reference` names, from the answer to the read of its path.
fn field_of(
    token: &VaultToken,
    jwt: &Jwt,
    reference: &SecretReference,
    response: &HttpResponse,
) -> SecretResult {
    let what = format!("reading {reference}");
    if !response.is_success() {
        let scrub = VaultClient::scrub_list(token, &jwt.value);
        return Err(match response.status {
            404 => ProviderError::new(
                ErrorKind::NotFound,
                format!("secret not found: {reference}"),
            )
            .with_status(404),
            403 => answer_error(ErrorKind::Denied, &what, "was denied", response, &scrub),
            status => answer_error(
                ci_secrets_http::status_kind(status),
                &what,
                "failed",
                response,
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
