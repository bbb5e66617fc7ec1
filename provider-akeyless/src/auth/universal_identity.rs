//! `universal_identity`: `uid_token`.

use secrecy::{ExposeSecret, SecretString};

use crate::api::AuthRequest;
use crate::block::AkeylessBlock;
use crate::error::Failure;

pub(super) fn credential(block: &AkeylessBlock) -> Result<SecretString, Failure> {
    block.uid_token.clone().ok_or_else(|| {
        // GitLab Runner's exact message.
        Failure::MissingCredential(
            "UidToken is required for access type \"universal_identity\"".to_string(),
        )
    })
}

pub(super) fn fill(request: &mut AuthRequest, token: &SecretString) {
    request.uid_token = Some(token.expose_secret().to_string());
}
