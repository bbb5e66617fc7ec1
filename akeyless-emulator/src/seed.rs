//! The seed: the access ids the emulator knows, how each one authenticates, which item paths it may
//! read, and the items themselves. Loaded from YAML (see the crate README) or built in code.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::access_type::AccessType;
use crate::error::EmulatorError;
use crate::jwt::JwtVerifier;

/// Token lifetime used when the seed does not set `token_ttl_seconds`.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Account id used in error messages when the seed does not set `account_id`.
pub const DEFAULT_ACCOUNT_ID: &str = "acc-emulator00001";
/// Certificate lifetime used when an issuer in a YAML seed does not set `ttl_seconds`.
pub const DEFAULT_ISSUER_TTL: Duration = Duration::from_secs(3600);

/// Everything the emulator serves: access ids and items.
///
/// ```
/// use akeyless_emulator::{Access, Item, Seed};
/// let seed = Seed::new()
///     .with_access(Access::access_key("p-ci0000000001", "key-1").allow("/prod/*"))
///     .with_item("/prod/db/password", Item::static_text("s3cr3t"));
/// assert!(seed.validate().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct Seed {
    pub(crate) account_id: String,
    pub(crate) token_ttl: Duration,
    pub(crate) access: Vec<Access>,
    pub(crate) items: BTreeMap<String, Item>,
}

impl Default for Seed {
    fn default() -> Self {
        Self::new()
    }
}

impl Seed {
    /// An empty seed: no access ids, no items, the default token TTL.
    pub fn new() -> Self {
        Self {
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            token_ttl: DEFAULT_TOKEN_TTL,
            access: Vec::new(),
            items: BTreeMap::new(),
        }
    }

    /// Parses a YAML seed (format in the crate README) and validates it.
    pub fn from_yaml_str(yaml: &str) -> Result<Self, EmulatorError> {
        Self::parse(yaml, "<string>")
    }

    /// Reads, parses and validates a YAML seed file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, EmulatorError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::SeedRead {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(yaml: &str, origin: &str) -> Result<Self, EmulatorError> {
        let invalid = |message: String| EmulatorError::SeedInvalid {
            origin: origin.to_owned(),
            message,
        };
        let raw: RawSeed = serde_norway::from_str(yaml).map_err(|e| invalid(e.to_string()))?;
        let seed = raw.into_seed().map_err(invalid)?;
        seed.check().map_err(invalid)?;
        Ok(seed)
    }

    /// Sets the account id that error messages name (`acc-...`).
    pub fn with_account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = account_id.into();
        self
    }

    /// Sets how long tokens issued by `/auth` stay valid.
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Adds an access id.
    pub fn with_access(mut self, access: Access) -> Self {
        self.access.push(access);
        self
    }

    /// Adds (or replaces) an item. A name without a leading `/` gets one, as in Akeyless.
    pub fn with_item(mut self, name: impl Into<String>, item: Item) -> Self {
        self.items.insert(normalize_item_name(&name.into()), item);
        self
    }

    /// The token lifetime.
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }

    /// The access ids, in seed order.
    pub fn access(&self) -> &[Access] {
        &self.access
    }

    /// The item names, sorted.
    pub fn item_names(&self) -> impl Iterator<Item = &str> {
        self.items.keys().map(String::as_str)
    }

    /// The item at `name`, if the seed has one.
    pub fn item(&self, name: &str) -> Option<&Item> {
        self.items.get(name)
    }

    /// Checks what parsing cannot: unique access ids, the fields each access type needs, that public
    /// keys parse, that item values have a supported shape.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        self.check().map_err(|message| EmulatorError::SeedInvalid {
            origin: "<builder>".to_owned(),
            message,
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.token_ttl.is_zero() {
            return Err("token_ttl_seconds must be greater than 0".to_owned());
        }
        let mut ids = HashSet::new();
        for access in &self.access {
            if !ids.insert(access.id.as_str()) {
                return Err(format!("access id {} is listed twice", access.id));
            }
            access
                .check()
                .map_err(|e| format!("access {}: {e}", access.id))?;
        }
        for (name, item) in &self.items {
            item.check().map_err(|e| format!("item {name}: {e}"))?;
        }
        Ok(())
    }
}

