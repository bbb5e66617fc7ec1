//! The `akeyless:` block of one secret, parsed into types, with GitLab's
//! defaults applied.
//!
//! All 15 keys are optional strings. A bare `akeyless:` (null) is an empty
//! block and means token mode (D7). Every string has already been
//! variable-expanded by the core (D5).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_provider_api::{BlockKey, KeyType, SecretRequest};
use secrecy::SecretString;

use crate::error::Failure;

/// The API URL GitLab used when `akeyless_api_url` is absent.
pub const DEFAULT_API_URL: &str = "https://api.akeyless.io";
/// The access type GitLab used when `akeyless_access_type` is absent.
pub const DEFAULT_ACCESS_TYPE: &str = "jwt";
/// The GCP audience used when `gcp_audience` is absent.
pub const DEFAULT_GCP_AUDIENCE: &str = "akeyless.io";

/// The keys of the block, in GitLab's order, for validation and `ci-secrets providers`.
pub const BLOCK_KEYS: [BlockKey; 15] = [
    BlockKey::new(
        "name",
        KeyType::String,
        "item path; empty or absent delivers the Akeyless token",
    ),
    BlockKey::new(
        "data_key",
        KeyType::String,
        "top-level key or /JSON/pointer to extract from a JSON object value",
    ),
    BlockKey::new(
        "cert_user_name",
        KeyType::String,
        "principal for SSH certificate issuers",
    ),
    BlockKey::new(
        "public_key_data",
        KeyType::String,
        "SSH public key, or PKI public key (PEM or base64)",
    ),
    BlockKey::new(
        "csr_data",
        KeyType::String,
        "PKI certificate signing request (PEM or base64)",
    ),
    BlockKey::new(
        "akeyless_api_url",
        KeyType::String,
        "API or gateway URL (default https://api.akeyless.io)",
    ),
    BlockKey::new(
        "akeyless_access_type",
        KeyType::String,
        "jwt (default), api_key/access_key, universal_identity, k8s, aws_iam, azure_ad, gcp",
    ),
    BlockKey::new(
        "akeyless_token",
        KeyType::String,
        "an Akeyless token to use instead of logging in",
    ),
    BlockKey::new(
        "uid_token",
        KeyType::String,
        "universal identity token (universal_identity)",
    ),
    BlockKey::new(
        "gcp_audience",
        KeyType::String,
        "audience of the GCP ID token (gcp; default akeyless.io)",
    ),
    BlockKey::new(
        "azure_object_id",
        KeyType::String,
        "object id of the managed identity (azure_ad)",
    ),
    BlockKey::new(
        "k8s_service_account_token",
        KeyType::String,
        "service-account JWT (k8s; default: the pod's token file)",
    ),
    BlockKey::new(
        "k8s_auth_config_name",
        KeyType::String,
        "gateway K8s auth config name (k8s)",
    ),
    BlockKey::new(
        "akeyless_access_key",
        KeyType::String,
        "access key (api_key / access_key)",
    ),
    BlockKey::new(
        "gateway_ca_certificate",
        KeyType::String,
        "CA certificate of the gateway, PEM or base64 of PEM, trusted for TLS",
    ),
];

/// How the provider logs in to Akeyless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AccessType {
    Jwt,
    /// `api_key` (GitLab's name) and `access_key` (Akeyless's); D2.
    AccessKey,
    UniversalIdentity,
    K8s,
    AwsIam,
    AzureAd,
    Gcp,
}

impl AccessType {
    /// Parses GitLab's exact, case-sensitive names.
    pub(crate) fn parse(text: &str) -> Result<Self, Failure> {
        Ok(match text {
            "jwt" => AccessType::Jwt,
            "api_key" | "access_key" => AccessType::AccessKey,
            "universal_identity" => AccessType::UniversalIdentity,
            "k8s" => AccessType::K8s,
            "aws_iam" => AccessType::AwsIam,
            "azure_ad" => AccessType::AzureAd,
            "gcp" => AccessType::Gcp,
            other => return Err(Failure::UnknownAccessType(other.to_string())),
        })
    }

    /// The `access-type` sent to `/auth`.
    pub(crate) fn wire_name(self) -> &'static str {
        match self {
            AccessType::Jwt => "jwt",
            AccessType::AccessKey => "access_key",
            AccessType::UniversalIdentity => "universal_identity",
            AccessType::K8s => "k8s",
            AccessType::AwsIam => "aws_iam",
            AccessType::AzureAd => "azure_ad",
            AccessType::Gcp => "gcp",
        }
    }
}

