//! `ci-secrets plan` and `ci-secrets doctor` for Akeyless.
//!
//! The plan mirrors what `fetch` does: one `/auth` per identity, item types
//! from one `/list-items` per folder holding several of an identity's names
//! (else one `/describe-item` per name), then static secrets batched into
//! `/get-secret-value`. Item types are only known at run time, so the plan
//! counts every read as a static one and says so.
//!
//! The doctor logs in once per identity and describes each item: it learns
//! whether the identity may read the item without fetching its value.

use std::collections::HashMap;

use ci_secrets_http::HttpContext as _;
use ci_secrets_provider_api::diagnostics::{
    Check, Identity as PlannedIdentity, PlannedCall, SecretPlan,
};
use ci_secrets_provider_api::{ErrorKind, ResolveContext, SecretRequest};
use indexmap::IndexMap;
use secrecy::ExposeSecret;

use crate::api::AkeylessApi;
use crate::block::{AccessType, AkeylessBlock};
use crate::error::{Failure, Operation};
use crate::fetch;
use crate::identity::{Identity, IdentityKey, LoginCache, Session};

use crate::fetch::{FolderLookup, STATIC_BATCH};

const READ_NOTE: &str = "the read depends on the item type, known only at run time: counted as a \
                         static secret (batched); dynamic and rotated secrets and certificates take \
                         one call each";

/// One request, parsed, with the identity it logs in as.
struct Parsed {
    block: AkeylessBlock,
    key: IdentityKey,
    identity: Identity,
}

/// The requests of one identity, in first-seen order.
struct Group {
    shown: PlannedIdentity,
    /// Indexes into the requests.
    members: Vec<usize>,
}

fn parse_all(
    ctx: &ResolveContext,
    default_api_url: &str,
    requests: &[SecretRequest],
) -> Vec<Result<Parsed, Failure>> {
    let access_id = match fetch::access_id(ctx) {
        Ok(access_id) => access_id,
        Err(_) => {
            return requests
                .iter()
                .map(|_| Err(Failure::MissingAccessId))
                .collect();
        }
    };
    requests
        .iter()
        .map(|request| {
            fetch::prepare(request, access_id, default_api_url).map(|(block, key, identity)| {
                Parsed {
                    block,
                    key,
                    identity,
                }
            })
        })
        .collect()
}

/// What `plan` shows of an identity; names public parts only.
fn describe_identity(parsed: &Parsed, access_id: &str) -> PlannedIdentity {
    let block = &parsed.block;
    let given_token = matches!(parsed.identity, Identity::Given(_));
    let access_type = if given_token {
        "akeyless_token"
    } else {
        block.access_type.wire_name()
    };
    let mut label = format!("akeyless {} {access_type}", block.api_url);
    let mut shown = PlannedIdentity::new(String::new())
        .with_ca_setting("gateway_ca_certificate")
        .with_field("access type", access_type)
        .with_field("API URL", block.api_url.clone());
    if !given_token {
        label.push(' ');
        label.push_str(access_id);
        shown = shown
            .with_field("access id", access_id)
            .with_login(Operation::Auth.label());
    }
    shown = shown.with_field(
        "TLS roots",
        if block.gateway_ca_pem.is_some() {
            "system roots + gateway_ca_certificate"
        } else {
            "system roots"
        },
    );
    if let Ok(endpoint) = url::Url::parse(&block.api_url) {
        shown = shown.with_endpoint(endpoint);
    }
    if let Some(ca) = &block.gateway_ca_pem {
        shown = shown.with_ca_pem(ca.clone());
    }
    shown.label = label;
    shown
}

/// Groups parsed requests by identity. Identities whose public parts are
/// equal but whose credentials differ get distinct labels (`#2`, ...).
fn group(parsed: &[Result<Parsed, Failure>], access_id: &str) -> IndexMap<IdentityKey, Group> {
    let mut groups: IndexMap<IdentityKey, Group> = IndexMap::new();
    // How many identities share each public label so far.
    let mut labels: HashMap<String, usize> = HashMap::new();
    for (index, entry) in parsed.iter().enumerate() {
        let Ok(entry) = entry else { continue };
        if let Some(group) = groups.get_mut(&entry.key) {
            group.members.push(index);
            continue;
        }
        let mut shown = describe_identity(entry, access_id);
        let same_label = labels.entry(shown.label.clone()).or_default();
        *same_label += 1;
        if *same_label > 1 {
            shown.label = format!("{} #{same_label}", shown.label);
        }
        groups.insert(
            entry.key.clone(),
            Group {
                shown,
                members: vec![index],
            },
        );
    }
    groups
}

