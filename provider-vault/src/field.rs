//! Picking one field out of a KV read answer, and turning it into the
//! variable's value.
//!
//! GitLab Runner formats the field with Go's `%v`: a string is itself, a
//! number its JSON text, a boolean `true`/`false`, and `null` or a missing
//! field is "secret not found". An object or array would print as Go map or
//! slice text (`map[a:1]`), which nothing can parse; ci-secrets delivers it as
//! compact JSON instead, as it does for every provider's non-string values.

use std::collections::HashMap;

use ci_secrets_provider_api::SecretValue;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::reference::EngineKind;

/// What a successful (2xx) read answer holds for the wanted field.
#[derive(Debug)]
pub(crate) enum FieldLookup {
    Found(SecretValue),
    /// The answer has no data: a deleted or destroyed kv-v2 version.
    NoSecret,
    /// The secret exists but has no such field, or the field is `null`.
    NoField,
}

/// The answer does not have the shape of a KV read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FieldError {
    #[error("the answer is not the expected JSON: {0}")]
    NotJson(String),
    #[error("the secret's data is not a key/value map")]
    NotAMap,
}

/// The read answer: only `data` matters. Borrowing keeps secret values in
/// the (zeroized) response body instead of copying them around.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct KvV2Data<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Finds `field` in a 2xx read answer of a `kind` engine.
pub(crate) fn lookup(
    kind: EngineKind,
    body: &[u8],
    field: &str,
) -> Result<FieldLookup, FieldError> {
    let answer: Answer<'_> = from_slice(body)?;
    let data = match (kind, answer.data) {
        (_, None) => return Ok(FieldLookup::NoSecret),
        (EngineKind::KvV1, Some(data)) => Some(data),
        // kv-v2 nests the secret under `data.data`, next to `data.metadata`.
        (EngineKind::KvV2, Some(data)) => {
            from_str::<Option<KvV2Data<'_>>>(data.get())?.and_then(|inner| inner.data)
        }
    };
    let Some(data) = data.filter(|data| data.get() != "null") else {
        return Ok(FieldLookup::NoSecret);
    };
    let fields: HashMap<String, &RawValue> =
        serde_json::from_str(data.get()).map_err(|_| FieldError::NotAMap)?;
    match fields.get(field) {
        None => Ok(FieldLookup::NoField),
        Some(raw) if raw.get() == "null" => Ok(FieldLookup::NoField),
        Some(raw) => render(raw).map(FieldLookup::Found),
    }
}

/// A JSON value as the variable's text: strings unquoted, scalars as sent,
/// objects and arrays as compact JSON.
fn render(raw: &RawValue) -> Result<SecretValue, FieldError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => from_str::<String>(text).map(SecretValue::text),
        Some(b'{' | b'[') => {
            let value: serde_json::Value = from_str(text)?;
            Ok(SecretValue::text(value.to_string()))
        }
        _ => Ok(SecretValue::text(text)),
    }
}

fn from_slice<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FieldError> {
    serde_json::from_slice(body).map_err(json_error)
}

fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, FieldError> {
    serde_json::from_str(text).map_err(json_error)
}

/// Position and category only: serde's message may quote the (secret) input.
fn json_error(err: serde_json::Error) -> FieldError {
    FieldError::NotJson(format!("line {}, column {}", err.line(), err.column()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lookup: FieldLookup) -> String {
        match lookup {
            FieldLookup::Found(value) => value.expose_str().unwrap().to_string(),
            other => panic!("expected a value, got {other:?}"),
        }
    }

    #[test]
    fn kv_v2_unwraps_data_data() {
        let body = br#"{"data":{"data":{"password":"p\"w"},"metadata":{"version":1}}}"#;
        assert_eq!(
            text(lookup(EngineKind::KvV2, body, "password").unwrap()),
            "p\"w"
        );
    }

    #[test]
    fn kv_v1_reads_data() {
        let body = br#"{"data":{"user":"admin"}}"#;
        assert_eq!(
            text(lookup(EngineKind::KvV1, body, "user").unwrap()),
            "admin"
        );
    }

    #[test]
    fn non_strings_keep_their_json_text() {
        let body = br#"{"data":{"data":{"n":12345678901234567890123,"f":1e3,"b":true,"o":{"a": [1, "x"]}}}}"#;
        let get = |field| text(lookup(EngineKind::KvV2, body, field).unwrap());
        assert_eq!(get("n"), "12345678901234567890123");
        assert_eq!(get("f"), "1e3");
        assert_eq!(get("b"), "true");
        assert_eq!(get("o"), r#"{"a":[1,"x"]}"#);
    }

    #[test]
    fn missing_and_null_fields_are_no_field() {
        let body = br#"{"data":{"data":{"field_1":1,"field_2":"test","gone":null}}}"#;
        assert!(matches!(
            lookup(EngineKind::KvV2, body, "unknown_field"),
            Ok(FieldLookup::NoField)
        ));
        assert!(matches!(
            lookup(EngineKind::KvV2, body, "gone"),
            Ok(FieldLookup::NoField)
        ));
    }

    #[test]
    fn absent_data_is_no_secret() {
        for body in [
            &br#"{}"#[..],
            br#"{"data":null}"#,
            br#"{"data":{"test":"test"}}"#,
            br#"{"data":{"test":"test","data":null}}"#,
        ] {
            assert!(matches!(
                lookup(EngineKind::KvV2, body, "test"),
                Ok(FieldLookup::NoSecret)
            ));
        }
        assert!(matches!(
            lookup(EngineKind::KvV1, br#"{"data":null}"#, "x"),
            Ok(FieldLookup::NoSecret)
        ));
    }

    #[test]
    fn bogus_shapes_are_errors_without_the_content() {
        let body = br#"{"data":{"test":"test","data":"sdfhgskldfhkljshdfljkgh"}}"#;
        assert_eq!(
            lookup(EngineKind::KvV2, body, "test").unwrap_err(),
            FieldError::NotAMap
        );
        let err = lookup(EngineKind::KvV1, b"{\"data\": \"s3cret", "x").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
