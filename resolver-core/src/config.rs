//! Layered configuration (figment). Later layers win:
//! built-in defaults, `/etc/ci-secrets/config.toml`,
//! `$XDG_CONFIG_HOME/ci-secrets/config.toml`, `./ci-secrets.toml` (or
//! `--config PATH`), `CI_SECRETS_*` environment variables (nested with `__`),
//! and command-line flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ci_secrets_provider_api::HttpSettings;
use figment::providers::{Format, Serialized, Toml};
use figment::{Figment, Provider};
use serde::{Deserialize, Serialize};

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time allowed for the whole resolution, in seconds.
    pub deadline_seconds: f64,
    /// A provider block that refers to a variable that is not set is an
    /// error, not a warning (`--strict`).
    pub strict: bool,
    /// The shared HTTP layer.
    pub http: HttpConfig,
    /// `[providers.<key>]` sections, checked by each provider.
    pub providers: BTreeMap<String, serde_json::Value>,
}

/// `[http]`: settings shared by every provider's HTTP client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Seconds allowed to open a connection.
    pub connect_timeout_seconds: f64,
    /// Seconds allowed for one request.
    pub request_timeout_seconds: f64,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First retry delay in milliseconds.
    pub initial_backoff_ms: u64,
    /// Largest retry delay in milliseconds.
    pub max_backoff_ms: u64,
    /// Requests in flight at once per server.
    pub max_concurrency: usize,
    /// Extra CA certificates (PEM file) trusted for every provider.
    pub ca_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            deadline_seconds: 60.0,
            strict: false,
            http: HttpConfig::default(),
            providers: BTreeMap::new(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        let http = HttpSettings::default();
        Self {
            connect_timeout_seconds: http.connect_timeout.as_secs_f64(),
            request_timeout_seconds: http.request_timeout.as_secs_f64(),
            max_body_bytes: http.max_body_bytes,
            max_attempts: http.max_attempts,
            initial_backoff_ms: http.initial_backoff.as_millis() as u64,
            max_backoff_ms: http.max_backoff.as_millis() as u64,
            max_concurrency: http.max_concurrency,
            ca_file: None,
        }
    }
}

/// A configuration problem, naming the file (or variable) and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// figment's error already names the key and the source.
    #[error("configuration: {0}")]
    Invalid(Box<figment::Error>),
    /// A value outside its range.
    #[error("configuration: {key} {problem} (from {origin})")]
    OutOfRange {
        /// The key.
        key: String,
        /// What is wrong.
        problem: &'static str,
        /// Where it was set.
        origin: String,
    },
    /// `[http] ca_file` cannot be read.
    #[error("configuration: http.ca_file {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `--config` names a file that does not exist.
    #[error("configuration: --config {0}: no such file")]
    MissingFile(PathBuf),
}

/// Where to look for configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// `--config PATH`, which replaces `./ci-secrets.toml`.
    pub explicit: Option<PathBuf>,
    /// Skip `/etc` and `$XDG_CONFIG_HOME` (for tests).
    pub skip_system: bool,
    /// The directory holding `ci-secrets.toml` (default: current directory).
    pub working_dir: Option<PathBuf>,
    /// Overrides from command-line flags, as dotted keys (`deadline_seconds`).
    pub flags: Vec<(String, serde_json::Value)>,
    /// Environment variables to read instead of the process environment (for tests).
    pub env: Option<Vec<(String, String)>>,
}

/// Top-level keys that `CI_SECRETS_*` may set. Other `CI_SECRETS_*`
/// variables belong to other tools and are ignored, not errors.
const ENV_KEYS: &[&str] = &["deadline_seconds", "http", "providers"];

/// Values from command-line flags; the type name marks their origin.
#[derive(Serialize)]
#[serde(transparent)]
struct FlagOverrides(serde_json::Value);

/// One `CI_SECRETS_*` variable as a configuration layer of its own, so that
/// `ci-secrets config` and every error name the variable that set a value.
struct EnvOverride {
    variable: String,
    value: Serialized<serde_json::Value>,
}

impl Provider for EnvOverride {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::from(ENV_ORIGIN, figment::Source::Custom(self.variable.clone()))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        self.value.data()
    }
}

const ENV_ORIGIN: &str = "environment variable";

