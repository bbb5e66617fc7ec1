//! Reading items once their types are known: one call per distinct read,
//! static secrets batched, everything else concurrent.
//!
//! Two secrets that read the same item with the same parameters share one
//! call. That matters for issuance: `DB_USER` and `DB_PASS` taken with
//! `data_key` from one dynamic secret must come from the same lease.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_provider_api::{ErrorKind, ResolveContext, ServerText};
use futures::future::join_all;
use indexmap::IndexMap;
use secrecy::ExposeSecret;
use serde_json::Value;
use tracing::Instrument as _;

use crate::api::{AkeylessApi, PkiCertificateRequest, SshCertificateRequest};
use crate::block::AkeylessBlock;
use crate::error::{Failure, SharedError};
use crate::identity::Session;

/// Names per `/get-secret-value` call; keeps request bodies modest.
pub(crate) const STATIC_BATCH: usize = 100;

/// One distinct read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Read {
    Static(String),
    Dynamic(String),
    Rotated(String),
    Ssh {
        name: String,
        cert_username: String,
        public_key: String,
    },
    Pki {
        name: String,
        csr_base64: Option<String>,
        key_base64: Option<String>,
    },
    Certificate(String),
}

impl Read {
    /// The read that item `name` of `item_type` needs for `block`.
    pub(crate) fn plan(
        name: &str,
        item_type: &str,
        block: &AkeylessBlock,
    ) -> Result<Self, Failure> {
        let name = name.to_string();
        Ok(match item_type {
            "STATIC_SECRET" => Read::Static(name),
            "DYNAMIC_SECRET" => Read::Dynamic(name),
            "ROTATED_SECRET" => Read::Rotated(name),
            "SSH_CERT_ISSUER" => {
                let required = |value: &Option<String>, key: &'static str| {
                    value.clone().ok_or_else(|| Failure::InvalidField {
                        key,
                        reason: format!("is required to sign with SSH certificate issuer {name}"),
                    })
                };
                Read::Ssh {
                    cert_username: required(&block.cert_user_name, "cert_user_name")?,
                    public_key: required(&block.public_key_data, "public_key_data")?,
                    name,
                }
            }
            "PKI_CERT_ISSUER" => {
                if block.csr_data.is_none() && block.public_key_data.is_none() {
                    return Err(Failure::InvalidField {
                        key: "csr_data",
                        reason: format!(
                            "csr_data or public_key_data is required to issue from PKI certificate issuer {name}"
                        ),
                    });
                }
                Read::Pki {
                    csr_base64: block.csr_data.as_deref().map(base64_unless_pem_is_base64),
                    key_base64: block
                        .public_key_data
                        .as_deref()
                        .map(base64_unless_pem_is_base64),
                    name,
                }
            }
            "CERTIFICATE" => Read::Certificate(name),
            other => {
                return Err(Failure::UnsupportedItemType {
                    item_type: other.to_string(),
                    name,
                });
            }
        })
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Read::Static(name)
            | Read::Dynamic(name)
            | Read::Rotated(name)
            | Read::Certificate(name)
            | Read::Ssh { name, .. }
            | Read::Pki { name, .. } => name,
        }
    }

    fn item_type(&self) -> &'static str {
        match self {
            Read::Static(_) => "STATIC_SECRET",
            Read::Dynamic(_) => "DYNAMIC_SECRET",
            Read::Rotated(_) => "ROTATED_SECRET",
            Read::Ssh { .. } => "SSH_CERT_ISSUER",
            Read::Pki { .. } => "PKI_CERT_ISSUER",
            Read::Certificate(_) => "CERTIFICATE",
        }
    }
}

/// D12: PEM is base64-encoded; anything else is taken to be base64 already.
fn base64_unless_pem_is_base64(data: &str) -> String {
    if data.contains("-----BEGIN") {
        STANDARD.encode(data)
    } else {
        data.to_string()
    }
}

/// The outcome of one read; shared by every secret that asked for it.
pub(crate) type ReadOutcome = Result<Value, SharedError>;

fn shareable(failure: Failure) -> SharedError {
    SharedError::from(failure)
}

