//! Resolving all Akeyless secrets of a job.
//!
//! 1. Parse each block and find its identity; secrets of one identity form
//!    a group, and groups run concurrently (`grouping::resolve_by_identity`).
//! 2. Per group: one login (or the given token), then the item types: one
//!    `/list-items` per folder whose names are cheaper to list (narrowed by
//!    the start of name they share), one `/describe-item` per other name,
//!    all concurrently (see `describe`).
//!    In the same round trip, an optimistic `/get-secret-value` of every
//!    name: the static secrets among them need no read afterwards, and when
//!    it answers every name the type discovery is dropped, not awaited.
//! 3. One read per distinct item and parameters: static secrets batched into
//!    as few `/get-secret-value` calls as possible, the rest concurrent.
//! 4. Each secret takes its value (with its own `data_key`) from its read.

mod describe;
mod items;

// The planner (`diagnostics`) predicts calls with the same rules.
pub(crate) use describe::{FolderLookup, folder_and_full_name, folder_lookup};
pub(crate) use items::STATIC_BATCH;

use std::collections::HashMap;
use std::sync::Arc;

use ci_secrets_http::HttpContext as _;
use ci_secrets_provider_api::{
    ProviderError, ResolveContext, SecretRequest, SecretResult, grouping,
};
use futures::future::Either;
use indexmap::IndexMap;
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::api::AkeylessApi;
use crate::block::AkeylessBlock;
use crate::data_key;
use crate::error::{Failure, SharedError};
use crate::identity::{Identity, IdentityKey, LoginCache, Session};
use items::Read;

/// The CI/CD variable that holds the access id.
pub(crate) const ACCESS_ID_VARIABLE: &str = "AKEYLESS_ACCESS_ID";

/// The access id, when set and not blank (Rails' `present?`).
pub(crate) fn access_id(ctx: &ResolveContext) -> Result<&str, Failure> {
    ctx.variables()
        .get_present(ACCESS_ID_VARIABLE)
        .map(str::trim)
        .ok_or(Failure::MissingAccessId)
}

/// Parses one request into its block and identity.
pub(crate) fn prepare(
    request: &SecretRequest,
    access_id: &str,
    default_api_url: &str,
) -> Result<(AkeylessBlock, IdentityKey, Identity), Failure> {
    let block = AkeylessBlock::parse(request, default_api_url)?;
    let (key, identity) = Identity::of(&block, access_id, request.token.as_ref())?;
    Ok((block, key, identity))
}

