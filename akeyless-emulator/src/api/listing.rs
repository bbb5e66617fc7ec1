//! `/list-items`: the items directly in a folder that the caller may read, and its sub-folders that
//! lead to such items.

use std::collections::BTreeSet;

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::errors::LIST_ITEMS;
use super::items::{ItemView, describe};
use super::{ApiError, Credentials, caller, json_response, parse};
use crate::seed::ItemSpec;
use crate::state::State;

#[derive(Deserialize)]
struct ListItemsRequest {
    path: Option<String>,
    /// Kebab-case type filter: `static-secret`, `dynamic-secret`, `rotated-secret`, ...
    #[serde(rename = "type", default)]
    types: Vec<String>,
    filter: Option<String>,
    #[serde(flatten)]
    credentials: Credentials,
}

/// The `/list-items` `type` value of an item.
fn list_type(spec: &ItemSpec) -> &'static str {
    match spec {
        ItemSpec::Static { .. } => "static-secret",
        ItemSpec::Dynamic { .. } => "dynamic-secret",
        ItemSpec::Rotated { .. } => "rotated-secret",
        ItemSpec::SshCertIssuer { .. } => "ssh-cert-issuer",
        ItemSpec::PkiCertIssuer { .. } => "pki-cert-issuer",
        ItemSpec::Certificate(_) => "certificate",
    }
}

pub(super) fn list_items(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: ListItemsRequest = parse(body)?;
    let access = caller(state, &request.credentials, &LIST_ITEMS)?;
    let folder = request.path.as_deref().unwrap_or("/").trim_end_matches('/');
    let folder = if folder.starts_with('/') || folder.is_empty() {
        folder.to_owned()
    } else {
        format!("/{folder}")
    };
    let prefix = format!("{folder}/");
    let mut items = Vec::new();
    let mut folders = BTreeSet::new();
    for (name, item) in state.items.range(prefix.clone()..) {
        let Some(relative) = name.strip_prefix(&prefix) else {
            break;
        };
        if !access.may_read(name) {
            continue;
        }
        if let Some((sub_folder, _)) = relative.split_once('/') {
            folders.insert(format!("{prefix}{sub_folder}"));
            continue;
        }
        let type_ok =
            request.types.is_empty() || request.types.iter().any(|t| t == list_type(&item.spec));
        let filter_ok = request.filter.as_deref().is_none_or(|f| name.contains(f));
        if type_ok && filter_ok {
            items.push(describe(state, name, item, false));
        }
    }
    state.counters.listed(items.len());
    Ok(json_response(&Listing {
        items,
        folders,
        next_page: "",
        has_next: false,
    }))
}

/// The answer of `/list-items`.
#[derive(Serialize)]
struct Listing<'a> {
    items: Vec<ItemView<'a>>,
    folders: BTreeSet<String>,
    next_page: &'static str,
    has_next: bool,
}
