//! The texts migrate writes: the secrets files, and the script lines that
//! load them.
//!
//! Secrets files are written from the loaded values (after `extends:`,
//! anchors and `!reference`), every string double-quoted: a YAML 1.1 reader
//! would take a plain `on` or `1.10` for a boolean or a number, and the file
//! must load back to exactly the values the job had.

use indexmap::IndexMap;
use serde_json::Value;

/// How a migrated job gets its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// `script:` runs under `ci-secrets exec --secrets FILE --`: the values
    /// are in the environment of the script only, and masked in its output.
    #[default]
    Exec,
    /// `script:` starts with `eval "$(ci-secrets resolve --secrets FILE
    /// --format shell ...)"`: the values are shell variables of the job's
    /// shell, and nothing masks them in the job log.
    Shell,
}

/// The shell `exec` style runs the joined script lines with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScriptShell {
    /// `sh -ec`: POSIX sh, stop at the first failing line.
    #[default]
    Sh,
    /// `bash -eo pipefail -c`: what GitLab Runner's bash shell sets.
    Bash,
}

impl ScriptShell {
    fn invocation(self) -> &'static str {
        match self {
            Self::Sh => "sh -ec",
            Self::Bash => "bash -eo pipefail -c",
        }
    }
}

/// `text` as a POSIX shell word: single quotes, a `'` written `'\''`.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` as a YAML double-quoted scalar (JSON's escapes are YAML's).
pub(crate) fn yaml_quote(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// The one script line of a job migrated in `exec` style: every line of
/// `script` joined as GitLab Runner joins them (one shell, stop at the first
/// failure), run by `command exec --secrets FILE --`.
pub(crate) fn exec_line(
    command: &str,
    file: &str,
    shell: ScriptShell,
    script: &[String],
) -> String {
    let body = format!("\n{}\n", script.join("\n"));
    format!(
        "{command} exec --secrets {} -- {} {}",
        shell_quote_if_needed(file),
        shell.invocation(),
        shell_quote(&body)
    )
}

/// The line a job migrated in `shell` style starts its script with. When
/// `resolve` fails, `exit 1` is what `eval` runs: a failed command
/// substitution alone would leave `eval ""` succeeding.
pub(crate) fn shell_line(command: &str, file: &str) -> String {
    format!(
        "eval \"$({command} resolve --secrets {} --format shell || echo exit 1)\"",
        shell_quote_if_needed(file)
    )
}

fn shell_quote_if_needed(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if safe {
        word.to_owned()
    } else {
        shell_quote(word)
    }
}

/// The script lines of `exec_line`'s output joined by line breaks (as the
/// shell reads them), or `None` when `line` is not one: the proof reads the
/// rewritten script back with it, so an encoding mistake shows as a
/// difference instead of a changed script.
pub(crate) fn exec_line_script(
    line: &str,
    command: &str,
    file: &str,
    shell: ScriptShell,
) -> Option<String> {
    let prefix = format!(
        "{command} exec --secrets {} -- {} '",
        shell_quote_if_needed(file),
        shell.invocation()
    );
    let quoted = line.strip_prefix(&prefix)?.strip_suffix('\'')?;
    // Inside the quotes, `'\''` is the only sequence that is not literal.
    let mut body = String::with_capacity(quoted.len());
    let mut rest = quoted;
    while let Some(at) = rest.find('\'') {
        body.push_str(&rest[..at]);
        rest = rest[at..].strip_prefix(r"'\''")?;
        body.push('\'');
    }
    body.push_str(rest);
    Some(body.strip_prefix('\n')?.strip_suffix('\n')?.to_owned())
}

/// A `script:` value (a string or nested arrays of strings) as GitLab runs
/// it: one line per string; `None` when something else is in it.
pub(crate) fn flatten_script(value: &Value) -> Option<Vec<String>> {
    fn walk(value: &Value, lines: &mut Vec<String>) -> bool {
        match value {
            Value::String(line) => {
                lines.push(line.clone());
                true
            }
            Value::Array(items) => items.iter().all(|item| walk(item, lines)),
            _ => false,
        }
    }
    let mut lines = Vec::new();
    walk(value, &mut lines).then_some(lines)
}

/// The text of a secrets file: a header comment, then `secrets:` and, when
/// the secrets use any, `id_tokens:`.
pub(crate) fn secrets_file(
    header: &[String],
    secrets: &serde_json::Map<String, Value>,
    id_tokens: &IndexMap<String, Vec<String>>,
) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("secrets:\n");
    for (name, value) in secrets {
        write_entry(&mut out, 1, name, value);
    }
    if !id_tokens.is_empty() {
        out.push_str("id_tokens:\n");
        for (name, audiences) in id_tokens {
            let aud = match audiences.as_slice() {
                [one] => Value::String(one.clone()),
                many => Value::Array(many.iter().cloned().map(Value::String).collect()),
            };
            let mut token = serde_json::Map::new();
            token.insert("aud".to_owned(), aud);
            write_entry(&mut out, 1, name, &Value::Object(token));
        }
    }
    out
}