/// One secret's block, typed.
#[derive(Debug)]
pub(crate) struct AkeylessBlock {
    /// The item path; `None` means token mode.
    pub name: Option<String>,
    pub data_key: Option<String>,
    pub cert_user_name: Option<String>,
    pub public_key_data: Option<String>,
    pub csr_data: Option<String>,
    /// Without a trailing `/`.
    pub api_url: String,
    pub access_type: AccessType,
    pub akeyless_token: Option<SecretString>,
    pub uid_token: Option<SecretString>,
    pub gcp_audience: String,
    pub azure_object_id: Option<String>,
    pub k8s_service_account_token: Option<SecretString>,
    pub k8s_auth_config_name: Option<String>,
    pub access_key: Option<SecretString>,
    /// PEM bytes of the gateway's CA (D3).
    pub gateway_ca_pem: Option<Vec<u8>>,
}

impl AkeylessBlock {
    /// Parses the block of `request`; `default_api_url` (normalized) applies
    /// when `akeyless_api_url` is absent. The core has validated the key set
    /// and types; this checks the values.
    pub(crate) fn parse(request: &SecretRequest, default_api_url: &str) -> Result<Self, Failure> {
        let fields = Fields::of(&request.block)?;
        let api_url = match fields.raw(Field::ApiUrl)? {
            None => default_api_url.to_string(),
            Some(url) => normalize_api_url(url, Field::ApiUrl.name())?,
        };
        // An empty access type stays an error, as in the runner: it usually
        // means a variable that expanded to nothing.
        let access_type = AccessType::parse(
            fields
                .raw(Field::AccessType)?
                .unwrap_or(DEFAULT_ACCESS_TYPE),
        )?;
        let gateway_ca_pem = fields
            .text(Field::GatewayCa)?
            .map(|ca| decode_gateway_ca(&ca))
            .transpose()?;
        Ok(Self {
            name: fields.text(Field::Name)?,
            data_key: fields.text(Field::DataKey)?,
            cert_user_name: fields.text(Field::CertUserName)?,
            public_key_data: fields.text(Field::PublicKeyData)?,
            csr_data: fields.text(Field::CsrData)?,
            api_url,
            access_type,
            akeyless_token: fields.secret(Field::Token)?,
            uid_token: fields.secret(Field::UidToken)?,
            gcp_audience: fields
                .text(Field::GcpAudience)?
                .unwrap_or_else(|| DEFAULT_GCP_AUDIENCE.to_string()),
            azure_object_id: fields.text(Field::AzureObjectId)?,
            k8s_service_account_token: fields.secret(Field::K8sServiceAccountToken)?,
            k8s_auth_config_name: fields.text(Field::K8sAuthConfigName)?,
            access_key: fields.secret(Field::AccessKey)?,
            gateway_ca_pem,
        })
    }
}

/// A key of the block: its index in [`BLOCK_KEYS`], whose order it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    DataKey,
    CertUserName,
    PublicKeyData,
    CsrData,
    ApiUrl,
    AccessType,
    Token,
    UidToken,
    GcpAudience,
    AzureObjectId,
    K8sServiceAccountToken,
    K8sAuthConfigName,
    AccessKey,
    GatewayCa,
}

impl Field {
    /// The YAML key, as errors name it.
    fn name(self) -> &'static str {
        BLOCK_KEYS[self as usize].name
    }
}

/// Typed access to the block's string fields.
///
/// The block's entries are sorted into slots by key in one walk over the
/// map: probing the (SipHash) map once per known key, 15 keys for a block
/// of three or four, was most of the parse of a static secret.
struct Fields<'a> {
    /// The value of each key of [`BLOCK_KEYS`], at the same index; keys the
    /// block does not have stay `None`, and so do keys the block has that
    /// are not the provider's (the core's validation refused those).
    slots: [Option<&'a serde_json::Value>; BLOCK_KEYS.len()],
}

impl<'a> Fields<'a> {
    fn of(block: &'a serde_json::Value) -> Result<Self, Failure> {
        let mut slots = [None; BLOCK_KEYS.len()];
        match block {
            serde_json::Value::Null => {}
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    if let Some(index) = BLOCK_KEYS.iter().position(|known| known.name == key) {
                        slots[index] = Some(value);
                    }
                }
            }
            _ => {
                return Err(Failure::InvalidField {
                    key: "akeyless",
                    reason: "config should be a hash".to_string(),
                });
            }
        }
        Ok(Self { slots })
    }

    /// The field as given; `None` when absent or null.
    fn raw(&self, field: Field) -> Result<Option<&'a str>, Failure> {
        match self.slots[field as usize] {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(Failure::InvalidField {
                key: field.name(),
                reason: "should be a string".to_string(),
            }),
        }
    }

    /// The field, with an empty string treated as absent (as the runner did).
    fn text(&self, field: Field) -> Result<Option<String>, Failure> {
        Ok(self
            .raw(field)?
            .filter(|text| !text.is_empty())
            .map(str::to_string))
    }

    fn secret(&self, field: Field) -> Result<Option<SecretString>, Failure> {
        Ok(self.text(field)?.map(SecretString::from))
    }
}

