//! Printing resolved values for `resolve`: JSON, dotenv and POSIX shell.

use std::fmt::Write as _;

/// An output format of `ci-secrets resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One JSON object mapping each variable to its value.
    Json,
    /// `NAME='value'` lines for dotenv parsers.
    Dotenv,
    /// `export NAME='value'` lines, safe for `eval`.
    Shell,
}

/// One variable ready to print: the value, or the path of its file.
#[derive(Debug)]
pub struct OutputEntry<'a> {
    /// The variable name (validated: `[A-Za-z_][A-Za-z0-9_]*`).
    pub name: &'a str,
    /// The text to print.
    pub text: &'a str,
}

/// Renders entries. The returned string holds secrets: write it to stdout and
/// drop it (it is zeroed on drop).
pub fn render(format: OutputFormat, entries: &[OutputEntry<'_>]) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::new());
    match format {
        OutputFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = entries
                .iter()
                .map(|entry| (entry.name.to_string(), entry.text.into()))
                .collect();
            // Serializing a map of strings cannot fail.
            out.push_str(&serde_json::Value::Object(map).to_string());
            out.push('\n');
        }
        OutputFormat::Dotenv => {
            for entry in entries {
                let _ = writeln!(out, "{}={}", entry.name, dotenv_quote(entry.text));
            }
        }
        OutputFormat::Shell => {
            for entry in entries {
                let _ = writeln!(out, "export {}={}", entry.name, shell_quote(entry.text));
            }
        }
    }
    out
}

/// POSIX single quoting: everything is literal inside `'...'`; a quote is
/// written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// dotenv quoting: single quotes (literal) when possible, else double quotes
/// with the escapes dotenv parsers understand.
pub fn dotenv_quote(text: &str) -> String {
    if !text.contains(['\'', '\n', '\r', '\\']) {
        return format!("'{text}'");
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '$' => quoted.push_str("\\$"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    const HARD: &[&str] = &[
        "plain",
        "it's",
        "a\nmulti\nline",
        "$HOME and ${X} and `id` and $(id)",
        "back\\slash \"dq\" 'sq'",
        "",
        "trailing newline\n",
        "tab\tand unicode é ✓",
    ];

    #[test]
    fn shell_output_round_trips_through_sh() {
        for value in HARD {
            let line = format!("export V={}; printf '%s' \"$V\"", shell_quote(value));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&line)
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), *value, "{line}");
        }
    }

    #[test]
    fn dotenv_output_round_trips_through_dotenvy() {
        let entries: Vec<(String, String)> = HARD
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i}"), v.to_string()))
            .collect();
        let borrowed: Vec<OutputEntry<'_>> = entries
            .iter()
            .map(|(n, t)| OutputEntry { name: n, text: t })
            .collect();
        let text = render(OutputFormat::Dotenv, &borrowed);
        let parsed: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .map(Result::unwrap)
            .collect();
        assert_eq!(parsed, entries);
    }

    #[test]
    fn json_output_maps_names_to_values() {
        let text = render(
            OutputFormat::Json,
            &[OutputEntry {
                name: "A",
                text: "x\"y",
            }],
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["A"], "x\"y");
    }
}