fn key_text(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
    if plain && !is_yaml11_keyword(key) {
        key.to_owned()
    } else {
        yaml_quote(key)
    }
}

/// Words a YAML 1.1 reader takes for a boolean or null.
fn is_yaml11_keyword(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    )
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(yaml_quote(text)),
        Value::Null => Some("null".to_owned()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Array(items) if items.is_empty() => Some("[]".to_owned()),
        Value::Object(map) if map.is_empty() => Some("{}".to_owned()),
        _ => None,
    }
}

fn write_entry(out: &mut String, depth: usize, key: &str, value: &Value) {
    let indent = "  ".repeat(depth);
    match scalar_text(value) {
        Some(scalar) => out.push_str(&format!("{indent}{}: {scalar}\n", key_text(key))),
        None => {
            out.push_str(&format!("{indent}{}:\n", key_text(key)));
            write_children(out, depth + 1, value);
        }
    }
}

fn write_children(out: &mut String, depth: usize, value: &Value) {
    let indent = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                write_entry(out, depth, key, child);
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar_text(item) {
                    Some(scalar) => out.push_str(&format!("{indent}- {scalar}\n")),
                    None => {
                        out.push_str(&format!("{indent}-\n"));
                        write_children(out, depth + 1, item);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn exec_lines_read_back_to_the_script() {
        let script: Vec<String> = [
            "echo 'it''s' \"$DB\"",
            "for x in a b; do",
            "  echo $x",
            "done",
            "",
            "printf '%s\\n' '\\''",
        ]
        .map(str::to_owned)
        .to_vec();
        for shell in [ScriptShell::Sh, ScriptShell::Bash] {
            let line = exec_line("ci-secrets", "ci/secrets/a b.yml", shell, &script);
            assert_eq!(
                exec_line_script(&line, "ci-secrets", "ci/secrets/a b.yml", shell),
                Some(script.join("\n"))
            );
        }
        let line = exec_line(
            "ci-secrets",
            "f.yml",
            ScriptShell::Sh,
            &["echo hi".to_owned()],
        );
        assert_eq!(
            line,
            "ci-secrets exec --secrets f.yml -- sh -ec '\necho hi\n'"
        );
        assert_eq!(
            exec_line_script("echo hi", "ci-secrets", "f.yml", ScriptShell::Sh),
            None
        );
    }

    #[test]
    fn the_shell_line_fails_the_job_when_resolve_fails() {
        assert_eq!(
            shell_line("ci-secrets", "ci/secrets/deploy.yml"),
            "eval \"$(ci-secrets resolve --secrets ci/secrets/deploy.yml --format shell || echo exit 1)\""
        );
    }

    #[test]
    fn scripts_flatten_as_gitlab_runs_them() {
        let value = serde_json::json!(["a", ["b", ["c"]], "d"]);
        assert_eq!(flatten_script(&value).unwrap(), ["a", "b", "c", "d"]);
        assert_eq!(flatten_script(&serde_json::json!("x")).unwrap(), ["x"]);
        assert_eq!(flatten_script(&serde_json::json!(["a", 1])), None);
    }

    #[test]
    fn secrets_files_quote_every_string() {
        let secrets = serde_json::json!({
            "DB": {"akeyless": {"name": "/db", "cache": 10}, "token": "$AKEYLESS_JWT", "file": false},
            "on": {"akeyless": {"name": "yes"}},
            "LIST": {"x": ["a", {"b": "c"}], "e": {}},
        });
        let mut tokens = IndexMap::new();
        tokens.insert(
            "AKEYLESS_JWT".to_owned(),
            vec!["https://akeyless.example".to_owned()],
        );
        let text = secrets_file(&["head".to_owned()], secrets.as_object().unwrap(), &tokens);
        assert_eq!(
            text,
            r#"# head
secrets:
  DB:
    akeyless:
      name: "/db"
      cache: 10
    token: "$AKEYLESS_JWT"
    file: false
  "on":
    akeyless:
      name: "yes"
  LIST:
    x:
      - "a"
      -
        b: "c"
    e: {}
id_tokens:
  AKEYLESS_JWT:
    aud: "https://akeyless.example"
"#
        );
    }
}
