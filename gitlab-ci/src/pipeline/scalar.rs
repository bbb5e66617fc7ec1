//! YAML scalars as GitLab turns them into strings (Ruby's `to_s`), and YAML to JSON.

use serde_norway::Value;

/// The string GitLab makes of a scalar variable value: strings as they are, integers in decimal,
/// floats as Ruby prints them (`1.10` gives `1.1`, `1e20` gives `1.0e+20`), booleans as
/// `true`/`false`, null as the empty string. `None` for hashes, lists and tagged values.
pub(crate) fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => int.to_string(),
            (None, Some(uint), _) => uint.to_string(),
            (None, None, Some(float)) => ruby_float(float),
            (None, None, None) => number.to_string(),
        }),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => None,
    }
}

/// Ruby's `Float#to_s`: fixed notation when the decimal exponent is in `-4 < decpt <= 16`, else
/// `d.ddde+XX`; always at least one fractional digit.
fn ruby_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `-1.5e-5`.
    let formatted = format!("{:e}", value.abs());
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let decpt = exponent + 1;
    let body = if value == 0.0 {
        "0.0".to_owned()
    } else if decpt > -4 && decpt <= 16 {
        if decpt <= 0 {
            format!("0.{}{digits}", "0".repeat(decpt.unsigned_abs() as usize))
        } else {
            let split = decpt as usize;
            if digits.len() <= split {
                format!("{digits}{}.0", "0".repeat(split - digits.len()))
            } else {
                format!("{}.{}", &digits[..split], &digits[split..])
            }
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}.{rest}e{exp_sign}{:02}", exponent.unsigned_abs())
    };
    format!("{sign}{body}")
}

/// Converts YAML to JSON, for the `secrets:` value. Hash keys that are scalars become their
/// string form; non-scalar keys, non-finite floats and tags are refused with a reason. The YAML is
/// consumed: its strings move into the JSON instead of being copied (a secrets file of a thousand
/// blocks is mostly strings).
pub(crate) fn yaml_to_json(value: Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(flag),
        Value::String(text) => serde_json::Value::String(text),
        Value::Number(number) => {
            if let Some(int) = number.as_i64() {
                int.into()
            } else if let Some(uint) = number.as_u64() {
                uint.into()
            } else {
                let float = number.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(float)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| format!("the number `{number}` is not supported"))?
            }
        }
        Value::Sequence(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(map) => {
            let mut object = serde_json::Map::with_capacity(map.len());
            for (key, item) in map {
                let key = match key {
                    Value::Null => return Err("a hash key is null".to_owned()),
                    Value::String(text) => text,
                    key => scalar_to_string(&key).ok_or("a hash key is not a scalar")?,
                };
                object.insert(key, yaml_to_json(item)?);
            }
            serde_json::Value::Object(object)
        }
        Value::Tagged(tagged) => {
            return Err(format!(
                "the YAML tag `{}` is not supported here",
                tagged.tag
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::ruby_float;

    #[test]
    fn floats_print_like_ruby() {
        assert_eq!(ruby_float(1.1), "1.1");
        assert_eq!(ruby_float(1.0), "1.0");
        assert_eq!(ruby_float(-2.5), "-2.5");
        assert_eq!(ruby_float(0.0001), "0.0001");
        assert_eq!(ruby_float(0.00001), "1.0e-05");
        assert_eq!(ruby_float(1e15), "1000000000000000.0");
        assert_eq!(ruby_float(1e16), "1.0e+16");
        assert_eq!(ruby_float(1.5e300), "1.5e+300");
        assert_eq!(ruby_float(123.456), "123.456");
    }
}
