//! `localjson`: secrets from a local JSON file, `{"name": "value", ...}`. The
//! example of the README's "Writing a provider", compiled and tested by CI.
//! A block is `localjson: {key: NAME}`; the file is `[providers.localjson] file`.

use std::collections::BTreeMap;

use ci_secrets_provider_api::{
    BlockForms, BlockKey, ErrorKind, KeyType, Provider, ProviderConfig, ProviderError,
    ProviderRegistration, ResolveContext, SecretRequest, SecretResult, SecretValue, async_trait,
    grouping,
};
use zeroize::Zeroizing;

/// The provider, built from `[providers.localjson]`: `file` is required.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalJson {
    file: std::path::PathBuf,
}

/// A `localjson:` block.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    key: String,
}

#[async_trait]
impl Provider for LocalJson {
    fn preflight(&self, _: &ResolveContext, reqs: &[SecretRequest]) -> Result<(), ProviderError> {
        grouping::check_each(reqs, SecretRequest::parse_block::<Block>)
    }

    async fn resolve(&self, ctx: &ResolveContext, reqs: &[SecretRequest]) -> Vec<SecretResult> {
        // One identity (the file) here; a server's provider would group by login.
        let parse = |request: &SecretRequest| Ok(((), request.parse_block::<Block>()?));
        grouping::resolve_by_identity(reqs, parse, |(), blocks| async move {
            ctx.check_deadline()?;
            let fail = |why: &dyn std::fmt::Display| {
                ProviderError::new(ErrorKind::Config, format!("{}: {why}", self.file.display()))
            };
            let bytes = Zeroizing::new(std::fs::read(&self.file).map_err(|err| fail(&err))?);
            let store: BTreeMap<String, Zeroizing<String>> = serde_json::from_slice(&bytes)
                .map_err(|_| fail(&"not a JSON object of strings"))?; // serde's text may quote a value
            let read = |block: &Block| match store.get(&block.key) {
                Some(value) => Ok(SecretValue::text(value.as_str())),
                None => Err(ProviderError::new(ErrorKind::NotFound, "no such key")),
            };
            Ok(blocks.iter().map(read).collect())
        })
        .await
    }
}

fn build(config: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    Ok(Box::new(config.parse::<LocalJson>("localjson")?))
}

ci_secrets_provider_api::register_provider!(ProviderRegistration {
    key: "localjson",
    description: "secrets from a local JSON file",
    keys: &[BlockKey::new(
        "key",
        KeyType::String,
        "the name in the file"
    )],
    forms: BlockForms::MAP,
    build,
});
