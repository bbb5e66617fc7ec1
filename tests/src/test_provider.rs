//! `testkv`: a small provider registered from this crate, not from the
//! binary's, to prove that registration works across crates end to end.
//!
//! It reads a JSON object store (`{"key": "value"}`, or `{"key": {"base64":
//! "..."}}` for bytes) from the file named by `[providers.testkv] store` or
//! the job variable `TESTKV_STORE`. A block is `{key: NAME}`, with optional
//! `delay_ms` to exercise the deadline. With `[providers.testkv] finish_log`
//! set to a file, each [`Provider::finish`] call appends a line to it, so
//! tests see that the core ends every run, even one cut off at the deadline.
//! With `started_log` set, [`Provider::resolve`] appends a line to it as it
//! begins, so a test knows the run is under way (to signal it, say).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use ci_secrets_provider_api::{
    BlockForms, BlockKey, ErrorKind, KeyType, Provider, ProviderConfig, ProviderError,
    ProviderRegistration, ResolveContext, SecretRequest, SecretResult, SecretValue,
};

#[derive(Debug, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestKvConfig {
    store: Option<String>,
    finish_log: Option<String>,
    started_log: Option<String>,
}

#[derive(Debug)]
struct TestKv {
    config_store: Option<String>,
    finish_log: Option<String>,
    started_log: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum StoredValue {
    Text(String),
    Bytes { base64: String },
}

#[async_trait]
impl Provider for TestKv {
    fn preflight(
        &self,
        ctx: &ResolveContext,
        _requests: &[SecretRequest],
    ) -> Result<(), ProviderError> {
        self.store_path(ctx).map(|_| ())
    }

    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        if let Some(path) = &self.started_log {
            append_line(path, &format!("resolve {}\n", ctx.job_name()));
        }
        let store = match ctx.check_deadline().and_then(|()| self.load(ctx)) {
            Ok(store) => store,
            Err(err) => {
                let message = err.to_string();
                return requests
                    .iter()
                    .map(|_| Err(ProviderError::new(err.kind(), message.clone())))
                    .collect();
            }
        };
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            if let Some(delay) = request.block.get("delay_ms").and_then(|d| d.as_str()) {
                let millis = delay.parse().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(millis)).await;
            }
            let key = request.str_field("key").unwrap_or_default();
            results.push(match store.get(key) {
                Some(StoredValue::Text(text)) => Ok(SecretValue::text(text.clone())),
                Some(StoredValue::Bytes { base64 }) => base64::engine::general_purpose::STANDARD
                    .decode(base64)
                    .map(SecretValue::bytes)
                    .map_err(|_| {
                        ProviderError::new(
                            ErrorKind::Protocol,
                            format!("key {key}: bad base64 in the store"),
                        )
                    }),
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("key {key} not found in the store"),
                )),
            });
        }
        results
    }

    async fn finish(&self, ctx: &ResolveContext) {
        let Some(path) = &self.finish_log else {
            return;
        };
        append_line(path, &format!("finish {}\n", ctx.job_name()));
    }
}

/// Appends to a log file that tests read.
fn append_line(path: &str, line: &str) {
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, line.as_bytes()));
    if let Err(err) = appended {
        tracing::warn!(path = %path, error = %err, "testkv could not write its log");
    }
}

impl TestKv {
    fn store_path(&self, ctx: &ResolveContext) -> Result<String, ProviderError> {
        self.config_store
            .clone()
            .or_else(|| {
                ctx.variables()
                    .get_present("TESTKV_STORE")
                    .map(str::to_string)
            })
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Config,
                    "set TESTKV_STORE or [providers.testkv] store to the store file",
                )
            })
    }

    fn load(&self, ctx: &ResolveContext) -> Result<BTreeMap<String, StoredValue>, ProviderError> {
        let path = self.store_path(ctx)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|err| ProviderError::new(ErrorKind::Config, format!("store {path}: {err}")))?;
        serde_json::from_str(&text)
            .map_err(|err| ProviderError::new(ErrorKind::Config, format!("store {path}: {err}")))
    }
}

fn build(config: &ProviderConfig) -> Result<Box<dyn Provider>, ProviderError> {
    let parsed: TestKvConfig = serde_json::from_value(config.section().clone()).map_err(|err| {
        ProviderError::new(
            ErrorKind::Config,
            format!("[providers.testkv] in {}: {err}", config.origin()),
        )
    })?;
    Ok(Box::new(TestKv {
        config_store: parsed.store,
        finish_log: parsed.finish_log,
        started_log: parsed.started_log,
    }))
}

ci_secrets_provider_api::register_provider!(ProviderRegistration {
    key: "testkv",
    description: "test provider: reads values from a JSON store file",
    keys: &[
        BlockKey::new("key", KeyType::String, "the key in the store"),
        BlockKey::new("delay_ms", KeyType::String, "wait this long first"),
    ],
    forms: BlockForms::MAP,
    build,
});
