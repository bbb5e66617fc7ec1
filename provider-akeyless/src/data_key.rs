//! Turning an Akeyless value into the delivered bytes, with `data_key` (D6).
//!
//! - Without `data_key`: a string is delivered as it is, anything else as
//!   compact JSON.
//! - With `data_key`: the value must be a JSON object, or a string holding
//!   one. The key is a top-level key, or an RFC 6901 JSON Pointer when it
//!   starts with `/`. A string found there is delivered raw, anything else
//!   as compact JSON. A missing key names the keys that do exist, never the
//!   values.

use ci_secrets_provider_api::{SecretValue, ServerText};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::Failure;

/// Delivers `value` of item `item`, applying `data_key` when given.
pub(crate) fn deliver(
    value: Value,
    data_key: Option<&str>,
    item: &str,
) -> Result<SecretValue, Failure> {
    match data_key {
        None => Ok(to_secret(value)),
        Some(key) => {
            let object = as_object(value, item)?;
            extract(object, key, item).map(to_secret)
        }
    }
}

fn to_secret(value: Value) -> SecretValue {
    match value {
        Value::String(text) => SecretValue::text(text),
        // `Value`'s `Display` is compact JSON. The intermediate string is wiped.
        other => SecretValue::text(Zeroizing::new(other.to_string()).as_str()),
    }
}

fn as_object(value: Value, item: &str) -> Result<Value, Failure> {
    match value {
        Value::Object(_) => Ok(value),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(parsed @ Value::Object(_)) => Ok(parsed),
            // Never quote the text: it is the secret.
            Ok(_) | Err(_) => Err(Failure::DataKey(format!(
                "failed to extract a key out of the json data: the value of {item} is a string that does not hold a JSON object"
            ))),
        },
        other => Err(Failure::DataKey(format!(
            "failed to extract a key out of the json data: the value of {item} is {}, not a JSON object",
            json_type(&other)
        ))),
    }
}

fn extract(object: Value, key: &str, item: &str) -> Result<Value, Failure> {
    let found = if key.starts_with('/') {
        object.pointer(key)
    } else {
        object.get(key)
    };
    if let Some(found) = found {
        return Ok(found.clone());
    }
    let available = available_keys(&object, key);
    Err(Failure::DataKey(format!(
        "failed to extract a key out of the json data, the key {key} does not exist in {item} (available keys: {available})"
    )))
}

