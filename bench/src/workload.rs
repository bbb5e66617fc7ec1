//! The jobs that are measured: N static secrets, and a mixed job of static,
//! dynamic, rotated, SSH and PKI secrets. One emulator seed holds the items
//! of every workload, so that every tool of a run talks to the same server.

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use akeyless_emulator::{Access, DynamicShape, Item, Seed};
use ci_secrets_provider_api::SecretRequest;
use serde_json::{Value, json};

use crate::BenchError;

/// The access id every secret of every workload logs in with.
pub const ACCESS_ID: &str = "p-bench00000001";
/// Its access key (a published benchmark value, not a secret).
pub const ACCESS_KEY: &str = "bench-access-key-not-a-secret";
/// The latency the emulator adds to every request: one round trip.
pub const RTT: Duration = Duration::from_millis(20);
/// The largest static workload; the seed holds this many static items.
pub const MAX_STATIC: usize = 1000;
/// Items of each kind in the mixed job.
pub const MIXED_EACH: usize = 20;

const STATIC_FOLDER: &str = "/bench/static";
const MIXED_FOLDER: &str = "/bench/mixed";
const LARGE_FOLDER: &str = "/bench/large";
/// Sizes of the large static items (MiB), for the masker's start-up cost.
pub const LARGE_MIB: [usize; 2] = [1, 4];
const SSH_USER: &str = "deploy";
const PKI_DOMAIN: &str = "bench.local";

/// The kind of an item, as the benchmark scripts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `STATIC_SECRET`
    Static,
    /// `DYNAMIC_SECRET`
    Dynamic,
    /// `ROTATED_SECRET`
    Rotated,
    /// `SSH_CERT_ISSUER`
    Ssh,
    /// `PKI_CERT_ISSUER`
    Pki,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Static,
        Kind::Dynamic,
        Kind::Rotated,
        Kind::Ssh,
        Kind::Pki,
    ];

    /// The lower-case name the Python scripts switch on.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Static => "static",
            Kind::Dynamic => "dynamic",
            Kind::Rotated => "rotated",
            Kind::Ssh => "ssh",
            Kind::Pki => "pki",
        }
    }
}

/// The client-side key material the SSH and PKI issuers sign: an Ed25519
/// public key and a CSR for `app.bench.local`, both made fresh per run.
#[derive(Debug, Clone)]
pub struct KeyMaterial {
    ssh_public_key: String,
    csr_pem: String,
}

impl KeyMaterial {
    /// Generates the SSH key and the CSR.
    pub fn generate() -> Result<Self, BenchError> {
        let ssh_key = ssh_key::PrivateKey::random(
            &mut ssh_key::rand_core::OsRng,
            ssh_key::Algorithm::Ed25519,
        )
        .map_err(|err| BenchError::KeyMaterial(err.to_string()))?;
        let ssh_public_key = ssh_key
            .public_key()
            .to_openssh()
            .map_err(|err| BenchError::KeyMaterial(err.to_string()))?;
        let key_pair =
            rcgen::KeyPair::generate().map_err(|err| BenchError::KeyMaterial(err.to_string()))?;
        let common_name = format!("app.{PKI_DOMAIN}");
        let csr_pem = rcgen::CertificateParams::new(vec![common_name.clone()])
            .and_then(|mut params| {
                // rcgen's default subject is "rcgen self signed cert", which
                // no issuer allows.
                let mut subject = rcgen::DistinguishedName::new();
                subject.push(rcgen::DnType::CommonName, common_name);
                params.distinguished_name = subject;
                params.serialize_request(&key_pair)
            })
            .and_then(|csr| csr.pem())
            .map_err(|err| BenchError::KeyMaterial(err.to_string()))?;
        Ok(Self {
            ssh_public_key,
            csr_pem,
        })
    }
}

/// One secret of a workload.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The CI/CD variable that receives it.
    pub variable: String,
    /// The Akeyless item name.
    pub name: String,
    /// The item's kind.
    pub kind: Kind,
}

/// A measured job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// N static secrets, N ≤ [`MAX_STATIC`].
    Static(usize),
    /// [`MIXED_EACH`] secrets of each kind.
    Mixed,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::Static(n) => write!(f, "{n} static"),
            Workload::Mixed => write!(f, "mixed {}×5", MIXED_EACH),
        }
    }
}

