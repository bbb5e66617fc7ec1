//! `/describe-item` and the value reads: static, dynamic, rotated and `CERTIFICATE` items.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::response::Response;
use rand::distr::{Alphanumeric, SampleString as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::errors::{
    Context, DESCRIBE_ITEM, GET_CERTIFICATE_VALUE, GET_DYNAMIC_SECRET_VALUE,
    GET_ROTATED_SECRET_VALUE, GET_SECRET_VALUE,
};
use super::{ApiError, Credentials, caller, json_response, parse, required};
use crate::seed::{DynamicShape, ItemSpec, normalize_item_name};
use crate::state::{AccessEntry, ItemEntry, State};

/// The item `name` if `access` may read it: 401 if not (whether or not it exists), else 404 if it
/// does not exist.
pub(super) fn readable<'s>(
    state: &'s State,
    access: &AccessEntry,
    name: &str,
    context: &Context,
) -> Result<(String, &'s ItemEntry), ApiError> {
    let name = normalize_item_name(name);
    if !access.may_read(&name) {
        return Err(context.forbidden(&state.account_id, &access.id));
    }
    match state.items.get(&name) {
        Some(item) => Ok((name, item)),
        None => Err(context.not_found(&state.account_id, &access.id, &name)),
    }
}

fn wrong_type(context: &Context, name: &str, item: &ItemEntry, expected: &str) -> ApiError {
    context.bad_request(&format!(
        "item {name} is of type {}, not {expected}",
        item.spec.item_type()
    ))
}

#[derive(Deserialize)]
struct DescribeItemRequest {
    name: Option<String>,
    #[serde(rename = "show-versions", default)]
    show_versions: bool,
    #[serde(flatten)]
    credentials: Credentials,
}

pub(super) fn describe_item(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: DescribeItemRequest = parse(body)?;
    let access = caller(state, &request.credentials, &DESCRIBE_ITEM)?;
    let name = required(&request.name, "name")?;
    let (name, item) = readable(state, access, name, &DESCRIBE_ITEM)?;
    Ok(json_response(&describe(
        state,
        &name,
        item,
        request.show_versions,
    )))
}

/// The `Item` object of `/describe-item` and `/list-items`, serialized straight from the seed's
/// item (no `serde_json::Value` tree per item: a 100-item listing built and dropped one). The
/// fields are declared in the order the object has always had.
#[derive(Serialize)]
pub(super) struct ItemView<'a> {
    item_name: &'a str,
    item_id: u64,
    display_id: &'a str,
    item_type: &'static str,
    item_sub_type: &'static str,
    item_state: &'static str,
    is_enabled: bool,
    last_version: usize,
    item_metadata: &'static str,
    item_tags: [&'static str; 0],
    item_size: u64,
    with_customer_fragment: bool,
    delete_protection: bool,
    creation_date: &'a str,
    modification_date: &'a str,
    access_date: &'a str,
    client_permissions: [&'static str; 2],
    item_general_info: GeneralInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_issue_details: Option<IssueDetails<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_versions: Option<Vec<ItemVersion<'a>>>,
}

/// `item_general_info`: one key, by item type.
#[derive(Serialize)]
enum GeneralInfo<'a> {
    #[serde(rename = "static_secret_info")]
    Static {
        format: &'static str,
        max_versions: u64,
    },
    #[serde(rename = "dynamic_secret_producer_details")]
    Dynamic {
        producer_status: &'static str,
        producer_type: &'static str,
    },
    #[serde(rename = "rotated_secret_details")]
    Rotated {
        rotator_status: &'static str,
        rotator_type: &'static str,
    },
    #[serde(rename = "cert_issue_details")]
    Issuer(IssueDetails<'a>),
    #[serde(rename = "certificate_format")]
    Certificate(&'static str),
}

/// `cert_issue_details` (in `item_general_info`) and `certificate_issue_details` of an issuer.
#[derive(Clone, Copy, Serialize)]
#[serde(untagged)]
enum IssueDetails<'a> {
    Ssh {
        cert_issuer_type: &'static str,
        max_ttl: u64,
        ssh_cert_issuer_details: SshIssuerDetails<'a>,
    },
    Pki {
        cert_issuer_type: &'static str,
        max_ttl: u64,
        pki_cert_issuer_details: PkiIssuerDetails<'a>,
    },
}

#[derive(Clone, Copy, Serialize)]
struct SshIssuerDetails<'a> {
    allowed_users: &'a [String],
    cert_type: u8,
    extensions: SshExtensions,
}