/// The keys of the deepest object on the way to `key`, to help fix a typo.
fn available_keys(object: &Value, key: &str) -> String {
    let mut parent = object;
    if key.starts_with('/') {
        let mut pointer = String::new();
        for token in key.split('/').skip(1) {
            pointer.push('/');
            pointer.push_str(token);
            match object.pointer(&pointer) {
                Some(next @ (Value::Object(_) | Value::Array(_))) => parent = next,
                _ => break,
            }
        }
    }
    match parent {
        Value::Object(map) if map.is_empty() => "none".to_string(),
        Value::Object(map) => {
            // Sorted, so the message does not depend on the server's order.
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            keys.sort_unstable();
            // Key names come from the item, so from the server: one safe line.
            ServerText::new(&keys.join(", "), &[]).into_string()
        }
        Value::Array(items) => format!("indices 0 to {}", items.len().saturating_sub(1)),
        _ => "none".to_string(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: SecretValue) -> String {
        value.expose_str().unwrap().to_string()
    }

    #[test]
    fn strings_are_raw_and_other_values_compact_json() {
        assert_eq!(text(deliver(json!("p@ss"), None, "/a").unwrap()), "p@ss");
        // Compact JSON; key order follows the map (the server's order when
        // serde_json's `preserve_order` is on in the workspace).
        let compact = text(deliver(json!({"user": "u", "ttl": 60}), None, "/a").unwrap());
        assert!(
            !compact.contains(' ') && !compact.contains('\n'),
            "{compact}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&compact).unwrap(),
            json!({"ttl": 60, "user": "u"})
        );
        assert_eq!(text(deliver(json!(true), None, "/a").unwrap()), "true");
    }

    #[test]
    fn data_key_reads_json_strings_and_objects() {
        let stored = json!(r#"{"imp":"joey","no":{"a":1}}"#);
        assert_eq!(
            text(deliver(stored.clone(), Some("imp"), "/s").unwrap()),
            "joey"
        );
        assert_eq!(
            text(deliver(stored, Some("no"), "/s").unwrap()),
            r#"{"a":1}"#
        );
        let object = json!({"db": {"user": "u", "hosts": ["h1", "h2"]}});
        assert_eq!(
            text(deliver(object.clone(), Some("/db/user"), "/d").unwrap()),
            "u"
        );
        assert_eq!(
            text(deliver(object, Some("/db/hosts/1"), "/d").unwrap()),
            "h2"
        );
    }

    #[test]
    fn missing_keys_list_the_keys_never_the_values() {
        let err = deliver(
            json!(r#"{"user":"top-secret-u","pass":"top-secret-p"}"#),
            Some("password"),
            "/s",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "failed to extract a key out of the json data, the key password does not exist in /s (available keys: pass, user)"
        );
        let err = deliver(
            json!({"db": {"user": "secret-value"}}),
            Some("/db/pass"),
            "/d",
        )
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("(available keys: user)"), "{err}");
        assert!(!err.contains("secret-value"));
    }

    #[test]
    fn non_objects_are_refused_without_quoting_them() {
        let err = deliver(json!("plain-secret"), Some("k"), "/s")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not hold a JSON object"), "{err}");
        assert!(!err.contains("plain-secret"));
        let err = deliver(json!(42), Some("k"), "/s").unwrap_err().to_string();
        assert!(err.contains("is a number"), "{err}");
    }

    /// Stored values are made of upper-case letters and digits, keys of
    /// lower-case letters, so a value can never be mistaken for a key name
    /// in a message.
    fn stored_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            "[A-Z0-9]{4,12}".prop_map(Value::String),
            any::<u32>().prop_map(|n| json!(n)),
            any::<bool>().prop_map(Value::Bool),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Every string leaf of `value`.
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            Value::Object(map) => map.values().for_each(|item| strings(item, out)),
            _ => {}
        }
    }

    proptest::proptest! {
        /// Whatever the stored value and the key, `deliver` answers what
        /// `serde_json` finds there (raw for a string, compact JSON
        /// otherwise) or an error that quotes no stored string; stored as a
        /// JSON string, the same value gives the same answer.
        #[test]
        fn data_key_finds_what_serde_json_finds_and_never_quotes_a_value(
            value in stored_value(),
            key in "[a-c]{1,2}|(/([a-c]{1,2}|[0-3]|~[01]|)){1,3}",
            as_text in proptest::bool::ANY,
        ) {
            let stored = if as_text { Value::String(value.to_string()) } else { value.clone() };
            let expected = match &value {
                Value::Object(_) if key.starts_with('/') => value.pointer(&key).cloned(),
                Value::Object(map) => map.get(&key).cloned(),
                _ => None,
            };
            match (deliver(stored, Some(&key), "/item"), expected) {
                (Ok(delivered), Some(Value::String(found))) => {
                    proptest::prop_assert_eq!(text(delivered), found);
                }
                (Ok(delivered), Some(found)) => {
                    proptest::prop_assert_eq!(text(delivered), found.to_string());
                }
                (Err(err), None) => {
                    let message = err.to_string();
                    let mut values = Vec::new();
                    strings(&value, &mut values);
                    for secret in values {
                        proptest::prop_assert!(!message.contains(&secret), "{message} quotes a value");
                    }
                }
                (outcome, expected) => {
                    proptest::prop_assert!(false, "{:?} where serde_json finds {expected:?}", outcome.map(|_| "a value"));
                }
            }
        }
    }
}
