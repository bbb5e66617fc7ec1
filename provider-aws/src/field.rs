//! `field:`: one key of a JSON `SecretString`, as GitLab Runner extracts it.
//!
//! The runner reads the value as a flat JSON object and accepts a string,
//! number or boolean at the key; objects, arrays and null are refused, as the
//! AWS console cannot show them as key/value pairs either. A string is
//! delivered as its text; a number or boolean as the JSON text the secret
//! holds (the runner printed Go's `%v` of a float64, which is the same text
//! for every number written in its shortest form, such as `42` or `0.5`).

use std::collections::BTreeMap;

use ci_secrets_provider_api::ServerText;
use serde_json::value::RawValue;

/// Why a field cannot be delivered. Messages name keys, never values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// The runner's text is `failed to parse JSON for secret '<id>'`; serde's
    /// own message is not kept, as it may quote the value.
    #[error(
        "failed to parse JSON for secret '{secret_id}': {reason}, so field '{field}' cannot be read"
    )]
    NotAnObject {
        secret_id: String,
        field: String,
        reason: String,
    },
    #[error(
        "key '{field}' not found in AWS Secrets Manager response for secret '{secret_id}' (available keys: {})",
        available_keys(.available)
    )]
    Missing {
        secret_id: String,
        field: String,
        available: Vec<String>,
    },
    #[error(
        "key '{field}' in aws secrets manager response for secret '{secret_id}' is not a string, number or boolean (it is {found})"
    )]
    NotScalar {
        secret_id: String,
        field: String,
        found: &'static str,
    },
}

fn available_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        "none".to_string()
    } else {
        // Key names come from the secret, so from the server: one safe line.
        ServerText::new(&keys.join(", "), &[]).into_string()
    }
}

/// The text of `field` in the JSON object `json`. For a duplicated key the
/// last one wins, as in Go's `encoding/json`.
pub(crate) fn extract(json: &str, field: &str, secret_id: &str) -> Result<String, FieldError> {
    let object: BTreeMap<String, &RawValue> =
        serde_json::from_str(json).map_err(|err| FieldError::NotAnObject {
            secret_id: secret_id.to_string(),
            field: field.to_string(),
            reason: parse_failure(&err),
        })?;
    let Some(raw) = object.get(field) else {
        return Err(FieldError::Missing {
            secret_id: secret_id.to_string(),
            field: field.to_string(),
            available: object.keys().cloned().collect(),
        });
    };
    let text = raw.get();
    let not_scalar = |found| FieldError::NotScalar {
        secret_id: secret_id.to_string(),
        field: field.to_string(),
        found,
    };
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map_err(|_| not_scalar("a string that does not decode")),
        Some(b'{') => Err(not_scalar("an object")),
        Some(b'[') => Err(not_scalar("an array")),
        Some(b'n') => Err(not_scalar("null")),
        // `true`, `false` or a number, already validated by the parser.
        _ => Ok(text.to_string()),
    }
}

/// Where parsing failed, without serde's text, which may quote the value
/// (`invalid type: string "...", expected a map`).
fn parse_failure(err: &serde_json::Error) -> String {
    match err.classify() {
        serde_json::error::Category::Data => "the value is JSON but not an object".to_string(),
        serde_json::error::Category::Eof => "the value ends before its JSON does".to_string(),
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => format!(
            "the value is not valid JSON (line {}, column {})",
            err.line(),
            err.column()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_number_and_boolean_values() {
        let json = r#"{"user":"app","port":5432,"ratio":0.5,"tls":true,"quoted":"a\"b"}"#;
        assert_eq!(extract(json, "user", "db").unwrap(), "app");
        assert_eq!(extract(json, "port", "db").unwrap(), "5432");
        assert_eq!(extract(json, "ratio", "db").unwrap(), "0.5");
        assert_eq!(extract(json, "tls", "db").unwrap(), "true");
        assert_eq!(extract(json, "quoted", "db").unwrap(), "a\"b");
    }

    #[test]
    fn missing_key_lists_the_keys_but_no_value() {
        let err = extract(r#"{"b":"value-b","a":"value-a"}"#, "c", "db").unwrap_err();
        let text = err.to_string();
        assert_eq!(
            text,
            "key 'c' not found in AWS Secrets Manager response for secret 'db' (available keys: a, b)"
        );
        assert!(!text.contains("value-"), "{text}");
    }

    #[test]
    fn objects_arrays_and_null_are_refused() {
        for (json, found) in [
            (r#"{"f":{"k":"v"}}"#, "an object"),
            (r#"{"f":[1]}"#, "an array"),
            (r#"{"f":null}"#, "null"),
        ] {
            assert_eq!(
                extract(json, "f", "s").unwrap_err(),
                FieldError::NotScalar {
                    secret_id: "s".into(),
                    field: "f".into(),
                    found
                }
            );
        }
    }

    #[test]
    fn non_json_and_non_object_values_never_echo_the_value() {
        for value in [
            "plain-canary",
            r#""quoted-canary""#,
            "[\"list-canary\"]",
            "{\"a\":",
        ] {
            let err = extract(value, "f", "s").unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("failed to parse JSON for secret 's'"),
                "{text}"
            );
            assert!(!text.contains("canary"), "{text}");
        }
    }

    #[test]
    fn the_last_duplicate_key_wins() {
        assert_eq!(extract(r#"{"k":"1","k":"2"}"#, "k", "s").unwrap(), "2");
    }
}