/// The plan of every request (`Provider::plan`).
pub(crate) fn plan(
    ctx: &ResolveContext,
    default_api_url: &str,
    requests: &[SecretRequest],
) -> Vec<SecretPlan> {
    let parsed = parse_all(ctx, default_api_url, requests);
    let access_id = fetch::access_id(ctx).unwrap_or_default();
    let groups = group(&parsed, access_id);
    let mut plans: Vec<SecretPlan> = parsed
        .iter()
        .map(|entry| match entry {
            Ok(_) => SecretPlan::new(),
            Err(failure) => SecretPlan::invalid(failure),
        })
        .collect();
    for group in groups.values() {
        plan_group(&parsed, group, &mut plans);
    }
    plans
}

fn plan_group(parsed: &[Result<Parsed, Failure>], group: &Group, plans: &mut [SecretPlan]) {
    let label = &group.shown.label;
    let name_of = |index: usize| {
        parsed[index]
            .as_ref()
            .ok()
            .and_then(|entry| entry.block.name.clone())
    };
    // Distinct names in first-seen order, as `fetch` dedupes them.
    let mut names: IndexMap<String, ()> = IndexMap::new();
    for &index in &group.members {
        if let Some(name) = name_of(index) {
            names.insert(name, ());
        }
    }
    let mut folders: IndexMap<String, Vec<String>> = IndexMap::new();
    for name in names.keys() {
        let (folder, full) = fetch::folder_and_full_name(name);
        folders.entry(folder).or_default().push(full);
    }
    // The same decision `fetch` makes, per folder.
    let lookups: IndexMap<&str, FolderLookup> = folders
        .iter()
        .map(|(folder, members)| {
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            (folder.as_str(), fetch::folder_lookup(&members))
        })
        .collect();
    for &index in &group.members {
        let mut plan = SecretPlan::new().with_identity(group.shown.clone());
        if matches!(
            parsed[index].as_ref().map(|entry| &entry.block.access_type),
            Ok(AccessType::AwsIam | AccessType::AzureAd | AccessType::Gcp)
        ) && group.shown.login.is_some()
        {
            plan = plan.with_note(
                "the login first gets a cloud identity from this machine's metadata service",
            );
        }
        match name_of(index) {
            None => plan = plan.with_note("delivers the Akeyless token itself: no item is read"),
            Some(name) => {
                let folder = fetch::folder_and_full_name(&name).0;
                let lookup = match lookups.get(folder.as_str()) {
                    Some(FolderLookup::List { .. }) => PlannedCall::shared(
                        Operation::ListItems.label(),
                        format!("{label} list {folder}"),
                    ),
                    Some(FolderLookup::Describe) | None => PlannedCall::shared(
                        Operation::DescribeItem.label(),
                        format!("{label} describe {name}"),
                    ),
                };
                let batch = names.get_index_of(&name).unwrap_or(0) / STATIC_BATCH;
                plan = plan
                    .with_item(name)
                    .with_call(lookup)
                    .with_call(PlannedCall::shared(
                        Operation::GetSecretValue.label(),
                        format!("{label} read batch {batch}"),
                    ))
                    .with_note(READ_NOTE);
            }
        }
        plans[index] = plan;
    }
}

