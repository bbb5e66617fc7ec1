//! Learning the item type of every distinct name of one identity, in one
//! round trip when the API allows it.
//!
//! GitLab Runner described each name. Names that share a folder with another
//! requested name are learned instead from one `/list-items` of that folder
//! (its answer carries each item's `item_type`), concurrently with the
//! `/describe-item` of the names that are alone in their folder. A name the
//! listing did not show (listing denied or failed, a paginated answer, an
//! item the caller may not list) is then described, so its error is the one
//! `/describe-item` gives. Measured in `bench/` (BENCHMARKS.md): 1000 static
//! names in one folder need 1 listing instead of 1000 describes, which the
//! per-host concurrency limit would spread over 16 round trips.

use std::collections::HashMap;

use ci_secrets_provider_api::ResolveContext;
use futures::future::join_all;
use indexmap::IndexMap;
use secrecy::ExposeSecret;
use tracing::Instrument as _;

use crate::api::AkeylessApi;
use crate::error::SharedError;
use crate::identity::Session;

/// The item type of each name, or the failure every secret of it shares.
pub(crate) type ItemTypes = HashMap<String, Result<String, SharedError>>;

/// Listing a folder pays off from this many requested names in it; one
/// name is cheaper to describe than a whole folder to list.
pub(crate) const LIST_FROM: usize = 2;

/// The folder `/list-items` takes for `name`, and the name as the listing
/// spells it (with a leading `/`, which Akeyless adds to relative names).
pub(crate) fn folder_and_full_name(name: &str) -> (String, String) {
    let full = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    };
    let folder = match full.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(cut) => full[..cut].to_string(),
    };
    (folder, full)
}

/// The type of every name in `names`.
pub(crate) async fn item_types(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    names: &[&str],
) -> ItemTypes {
    let mut folders: IndexMap<String, Vec<(&str, String)>> = IndexMap::new();
    for name in names {
        let (folder, full) = folder_and_full_name(name);
        folders.entry(folder).or_default().push((name, full));
    }
    let (listed, alone): (Vec<_>, Vec<_>) = folders
        .into_iter()
        .partition(|(_, members)| members.len() >= LIST_FROM);
    let alone: Vec<&str> = alone
        .iter()
        .flat_map(|(_, members)| members.iter().map(|(name, _)| *name))
        .collect();
    let listings = listed
        .iter()
        .map(|(folder, _)| list_folder(ctx, api, session, folder));
    let (listings, mut types) =
        futures::join!(join_all(listings), describe_all(ctx, api, session, &alone));

    let mut unseen = Vec::new();
    for ((_, members), listing) in listed.iter().zip(listings) {
        for (name, full) in members {
            match listing.as_ref().and_then(|listing| listing.get(full)) {
                Some(item_type) => {
                    types.insert((*name).to_string(), Ok(item_type.clone()));
                }
                None => unseen.push(*name),
            }
        }
    }
    if !unseen.is_empty() {
        tracing::debug!(
            count = unseen.len(),
            "names not in their folder's listing; describing them"
        );
        types.extend(describe_all(ctx, api, session, &unseen).await);
    }
    types
}

/// The types of the items in `folder`, by full name; `None` when listing
/// failed or was cut by pagination (the callers then describe).
async fn list_folder(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    folder: &str,
) -> Option<HashMap<String, String>> {
    let span = tracing::info_span!("akeyless.list", folder);
    async {
        // No re-login on 401 here: Akeyless answers 401 when listing is not
        // allowed, and the describe fallback handles an expired token.
        let token = session.token(ctx).await.ok()?;
        match api
            .list_items(ctx, folder, token.secret.expose_secret())
            .await
        {
            Ok(listing) => Some(listing),
            Err(failure) => {
                tracing::debug!(error = %failure, "listing failed; describing instead");
                None
            }
        }
    }
    .instrument(span)
    .await
}

/// `/describe-item` for each of `names`, concurrently.
async fn describe_all(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    names: &[&str],
) -> ItemTypes {
    if names.is_empty() {
        return ItemTypes::new();
    }
    let span =
        tracing::info_span!("akeyless.describe", count = names.len(), items = %names.join(", "));
    let describes = names.iter().map(|name| async move {
        let outcome = session
            .call(ctx, |token| async move {
                api.describe_item(ctx, name, token.expose_secret()).await
            })
            .await
            .map_err(SharedError::from);
        (name.to_string(), outcome)
    });
    join_all(describes)
        .instrument(span)
        .await
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_absolute_relative_and_top_level_names() {
        assert_eq!(
            folder_and_full_name("/prod/db/password"),
            ("/prod/db".to_string(), "/prod/db/password".to_string())
        );
        assert_eq!(
            folder_and_full_name("prod/db"),
            ("/prod".to_string(), "/prod/db".to_string())
        );
        assert_eq!(
            folder_and_full_name("/top"),
            ("/".to_string(), "/top".to_string())
        );
        assert_eq!(
            folder_and_full_name("top"),
            ("/".to_string(), "/top".to_string())
        );
    }
}
