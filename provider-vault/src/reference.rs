//! Where a secret lives: the `vault:` block of one secret, in its string or
//! hash form, and the Vault API path it reads.

use std::fmt;

use ci_secrets_provider_api::{ErrorKind, ProviderError};
use serde::Deserialize;

/// The engine path of the string form when it has no `@engine_path`.
const DEFAULT_ENGINE_PATH: &str = "kv-v2";

/// A secrets engine that the provider can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineKind {
    /// KV version 2: `GET <engine>/data/<path>`, fields under `data.data`.
    KvV2,
    /// KV version 1 (`kv-v1`, or its older name `generic`): `GET <engine>/<path>`,
    /// fields under `data`.
    KvV1,
}

impl EngineKind {
    /// The engine names GitLab Runner registers, mapped to their kind.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "kv-v2" => Some(EngineKind::KvV2),
            "kv-v1" | "generic" => Some(EngineKind::KvV1),
            _ => None,
        }
    }
}

/// Why a `vault:` block cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ReferenceError {
    /// The block is neither a string nor a map.
    #[error("the vault: block should be a hash or a string")]
    WrongType,
    /// The hash form does not match `{engine: {name, path}, path, field}`.
    #[error("the vault: block is not valid: {0}")]
    BadHash(String),
    /// A required part is empty.
    #[error("the vault: block has an empty {0}")]
    Blank(&'static str),
    /// The string form has no `/` between the path and the field.
    #[error(
        "the vault: string {0:?} has no secret path; write path/to/secret/field or path/to/secret/field@engine_path"
    )]
    NoPath(String),
    /// The engine is not a KV engine.
    #[error("the secret engine {0:?} is not supported; use kv-v2, kv-v1 or generic")]
    UnsupportedEngine(String),
    /// A `..` segment would make the request leave the engine or the path it names.
    #[error("the {0} {1:?} contains a `..` segment, which is not allowed")]
    DotDot(&'static str, String),
}

impl From<ReferenceError> for ProviderError {
    /// An engine ci-secrets cannot read is `Unsupported`; every other
    /// problem is the block's, so `Config`.
    fn from(err: ReferenceError) -> Self {
        let kind = match err {
            ReferenceError::UnsupportedEngine(_) => ErrorKind::Unsupported,
            _ => ErrorKind::Config,
        };
        ProviderError::new(kind, err.to_string())
    }
}

/// One secret's location: engine, secret path and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretReference {
    /// The engine name as written (`kv-v2`, `kv-v1`, `generic`).
    pub(crate) engine_name: String,
    pub(crate) kind: EngineKind,
    /// Where the engine is mounted, such as `kv-v2` or `ops/kv`.
    pub(crate) engine_path: String,
    /// The secret's path inside the engine.
    pub(crate) path: String,
    /// The key to deliver from the secret's data.
    pub(crate) field: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashForm {
    engine: EngineForm,
    path: String,
    field: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineForm {
    name: String,
    path: String,
}

impl SecretReference {
    /// Reads a validated, variable-expanded `vault:` block.
    ///
    /// The string form `path/to/secret/field@engine_path` is split as GitLab
    /// does: on the last `@` (none: engine path `kv-v2`), then on the last `/`.
    /// Its engine is always `kv-v2`.
    pub(crate) fn parse(block: &serde_json::Value) -> Result<Self, ReferenceError> {
        let reference = match block {
            serde_json::Value::String(text) => Self::parse_string(text)?,
            serde_json::Value::Object(_) => Self::parse_hash(block)?,
            _ => return Err(ReferenceError::WrongType),
        };
        reference.check()?;
        Ok(reference)
    }

    fn parse_string(text: &str) -> Result<Self, ReferenceError> {
        let (secret, engine_path) = match text.rsplit_once('@') {
            Some((secret, engine_path)) => (secret, engine_path),
            None => (text, DEFAULT_ENGINE_PATH),
        };
        let Some((path, field)) = secret.rsplit_once('/') else {
            return Err(ReferenceError::NoPath(text.to_string()));
        };
        Ok(Self {
            engine_name: "kv-v2".to_string(),
            kind: EngineKind::KvV2,
            engine_path: engine_path.to_string(),
            path: path.to_string(),
            field: field.to_string(),
        })
    }

    fn parse_hash(block: &serde_json::Value) -> Result<Self, ReferenceError> {
        let hash: HashForm = serde_path_to_error::deserialize(block).map_err(|err| {
            let at = err.path().to_string();
            if at == "." {
                ReferenceError::BadHash(err.inner().to_string())
            } else {
                ReferenceError::BadHash(format!("{at}: {}", err.inner()))
            }
        })?;
        let kind = EngineKind::from_name(&hash.engine.name)
            .ok_or_else(|| ReferenceError::UnsupportedEngine(hash.engine.name.clone()))?;
        Ok(Self {
            engine_name: hash.engine.name,
            kind,
            engine_path: hash.engine.path,
            path: hash.path,
            field: hash.field,
        })
    }

    /// GitLab requires each part to be present (Rails `presence`); a `..`
    /// segment is refused because it would read outside what the block names.
    fn check(&self) -> Result<(), ReferenceError> {
        for (what, value) in [
            ("engine path", &self.engine_path),
            ("secret path", &self.path),
        ] {
            if segments(value).next().is_none() {
                return Err(ReferenceError::Blank(what));
            }
            if segments(value).any(|segment| segment == "..") {
                return Err(ReferenceError::DotDot(what, value.clone()));
            }
        }
        if self.field.trim().is_empty() {
            return Err(ReferenceError::Blank("field"));
        }
        Ok(())
    }

    /// The API path below `/v1/`, as segments: GitLab Runner's
    /// `path.Join(engine, "data", path)` for kv-v2 and `path.Join(engine, path)`
    /// for kv-v1, which drops empty and `.` segments.
    pub(crate) fn api_segments(&self) -> Vec<&str> {
        let mut out: Vec<&str> = segments(&self.engine_path).collect();
        if self.kind == EngineKind::KvV2 {
            out.push("data");
        }
        out.extend(segments(&self.path));
        out
    }
}

/// The non-empty, non-`.` segments of a slash-separated path.
pub(crate) fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter(|segment| !segment.is_empty() && *segment != ".")
}