/// The checks of one identity (`Provider::diagnose`): a login, then one
/// `/describe-item` per distinct item. No value is fetched.
pub(crate) async fn diagnose(
    ctx: &ResolveContext,
    default_api_url: &str,
    requests: &[SecretRequest],
) -> Vec<Check> {
    let parsed = parse_all(ctx, default_api_url, requests);
    let mut checks = Vec::new();
    let mut first = None;
    for (entry, request) in parsed.iter().zip(requests) {
        match entry {
            Ok(entry) => {
                first.get_or_insert(entry);
            }
            Err(failure) => checks.push(
                Check::fail(
                    format!("configuration of {}", request.variable),
                    failure.to_string(),
                )
                .with_hint(config_hint(failure)),
            ),
        }
    }
    let Some(first) = first else {
        return checks;
    };
    let client = match ctx.http().client(first.key.gateway_ca.as_deref()) {
        Ok(client) => client,
        Err(err) => {
            checks.push(
                Check::fail("gateway_ca_certificate", err.message()).with_hint(
                    "Set gateway_ca_certificate to the PEM (or base64 of PEM) of the gateway's CA",
                ),
            );
            return checks;
        }
    };
    let api = AkeylessApi::new(first.key.api_url.clone(), client);
    // A cache of its own: the doctor must really log in, not reuse a token.
    let cache = LoginCache::default();
    let session = Session::new(&cache, &first.key, &first.identity, &api);
    let token = match session.token(ctx).await {
        Ok(token) => {
            checks.push(match &first.identity {
                Identity::Given(_) => Check::pass(
                    "login",
                    "not needed: akeyless_token is given (the describe checks use it)",
                ),
                Identity::Login { access_id, .. } => Check::pass(
                    "login",
                    format!(
                        "POST /auth as {access_id} ({}) returned a token",
                        first.block.access_type.wire_name()
                    ),
                ),
            });
            token
        }
        Err(failure) => {
            let hint = login_hint(&failure, first.block.access_type);
            checks.push(Check::fail("login", failure.to_string()).with_hint(hint));
            return checks;
        }
    };
    let mut names: IndexMap<&str, ()> = IndexMap::new();
    for entry in parsed.iter().flatten() {
        if let Some(name) = entry.block.name.as_deref() {
            names.insert(name, ());
        }
    }
    let describes = names.keys().map(|name| {
        let api = &api;
        let token = &token;
        async move {
            let outcome = api
                .describe_item(ctx, name, token.secret.expose_secret())
                .await;
            (*name, outcome)
        }
    });
    for (name, outcome) in futures::future::join_all(describes).await {
        let check_name = format!("describe {name}");
        checks.push(match outcome {
            Ok(item_type) if item_type.is_empty() => Check::pass(check_name, "readable"),
            Ok(item_type) => Check::pass(check_name, format!("readable ({item_type})")),
            Err(failure) => {
                let hint = describe_hint(&failure, name);
                Check::fail(check_name, failure.to_string()).with_hint(hint)
            }
        });
    }
    checks
}

fn config_hint(failure: &Failure) -> &'static str {
    match failure {
        Failure::MissingAccessId => {
            "Set the CI/CD variable AKEYLESS_ACCESS_ID (or pass --var AKEYLESS_ACCESS_ID=p-...)"
        }
        _ => "Fix the secret's akeyless: block; `ci-secrets providers` lists its keys",
    }
}

fn login_hint(failure: &Failure, access_type: AccessType) -> String {
    match failure.kind() {
        ErrorKind::Auth => match access_type {
            AccessType::AccessKey => {
                "Check akeyless_access_key and that AKEYLESS_ACCESS_ID is its access id".into()
            }
            AccessType::Jwt => "Check the token: (an ID token whose aud and claims the JWT auth method of AKEYLESS_ACCESS_ID accepts)".into(),
            other => format!(
                "Check that AKEYLESS_ACCESS_ID is an auth method of type {} and that its credential is accepted",
                other.wire_name()
            ),
        },
        ErrorKind::Tls => {
            "Set gateway_ca_certificate to the CA that signed the gateway's certificate".into()
        }
        ErrorKind::Transient | ErrorKind::Deadline => {
            "Check that akeyless_api_url is reachable from here (proxy, firewall, gateway up)".into()
        }
        ErrorKind::Config => "Fix the secret's akeyless: block".into(),
        _ => "Check akeyless_api_url: it should be the API of Akeyless or of a gateway (…/api/v2)"
            .into(),
    }
}