/// Checks the URL and strips trailing slashes, so `<base>/<operation>` works.
pub(crate) fn normalize_api_url(url: &str, key: &'static str) -> Result<String, Failure> {
    let trimmed = url.trim().trim_end_matches('/');
    // A job's blocks nearly always name one URL, and parsing it (IDNA and
    // all) was a third of the per-secret CPU of a 1000-secret job. The check
    // is a pure function of the trimmed text, so the last URL that passed is
    // remembered per thread and not parsed again.
    thread_local! {
        static LAST_VALID: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    if LAST_VALID.with(|last| *last.borrow() == trimmed) && !trimmed.is_empty() {
        return Ok(trimmed.to_string());
    }
    let invalid = |reason: String| Failure::InvalidField { key, reason };
    if trimmed.is_empty() {
        return Err(invalid(
            "is empty (after variable expansion); set it or leave the key out for https://api.akeyless.io"
                .to_string(),
        ));
    }
    let parsed = url::Url::parse(trimmed)
        .map_err(|err| invalid(format!("{trimmed:?} is not a URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!("{trimmed:?} must use http or https")));
    }
    LAST_VALID.with(|last| trimmed.clone_into(&mut last.borrow_mut()));
    Ok(trimmed.to_string())
}

/// D3: the gateway CA as PEM, or base64 of PEM.
pub(crate) fn decode_gateway_ca(text: &str) -> Result<Vec<u8>, Failure> {
    let trimmed = text.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(trimmed.as_bytes().to_vec());
    }
    let compact: String = trimmed.split_whitespace().collect();
    match STANDARD.decode(compact) {
        // Trimmed like the PEM form, so both spellings of one CA are one identity.
        Ok(decoded) if decoded.trim_ascii_start().starts_with(b"-----BEGIN") => {
            Ok(decoded.trim_ascii().to_vec())
        }
        _ => Err(Failure::InvalidField {
            key: "gateway_ca_certificate",
            reason: "is neither a PEM certificate nor base64 of one".to_string(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    fn parse(block: serde_json::Value) -> Result<AkeylessBlock, Failure> {
        AkeylessBlock::parse(&SecretRequest::new("V", block), DEFAULT_API_URL)
    }

    #[test]
    fn bare_block_gets_gitlab_defaults_and_token_mode() {
        let block = parse(serde_json::Value::Null).unwrap();
        assert_eq!(block.name, None);
        assert_eq!(block.api_url, DEFAULT_API_URL);
        assert_eq!(block.access_type, AccessType::Jwt);
        assert_eq!(block.gcp_audience, "akeyless.io");
    }

    #[test]
    fn empty_strings_are_absent_and_urls_lose_trailing_slashes() {
        let block = parse(json!({
            "name": "",
            "akeyless_api_url": "http://gw:8080/v2/",
            "akeyless_access_type": "api_key",
            "akeyless_access_key": "k",
        }))
        .unwrap();
        assert_eq!(block.name, None);
        assert_eq!(block.api_url, "http://gw:8080/v2");
        assert_eq!(block.access_type, AccessType::AccessKey);
        assert_eq!(block.access_type.wire_name(), "access_key");
        assert_eq!(block.access_key.unwrap().expose_secret(), "k");
    }

    #[test]
    fn unknown_and_empty_access_types_use_the_runner_message() {
        let err = parse(json!({"akeyless_access_type": "password"})).unwrap_err();
        assert_eq!(err.to_string(), "unknown Access type: password");
        let err = parse(json!({"akeyless_access_type": ""})).unwrap_err();
        assert_eq!(err.to_string(), "unknown Access type: ");
    }

    #[test]
    fn bad_urls_and_types_name_the_key() {
        let err = parse(json!({"akeyless_api_url": ""})).unwrap_err();
        assert!(
            err.to_string().starts_with("akeyless_api_url: is empty"),
            "{err}"
        );
        let err = parse(json!({"akeyless_api_url": "ftp://x"})).unwrap_err();
        assert!(err.to_string().contains("http or https"), "{err}");
        let err = parse(json!({"name": 5})).unwrap_err();
        assert_eq!(err.to_string(), "name: should be a string");
        let err = parse(json!("x")).unwrap_err();
        assert_eq!(err.to_string(), "akeyless: config should be a hash");
    }

    #[test]
    fn keys_follow_the_order_of_block_keys() {
        let keys = [
            (Field::Name, "name"),
            (Field::DataKey, "data_key"),
            (Field::CertUserName, "cert_user_name"),
            (Field::PublicKeyData, "public_key_data"),
            (Field::CsrData, "csr_data"),
            (Field::ApiUrl, "akeyless_api_url"),
            (Field::AccessType, "akeyless_access_type"),
            (Field::Token, "akeyless_token"),
            (Field::UidToken, "uid_token"),
            (Field::GcpAudience, "gcp_audience"),
            (Field::AzureObjectId, "azure_object_id"),
            (Field::K8sServiceAccountToken, "k8s_service_account_token"),
            (Field::K8sAuthConfigName, "k8s_auth_config_name"),
            (Field::AccessKey, "akeyless_access_key"),
            (Field::GatewayCa, "gateway_ca_certificate"),
        ];
        assert_eq!(keys.len(), BLOCK_KEYS.len());
        for (key, name) in keys {
            assert_eq!(key.name(), name);
        }
    }

    #[test]
    fn every_key_is_read_and_unknown_keys_are_ignored() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        let block = parse(json!({
            "name": "/a",
            "data_key": "d",
            "cert_user_name": "u",
            "public_key_data": "p",
            "csr_data": "c",
            "akeyless_api_url": "https://gw/",
            "akeyless_access_type": "k8s",
            "akeyless_token": "t",
            "uid_token": "i",
            "gcp_audience": "g",
            "azure_object_id": "o",
            "k8s_service_account_token": "s",
            "k8s_auth_config_name": "k",
            "akeyless_access_key": "a",
            "gateway_ca_certificate": pem,
            "not_a_key": 5,
        }))
        .unwrap();
        assert_eq!(block.name.as_deref(), Some("/a"));
        assert_eq!(block.data_key.as_deref(), Some("d"));
        assert_eq!(block.cert_user_name.as_deref(), Some("u"));
        assert_eq!(block.public_key_data.as_deref(), Some("p"));
        assert_eq!(block.csr_data.as_deref(), Some("c"));
        assert_eq!(block.api_url, "https://gw");
        assert_eq!(block.access_type, AccessType::K8s);
        assert_eq!(block.akeyless_token.unwrap().expose_secret(), "t");
        assert_eq!(block.uid_token.unwrap().expose_secret(), "i");
        assert_eq!(block.gcp_audience, "g");
        assert_eq!(block.azure_object_id.as_deref(), Some("o"));
        assert_eq!(
            block.k8s_service_account_token.unwrap().expose_secret(),
            "s"
        );
        assert_eq!(block.k8s_auth_config_name.as_deref(), Some("k"));
        assert_eq!(block.access_key.unwrap().expose_secret(), "a");
        assert_eq!(block.gateway_ca_pem.unwrap(), pem.as_bytes());
    }

    #[test]
    fn the_first_bad_field_in_parse_order_is_the_error() {
        // `akeyless_api_url` is checked before `name`, whatever the block's order.
        let err = parse(json!({"name": 1, "akeyless_api_url": 2})).unwrap_err();
        assert_eq!(err.to_string(), "akeyless_api_url: should be a string");
        let err = parse(json!({"uid_token": [], "data_key": {}})).unwrap_err();
        assert_eq!(err.to_string(), "data_key: should be a string");
        let err = parse(json!({"gcp_audience": null, "csr_data": false})).unwrap_err();
        assert_eq!(err.to_string(), "csr_data: should be a string");
    }

    #[test]
    fn a_remembered_url_does_not_let_another_through() {
        let good = "https://gw.example:8000/api/v2/";
        assert_eq!(
            normalize_api_url(good, "api_url").unwrap(),
            "https://gw.example:8000/api/v2"
        );
        // Same text again: answered from memory, same result.
        assert_eq!(
            normalize_api_url(good, "api_url").unwrap(),
            "https://gw.example:8000/api/v2"
        );
        for bad in ["ftp://gw.example", "gw.example", "https://", "  "] {
            assert!(normalize_api_url(bad, "api_url").is_err(), "{bad}");
        }
        assert!(normalize_api_url(good, "api_url").is_ok());
    }

    #[test]
    fn gateway_ca_accepts_pem_and_base64_of_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(decode_gateway_ca(pem).unwrap(), pem.trim().as_bytes());
        let encoded = STANDARD.encode(pem);
        let wrapped = format!("{}\n{}", &encoded[..20], &encoded[20..]);
        assert_eq!(decode_gateway_ca(&wrapped).unwrap(), pem.trim().as_bytes());
        let err = decode_gateway_ca("bm90IGEgY2VydA==").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("gateway_ca_certificate: is neither"),
            "{err}"
        );
    }
}
