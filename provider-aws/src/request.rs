//! One `aws_secrets_manager:` secret parsed once, the same way for
//! `preflight`, `resolve`, `plan` and `diagnose`: which secret, and how to
//! reach it.

use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext, SecretRequest};

use crate::access::Access;
use crate::reference::SecretReference;

/// A parsed request.
#[derive(Debug)]
pub(crate) struct AwsRequest {
    pub(crate) reference: SecretReference,
    pub(crate) access: Access,
}

impl AwsRequest {
    /// Parses the block and picks the login; the errors do not name the
    /// variable (callers add it where the core does not).
    pub(crate) fn parse(
        ctx: &ResolveContext,
        request: &SecretRequest,
    ) -> Result<Self, ProviderError> {
        let reference = SecretReference::parse(&request.block)
            .map_err(|err| ProviderError::new(ErrorKind::Config, err.to_string()))?;
        let access = Access::select(ctx, request, &reference)?;
        Ok(Self { reference, access })
    }
}