fn describe_hint(failure: &Failure, name: &str) -> String {
    match failure.kind() {
        ErrorKind::Denied => format!(
            "Give the access id a role with read permission on {name} (Akeyless answers the same for a missing item it may not see)"
        ),
        ErrorKind::NotFound => format!("Check the item name {name}"),
        _ => "Check that akeyless_api_url is reachable and is the Akeyless API".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ci_secrets_provider_api::JobVariables;
    use serde_json::json;

    fn ctx() -> ResolveContext {
        ResolveContext::builder("deploy")
            .variables(JobVariables::from_iter([("AKEYLESS_ACCESS_ID", "p-1")]))
            .build()
    }

    fn request(variable: &str, name: &str, key: &str) -> SecretRequest {
        SecretRequest::new(
            variable,
            json!({"name": name, "akeyless_access_type": "api_key", "akeyless_access_key": key}),
        )
    }

    fn operations(plan: &SecretPlan) -> Vec<(&str, Option<&str>)> {
        plan.calls
            .iter()
            .map(|call| (call.operation.as_str(), call.shared.as_deref()))
            .collect()
    }

    #[test]
    fn folders_with_several_names_are_listed_and_reads_batched_per_identity() {
        let requests = [
            request("A", "/prod/db-a", "key-1"),
            request("B", "/prod/db-b", "key-1"),
            request("C", "/other/c", "key-1"),
            request("D", "/prod/db-a", "key-2"),
            SecretRequest::new(
                "TOKEN",
                json!({"akeyless_access_type": "api_key", "akeyless_access_key": "key-1"}),
            ),
            SecretRequest::new(
                "BAD",
                json!({"name": "/x", "akeyless_access_type": "password"}),
            ),
        ];
        let plans = plan(&ctx(), crate::DEFAULT_API_URL, &requests);
        let first = "akeyless https://api.akeyless.io access_key p-1";
        let second = "akeyless https://api.akeyless.io access_key p-1 #2";
        let label = |index: usize| plans[index].identity.as_ref().map(|i| i.label.as_str());
        assert_eq!(
            (label(0), label(1), label(2), label(3), label(4), label(5)),
            (
                Some(first),
                Some(first),
                Some(first),
                Some(second),
                Some(first),
                None
            )
        );
        let list = format!("{first} list /prod");
        let batch = format!("{first} read batch 0");
        assert_eq!(
            operations(&plans[0]),
            [
                ("POST /list-items", Some(list.as_str())),
                ("POST /get-secret-value", Some(batch.as_str()))
            ]
        );
        assert_eq!(operations(&plans[1]), operations(&plans[0]));
        let describe = format!("{first} describe /other/c");
        assert_eq!(
            operations(&plans[2])[0],
            ("POST /describe-item", Some(describe.as_str()))
        );
        // Alone in /prod for its identity: described, not listed.
        assert_eq!(operations(&plans[3])[0].0, "POST /describe-item");
        assert!(plans[4].calls.is_empty());
        assert!(plans[4].notes[0].contains("Akeyless token itself"));
        assert_eq!(
            plans[5].notes,
            ["cannot be resolved: unknown Access type: password"]
        );
        assert!(!format!("{plans:?}").contains("key-1"));
    }

    #[test]
    fn a_few_unrelated_names_of_a_folder_are_described_as_fetch_does() {
        let requests = [
            request("API", "/prod/api", "key"),
            request("DB", "/prod/db", "key"),
        ];
        let plans = plan(&ctx(), crate::DEFAULT_API_URL, &requests);
        for (plan, name) in plans.iter().zip(["/prod/api", "/prod/db"]) {
            let describe =
                format!("akeyless https://api.akeyless.io access_key p-1 describe {name}");
            assert_eq!(
                operations(plan)[0],
                ("POST /describe-item", Some(describe.as_str()))
            );
        }
    }

    #[test]
    fn a_hundred_and_one_static_names_take_two_reads() {
        let requests: Vec<SecretRequest> = (0..101)
            .map(|i| request(&format!("S{i}"), &format!("/bulk/s{i}"), "key"))
            .collect();
        let plans = plan(&ctx(), crate::DEFAULT_API_URL, &requests);
        let reads: std::collections::BTreeSet<&str> = plans
            .iter()
            .filter_map(|plan| plan.calls[1].shared.as_deref())
            .collect();
        assert_eq!(reads.len(), 2, "{reads:?}");
    }

    #[test]
    fn a_missing_access_id_fails_every_plan() {
        let ctx = ResolveContext::builder("deploy").build();
        let plans = plan(&ctx, crate::DEFAULT_API_URL, &[request("A", "/a", "k")]);
        assert_eq!(
            plans[0].notes,
            [format!("cannot be resolved: {}", crate::MISSING_ACCESS_ID)]
        );
    }
}