#[derive(Clone, Copy, Serialize)]
struct SshExtensions {
    #[serde(rename = "permit-pty")]
    permit_pty: &'static str,
}

#[derive(Clone, Copy, Serialize)]
struct PkiIssuerDetails<'a> {
    allowed_domains_list: &'a [String],
    allow_subdomains: bool,
    allow_any_name: bool,
    server_flag: bool,
    client_flag: bool,
    key_type: &'static str,
    key_bits: u16,
    is_ca: bool,
}

#[derive(Serialize)]
struct ItemVersion<'a> {
    version: usize,
    item_version_state: &'static str,
    creation_date: &'a str,
    modification_date: &'a str,
}

/// The `Item` object of `name`; with `show_versions`, a static secret's versions too.
pub(super) fn describe<'a>(
    state: &'a State,
    name: &'a str,
    item: &'a ItemEntry,
    show_versions: bool,
) -> ItemView<'a> {
    let created = state.started_at.as_str();
    let last_version = match &item.spec {
        ItemSpec::Static { versions } => versions.len(),
        _ => 0,
    };
    let item_versions = match &item.spec {
        ItemSpec::Static { versions } if show_versions => Some(
            (1..=versions.len())
                .map(|version| ItemVersion {
                    version,
                    item_version_state: "Enabled",
                    creation_date: created,
                    modification_date: created,
                })
                .collect(),
        ),
        _ => None,
    };
    ItemView {
        item_name: name,
        item_id: item.item_id,
        display_id: &item.display_id,
        item_type: item.spec.item_type(),
        item_sub_type: sub_type(&item.spec),
        item_state: "Enabled",
        is_enabled: true,
        last_version,
        item_metadata: "",
        item_tags: [],
        item_size: 0,
        with_customer_fragment: false,
        delete_protection: false,
        creation_date: created,
        modification_date: created,
        access_date: created,
        client_permissions: ["read", "list"],
        item_general_info: general_info(&item.spec),
        certificate_issue_details: certificate_issue_details(&item.spec),
        item_versions,
    }
}

fn sub_type(spec: &ItemSpec) -> &'static str {
    match spec {
        ItemSpec::Static { .. } => "generic",
        ItemSpec::Dynamic { .. } | ItemSpec::Rotated { .. } => "custom",
        ItemSpec::SshCertIssuer { .. } => "ssh",
        ItemSpec::PkiCertIssuer { .. } => "pki",
        ItemSpec::Certificate(_) => "certificate",
    }
}

fn general_info(spec: &ItemSpec) -> GeneralInfo<'_> {
    match spec {
        ItemSpec::Static { versions } => GeneralInfo::Static {
            format: match versions.last() {
                Some(Value::Object(_)) => "json",
                _ => "text",
            },
            max_versions: 0,
        },
        ItemSpec::Dynamic { .. } => GeneralInfo::Dynamic {
            producer_status: "ProducerConnected",
            producer_type: "custom",
        },
        ItemSpec::Rotated { .. } => GeneralInfo::Rotated {
            rotator_status: "RotationSucceeded",
            rotator_type: "custom",
        },
        ItemSpec::SshCertIssuer { allowed_users, ttl } => {
            GeneralInfo::Issuer(ssh_issue_details(allowed_users, *ttl))
        }
        ItemSpec::PkiCertIssuer {
            allowed_domains,
            ttl,
        } => GeneralInfo::Issuer(pki_issue_details(allowed_domains, *ttl)),
        ItemSpec::Certificate(_) => GeneralInfo::Certificate("pem"),
    }
}