/// Akeyless item names are absolute; `a/b` and `/a/b` name the same item.
pub(crate) fn normalize_item_name(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

/// One access id: its authentication method and the item paths it may read.
///
/// `allow` patterns are globs in which `*` matches any run of characters, `/` included.
#[derive(Clone)]
pub struct Access {
    pub(crate) id: String,
    pub(crate) method: AccessMethod,
    /// The `aud` claim JWT-based methods require (for gcp: what `gcp-audience` must equal).
    pub(crate) audience: Option<String>,
    pub(crate) allow: Vec<String>,
}

/// How an access id authenticates, with the material the emulator verifies against.
#[derive(Clone)]
pub enum AccessMethod {
    /// `access_key`: the request's `access-key` must equal this key.
    AccessKey {
        /// The access key.
        access_key: String,
    },
    /// `jwt`: an RS256/ES256 JWT signed by the key pair whose public half this is.
    Jwt {
        /// PEM of the RSA or EC (P-256) public key.
        public_key_pem: String,
    },
    /// `universal_identity`: one of these `u-...` tokens.
    UniversalIdentity {
        /// The accepted tokens.
        uid_tokens: Vec<String>,
    },
    /// `k8s`: a base64 service-account JWT plus the auth config name and a gateway URL.
    K8s {
        /// PEM of the RSA or EC public key that signs service-account tokens.
        public_key_pem: String,
        /// Required `k8s-auth-config-name`.
        config_name: String,
    },
    /// `aws_iam`: a cloud-id holding a SigV4-signed `sts:GetCallerIdentity` by this key pair.
    AwsIam {
        /// The AWS access key id (`AKIA...`/`ASIA...`).
        access_key_id: String,
        /// The AWS secret access key used to recompute the signature.
        secret_access_key: String,
    },
    /// `azure_ad`: a cloud-id that is base64 of a JWT signed by this key.
    AzureAd {
        /// PEM of the RSA or EC public key.
        public_key_pem: String,
    },
    /// `gcp`: a cloud-id that is base64 of a JWT whose `aud` equals the request's `gcp-audience`.
    Gcp {
        /// PEM of the RSA or EC public key.
        public_key_pem: String,
    },
}

impl AccessMethod {
    /// The `access-type` this method answers to.
    pub fn access_type(&self) -> AccessType {
        match self {
            Self::AccessKey { .. } => AccessType::AccessKey,
            Self::Jwt { .. } => AccessType::Jwt,
            Self::UniversalIdentity { .. } => AccessType::UniversalIdentity,
            Self::K8s { .. } => AccessType::K8s,
            Self::AwsIam { .. } => AccessType::AwsIam,
            Self::AzureAd { .. } => AccessType::AzureAd,
            Self::Gcp { .. } => AccessType::Gcp,
        }
    }
}

// Debug shows the shape and public material only: keys, tokens and AWS secrets are credentials.
impl fmt::Debug for AccessMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(self.access_type().as_str());
        match self {
            Self::AccessKey { .. } => s.field("access_key", &"<redacted>"),
            Self::UniversalIdentity { uid_tokens } => s.field(
                "uid_tokens",
                &format_args!("<{} redacted>", uid_tokens.len()),
            ),
            Self::AwsIam { access_key_id, .. } => s
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>"),
            Self::Jwt { .. } | Self::AzureAd { .. } | Self::Gcp { .. } => &mut s,
            Self::K8s { config_name, .. } => s.field("config_name", config_name),
        };
        s.finish_non_exhaustive()
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("audience", &self.audience)
            .field("allow", &self.allow)
            .finish()
    }
}

impl Access {
    /// An access id with an explicit method and no allowed paths yet.
    pub fn new(id: impl Into<String>, method: AccessMethod) -> Self {
        Self {
            id: id.into(),
            method,
            audience: None,
            allow: Vec::new(),
        }
    }

    /// `access_key` authentication.
    pub fn access_key(id: impl Into<String>, access_key: impl Into<String>) -> Self {
        Self::new(
            id,
            AccessMethod::AccessKey {
                access_key: access_key.into(),
            },
        )
    }

    /// `jwt` authentication against this public key (see [`crate::testing::TestKeys`]).
    pub fn jwt(id: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        Self::new(
            id,
            AccessMethod::Jwt {
                public_key_pem: public_key_pem.into(),
            },
        )
    }

