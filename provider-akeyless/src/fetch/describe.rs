//! Learning the item type of every distinct name of one identity, in one
//! round trip when the API allows it.
//!
//! GitLab Runner described each name. The names of one folder are learned
//! instead from one `/list-items` of that folder (its answer carries each
//! item's `item_type`) when that is cheaper, concurrently with the
//! `/describe-item` of the other names; [`folder_lookup`] decides from what
//! is known before any call: how many names the folder holds and whether
//! they share a part of their name that narrows the listing. A name the
//! listing did not show (listing denied or failed, a paginated answer, an
//! item the caller may not list, a server whose filter matches differently)
//! is then described, so its error is the one `/describe-item` gives.
//! Measured in `bench/` (BENCHMARKS.md): 1000 static names in one folder
//! need 1 listing instead of 1000 describes.

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

/// A folder's names whose base names share no prefix are described one by
/// one up to this many: a few describes cost less than listing a folder of
/// unknown size (a 1000-item folder answers 569 KB). More are listed.
pub(crate) const DESCRIBE_UP_TO: usize = 8;

/// How the types of one folder's requested names are learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FolderLookup {
    /// `/describe-item` of each name.
    Describe,
    /// One `/list-items` of the folder, narrowed by `filter` ("item name or
    /// part of it") when the names share the start of their base name.
    List {
        /// The shared start of the names' base names.
        filter: Option<String>,
    },
}

/// How to learn the types of `full_names`, all in one folder (as
/// [`folder_and_full_name`] spells them). One name is described. Names
/// that share the start of their base name are listed with that start as
/// the filter, so the answer holds little more than they do, whatever the
/// folder's size. Otherwise, a few names are described and many listed.
pub(crate) fn folder_lookup(full_names: &[&str]) -> FolderLookup {
    if full_names.len() < 2 {
        return FolderLookup::Describe;
    }
    let base = |name: &'_ str| -> String {
        name.rsplit_once('/')
            .map_or(name, |(_, base)| base)
            .to_string()
    };
    let mut shared = base(full_names[0]);
    for name in &full_names[1..] {
        let other = base(name);
        let common = shared
            .char_indices()
            .zip(other.chars())
            .find(|((_, a), b)| a != b)
            .map_or(shared.len().min(other.len()), |((at, _), _)| at);
        shared.truncate(common);
    }
    if !shared.is_empty() {
        FolderLookup::List {
            filter: Some(shared),
        }
    } else if full_names.len() <= DESCRIBE_UP_TO {
        FolderLookup::Describe
    } else {
        FolderLookup::List { filter: None }
    }
}

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

/// How the types of a set of names are learned: the folders listed, and
/// the names described one by one. Planned once per group: its size decides
/// the connections opened during the login, and [`item_types`] follows it.
pub(crate) struct Discovery<'a> {
    listed: Vec<Listing<'a>>,
    alone: Vec<&'a str>,
}

/// One folder's `/list-items`.
struct Listing<'a> {
    folder: String,
    filter: Option<String>,
    /// The requested names in the folder, as given and in full.
    members: Vec<(&'a str, String)>,
}

impl<'a> Discovery<'a> {
    pub(crate) fn plan(names: &[&'a str]) -> Self {
        let mut folders: IndexMap<String, Vec<(&str, String)>> = IndexMap::new();
        for name in names {
            let (folder, full) = folder_and_full_name(name);
            folders.entry(folder).or_default().push((name, full));
        }
        let mut listed = Vec::new();
        let mut alone: Vec<&str> = Vec::new();
        for (folder, members) in folders {
            let full: Vec<&str> = members.iter().map(|(_, full)| full.as_str()).collect();
            match folder_lookup(&full) {
                FolderLookup::Describe => alone.extend(members.iter().map(|(name, _)| *name)),
                FolderLookup::List { filter } => listed.push(Listing {
                    folder,
                    filter,
                    members,
                }),
            }
        }
        Self { listed, alone }
    }

    /// How many requests [`item_types`] sends at once (listings and
    /// describes), before any describe of a name a listing did not show.
    pub(crate) fn requests(&self) -> usize {
        self.listed.len() + self.alone.len()
    }
}

/// The type of every name that `discovery` was planned for.
pub(crate) async fn item_types(
    ctx: &ResolveContext,
    api: &AkeylessApi,
    session: &Session<'_>,
    discovery: &Discovery<'_>,
) -> ItemTypes {
    let Discovery { listed, alone } = discovery;
    let listings = listed.iter().map(|listing| {
        list_folder(
            ctx,
            api,
            session,
            &listing.folder,
            listing.filter.as_deref(),
        )
    });
    let (listings, mut types) =
        futures::join!(join_all(listings), describe_all(ctx, api, session, alone));

    let mut unseen = Vec::new();
    for (Listing { members, .. }, listing) in listed.iter().zip(listings) {
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
    filter: Option<&str>,
) -> Option<HashMap<String, String>> {
    let span = tracing::info_span!("akeyless.list", folder, filter);
    async {
        // No re-login on 401 here: Akeyless answers 401 when listing is not
        // allowed, and the describe fallback handles an expired token.
        let token = session.token(ctx).await.ok()?;
        match api
            .list_items(ctx, folder, filter, token.secret.expose_secret())
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

    fn requests_for(names: &[&str]) -> usize {
        Discovery::plan(names).requests()
    }

    #[test]
    fn the_discovery_wave_counts_one_request_per_listing_and_per_describe() {
        assert_eq!(requests_for(&[]), 0);
        // One folder listed narrowly, one name alone in its folder.
        assert_eq!(
            requests_for(&["/ci/db-user", "/ci/db-pass", "/other/key"]),
            2
        );
        // Few unrelated names in one folder: each is described.
        assert_eq!(requests_for(&["/ci/alpha", "/ci/beta", "/ci/gamma"]), 3);
        // Many: one listing.
        let many: Vec<String> = (0..20)
            .map(|i| format!("/ci/{}x", (b'a' + i) as char))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(requests_for(&many), 1);
    }

    #[test]
    fn one_name_is_described_and_names_with_a_shared_start_are_listed_narrowly() {
        assert_eq!(folder_lookup(&["/prod/db"]), FolderLookup::Describe);
        assert_eq!(
            folder_lookup(&["/bench/static/secret-0001", "/bench/static/secret-0009"]),
            FolderLookup::List {
                filter: Some("secret-000".into())
            }
        );
        // The shared start ends on a character boundary.
        assert_eq!(
            folder_lookup(&["/p/clé-a", "/p/clé-b", "/p/clo"]),
            FolderLookup::List {
                filter: Some("cl".into())
            }
        );
        // A name that is the start of another: the whole shorter name.
        assert_eq!(
            folder_lookup(&["/p/db", "/p/db-replica"]),
            FolderLookup::List {
                filter: Some("db".into())
            }
        );
    }

    #[test]
    fn unrelated_names_are_described_when_few_and_listed_when_many() {
        let few = ["/p/api", "/p/db", "/p/cache"];
        assert_eq!(folder_lookup(&few), FolderLookup::Describe);
        let many: Vec<String> = (0..=DESCRIBE_UP_TO)
            .map(|i| format!("/p/{}{i}", char::from(b'a' + i as u8)))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(folder_lookup(&many), FolderLookup::List { filter: None });
    }
}