impl fmt::Display for SecretReference {
    /// Names the secret in errors; holds no value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "field {:?} of {:?} in the {} engine at {:?}",
            self.field, self.path, self.engine_name, self.engine_path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(block: serde_json::Value) -> Result<SecretReference, ReferenceError> {
        SecretReference::parse(&block)
    }

    #[test]
    fn string_without_engine_defaults_to_kv_v2_at_kv_v2() {
        let reference = parse(json!("production/db/password")).unwrap();
        assert_eq!(reference.engine_name, "kv-v2");
        assert_eq!(reference.engine_path, "kv-v2");
        assert_eq!(reference.path, "production/db");
        assert_eq!(reference.field, "password");
        assert_eq!(
            reference.api_segments(),
            ["kv-v2", "data", "production", "db"]
        );
    }

    #[test]
    fn string_splits_on_the_last_at_then_the_last_slash() {
        let reference = parse(json!("user@corp/db/pass@word@ops/kv")).unwrap();
        assert_eq!(reference.engine_path, "ops/kv");
        assert_eq!(reference.path, "user@corp/db");
        assert_eq!(reference.field, "pass@word");
        assert_eq!(reference.kind, EngineKind::KvV2);
    }

    #[test]
    fn string_without_a_path_is_refused() {
        assert_eq!(
            parse(json!("password")),
            Err(ReferenceError::NoPath("password".into()))
        );
    }

    #[test]
    fn hash_form_with_each_engine() {
        let block = json!({"engine": {"name": "kv-v1", "path": "/kv1/"}, "path": "/app//db/", "field": "user"});
        let reference = parse(block).unwrap();
        assert_eq!(reference.kind, EngineKind::KvV1);
        assert_eq!(reference.api_segments(), ["kv1", "app", "db"]);

        let block =
            json!({"engine": {"name": "generic", "path": "secret"}, "path": "a", "field": "f"});
        assert_eq!(parse(block).unwrap().kind, EngineKind::KvV1);

        let block = json!({"engine": {"name": "kv-v2", "path": "engine/"}, "path": "/secret/", "field": "f"});
        assert_eq!(
            parse(block).unwrap().api_segments(),
            ["engine", "data", "secret"]
        );
    }

    #[test]
    fn hash_form_errors_name_the_key() {
        let err = parse(json!({"path": "a", "field": "b"})).unwrap_err();
        assert!(err.to_string().contains("missing field `engine`"), "{err}");
        let err = parse(
            json!({"engine": {"name": "kv-v2", "path": "kv"}, "path": "a", "field": "b", "foo": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `foo`"), "{err}");
        let err =
            parse(json!({"engine": {"name": "kv-v2"}, "path": "a", "field": "b"})).unwrap_err();
        assert!(
            err.to_string().contains("engine: missing field `path`"),
            "{err}"
        );
        let err =
            parse(json!({"engine": {"name": "kv-v2", "path": "kv"}, "path": 1, "field": "b"}))
                .unwrap_err();
        assert!(err.to_string().contains("path: invalid type"), "{err}");
    }

    #[test]
    fn unknown_engine_is_unsupported() {
        let block = json!({"engine": {"name": "database", "path": "db"}, "path": "creds", "field": "password"});
        assert_eq!(
            parse(block),
            Err(ReferenceError::UnsupportedEngine("database".into()))
        );
    }

    #[test]
    fn blank_parts_and_dot_dot_are_refused() {
        assert_eq!(
            parse(json!("a/b@")),
            Err(ReferenceError::Blank("engine path"))
        );
        assert_eq!(
            parse(json!("/field")),
            Err(ReferenceError::Blank("secret path"))
        );
        assert_eq!(parse(json!("a/b/")), Err(ReferenceError::Blank("field")));
        assert_eq!(
            parse(json!("../sys/x/f")),
            Err(ReferenceError::DotDot("secret path", "../sys/x".into()))
        );
        assert_eq!(parse(json!(12)), Err(ReferenceError::WrongType));
    }

    #[test]
    fn display_names_the_location_only() {
        let reference = parse(json!("production/db/password")).unwrap();
        assert_eq!(
            reference.to_string(),
            r#"field "password" of "production/db" in the kv-v2 engine at "kv-v2""#
        );
    }

    #[test]
    fn an_unsupported_engine_is_unsupported_and_every_other_problem_is_config() {
        let engine =
            parse(json!({"engine": {"name": "database", "path": "db"}, "path": "p", "field": "f"}))
                .unwrap_err();
        assert_eq!(ProviderError::from(engine).kind(), ErrorKind::Unsupported);
        let dot_dot = parse(json!("a/../b/field")).unwrap_err();
        assert_eq!(ProviderError::from(dot_dot).kind(), ErrorKind::Config);
        assert_eq!(
            ProviderError::from(ReferenceError::WrongType).kind(),
            ErrorKind::Config
        );
    }
}