/// A group's identity: `key` decides which secrets share a login (it is
/// what the login cache is keyed by); `identity` is what the login needs.
struct Keyed {
    key: IdentityKey,
    identity: Identity,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

/// One result per request, in order.
pub(crate) async fn resolve_all(
    cache: &LoginCache,
    in_flight: &Arc<Semaphore>,
    default_api_url: &str,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<SecretResult> {
    let access_id = match access_id(ctx) {
        Ok(access_id) => access_id,
        Err(failure) => {
            let shared = SharedError::from(failure);
            return requests.iter().map(|_| Err(shared.to_error())).collect();
        }
    };
    let parse = |request: &SecretRequest| {
        let (block, key, identity) = prepare(request, access_id, default_api_url)?;
        Ok((Keyed { key, identity }, block))
    };
    grouping::resolve_by_identity(requests, parse, |keyed, blocks| {
        resolve_group(cache, in_flight, ctx, keyed, blocks)
    })
    .await
}

/// Logs in once for the group, learns the item types, reads each distinct
/// item once, and answers every block in order; a failure before the reads
/// (the gateway CA, the login) is every block's error.
async fn resolve_group(
    cache: &LoginCache,
    in_flight: &Arc<Semaphore>,
    ctx: &ResolveContext,
    keyed: Keyed,
    blocks: Vec<AkeylessBlock>,
) -> Result<Vec<SecretResult>, ProviderError> {
    let key = &keyed.key;
    let client = ctx
        .http()
        .client(key.gateway_ca.as_deref())
        .map_err(|err| {
            SharedError::from(Failure::InvalidField {
                key: "gateway_ca_certificate",
                reason: err.message().to_string(),
            })
            .to_error()
        })?
        .with_permits(in_flight.clone());
    let names: Vec<&str> = {
        let unique: IndexMap<&str, ()> = blocks
            .iter()
            .filter_map(|block| block.name.as_deref())
            .map(|name| (name, ()))
            .collect();
        unique.into_keys().collect()
    };
    // The wave after the login (the optimistic static reads and the type
    // discovery) goes out at once; over HTTP/1.1 each of its requests needs
    // a connection. They open now, while the login is in flight. The login
    // takes one of them, and its connection is free again for the wave.
    let discovery = describe::Discovery::plan(&names);
    let wave = names.len().div_ceil(STATIC_BATCH) + discovery.requests();
    let api = AkeylessApi::new(key.api_url.clone(), client);
    api.preconnect(wave).await;
    let session = Session::new(cache, key, &keyed.identity, &api);
    let token = session
        .token(ctx)
        .await
        .map_err(|failure| SharedError::from(failure).to_error())?;

    let (untyped, types) = if names.is_empty() {
        (items::Untyped::default(), HashMap::new())
    } else {
        learn_types(ctx, &api, &session, &names, &discovery, wave).await
    };
    let items::Untyped {
        values: known_static,
        failed_alone,
    } = untyped;
    // A static secret read alone already has its answer, failure included.
    let failed_static: HashMap<String, SharedError> = failed_alone
        .into_iter()
        .filter(|(name, _)| {
            matches!(types.get(name), Some(Ok(item_type)) if item_type == "STATIC_SECRET")
        })
        .collect();

    let plans: Vec<Option<Result<Read, SharedError>>> = blocks
        .iter()
        .map(|block| {
            let name = block.name.as_deref()?;
            if known_static.contains_key(name) {
                return Some(Ok(Read::Static(name.to_string())));
            }
            Some(match types.get(name) {
                Some(Ok(item_type)) => {
                    Read::plan(name, item_type, block).map_err(SharedError::from)
                }
                Some(Err(shared)) => Err(shared.clone()),
                None => Err(SharedError::from(Failure::SecretNotFound(name.to_string()))),
            })
        })
        .collect();
    let reads = items::distinct(
        plans
            .iter()
            .flatten()
            .flatten()
            .filter(|read| {
                !matches!(read, Read::Static(name)
                    if known_static.contains_key(name) || failed_static.contains_key(name))
            })
            .cloned(),
    );
    let mut values = items::read_all(ctx, &api, &session, reads).await;
    values.extend(
        known_static
            .into_iter()
            .map(|(name, value)| (Read::Static(name), Ok(value))),
    );
    values.extend(
        failed_static
            .into_iter()
            .map(|(name, shared)| (Read::Static(name), Err(shared))),
    );

    let results = blocks
        .iter()
        .zip(plans)
        .map(|(block, plan)| {
            let data_key = block.data_key.as_deref();
            match plan {
                // Token mode (D7): deliver the Akeyless token itself.
                None => data_key::deliver(
                    serde_json::Value::String(token.secret.expose_secret().to_string()),
                    data_key,
                    "the Akeyless token",
                )
                .map_err(ProviderError::from),
                Some(Err(shared)) => Err(shared.to_error()),
                Some(Ok(read)) => match values.get(&read) {
                    Some(Ok(value)) => data_key::deliver(value.clone(), data_key, read.name())
                        .map_err(ProviderError::from),
                    Some(Err(shared)) => Err(shared.to_error()),
                    None => Err(Failure::SecretNotFound(read.name().to_string()).into()),
                },
            }
        })
        .collect();
    Ok(results)
}

/// What the optimistic static read learned, and the item types of the
/// names it did not answer.
///
/// An optimistic batched `/get-secret-value` of every name goes out in the
/// same round trip as the type discovery (`describe::item_types`), for one
/// name as for many. When a batch succeeds, its names are static secrets
/// whose values are already here. When the batches answer every name, the
/// job needs no type: the discovery still in flight is dropped (its
/// requests cancelled) instead of awaited, so a job of static secrets takes
/// one round trip after the login, however large the listing it started.
/// Otherwise the discovery is awaited; a batch that holds another item type,
/// or a missing or forbidden name, fails as a whole and its names take the
/// typed path, whose errors are the runner's.
///
/// GitLab Runner described a name, then read it (three round trips with the
/// login); its vectors (`tests/data/gitlab/runner-resolution.yaml`) pin that
/// order. We send both at once: the result is the runner's in every row
/// (a name that is not a static secret fails the speculative read, which is
/// then ignored; a describe failure is still the error), only the order and,
/// for a non-static item, one extra `/get-secret-value` differ. The one case
/// where the result would differ, an identity that may read a static secret
/// but not describe it, now gets the value, as jobs of several names already
/// did.
///
/// As soon as the types are known, the connections of the typed reads open
/// (over HTTP/1.1 each concurrent request needs its own), while the
/// optimistic reads may still be in flight; `open` is how many connections
/// this wave opened, which are idle again when the typed reads start.
async fn learn_types(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    names: &[&str],
    discovery: &describe::Discovery<'_>,
    open: usize,
) -> (items::Untyped, describe::ItemTypes) {
    let open_typed_wave = |types: &describe::ItemTypes, answered: &HashMap<String, Value>| {
        api.preconnect(typed_reads(types, answered).saturating_sub(open))
    };
    let reads = std::pin::pin!(items::read_untyped_as_static(ctx, api, session, names));
    let discovery = std::pin::pin!(describe::item_types(ctx, api, session, discovery));
    match futures::future::select(reads, discovery).await {
        Either::Left((untyped, discovery)) => {
            if untyped.answers_all(names) {
                tracing::debug!(
                    count = names.len(),
                    "every name read as a static secret; the item types are not needed"
                );
                return (untyped, describe::ItemTypes::new());
            }
            let types = discovery.await;
            open_typed_wave(&types, &untyped.values).await;
            (untyped, types)
        }
        Either::Right((types, reads)) => {
            // The optimistic reads have not answered: count every static
            // secret as still to read (a batch with another type fails whole).
            open_typed_wave(&types, &HashMap::new()).await;
            (reads.await, types)
        }
    }
}

/// How many concurrent requests the typed reads of `types` take: one per
/// item of another type, and the batches of the static secrets that
/// `answered` does not hold yet. A name read with several parameter sets
/// (SSH certificates for several users) counts once: a few connections
/// more are opened by the requests themselves, as without this estimate.
fn typed_reads(types: &describe::ItemTypes, answered: &HashMap<String, Value>) -> usize {
    let mut statics = 0;
    let mut others = 0;
    for (name, item_type) in types {
        match item_type {
            Ok(item_type) if item_type == "STATIC_SECRET" => {
                statics += usize::from(!answered.contains_key(name));
            }
            Ok(_) => others += 1,
            Err(_) => {}
        }
    }
    statics.div_ceil(STATIC_BATCH) + others
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(entries: &[(&str, Result<&str, ()>)]) -> describe::ItemTypes {
        entries
            .iter()
            .map(|(name, item_type)| {
                let outcome = item_type
                    .map(str::to_string)
                    .map_err(|()| SharedError::from(Failure::SecretNotFound((*name).to_string())));
                ((*name).to_string(), outcome)
            })
            .collect()
    }

    #[test]
    fn the_typed_wave_batches_unanswered_static_secrets_and_reads_other_items_alone() {
        let mut entries = vec![
            ("/a/rotated", Ok("ROTATED_SECRET")),
            ("/a/dynamic", Ok("DYNAMIC_SECRET")),
            ("/a/missing", Err(())),
        ];
        let statics: Vec<String> = (0..=STATIC_BATCH)
            .map(|i| format!("/a/static-{i}"))
            .collect();
        entries.extend(
            statics
                .iter()
                .map(|name| (name.as_str(), Ok("STATIC_SECRET"))),
        );
        let types = types(&entries);
        // 101 static secrets unanswered: two batches, and the two others.
        assert_eq!(typed_reads(&types, &HashMap::new()), 4);
        // One answered by the optimistic read: one batch is enough.
        let answered = HashMap::from([(statics[0].clone(), Value::Null)]);
        assert_eq!(typed_reads(&types, &answered), 3);
    }
}