    /// `universal_identity` authentication with these `u-...` tokens.
    pub fn universal_identity(
        id: impl Into<String>,
        uid_tokens: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self::new(
            id,
            AccessMethod::UniversalIdentity {
                uid_tokens: uid_tokens.into_iter().map(Into::into).collect(),
            },
        )
    }

    /// `k8s` authentication: service-account JWTs signed by this key, for this auth config name.
    pub fn k8s(
        id: impl Into<String>,
        public_key_pem: impl Into<String>,
        config_name: impl Into<String>,
    ) -> Self {
        Self::new(
            id,
            AccessMethod::K8s {
                public_key_pem: public_key_pem.into(),
                config_name: config_name.into(),
            },
        )
    }

    /// `aws_iam` authentication with this AWS key pair (see [`crate::testing::AwsTestCredentials`]).
    pub fn aws_iam(
        id: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self::new(
            id,
            AccessMethod::AwsIam {
                access_key_id: access_key_id.into(),
                secret_access_key: secret_access_key.into(),
            },
        )
    }

    /// `azure_ad` authentication: cloud-ids carrying JWTs signed by this key.
    pub fn azure_ad(id: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        Self::new(
            id,
            AccessMethod::AzureAd {
                public_key_pem: public_key_pem.into(),
            },
        )
    }

    /// `gcp` authentication: cloud-ids carrying JWTs signed by this key.
    pub fn gcp(id: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        Self::new(
            id,
            AccessMethod::Gcp {
                public_key_pem: public_key_pem.into(),
            },
        )
    }

    /// Requires this `aud` claim (jwt, k8s, azure_ad; for gcp, the `gcp-audience` the request names
    /// must equal it too). Other access types have no audience: [`Seed::validate`] rejects it there.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The required audience, if any.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Lets this access id read the items matching `pattern` (`*` matches any run, `/` included).
    pub fn allow(mut self, pattern: impl Into<String>) -> Self {
        self.allow.push(pattern.into());
        self
    }

    /// The access id (`p-...`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The authentication method.
    pub fn method(&self) -> &AccessMethod {
        &self.method
    }

    /// The allowed item-path globs.
    pub fn allowed(&self) -> &[String] {
        &self.allow
    }

    fn check(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("the id is empty".to_owned());
        }
        if self.audience.is_some() && !self.method.access_type().has_audience() {
            return Err(format!(
                "type {} has no audience",
                self.method.access_type().as_str()
            ));
        }
        if self.allow.iter().any(String::is_empty) {
            return Err("an allow pattern is empty".to_owned());
        }
        let non_empty = |field: &str, value: &str| {
            if value.is_empty() {
                Err(format!("{field} is empty"))
            } else {
                Ok(())
            }
        };
        match &self.method {
            AccessMethod::AccessKey { access_key } => non_empty("access_key", access_key),
            AccessMethod::UniversalIdentity { uid_tokens } => {
                if uid_tokens.is_empty() {
                    return Err("uid_tokens is empty".to_owned());
                }
                match uid_tokens.iter().position(|t| !t.starts_with("u-")) {
                    Some(i) => Err(format!("uid_tokens[{i}] does not start with \"u-\"")),
                    None => Ok(()),
                }
            }
            AccessMethod::AwsIam {
                access_key_id,
                secret_access_key,
            } => {
                non_empty("aws_access_key_id", access_key_id)?;
                non_empty("aws_secret_access_key", secret_access_key)
            }
            AccessMethod::K8s {
                public_key_pem,
                config_name,
                ..
            } => {
                non_empty("k8s_config_name", config_name)?;
                JwtVerifier::from_public_key_pem(public_key_pem).map(drop)
            }
            AccessMethod::Jwt { public_key_pem, .. }
            | AccessMethod::AzureAd { public_key_pem, .. }
            | AccessMethod::Gcp { public_key_pem, .. } => {
                JwtVerifier::from_public_key_pem(public_key_pem).map(drop)
            }
        }
    }
}

/// The response shape of a dynamic secret (see the reference, §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DynamicShape {
    /// The credential object itself.
    #[default]
    Flat,
    /// `{"value": "<JSON-encoded credential object>", "error": ""}`.
    Wrapped,
}

/// An item the emulator serves.
#[derive(Clone)]
pub struct Item {
    pub(crate) spec: ItemSpec,
}