/// Performs every read, concurrently; static secrets in batches.
pub(crate) async fn read_all(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    reads: Vec<Read>,
) -> HashMap<Read, ReadOutcome> {
    let (statics, others): (Vec<Read>, Vec<Read>) = reads
        .into_iter()
        .partition(|read| matches!(read, Read::Static(_)));
    let static_names: Vec<&str> = statics.iter().map(Read::name).collect();
    let batches = static_names
        .chunks(STATIC_BATCH)
        .map(|names| read_static_batch(ctx, api, session, names));
    let singles = others.iter().map(|read| async move {
        let span = tracing::info_span!(
            "akeyless.fetch",
            item_type = read.item_type(),
            item = read.name(),
            count = 1
        );
        let outcome = read_one(ctx, api, session, read).instrument(span).await;
        (read.clone(), outcome.map_err(shareable))
    });
    let (batches, singles) = futures::join!(join_all(batches), join_all(singles));
    batches.into_iter().flatten().chain(singles).collect()
}

/// What the optimistic static read learned before the item types were known.
#[derive(Default)]
pub(crate) struct Untyped {
    /// The values of the names whose batch succeeded: static secrets.
    pub(crate) values: HashMap<String, Value>,
    /// The failure of a name read alone (a batch of one), unless the token
    /// was refused. When the name turns out to be a static secret, this is
    /// exactly the answer its typed read would get (the same request, and
    /// no new login to try), so it is not asked again.
    pub(crate) failed_alone: HashMap<String, SharedError>,
}

impl Untyped {
    /// Every one of `names` has its value.
    pub(crate) fn answers_all(&self, names: &[&str]) -> bool {
        names.iter().all(|name| self.values.contains_key(*name))
    }
}

/// Reads `names` as static secrets before their types are known, in
/// batches; returns the values of the batches that succeeded. A failed batch
/// (another item type among its names, a missing or forbidden name) is not
/// an error: its names are read by type afterwards. No new login on 401
/// here: a refused name answers 401 too, and the typed path handles an
/// expired token.
pub(crate) async fn read_untyped_as_static(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    names: &[&str],
) -> Untyped {
    let Ok(token) = session.token(ctx).await else {
        return Untyped::default();
    };
    let token = &token;
    let batches = names.chunks(STATIC_BATCH).map(|batch| async move {
        let span = tracing::info_span!("akeyless.fetch_untyped", count = batch.len());
        let outcome = api
            .get_secret_values(ctx, batch, token.secret.expose_secret())
            .instrument(span)
            .await;
        (batch, outcome)
    });
    let mut untyped = Untyped::default();
    for (batch, outcome) in join_all(batches).await {
        match outcome {
            Ok(mut values) => untyped.values.extend(
                batch
                    .iter()
                    .filter_map(|name| Some((name.to_string(), values.remove(*name)?))),
            ),
            Err(failure) => {
                tracing::debug!(
                    count = batch.len(),
                    error = %failure,
                    "not all static secrets; reading by item type"
                );
                if let [name] = batch
                    && !failure.is_unauthorized()
                {
                    untyped
                        .failed_alone
                        .insert((*name).to_string(), shareable(failure));
                }
            }
        }
    }
    untyped
}

async fn read_static_batch(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    names: &[&str],
) -> Vec<(Read, ReadOutcome)> {
    let span = tracing::info_span!(
        "akeyless.fetch",
        item_type = "STATIC_SECRET",
        items = %names.join(", "),
        count = names.len()
    );
    let outcome = session
        .call(ctx, |token| async move {
            api.get_secret_values(ctx, names, token.expose_secret())
                .await
        })
        .instrument(span)
        .await;
    match outcome {
        Ok(mut values) => names
            .iter()
            .map(|name| {
                let read = Read::Static(name.to_string());
                let value = values
                    .remove(*name)
                    .ok_or_else(|| shareable(Failure::SecretNotFound(name.to_string())));
                (read, value)
            })
            .collect(),
        // One missing or forbidden name fails the whole batch: read each
        // name alone, so the error lands on the right secret.
        Err(failure)
            if names.len() > 1
                && matches!(
                    failure.kind(),
                    ErrorKind::NotFound | ErrorKind::Denied | ErrorKind::Config
                ) =>
        {
            tracing::debug!(
                count = names.len(),
                "static batch failed; reading the names one by one"
            );
            let singles = names.iter().map(|name| async move {
                let read = Read::Static(name.to_string());
                let outcome = read_one(ctx, api, session, &read).await.map_err(shareable);
                (read, outcome)
            });
            join_all(singles).await
        }
        Err(failure) => {
            let shared = shareable(failure);
            names
                .iter()
                .map(|name| (Read::Static(name.to_string()), Err(shared.clone())))
                .collect()
        }
    }
}

