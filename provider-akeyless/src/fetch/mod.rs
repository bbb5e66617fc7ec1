//! Resolving all Akeyless secrets of a job.
//!
//! 1. Parse each block and find its identity; secrets of one identity form
//!    a group, and groups run concurrently.
//! 2. Per group: one login (or the given token), then the item types: one
//!    `/list-items` per folder holding several requested names, one
//!    `/describe-item` per other name, all concurrently (see `describe`).
//!    In the same round trip, an optimistic `/get-secret-value` of every
//!    name: the static secrets among them need no read afterwards.
//! 3. One read per distinct item and parameters: static secrets batched into
//!    as few `/get-secret-value` calls as possible, the rest concurrent.
//! 4. Each secret takes its value (with its own `data_key`) from its read.

mod describe;
mod items;

// The planner (`diagnostics`) predicts calls with the same rules.
pub(crate) use describe::{LIST_FROM, folder_and_full_name};
pub(crate) use items::STATIC_BATCH;

use std::collections::HashMap;

use ci_secrets_http::HttpContext as _;
use ci_secrets_provider_api::{
    ErrorKind, ProviderError, ResolveContext, SecretRequest, SecretResult,
};
use futures::future::join_all;
use indexmap::IndexMap;
use secrecy::ExposeSecret;

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

struct Member {
    index: usize,
    block: AkeylessBlock,
}

struct Group {
    identity: Identity,
    members: Vec<Member>,
}

/// One result per request, in order.
pub(crate) async fn resolve_all(
    cache: &LoginCache,
    default_api_url: &str,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<SecretResult> {
    let mut results: Vec<Option<SecretResult>> = requests.iter().map(|_| None).collect();
    let access_id = match access_id(ctx) {
        Ok(access_id) => access_id,
        Err(failure) => {
            let shared = SharedError::from(failure);
            return requests.iter().map(|_| Err(shared.to_error())).collect();
        }
    };
    let mut groups: IndexMap<IdentityKey, Group> = IndexMap::new();
    for (index, request) in requests.iter().enumerate() {
        match prepare(request, access_id, default_api_url) {
            Ok((block, key, identity)) => groups
                .entry(key)
                .or_insert_with(|| Group {
                    identity,
                    members: Vec::new(),
                })
                .members
                .push(Member { index, block }),
            Err(failure) => results[index] = Some(Err(failure.into())),
        }
    }
    let outcomes = join_all(
        groups
            .iter()
            .map(|(key, group)| resolve_group(cache, ctx, key, group)),
    )
    .await;
    for (index, result) in outcomes.into_iter().flatten() {
        results[index] = Some(result);
    }
    results
        .into_iter()
        .map(|result| {
            // Every request is either rejected above or a member of a group,
            // and every group answers for each of its members.
            result.unwrap_or_else(|| {
                Err(ProviderError::new(
                    ErrorKind::Protocol,
                    "internal error: the secret was not resolved",
                ))
            })
        })
        .collect()
}

async fn resolve_group(
    cache: &LoginCache,
    ctx: &ResolveContext,
    key: &IdentityKey,
    group: &Group,
) -> Vec<(usize, SecretResult)> {
    let fail_all = |shared: SharedError| {
        group
            .members
            .iter()
            .map(|member| (member.index, Err(shared.to_error())))
            .collect::<Vec<_>>()
    };
    let client = match ctx.http().client(key.gateway_ca.as_deref()) {
        Ok(client) => client,
        Err(err) => {
            return fail_all(SharedError::from(Failure::InvalidField {
                key: "gateway_ca_certificate",
                reason: err.message().to_string(),
            }));
        }
    };
    let api = AkeylessApi::new(key.api_url.clone(), client);
    let session = Session::new(cache, key, &group.identity, &api);
    let token = match session.token(ctx).await {
        Ok(token) => token,
        Err(failure) => return fail_all(SharedError::from(failure)),
    };

    let names: Vec<&str> = {
        let unique: IndexMap<&str, ()> = group
            .members
            .iter()
            .filter_map(|member| member.block.name.as_deref())
            .map(|name| (name, ()))
            .collect();
        unique.into_keys().collect()
    };
    let (known_static, types) = match names.len() {
        0 => (HashMap::new(), HashMap::new()),
        // One name keeps GitLab Runner's exact sequence (describe, then
        // read), which the conformance vectors pin; it costs one round trip.
        1 => (
            HashMap::new(),
            describe::item_types(ctx, &api, &session, &names).await,
        ),
        _ => learn_types(ctx, &api, &session, &names).await,
    };

    let plans: Vec<Option<Result<Read, SharedError>>> = group
        .members
        .iter()
        .map(|member| {
            let name = member.block.name.as_deref()?;
            if known_static.contains_key(name) {
                return Some(Ok(Read::Static(name.to_string())));
            }
            Some(match types.get(name) {
                Some(Ok(item_type)) => {
                    Read::plan(name, item_type, &member.block).map_err(SharedError::from)
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
            .filter(|read| !matches!(read, Read::Static(name) if known_static.contains_key(name)))
            .cloned(),
    );
    let mut values = items::read_all(ctx, &api, &session, reads).await;
    values.extend(
        known_static
            .into_iter()
            .map(|(name, value)| (Read::Static(name), Ok(value))),
    );

    group
        .members
        .iter()
        .zip(plans)
        .map(|(member, plan)| {
            let data_key = member.block.data_key.as_deref();
            let result = match plan {
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
            };
            (member.index, result)
        })
        .collect()
}

/// The values of the names that turned out to be static secrets, and the
/// item types of all names.
///
/// An optimistic batched `/get-secret-value` of every name goes out in the
/// same round trip as the type discovery (`describe::item_types`). When a
/// batch succeeds, its names are static secrets whose values are already
/// here, so a job of static secrets takes two round trips after the login
/// instead of three. A batch that holds another item type, or a missing or
/// forbidden name, fails as a whole; its names take the typed path, whose
/// errors are the runner's. Both halves always run to the end, so the calls
/// a job makes do not depend on which answer comes first.
async fn learn_types(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    names: &[&str],
) -> (HashMap<String, serde_json::Value>, describe::ItemTypes) {
    futures::join!(
        items::read_untyped_as_static(ctx, api, session, names),
        describe::item_types(ctx, api, session, names)
    )
}
