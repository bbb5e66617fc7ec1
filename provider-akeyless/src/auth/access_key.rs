//! `api_key` / `access_key`: `akeyless_access_key`, sent as access type
//! `access_key` (D2).

use secrecy::{ExposeSecret, SecretString};

use crate::api::AuthRequest;
use crate::block::AkeylessBlock;
use crate::error::Failure;

pub(super) fn credential(block: &AkeylessBlock) -> Result<SecretString, Failure> {
    block.access_key.clone().ok_or_else(|| {
        Failure::MissingCredential(
            "akeyless_access_key is required for access type api_key (access_key)".to_string(),
        )
    })
}

pub(super) fn fill(request: &mut AuthRequest, key: &SecretString) {
    request.access_key = Some(key.expose_secret().to_string());
}
