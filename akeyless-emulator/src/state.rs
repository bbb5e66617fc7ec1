//! The emulator's runtime state, built once from a [`Seed`] and shared by all requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use crate::ca::{CertificateAuthority, IssuedWithKey};
use crate::csr_cache::VerifiedCsrs;
use crate::error::EmulatorError;
use crate::faults::FaultController;
use crate::glob;
use crate::jwt::JwtVerifier;
use crate::seed::{AccessMethod, CertificateSource, ItemSpec, Seed};
use crate::ssh::SshCa;
use crate::stats::Counters;
use crate::tokens::TokenStore;

/// Lifetime of the certificates of `CERTIFICATE` items generated at start.
const CERTIFICATE_ITEM_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Item ids start here so they look like the large ids Akeyless hands out.
const FIRST_ITEM_ID: u64 = 100_001;

#[derive(Debug)]
pub(crate) struct AccessEntry {
    pub(crate) id: Arc<str>,
    pub(crate) method: AccessMethod,
    pub(crate) audience: Option<String>,
    pub(crate) allow: Vec<String>,
    /// Parsed once for the JWT-based methods.
    pub(crate) verifier: Option<JwtVerifier>,
}

impl AccessEntry {
    pub(crate) fn may_read(&self, item_name: &str) -> bool {
        self.allow
            .iter()
            .any(|pattern| glob::matches(pattern, item_name))
    }
}

pub(crate) struct ItemEntry {
    pub(crate) spec: ItemSpec,
    pub(crate) item_id: u64,
    pub(crate) display_id: String,
    /// The certificate and key of a `CERTIFICATE` item.
    pub(crate) certificate: Option<IssuedWithKey>,
}

pub(crate) struct State {
    pub(crate) account_id: String,
    pub(crate) access: HashMap<Arc<str>, AccessEntry>,
    /// `u-...` token → access id, for `/auth` and for data calls that send `uid-token` directly.
    pub(crate) uid_tokens: HashMap<String, Arc<str>>,
    pub(crate) items: BTreeMap<String, ItemEntry>,
    /// The start time in RFC 3339: the creation, modification and access date of every item,
    /// formatted once instead of three times per item described or listed.
    pub(crate) started_at: String,
    pub(crate) tokens: TokenStore,
    pub(crate) counters: Counters,
    pub(crate) faults: FaultController,
    pub(crate) ca: CertificateAuthority,
    pub(crate) ssh_ca: SshCa,
    pub(crate) leases: AtomicU64,
    pub(crate) verified_csrs: VerifiedCsrs,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("account_id", &self.account_id)
            .field("access", &self.access.len())
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl State {
    pub(crate) fn build(
        seed: Seed,
        token_ttl: Option<Duration>,
        faults: FaultController,
    ) -> Result<Self, EmulatorError> {
        seed.validate()?;
        let ca = CertificateAuthority::generate()?;
        let ssh_ca = SshCa::generate()?;
        let mut access = HashMap::new();
        let mut uid_tokens = HashMap::new();
        for entry in seed.access {
            let id: Arc<str> = Arc::from(entry.id.as_str());
            let verifier = match &entry.method {
                AccessMethod::Jwt { public_key_pem }
                | AccessMethod::K8s { public_key_pem, .. }
                | AccessMethod::AzureAd { public_key_pem }
                | AccessMethod::Gcp { public_key_pem } => Some(
                    // Validated by `seed.validate()` above; mapped rather than unwrapped anyway.
                    JwtVerifier::from_public_key_pem(public_key_pem).map_err(|message| {
                        EmulatorError::SeedInvalid {
                            origin: "<builder>".to_owned(),
                            message: format!("access {id}: {message}"),
                        }
                    })?,
                ),
                _ => None,
            };
            if let AccessMethod::UniversalIdentity { uid_tokens: tokens } = &entry.method {
                for token in tokens {
                    uid_tokens.insert(token.clone(), id.clone());
                }
            }
            access.insert(
                id.clone(),
                AccessEntry {
                    id,
                    method: entry.method,
                    audience: entry.audience,
                    allow: entry.allow,
                    verifier,
                },
            );
        }
        let mut items = BTreeMap::new();
        for (index, (name, item)) in seed.items.into_iter().enumerate() {
            let item_id = FIRST_ITEM_ID + index as u64;
            let certificate = match &item.spec {
                ItemSpec::Certificate(CertificateSource::Generate { common_name }) => {
                    Some(ca.issue_with_new_key(common_name, CERTIFICATE_ITEM_TTL)?)
                }
                ItemSpec::Certificate(CertificateSource::Provided {
                    certificate_pem,
                    private_key_pem,
                }) => Some(IssuedWithKey {
                    certificate_pem: certificate_pem.clone(),
                    private_key_pem: private_key_pem.clone(),
                }),
                _ => None,
            };
            items.insert(
                name,
                ItemEntry {
                    spec: item.spec,
                    item_id,
                    display_id: format!("emu{item_id:x}-{index:04}"),
                    certificate,
                },
            );
        }
        Ok(Self {
            account_id: seed.account_id,
            access,
            uid_tokens,
            items,
            started_at: crate::api::rfc3339(SystemTime::now()),
            tokens: TokenStore::new(token_ttl.unwrap_or(seed.token_ttl)),
            counters: Counters::default(),
            faults,
            ca,
            ssh_ca,
            leases: AtomicU64::new(0),
            verified_csrs: VerifiedCsrs::default(),
        })
    }
}