#[derive(Clone)]
pub(crate) enum ItemSpec {
    /// Versions oldest first; each a string or a JSON object.
    Static {
        versions: Vec<Value>,
    },
    /// A credential template; `{{lease_id}}` and `{{random}}` are replaced per issuance.
    Dynamic {
        template: Value,
        shape: DynamicShape,
    },
    Rotated {
        value: Value,
    },
    SshCertIssuer {
        allowed_users: Vec<String>,
        ttl: Duration,
    },
    PkiCertIssuer {
        allowed_domains: Vec<String>,
        ttl: Duration,
    },
    Certificate(CertificateSource),
}

#[derive(Clone)]
pub(crate) enum CertificateSource {
    /// Issued by the emulator CA at start-up.
    Generate { common_name: String },
    /// Given in the seed.
    Provided {
        certificate_pem: String,
        private_key_pem: String,
    },
}

// Item values are secrets: Debug shows the item type only.
impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("type", &self.spec.item_type())
            .finish_non_exhaustive()
    }
}

impl ItemSpec {
    /// The `item_type` `/describe-item` reports.
    pub(crate) fn item_type(&self) -> &'static str {
        match self {
            Self::Static { .. } => "STATIC_SECRET",
            Self::Dynamic { .. } => "DYNAMIC_SECRET",
            Self::Rotated { .. } => "ROTATED_SECRET",
            Self::SshCertIssuer { .. } => "SSH_CERT_ISSUER",
            Self::PkiCertIssuer { .. } => "PKI_CERT_ISSUER",
            Self::Certificate(_) => "CERTIFICATE",
        }
    }
}

impl Item {
    /// A static text secret.
    pub fn static_text(value: impl Into<String>) -> Self {
        Self::static_versions([Value::String(value.into())])
    }

    /// A static JSON secret. `/get-secret-value` returns it JSON-encoded, as Akeyless does.
    pub fn static_json(value: Value) -> Self {
        Self::static_versions([value])
    }

    /// A static secret with several versions, oldest first (version 1 is the first).
    /// Each version is a string (text) or a JSON object.
    pub fn static_versions(versions: impl IntoIterator<Item = Value>) -> Self {
        Self {
            spec: ItemSpec::Static {
                versions: versions.into_iter().collect(),
            },
        }
    }

    /// A dynamic secret. `template` is a JSON object; in its string values `{{lease_id}}` becomes a
    /// fresh lease id and `{{random}}` 24 fresh random characters on every call.
    pub fn dynamic(template: Value, shape: DynamicShape) -> Self {
        Self {
            spec: ItemSpec::Dynamic { template, shape },
        }
    }

    /// A rotated secret; `value` is a JSON object returned as `{"value": value}`.
    pub fn rotated(value: Value) -> Self {
        Self {
            spec: ItemSpec::Rotated { value },
        }
    }

    /// An SSH certificate issuer that signs for these principals with at most this TTL.
    pub fn ssh_cert_issuer(
        allowed_users: impl IntoIterator<Item = impl Into<String>>,
        ttl: Duration,
    ) -> Self {
        Self {
            spec: ItemSpec::SshCertIssuer {
                allowed_users: allowed_users.into_iter().map(Into::into).collect(),
                ttl,
            },
        }
    }

    /// A PKI certificate issuer for these domains (and their subdomains) with at most this TTL.
    pub fn pki_cert_issuer(
        allowed_domains: impl IntoIterator<Item = impl Into<String>>,
        ttl: Duration,
    ) -> Self {
        Self {
            spec: ItemSpec::PkiCertIssuer {
                allowed_domains: allowed_domains.into_iter().map(Into::into).collect(),
                ttl,
            },
        }
    }

    /// A `CERTIFICATE` item whose certificate the emulator CA issues at start-up for this name.
    pub fn certificate(common_name: impl Into<String>) -> Self {
        Self {
            spec: ItemSpec::Certificate(CertificateSource::Generate {
                common_name: common_name.into(),
            }),
        }
    }

    /// A `CERTIFICATE` item with the given PEMs.
    pub fn certificate_from_pem(
        certificate_pem: impl Into<String>,
        private_key_pem: impl Into<String>,
    ) -> Self {
        Self {
            spec: ItemSpec::Certificate(CertificateSource::Provided {
                certificate_pem: certificate_pem.into(),
                private_key_pem: private_key_pem.into(),
            }),
        }
    }

