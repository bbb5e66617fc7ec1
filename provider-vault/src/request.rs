//! One `vault:` secret parsed once, the same way for `preflight`, `resolve`,
//! `plan` and `diagnose`: where it reads, and the JWT it logs in with.

use ci_secrets_provider_api::{ProviderError, ResolveContext, SecretRequest};

use crate::jwt::Jwt;
use crate::reference::SecretReference;

/// A parsed request.
#[derive(Debug)]
pub(crate) struct VaultRequest {
    pub(crate) reference: SecretReference,
    pub(crate) jwt: Jwt,
}

impl VaultRequest {
    /// Parses the block and picks the JWT; the errors do not name the
    /// variable (callers add it where the core does not).
    pub(crate) fn parse(
        ctx: &ResolveContext,
        request: &SecretRequest,
    ) -> Result<Self, ProviderError> {
        let reference = SecretReference::parse(&request.block)?;
        let jwt = Jwt::select(ctx, request)?;
        Ok(Self { reference, jwt })
    }
}