impl Workload {
    /// A short identifier for file names and criterion ids.
    pub fn id(&self) -> String {
        match self {
            Workload::Static(n) => format!("static_{n}"),
            Workload::Mixed => format!("mixed_{MIXED_EACH}x5"),
        }
    }

    /// The number of secrets.
    pub fn len(&self) -> usize {
        match self {
            Workload::Static(n) => *n,
            Workload::Mixed => MIXED_EACH * Kind::ALL.len(),
        }
    }

    /// Whether the job has no secret.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The secrets, in job order.
    pub fn secrets(&self) -> Vec<Secret> {
        match self {
            Workload::Static(n) => (0..(*n).min(MAX_STATIC))
                .map(|i| Secret {
                    variable: format!("STATIC_{i:04}"),
                    name: static_name(i),
                    kind: Kind::Static,
                })
                .collect(),
            Workload::Mixed => Kind::ALL
                .into_iter()
                .flat_map(|kind| {
                    (0..MIXED_EACH).map(move |i| Secret {
                        variable: format!("{}_{i:02}", kind.name().to_uppercase()),
                        name: mixed_name(kind, i),
                        kind,
                    })
                })
                .collect(),
        }
    }

    /// The `akeyless:` block of one secret, against `api_url`.
    fn block(secret: &Secret, api_url: &str, keys: &KeyMaterial) -> Value {
        let mut block = json!({
            "name": secret.name,
            "akeyless_api_url": api_url,
            "akeyless_access_type": "api_key",
            "akeyless_access_key": ACCESS_KEY,
        });
        match secret.kind {
            Kind::Ssh => {
                block["cert_user_name"] = json!(SSH_USER);
                block["public_key_data"] = json!(keys.ssh_public_key);
            }
            Kind::Pki => block["csr_data"] = json!(keys.csr_pem),
            Kind::Static | Kind::Dynamic | Kind::Rotated => {}
        }
        block
    }

    /// The provider requests of the job, for in-process resolution.
    pub fn requests(&self, api_url: &str, keys: &KeyMaterial) -> Vec<SecretRequest> {
        self.secrets()
            .iter()
            .map(|secret| SecretRequest::new(&secret.variable, Self::block(secret, api_url, keys)))
            .collect()
    }

    /// The job as a `ci-secrets --secrets` file. The API URL and the access
    /// id come from the variables `BENCH_AKEYLESS_URL` and
    /// `AKEYLESS_ACCESS_ID`, given on the command line.
    pub fn secrets_file(&self, keys: &KeyMaterial) -> Result<String, BenchError> {
        let mut secrets = serde_json::Map::new();
        for secret in self.secrets() {
            secrets.insert(
                secret.variable.clone(),
                json!({
                    "file": false,
                    "akeyless": Self::block(&secret, "$BENCH_AKEYLESS_URL", keys),
                }),
            );
        }
        // Block YAML, as a person writes it: the loader reads JSON (which is
        // YAML too) by a faster path that a generated file would take but a
        // hand-written one would not.
        serde_norway::to_string(&json!({ "secrets": secrets }))
            .map_err(|err| BenchError::Generate(err.to_string()))
    }

    /// The job for the Python baselines: the URL, the credentials and each
    /// item with its kind and issuance inputs.
    pub fn python_spec(&self, api_url: &str, keys: &KeyMaterial) -> Value {
        let items: Vec<Value> = self
            .secrets()
            .iter()
            .map(|secret| {
                json!({
                    "variable": secret.variable,
                    "name": secret.name,
                    "kind": secret.kind.name(),
                    "cert_user_name": SSH_USER,
                    "public_key_data": keys.ssh_public_key,
                    "csr_pem": keys.csr_pem,
                })
            })
            .collect();
        json!({
            "url": api_url,
            "access_id": ACCESS_ID,
            "access_key": ACCESS_KEY,
            "items": items,
        })
    }
}

fn static_name(i: usize) -> String {
    format!("{STATIC_FOLDER}/secret-{i:04}")
}

fn mixed_name(kind: Kind, i: usize) -> String {
    format!("{MIXED_FOLDER}/{}-{i:02}", kind.name())
}

