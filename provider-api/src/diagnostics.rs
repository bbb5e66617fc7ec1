//! What `ci-secrets plan` and `ci-secrets doctor` ask of a provider.
//!
//! - [`SecretPlan`]: for one secret, who it is read as ([`Identity`]), which
//!   item, and the API calls a resolution is expected to make
//!   ([`PlannedCall`]). Planning makes no network call.
//! - [`Check`]: one diagnostic of one identity (a login, the permission to
//!   describe an item), passed or failed with a one-line detail and a hint.
//!
//! None of these types may hold a secret value or a credential: they are
//! printed as they are.
//!
//! ```
//! use ci_secrets_provider_api::diagnostics::{Check, Identity, PlannedCall, SecretPlan};
//!
//! let identity = Identity::new("akeyless https://api.akeyless.io jwt p-123")
//!     .with_field("access type", "jwt")
//!     .with_field("access id", "p-123")
//!     .with_login("POST /auth");
//! let plan = SecretPlan::new()
//!     .with_identity(identity)
//!     .with_item("/prod/db")
//!     .with_call(PlannedCall::own("POST /describe-item"));
//! assert_eq!(plan.calls.len(), 1);
//!
//! let check = Check::fail("login", "HTTP 401: access denied").with_hint("Check akeyless_access_key");
//! assert!(!check.passed);
//! ```

use std::fmt;

use url::Url;

/// Who a secret is read as: the login it shares with the other secrets of
/// the same identity. `doctor` checks each distinct identity once.
///
/// ```
/// use ci_secrets_provider_api::diagnostics::Identity;
///
/// let identity = Identity::new("vault https://vault:8200 auth/jwt")
///     .with_field("server", "https://vault:8200")
///     .with_endpoint("https://vault:8200".parse().unwrap());
/// assert_eq!(identity.fields[0], ("server".to_string(), "https://vault:8200".to_string()));
/// assert!(identity.login.is_none());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// A stable key that tells identities of one provider apart, shown to
    /// users. It names public parts only (URL, access type, access id),
    /// never a credential.
    pub label: String,
    /// What `plan` shows, in order: `("access type", "jwt")`, ...
    pub fields: Vec<(String, String)>,
    /// The server the identity talks to, for the DNS, TCP and TLS checks.
    pub endpoint: Option<Url>,
    /// Extra CA certificates (PEM) trusted for TLS to `endpoint`, besides
    /// the system roots and the run's `[http] ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    /// The setting that adds a CA for `endpoint` (`gateway_ca_certificate`,
    /// `VAULT_CACERT`), named in the hint of a failed TLS check.
    pub ca_setting: Option<String>,
    /// The login call (`POST /auth`), made once per identity; `None` when
    /// the identity needs no login (a given token).
    pub login: Option<String>,
}

impl Identity {
    /// An identity with only its label.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// assert_eq!(Identity::new("x").label, "x");
    /// ```
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            fields: Vec::new(),
            endpoint: None,
            ca_pem: None,
            ca_setting: None,
            login: None,
        }
    }

    /// Adds a field shown by `plan`, such as `("access id", "p-123")`.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// let identity = Identity::new("x").with_field("region", "eu-west-1");
    /// assert_eq!(identity.field("region"), Some("eu-west-1"));
    /// ```
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Sets the server to check.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// let identity = Identity::new("x").with_endpoint("https://gw:8000".parse().unwrap());
    /// assert_eq!(identity.endpoint.unwrap().port(), Some(8000));
    /// ```
    pub fn with_endpoint(mut self, endpoint: Url) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Sets the extra CA certificates (PEM) trusted for `endpoint`.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// let identity = Identity::new("x").with_ca_pem(b"-----BEGIN CERTIFICATE-----".to_vec());
    /// assert!(identity.ca_pem.is_some());
    /// ```
    pub fn with_ca_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }

    /// Names the setting that adds a CA for the endpoint, for TLS hints.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// let identity = Identity::new("x").with_ca_setting("gateway_ca_certificate");
    /// assert_eq!(identity.ca_setting.as_deref(), Some("gateway_ca_certificate"));
    /// ```
    pub fn with_ca_setting(mut self, setting: impl Into<String>) -> Self {
        self.ca_setting = Some(setting.into());
        self
    }

    /// Sets the login call, such as `POST /auth`.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// assert_eq!(Identity::new("x").with_login("POST /auth").login.as_deref(), Some("POST /auth"));
    /// ```
    pub fn with_login(mut self, operation: impl Into<String>) -> Self {
        self.login = Some(operation.into());
        self
    }

    /// The value of the first field called `name`.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Identity;
    /// assert_eq!(Identity::new("x").field("role"), None);
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for Identity {
    /// The CA is summarized: it is long and says nothing at a glance.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("label", &self.label)
            .field("fields", &self.fields)
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .field("ca_pem", &self.ca_pem.is_some())
            .field("ca_setting", &self.ca_setting)
            .field("login", &self.login)
            .finish()
    }
}

/// One API call a resolution is expected to make for a secret.
///
/// A call several secrets share (one folder listing, one batched read) has
/// the same `shared` key in each of their plans and counts once.
///
/// ```
/// use ci_secrets_provider_api::diagnostics::PlannedCall;
///
/// let own = PlannedCall::own("POST /describe-item");
/// let batch = PlannedCall::shared("POST /get-secret-value", "batch 1");
/// assert!(own.shared.is_none());
/// assert_eq!(batch.shared.as_deref(), Some("batch 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PlannedCall {
    /// The method and path, such as `POST /describe-item`.
    pub operation: String,
    /// Secrets of one provider whose calls carry the same key share one call.
    pub shared: Option<String>,
}