/// The `CI_SECRETS_*` overrides, from `injected` or else the process
/// environment, through one path. The prefix matches in any case (as
/// figment's `Env` did), the rest is lower-cased and `__` nests
/// (`CI_SECRETS_HTTP__MAX_ATTEMPTS` sets `http.max_attempts`).
fn env_overrides(injected: Option<&[(String, String)]>) -> Vec<EnvOverride> {
    const PREFIX: &str = "CI_SECRETS_";
    let process: Vec<(String, String)>;
    let vars = match injected {
        Some(vars) => vars,
        None => {
            // A variable that is not UTF-8 cannot be one of ours.
            process = std::env::vars_os()
                .filter_map(|(name, value)| {
                    Some((name.into_string().ok()?, value.into_string().ok()?))
                })
                .collect();
            &process
        }
    };
    let mut overrides: Vec<EnvOverride> = vars
        .iter()
        .filter_map(|(name, value)| {
            let head = name.get(..PREFIX.len())?;
            if !head.eq_ignore_ascii_case(PREFIX) {
                return None;
            }
            let key = name[PREFIX.len()..].to_lowercase().replace("__", ".");
            let top = key.split('.').next().unwrap_or_default();
            ENV_KEYS.contains(&top).then(|| EnvOverride {
                variable: name.clone(),
                value: Serialized::default(&key, parse_env_value(value)),
            })
        })
        .collect();
    // The environment has no order; sorting makes the winner of two
    // spellings of one key (`CI_SECRETS_X` and `ci_secrets_x`) stable.
    overrides.sort_by(|a, b| a.variable.cmp(&b.variable));
    overrides
}

/// The loaded configuration and its figment, for origins.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The values.
    pub config: Config,
    figment: Figment,
}

impl LoadedConfig {
    /// Loads every layer.
    pub fn load(sources: &ConfigSources) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if !sources.skip_system {
            figment = figment.merge(Toml::file("/etc/ci-secrets/config.toml"));
            if let Some(xdg) = xdg_config_home() {
                figment = figment.merge(Toml::file(xdg.join("ci-secrets/config.toml")));
            }
        }
        match &sources.explicit {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::MissingFile(path.clone()));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => {
                let dir = sources
                    .working_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("."));
                let local = dir.join("ci-secrets.toml");
                if local.is_file() {
                    figment = figment.merge(Toml::file_exact(local));
                }
            }
        }
        for variable in env_overrides(sources.env.as_deref()) {
            figment = figment.merge(variable);
        }
        let mut flags = serde_json::Map::new();
        for (key, value) in &sources.flags {
            insert_dotted(&mut flags, key, value.clone());
        }
        figment = figment.merge(Serialized::defaults(FlagOverrides(
            serde_json::Value::Object(flags),
        )));
        let config: Config = figment
            .extract()
            .map_err(|err| ConfigError::Invalid(Box::new(err)))?;
        let loaded = Self { config, figment };
        loaded.check_ranges()?;
        Ok(loaded)
    }

    fn check_ranges(&self) -> Result<(), ConfigError> {
        let positive = [
            ("deadline_seconds", self.config.deadline_seconds),
            (
                "http.connect_timeout_seconds",
                self.config.http.connect_timeout_seconds,
            ),
            (
                "http.request_timeout_seconds",
                self.config.http.request_timeout_seconds,
            ),
        ];
        for (key, value) in positive {
            if !(value.is_finite() && value > 0.0 && value < 86_400.0) {
                return Err(ConfigError::OutOfRange {
                    key: key.to_string(),
                    problem: "must be a number of seconds above 0 and below 86400",
                    origin: self.origin(key),
                });
            }
        }
        if self.config.http.max_attempts == 0 {
            return Err(ConfigError::OutOfRange {
                key: "http.max_attempts".into(),
                problem: "must be at least 1",
                origin: self.origin("http.max_attempts"),
            });
        }
        if self.config.http.max_concurrency == 0 {
            return Err(ConfigError::OutOfRange {
                key: "http.max_concurrency".into(),
                problem: "must be at least 1",
                origin: self.origin("http.max_concurrency"),
            });
        }
        Ok(())
    }

    /// Where the value at `key` (dotted) came from: a file path, an
    /// environment variable, `defaults` or `command line`.
    pub fn origin(&self, key: &str) -> String {
        match self.figment.find_metadata(key) {
            Some(meta) => match &meta.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                Some(figment::Source::Custom(text)) => format!("{} {text}", meta.name),
                _ if meta.name.contains("FlagOverrides") => "command line".to_string(),
                Some(figment::Source::Code(_)) | None => "defaults".to_string(),
                Some(_) => meta.name.to_string(),
            },
            None => "defaults".to_string(),
        }
    }

    /// The HTTP settings for the provider API.
    pub fn http_settings(&self) -> Result<HttpSettings, ConfigError> {
        let http = &self.config.http;
        let mut settings = HttpSettings::default();
        settings.connect_timeout = Duration::from_secs_f64(http.connect_timeout_seconds);
        settings.request_timeout = Duration::from_secs_f64(http.request_timeout_seconds);
        settings.max_body_bytes = http.max_body_bytes;
        settings.max_attempts = http.max_attempts;
        settings.initial_backoff = Duration::from_millis(http.initial_backoff_ms);
        settings.max_backoff = Duration::from_millis(http.max_backoff_ms);
        settings.max_concurrency = http.max_concurrency;
        if let Some(path) = &http.ca_file {
            let pem = std::fs::read(path).map_err(|source| ConfigError::CaFile {
                path: path.clone(),
                source,
            })?;
            settings.extra_ca_pem.push(pem);
        }
        Ok(settings)
    }

    /// The deadline of a resolution.
    pub fn deadline(&self) -> Duration {
        Duration::from_secs_f64(self.config.deadline_seconds)
    }

    /// Every leaf value as `(dotted key, value, origin)`, for `ci-secrets
    /// config`. Provider values whose key suggests a credential are redacted;
    /// a boolean such as `revoke_token` carries no credential and is shown.
    pub fn describe(&self) -> Vec<(String, serde_json::Value, String)> {
        let mut out = Vec::new();
        let value = serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null);
        flatten("", &value, &mut out);
        out.into_iter()
            .map(|(key, value)| {
                let shown = if looks_secret(&key) && !value.is_null() && !value.is_boolean() {
                    serde_json::Value::String("<redacted>".into())
                } else {
                    value
                };
                let origin = self.origin(&key);
                (key, shown, origin)
            })
            .collect()
    }

    /// The `[providers.<key>]` section (an empty table when absent) and its origin.
    pub fn provider_section(&self, key: &str) -> (serde_json::Value, String) {
        match self.config.providers.get(key) {
            Some(section) => (section.clone(), self.origin(&format!("providers.{key}"))),
            None => (
                serde_json::Value::Object(Default::default()),
                "defaults".into(),
            ),
        }
    }
}