/// The seed every workload reads from: one access-key identity allowed
/// `/bench/*`, [`MAX_STATIC`] static items and the mixed job's items.
pub fn seed() -> Seed {
    let mut seed = Seed::new()
        .with_account_id("acc-bench0000001")
        .with_access(Access::access_key(ACCESS_ID, ACCESS_KEY).allow("/bench/*"));
    for i in 0..MAX_STATIC {
        seed = seed.with_item(
            static_name(i),
            Item::static_text(format!("static-value-{i:04}")),
        );
    }
    for i in 0..MIXED_EACH {
        seed = seed
            .with_item(
                mixed_name(Kind::Static, i),
                Item::static_json(json!({"user": "app", "password": format!("pw-{i}")})),
            )
            .with_item(
                mixed_name(Kind::Dynamic, i),
                Item::dynamic(
                    json!({"user": "tmp-{{lease_id}}", "password": "{{random}}"}),
                    DynamicShape::Flat,
                ),
            )
            .with_item(
                mixed_name(Kind::Rotated, i),
                Item::rotated(json!({"username": "admin", "password": format!("rot-{i}")})),
            )
            .with_item(
                mixed_name(Kind::Ssh, i),
                Item::ssh_cert_issuer([SSH_USER], Duration::from_secs(3600)),
            )
            .with_item(
                mixed_name(Kind::Pki, i),
                Item::pki_cert_issuer([PKI_DOMAIN], Duration::from_secs(3600)),
            );
    }
    for mib in LARGE_MIB {
        seed = seed.with_item(large_name(mib), Item::static_text(large_value(mib)));
    }
    seed
}

fn large_name(mib: usize) -> String {
    format!("{LARGE_FOLDER}/secret-{mib}mib")
}

/// A value of `mib` MiB: one line of base64-alphabet text, different at
/// every position (a repeated pattern would be an easy case for a matcher).
pub fn large_value(mib: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ mib as u64;
    (0..mib << 20)
        .map(|_| {
            // xorshift64: deterministic, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state >> 58) as usize])
        })
        .collect()
}

/// A job with the large item of `mib` MiB as the file secret `LARGE`.
pub fn large_secrets_file(mib: usize) -> String {
    let block = json!({
        "name": large_name(mib),
        "akeyless_api_url": "$BENCH_AKEYLESS_URL",
        "akeyless_access_type": "api_key",
        "akeyless_access_key": ACCESS_KEY,
    });
    json!({ "secrets": { "LARGE": { "file": true, "akeyless": block } } }).to_string()
}

/// A human summary of the seed, for the report's method section.
pub fn seed_summary() -> String {
    let mut text = String::new();
    let _ = write!(
        text,
        "{MAX_STATIC} static items in `{STATIC_FOLDER}/`, and {MIXED_EACH} each of static (JSON), \
         dynamic, rotated, SSH certificate issuer and PKI certificate issuer items in `{MIXED_FOLDER}/`, \
         static items of {} MiB in `{LARGE_FOLDER}/`; one access-key identity may read `/bench/*`",
        LARGE_MIB.map(|mib| mib.to_string()).join(" and ")
    );
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn workloads_have_the_announced_sizes_and_distinct_variables() {
        for workload in [
            Workload::Static(10),
            Workload::Static(MAX_STATIC),
            Workload::Mixed,
        ] {
            let secrets = workload.secrets();
            assert_eq!(secrets.len(), workload.len(), "{workload}");
            let variables: std::collections::HashSet<_> =
                secrets.iter().map(|s| s.variable.as_str()).collect();
            assert_eq!(variables.len(), secrets.len(), "{workload}");
        }
        let seed = seed();
        for secret in Workload::Mixed.secrets() {
            assert!(seed.item(&secret.name).is_some(), "{}", secret.name);
        }
        assert!(seed.item(&static_name(MAX_STATIC - 1)).is_some());
    }

    #[test]
    fn the_secrets_file_is_yaml_with_variable_references() {
        let keys = KeyMaterial::generate().unwrap();
        let text = Workload::Mixed.secrets_file(&keys).unwrap();
        // Block style, not JSON: the loader has a faster path for JSON.
        assert!(!text.trim_start().starts_with('{'), "{text}");
        let parsed: Value = serde_norway::from_str(&text).unwrap();
        let ssh = &parsed["secrets"]["SSH_00"]["akeyless"];
        assert_eq!(ssh["akeyless_api_url"], "$BENCH_AKEYLESS_URL");
        assert_eq!(ssh["cert_user_name"], SSH_USER);
        assert!(
            parsed["secrets"]["PKI_19"]["akeyless"]["csr_data"]
                .as_str()
                .unwrap()
                .contains("BEGIN CERTIFICATE REQUEST")
        );
    }
}
