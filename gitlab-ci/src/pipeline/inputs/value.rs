//! Input values as GitLab's Ruby sees them: the text Ruby's `to_s` and
//! `inspect` give (error messages and string interpolation are built from
//! them), Ruby's two equalities, and the JSON cast GitLab applies to input
//! values given as text.

use serde_norway::{Mapping, Value};

use crate::pipeline::scalar::scalar_to_string;

/// Ruby's `to_s`: scalars as GitLab prints them, `nil` as the empty string,
/// arrays and hashes as their `inspect`.
pub(super) fn to_s(value: &Value) -> String {
    match scalar_to_string(value) {
        Some(text) => text,
        None => {
            let mut out = String::new();
            inspect(value, &mut out);
            out
        }
    }
}

/// Ruby's `inspect` (Ruby 3.3, which GitLab runs): strings quoted and
/// escaped, `nil`, hashes with the symbol keys GitLab's loader makes
/// (`{:if=>"x"}`).
fn inspect(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::String(text) => inspect_string(text, out),
        Value::Sequence(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                inspect(item, out);
            }
            out.push(']');
        }
        Value::Mapping(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                match key {
                    Value::String(name) => inspect_symbol(name, out),
                    other => inspect(other, out),
                }
                out.push_str("=>");
                inspect(item, out);
            }
            out.push('}');
        }
        Value::Tagged(tagged) => inspect(&tagged.value, out),
        scalar => out.push_str(&scalar_to_string(scalar).unwrap_or_default()),
    }
}

fn inspect_string(text: &str, out: &mut String) {
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            // `#{`, `#$` and `#@` would interpolate in a Ruby literal.
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn inspect_symbol(name: &str, out: &mut String) {
    let plain = name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    out.push(':');
    if plain {
        out.push_str(name);
    } else {
        inspect_string(name, out);
    }
}

/// Ruby's `==`: numbers compare by value (`1 == 1.0`), the rest structurally.
pub(super) fn ruby_eq(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            _ if a == b => true,
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        (Value::Sequence(a), Value::Sequence(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| ruby_eq(a, b))
        }
        _ => left == right,
    }
}

/// Ruby's `eql?` (what `Array#-` uses): numbers of different classes differ.
pub(super) fn ruby_eql(left: &Value, right: &Value) -> bool {
    left == right
}

/// What `Gitlab::Json.parse` makes of a text input value, if it is JSON:
/// GitLab casts `"42"` to `42`, `"true"` to `true`, `'["a"]'` to an array
/// before checking the input's type.
pub(super) fn parse_json(text: &str) -> Option<Value> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .map(from_json)
}

fn from_json(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(flag),
        serde_json::Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                Value::Number(int.into())
            } else if let Some(uint) = number.as_u64() {
                Value::Number(uint.into())
            } else {
                Value::Number(number.as_f64().unwrap_or(f64::NAN).into())
            }
        }
        serde_json::Value::String(text) => Value::String(text),
        serde_json::Value::Array(items) => {
            Value::Sequence(items.into_iter().map(from_json).collect())
        }
        serde_json::Value::Object(object) => Value::Mapping(
            object
                .into_iter()
                .map(|(key, item)| (Value::String(key), from_json(item)))
                .collect::<Mapping>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn to_s_follows_ruby() {
        assert_eq!(to_s(&yaml("6")), "6");
        assert_eq!(to_s(&yaml("6.66")), "6.66");
        assert_eq!(to_s(&yaml("true")), "true");
        assert_eq!(to_s(&Value::Null), "");
        assert_eq!(to_s(&yaml("[a, 1, null]")), r#"["a", 1, nil]"#);
        assert_eq!(to_s(&yaml("[{if: x}]")), r#"[{:if=>"x"}]"#);
        assert_eq!(to_s(&yaml(r##"['q"#{x}']"##)), r##"["q\"\#{x}"]"##);
    }

    #[test]
    fn ruby_equalities() {
        assert!(ruby_eq(&yaml("1"), &yaml("1.0")));
        assert!(!ruby_eql(&yaml("1"), &yaml("1.0")));
        assert!(!ruby_eq(&yaml("'1'"), &yaml("1")));
    }

    /// After GitLab's `spec/lib/ci/inputs/number_input_spec.rb` ("coerces
    /// string to number via JSON parsing") and `builder_spec.rb`.
    #[test]
    fn text_is_cast_as_json() {
        assert_eq!(parse_json("42"), Some(yaml("42")));
        assert_eq!(parse_json(" true "), Some(Value::Bool(true)));
        assert_eq!(parse_json(r#"["a", 2]"#), Some(yaml("[a, 2]")));
        assert_eq!(parse_json("abc"), None);
        assert_eq!(parse_json(""), None);
    }
}