fn certificate_issue_details(spec: &ItemSpec) -> Option<IssueDetails<'_>> {
    match spec {
        ItemSpec::SshCertIssuer { allowed_users, ttl } => {
            Some(ssh_issue_details(allowed_users, *ttl))
        }
        ItemSpec::PkiCertIssuer {
            allowed_domains,
            ttl,
        } => Some(pki_issue_details(allowed_domains, *ttl)),
        _ => None,
    }
}

fn ssh_issue_details(allowed_users: &[String], ttl: Duration) -> IssueDetails<'_> {
    IssueDetails::Ssh {
        cert_issuer_type: "ssh",
        max_ttl: ttl.as_secs(),
        ssh_cert_issuer_details: SshIssuerDetails {
            allowed_users,
            cert_type: 1,
            extensions: SshExtensions { permit_pty: "" },
        },
    }
}

fn pki_issue_details(allowed_domains: &[String], ttl: Duration) -> IssueDetails<'_> {
    IssueDetails::Pki {
        cert_issuer_type: "pki",
        max_ttl: ttl.as_secs(),
        pki_cert_issuer_details: PkiIssuerDetails {
            allowed_domains_list: allowed_domains,
            allow_subdomains: true,
            allow_any_name: false,
            server_flag: true,
            client_flag: true,
            key_type: "ec",
            key_bits: 256,
            is_ca: false,
        },
    }
}

#[derive(Deserialize)]
struct GetSecretValueRequest {
    #[serde(default)]
    names: Vec<String>,
    version: Option<i64>,
    #[serde(flatten)]
    credentials: Credentials,
}

/// `{"<name>": "<value>"}` for each requested name. JSON secrets are returned JSON-encoded.
pub(super) fn get_secret_value(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: GetSecretValueRequest = parse(body)?;
    let context = &GET_SECRET_VALUE;
    let access = caller(state, &request.credentials, context)?;
    if request.names.is_empty() {
        return Err(ApiError::bad_request("missing required parameter: names"));
    }
    let mut out = Map::new();
    for requested in &request.names {
        let (name, item) = readable(state, access, requested, context)?;
        let ItemSpec::Static { versions } = &item.spec else {
            return Err(wrong_type(context, &name, item, "STATIC_SECRET"));
        };
        let value = match request.version {
            None | Some(0) => versions.last(),
            Some(v) if v > 0 => usize::try_from(v - 1).ok().and_then(|i| versions.get(i)),
            Some(_) => {
                return Err(context.bad_request(
                    "negative versions (the last N versions) are not supported by the emulator",
                ));
            }
        };
        let value = value.ok_or_else(|| {
            context.not_found(
                &state.account_id,
                &access.id,
                &format!("{name} (version {})", request.version.unwrap_or(0)),
            )
        })?;
        // The response key is the name exactly as requested; clients look it up that way.
        out.insert(requested.clone(), Value::String(static_text(value)));
    }
    Ok(json_response(&Value::Object(out)))
}

/// Text as is; a JSON object compactly encoded; numbers and booleans as their text.
fn static_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct NameRequest {
    name: Option<String>,
    #[serde(flatten)]
    credentials: Credentials,
}