    /// The `item_type` `/describe-item` reports, e.g. `STATIC_SECRET`.
    pub fn item_type(&self) -> &'static str {
        self.spec.item_type()
    }

    fn check(&self) -> Result<(), String> {
        match &self.spec {
            ItemSpec::Static { versions } => {
                if versions.is_empty() {
                    return Err("a static secret needs a value or at least one version".to_owned());
                }
                for (i, v) in versions.iter().enumerate() {
                    if !matches!(
                        v,
                        Value::String(_) | Value::Object(_) | Value::Number(_) | Value::Bool(_)
                    ) {
                        return Err(format!(
                            "version {} is neither text nor a JSON object",
                            i + 1
                        ));
                    }
                }
                Ok(())
            }
            ItemSpec::Dynamic { template, .. } if !template.is_object() => {
                Err("a dynamic secret value must be a mapping".to_owned())
            }
            ItemSpec::Rotated { value } if !value.is_object() => {
                Err("a rotated secret value must be a mapping".to_owned())
            }
            ItemSpec::SshCertIssuer { allowed_users, ttl } => {
                if allowed_users.is_empty() {
                    return Err("allowed_users is empty".to_owned());
                }
                positive(*ttl)
            }
            ItemSpec::PkiCertIssuer {
                allowed_domains,
                ttl,
            } => {
                if allowed_domains.is_empty() {
                    return Err("allowed_domains is empty".to_owned());
                }
                positive(*ttl)
            }
            ItemSpec::Certificate(CertificateSource::Generate { common_name })
                if common_name.is_empty() =>
            {
                Err("common_name is empty".to_owned())
            }
            ItemSpec::Certificate(CertificateSource::Provided {
                certificate_pem,
                private_key_pem,
            }) => {
                if !certificate_pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err("certificate_pem is not a PEM certificate".to_owned());
                }
                if !private_key_pem.contains("PRIVATE KEY-----") {
                    return Err("private_key_pem is not a PEM private key".to_owned());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn positive(ttl: Duration) -> Result<(), String> {
    if ttl.is_zero() {
        Err("ttl_seconds must be greater than 0".to_owned())
    } else {
        Ok(())
    }
}

// ---- YAML form -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    account_id: Option<String>,
    token_ttl_seconds: Option<u64>,
    #[serde(default)]
    access: Vec<RawAccess>,
    #[serde(default)]
    items: BTreeMap<String, RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    id: String,
    #[serde(rename = "type")]
    access_type: String,
    access_key: Option<String>,
    public_key_pem: Option<String>,
    audience: Option<String>,
    uid_tokens: Option<Vec<String>>,
    k8s_config_name: Option<String>,
    aws_access_key_id: Option<String>,
    aws_secret_access_key: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawItem {
    Static {
        value: Option<Value>,
        versions: Option<Vec<Value>>,
    },
    Dynamic {
        value: Value,
        #[serde(default)]
        shape: DynamicShape,
    },
    Rotated {
        value: Value,
    },
    SshCertIssuer {
        allowed_users: Vec<String>,
        ttl_seconds: Option<u64>,
    },
    PkiCertIssuer {
        allowed_domains: Vec<String>,
        ttl_seconds: Option<u64>,
    },
    Certificate {
        common_name: Option<String>,
        certificate_pem: Option<String>,
        private_key_pem: Option<String>,
    },
}

impl RawSeed {
    fn into_seed(self) -> Result<Seed, String> {
        let mut seed = Seed::new();
        if let Some(account_id) = self.account_id {
            seed.account_id = account_id;
        }
        if let Some(ttl) = self.token_ttl_seconds {
            seed.token_ttl = Duration::from_secs(ttl);
        }
        for (index, raw) in self.access.into_iter().enumerate() {
            let id = raw.id.clone();
            let access = raw
                .into_access()
                .map_err(|e| format!("access[{index}] ({id}): {e}"))?;
            seed.access.push(access);
        }
        for (name, raw) in self.items {
            let item = raw.into_item().map_err(|e| format!("item {name}: {e}"))?;
            seed.items.insert(normalize_item_name(&name), item);
        }
        Ok(seed)
    }
}

impl RawAccess {
    fn into_access(self) -> Result<Access, String> {
        let access_type = AccessType::parse(&self.access_type).ok_or_else(|| {
            format!(
                "unknown type {:?} (expected one of {})",
                self.access_type,
                AccessType::ALL_NAMES.join(", ")
            )
        })?;
        // Fields that the type does not use are a mistake worth reporting (a typo in `type`).
        let mut unused: Vec<&str> = Vec::new();
        let mut take = |name: &'static str, value: Option<String>, used: bool| {
            if value.is_some() && !used {
                unused.push(name);
            }
            value
        };
        use AccessType as T;
        let t = access_type;
        let access_key = take("access_key", self.access_key, t == T::AccessKey);
        let public_key_pem = take(
            "public_key_pem",
            self.public_key_pem,
            matches!(t, T::Jwt | T::K8s | T::AzureAd | T::Gcp),
        );
        let audience = take("audience", self.audience, t.has_audience());
        let k8s_config_name = take("k8s_config_name", self.k8s_config_name, t == T::K8s);
        let aws_access_key_id = take("aws_access_key_id", self.aws_access_key_id, t == T::AwsIam);
        let aws_secret = take(
            "aws_secret_access_key",
            self.aws_secret_access_key,
            t == T::AwsIam,
        );
        if self.uid_tokens.is_some() && t != T::UniversalIdentity {
            unused.push("uid_tokens");
        }
        if !unused.is_empty() {
            return Err(format!(
                "type {} does not use {}",
                t.as_str(),
                unused.join(", ")
            ));
        }
        let need = |name: &str, value: Option<String>| {
            value.ok_or_else(|| format!("type {} needs {name}", t.as_str()))
        };
        let method = match t {
            T::AccessKey => AccessMethod::AccessKey {
                access_key: need("access_key", access_key)?,
            },
            T::Jwt => AccessMethod::Jwt {
                public_key_pem: need("public_key_pem", public_key_pem)?,
            },
            T::UniversalIdentity => AccessMethod::UniversalIdentity {
                uid_tokens: self
                    .uid_tokens
                    .ok_or_else(|| "type universal_identity needs uid_tokens".to_owned())?,
            },
            T::K8s => AccessMethod::K8s {
                public_key_pem: need("public_key_pem", public_key_pem)?,
                config_name: need("k8s_config_name", k8s_config_name)?,
            },
            T::AwsIam => AccessMethod::AwsIam {
                access_key_id: need("aws_access_key_id", aws_access_key_id)?,
                secret_access_key: need("aws_secret_access_key", aws_secret)?,
            },
            T::AzureAd => AccessMethod::AzureAd {
                public_key_pem: need("public_key_pem", public_key_pem)?,
            },
            T::Gcp => AccessMethod::Gcp {
                public_key_pem: need("public_key_pem", public_key_pem)?,
            },
        };
        Ok(Access {
            id: self.id,
            method,
            audience,
            allow: self.allow,
        })
    }
}

impl RawItem {
    fn into_item(self) -> Result<Item, String> {
        let ttl = |secs: Option<u64>| secs.map_or(DEFAULT_ISSUER_TTL, Duration::from_secs);
        Ok(match self {
            Self::Static {
                value: Some(value),
                versions: None,
            } => Item::static_versions([value]),
            Self::Static {
                value: None,
                versions: Some(versions),
            } => Item::static_versions(versions),
            Self::Static { .. } => {
                return Err("a static secret needs exactly one of value and versions".to_owned());
            }
            Self::Dynamic { value, shape } => Item::dynamic(value, shape),
            Self::Rotated { value } => Item::rotated(value),
            Self::SshCertIssuer {
                allowed_users,
                ttl_seconds,
            } => Item::ssh_cert_issuer(allowed_users, ttl(ttl_seconds)),
            Self::PkiCertIssuer {
                allowed_domains,
                ttl_seconds,
            } => Item::pki_cert_issuer(allowed_domains, ttl(ttl_seconds)),
            Self::Certificate {
                common_name: Some(cn),
                certificate_pem: None,
                private_key_pem: None,
            } => Item::certificate(cn),
            Self::Certificate {
                common_name: None,
                certificate_pem: Some(cert),
                private_key_pem: Some(key),
            } => Item::certificate_from_pem(cert, key),
            Self::Certificate { .. } => {
                return Err(
                    "a certificate needs either common_name, or certificate_pem and private_key_pem"
                        .to_owned(),
                );
            }
        })
    }
}