impl PlannedCall {
    /// A call made for this secret alone.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::PlannedCall;
    /// assert_eq!(PlannedCall::own("GET /v1/kv/data/db").operation, "GET /v1/kv/data/db");
    /// ```
    pub fn own(operation: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            shared: None,
        }
    }

    /// A call shared with every secret whose plan has a call with the same
    /// `key` (within one provider).
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::PlannedCall;
    /// let a = PlannedCall::shared("POST /list-items", "/prod");
    /// assert_eq!(a, PlannedCall::shared("POST /list-items", "/prod"));
    /// ```
    pub fn shared(operation: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            shared: Some(key.into()),
        }
    }
}

/// What resolving one secret involves, found without any network call.
///
/// ```
/// use ci_secrets_provider_api::diagnostics::SecretPlan;
///
/// let plan = SecretPlan::unknown();
/// assert!(plan.identity.is_none());
/// assert_eq!(plan.notes.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretPlan {
    /// Who the secret is read as; `None` when the provider does not say.
    pub identity: Option<Identity>,
    /// The item, path or secret id read; `None` when there is none (the
    /// Akeyless token itself) or the provider does not say.
    pub item: Option<String>,
    /// The calls made for this secret besides the identity's login.
    pub calls: Vec<PlannedCall>,
    /// Anything worth knowing: an assumption, or why the secret cannot be
    /// planned. Never a value.
    pub notes: Vec<String>,
}

impl SecretPlan {
    /// An empty plan.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::SecretPlan;
    /// assert!(SecretPlan::new().calls.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The plan of a provider that does not describe its plans.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::SecretPlan;
    /// assert!(SecretPlan::unknown().notes[0].contains("does not describe"));
    /// ```
    pub fn unknown() -> Self {
        Self::new().with_note("this provider does not describe its identities and calls")
    }

    /// The plan of a secret whose block or variables cannot work; `problem`
    /// says why (the same message a resolution would fail with).
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::SecretPlan;
    /// let plan = SecretPlan::invalid("name: should be a string");
    /// assert_eq!(plan.notes, ["cannot be resolved: name: should be a string"]);
    /// ```
    pub fn invalid(problem: impl fmt::Display) -> Self {
        Self::new().with_note(format!("cannot be resolved: {problem}"))
    }

    /// Sets the identity.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::{Identity, SecretPlan};
    /// assert!(SecretPlan::new().with_identity(Identity::new("x")).identity.is_some());
    /// ```
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Sets the item.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::SecretPlan;
    /// assert_eq!(SecretPlan::new().with_item("/a").item.as_deref(), Some("/a"));
    /// ```
    pub fn with_item(mut self, item: impl Into<String>) -> Self {
        self.item = Some(item.into());
        self
    }

    /// Adds an expected call.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::{PlannedCall, SecretPlan};
    /// let plan = SecretPlan::new().with_call(PlannedCall::own("GET /x"));
    /// assert_eq!(plan.calls[0].operation, "GET /x");
    /// ```
    pub fn with_call(mut self, call: PlannedCall) -> Self {
        self.calls.push(call);
        self
    }

    /// Adds a note.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::SecretPlan;
    /// assert_eq!(SecretPlan::new().with_note("n").notes, ["n"]);
    /// ```
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// One diagnostic: passed, or failed with a one-line cause and a hint.
///
/// ```
/// use ci_secrets_provider_api::diagnostics::Check;
///
/// let ok = Check::pass("login", "POST /auth answered a token");
/// assert!(ok.passed && ok.hint.is_none());
/// let denied = Check::fail("describe /prod/db", "HTTP 401 UnauthorizedAccess")
///     .with_hint("Allow the access id to read /prod/db");
/// assert_eq!(denied.to_string(), "describe /prod/db: FAILED: HTTP 401 UnauthorizedAccess. Allow the access id to read /prod/db");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// What was checked: `DNS`, `TLS`, `login`, `describe /prod/db`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// One line: what was found, or why it failed. Never a value or a credential.
    pub detail: String,
    /// What to do about a failure.
    pub hint: Option<String>,
}

impl Check {
    /// A passed check.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Check;
    /// assert!(Check::pass("DNS", "resolves to 127.0.0.1").passed);
    /// ```
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            passed: true,
            detail: detail.into(),
            hint: None,
        }
    }

    /// A failed check.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Check;
    /// assert!(!Check::fail("TCP", "connection refused").passed);
    /// ```
    pub fn fail(name: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            passed: false,
            detail: cause.into(),
            hint: None,
        }
    }

    /// Adds what to do about it.
    ///
    /// ```
    /// # use ci_secrets_provider_api::diagnostics::Check;
    /// let check = Check::fail("TLS", "unknown authority").with_hint("Set gateway_ca_certificate");
    /// assert_eq!(check.hint.as_deref(), Some("Set gateway_ca_certificate"));
    /// ```
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Check {
    /// `name: ok: detail`, or `name: FAILED: cause. hint`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.passed { "ok" } else { "FAILED" };
        write!(f, "{}: {status}: {}", self.name, self.detail)?;
        if let Some(hint) = &self.hint {
            write!(f, ". {hint}")?;
        }
        Ok(())
    }
}