/// A fresh credential object per call, flat or wrapped as the item's shape says.
pub(super) fn get_dynamic_secret_value(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: NameRequest = parse(body)?;
    let context = &GET_DYNAMIC_SECRET_VALUE;
    let access = caller(state, &request.credentials, context)?;
    let name = required(&request.name, "name")?;
    let (name, item) = readable(state, access, name, context)?;
    let ItemSpec::Dynamic { template, shape } = &item.spec else {
        return Err(wrong_type(context, &name, item, "DYNAMIC_SECRET"));
    };
    let lease = state.leases.fetch_add(1, Ordering::Relaxed) + 1;
    let lease_id = format!(
        "{lease:06}{}",
        Alphanumeric
            .sample_string(&mut rand::rng(), 6)
            .to_lowercase()
    );
    let credentials = instantiate(template, &lease_id);
    Ok(json_response(&match shape {
        DynamicShape::Flat => credentials,
        DynamicShape::Wrapped => json!({"value": credentials.to_string(), "error": ""}),
    }))
}

/// Replaces `{{lease_id}}` and `{{random}}` in every string of the template.
fn instantiate(template: &Value, lease_id: &str) -> Value {
    match template {
        Value::String(s) => {
            let mut s = s.replace("{{lease_id}}", lease_id);
            while s.contains("{{random}}") {
                let random = Alphanumeric.sample_string(&mut rand::rng(), 24);
                s = s.replacen("{{random}}", &random, 1);
            }
            Value::String(s)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), instantiate(v, lease_id)))
                .collect(),
        ),
        Value::Array(values) => {
            Value::Array(values.iter().map(|v| instantiate(v, lease_id)).collect())
        }
        other => other.clone(),
    }
}

#[derive(Deserialize)]
struct RotatedRequest {
    /// A single name despite the plural (reference §7); an array of one is accepted too.
    names: Option<Value>,
    #[serde(flatten)]
    credentials: Credentials,
}

pub(super) fn get_rotated_secret_value(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: RotatedRequest = parse(body)?;
    let context = &GET_ROTATED_SECRET_VALUE;
    let access = caller(state, &request.credentials, context)?;
    let name = match &request.names {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(Value::Array(names)) if names.len() == 1 => match &names[0] {
            Value::String(name) => name.clone(),
            _ => return Err(ApiError::bad_request("names must be a string")),
        },
        _ => return Err(ApiError::bad_request("missing required parameter: names")),
    };
    let (name, item) = readable(state, access, &name, context)?;
    let ItemSpec::Rotated { value } = &item.spec else {
        return Err(wrong_type(context, &name, item, "ROTATED_SECRET"));
    };
    Ok(json_response(&json!({ "value": value })))
}

#[derive(Deserialize)]
struct CertificateValueRequest {
    name: Option<String>,
    #[serde(rename = "display-id")]
    display_id: Option<String>,
    format: Option<String>,
    #[serde(flatten)]
    credentials: Credentials,
}

/// `{"certificate_pem", "private_key_pem"}` of a `CERTIFICATE` item, named by `name` (or found by
/// `display-id`).
pub(super) fn get_certificate_value(state: &State, body: &[u8]) -> Result<Response, ApiError> {
    let request: CertificateValueRequest = parse(body)?;
    let context = &GET_CERTIFICATE_VALUE;
    let access = caller(state, &request.credentials, context)?;
    if request
        .format
        .as_deref()
        .is_some_and(|f| !f.is_empty() && f != "pem")
    {
        return Err(context.bad_request("the emulator serves certificates in pem format only"));
    }
    let name = match (&request.name, &request.display_id) {
        (Some(name), _) if !name.is_empty() => name.clone(),
        (_, Some(display_id)) if !display_id.is_empty() => state
            .items
            .iter()
            .find(|(_, item)| &item.display_id == display_id)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| context.not_found(&state.account_id, &access.id, display_id))?,
        _ => return Err(ApiError::bad_request("missing required parameter: name")),
    };
    let (name, item) = readable(state, access, &name, context)?;
    let Some(certificate) = &item.certificate else {
        return Err(wrong_type(context, &name, item, "CERTIFICATE"));
    };
    Ok(json_response(&json!({
        "certificate_pem": certificate.certificate_pem,
        "private_key_pem": certificate.private_key_pem,
    })))
}