async fn read_one(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    read: &Read,
) -> Result<Value, Failure> {
    let not_found = || Failure::SecretNotFound(read.name().to_string());
    match read {
        Read::Static(name) => {
            let names = [name.as_str()];
            let mut values = session
                .call(ctx, |token| async move {
                    api.get_secret_values(ctx, &names, token.expose_secret())
                        .await
                })
                .await?;
            values.remove(name).ok_or_else(not_found)
        }
        Read::Dynamic(name) => {
            let value = session
                .call(ctx, |token| async move {
                    api.get_dynamic_secret_value(ctx, name, token.expose_secret())
                        .await
                })
                .await?;
            unwrap_dynamic(name, value)
        }
        Read::Rotated(name) => session
            .call(ctx, |token| async move {
                api.get_rotated_secret_value(ctx, name, token.expose_secret())
                    .await
            })
            .await?
            .ok_or_else(not_found),
        Read::Ssh {
            name,
            cert_username,
            public_key,
        } => session
            .call(ctx, |token| async move {
                let request = SshCertificateRequest {
                    cert_issuer_name: name,
                    cert_username,
                    public_key_data: public_key,
                    token: token.expose_secret(),
                };
                api.get_ssh_certificate(ctx, &request).await
            })
            .await?
            .map(Value::String)
            .ok_or_else(not_found),
        Read::Pki {
            name,
            csr_base64,
            key_base64,
        } => session
            .call(ctx, |token| async move {
                let request = PkiCertificateRequest {
                    cert_issuer_name: name,
                    csr_data_base64: csr_base64.as_deref(),
                    key_data_base64: key_base64.as_deref(),
                    token: token.expose_secret(),
                };
                api.get_pki_certificate(ctx, &request).await
            })
            .await?
            .map(Value::String)
            .ok_or_else(not_found),
        Read::Certificate(name) => {
            session
                .call(ctx, |token| async move {
                    api.get_certificate_value(ctx, name, token.expose_secret())
                        .await
                })
                .await
        }
    }
}

/// A dynamic secret comes flat (`{"user": …}`) or wrapped
/// (`{"value": "<JSON>", "error": ""}`); both give the credential object.
fn unwrap_dynamic(name: &str, value: Value) -> Result<Value, Failure> {
    let Value::Object(map) = &value else {
        return Ok(value);
    };
    if let Some(Value::String(error)) = map.get("error")
        && !error.trim().is_empty()
    {
        return Err(Failure::DynamicSecret {
            name: name.to_string(),
            text: format!("\"{}\"", ServerText::new(error, &[])),
        });
    }
    if let Some(Value::String(inner)) = map.get("value")
        && let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(inner)
    {
        return Ok(parsed);
    }
    Ok(value)
}

/// Distinct reads in first-seen order.
pub(crate) fn distinct(reads: impl IntoIterator<Item = Read>) -> Vec<Read> {
    let unique: IndexMap<Read, ()> = reads.into_iter().map(|read| (read, ())).collect();
    unique.into_keys().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_dynamic_shapes_give_the_credentials() {
        let flat = json!({"user": "u", "password": "p"});
        assert_eq!(unwrap_dynamic("/d", flat.clone()).unwrap(), flat);
        let wrapped = json!({"value": r#"{"user":"u","password":"p"}"#, "error": ""});
        assert_eq!(unwrap_dynamic("/d", wrapped).unwrap(), flat);
        let failed = json!({"value": "", "error": "producer down"});
        let err = unwrap_dynamic("/d", failed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dynamic secret /d returned an error: \"producer down\""
        );
    }

    #[test]
    fn pki_pem_is_encoded_and_base64_kept() {
        let pem = "-----BEGIN CERTIFICATE REQUEST-----\nMII\n-----END CERTIFICATE REQUEST-----\n";
        assert_eq!(base64_unless_pem_is_base64(pem), STANDARD.encode(pem));
        assert_eq!(base64_unless_pem_is_base64("TUlJ"), "TUlJ");
    }

    #[test]
    fn unknown_types_are_unsupported_and_issuers_need_their_inputs() {
        let block = crate::block::AkeylessBlock::parse(
            &ci_secrets_provider_api::SecretRequest::new("V", json!({"name": "/k"})),
            crate::block::DEFAULT_API_URL,
        )
        .unwrap();
        let err = Read::plan("/k", "CLASSIC_KEY", &block).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported item type \"CLASSIC_KEY\" for /k"
        );
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        let err = Read::plan("/ssh", "SSH_CERT_ISSUER", &block).unwrap_err();
        assert!(
            err.to_string().starts_with("cert_user_name: is required"),
            "{err}"
        );
        let err = Read::plan("/pki", "PKI_CERT_ISSUER", &block).unwrap_err();
        assert!(
            err.to_string().contains("csr_data or public_key_data"),
            "{err}"
        );
    }
}