fn looks_secret(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key).to_lowercase();
    ["token", "secret", "password", "access_key", "private"]
        .iter()
        .any(|word| leaf.contains(word))
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn insert_dotted(
    map: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    value: serde_json::Value,
) {
    match key.split_once('.') {
        None => {
            map.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(inner) = entry {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

/// Environment values are typed as figment's `Env` types them.
fn parse_env_value(value: &str) -> serde_json::Value {
    value
        .parse::<figment::value::Value>()
        .ok()
        .and_then(|parsed| serde_json::to_value(parsed).ok())
        .unwrap_or_else(|| serde_json::Value::String(value.to_string()))
}

fn xdg_config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(dir: &Path) -> ConfigSources {
        ConfigSources {
            skip_system: true,
            working_dir: Some(dir.to_path_buf()),
            env: Some(Vec::new()),
            ..ConfigSources::default()
        }
    }

    #[test]
    fn defaults_apply_without_files() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = LoadedConfig::load(&sources(dir.path())).unwrap();
        assert_eq!(loaded.config.deadline_seconds, 60.0);
        assert_eq!(loaded.origin("deadline_seconds"), "defaults");
    }

    #[test]
    fn layers_win_in_order_and_origins_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ci-secrets.toml");
        std::fs::write(&file, "deadline_seconds = 30\n[http]\nmax_attempts = 2\n[providers.vault]\nrevoke_token = true\n").unwrap();
        let mut src = sources(dir.path());
        src.env = Some(vec![
            ("CI_SECRETS_HTTP__MAX_ATTEMPTS".into(), "7".into()),
            ("CI_SECRETS_PYTHON".into(), "x".into()),
        ]);
        src.flags = vec![("deadline_seconds".into(), serde_json::json!(5))];
        let loaded = LoadedConfig::load(&src).unwrap();
        assert_eq!(loaded.config.deadline_seconds, 5.0);
        assert_eq!(loaded.config.http.max_attempts, 7);
        assert_eq!(
            loaded.origin("http.max_attempts"),
            "environment variable CI_SECRETS_HTTP__MAX_ATTEMPTS"
        );
        assert_eq!(loaded.config.providers["vault"]["revoke_token"], true);
        assert!(
            loaded.origin("providers.vault").contains("ci-secrets.toml"),
            "{}",
            loaded.origin("providers.vault")
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ci-secrets.toml"),
            "[http]\nmax_atempts = 2\n",
        )
        .unwrap();
        let err = LoadedConfig::load(&sources(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_atempts") && err.contains("ci-secrets.toml"),
            "{err}"
        );

        std::fs::write(
            dir.path().join("ci-secrets.toml"),
            "deadline_seconds = \"soon\"\n",
        )
        .unwrap();
        let err = LoadedConfig::load(&sources(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("deadline_seconds") && err.contains("ci-secrets.toml"),
            "{err}"
        );
    }

    #[test]
    fn zero_deadline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ci-secrets.toml"), "deadline_seconds = 0\n").unwrap();
        let err = LoadedConfig::load(&sources(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("deadline_seconds"), "{err}");
    }

    #[test]
    fn describe_redacts_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ci-secrets.toml"),
            "[providers.x]\napi_token = \"abc\"\nrevoke_token = true\n",
        )
        .unwrap();
        let loaded = LoadedConfig::load(&sources(dir.path())).unwrap();
        let shown = format!("{:?}", loaded.describe());
        assert!(!shown.contains("abc"), "{shown}");
        assert!(
            shown.contains("\"providers.x.revoke_token\", Bool(true)"),
            "a flag is not a credential: {shown}"
        );
    }
}
