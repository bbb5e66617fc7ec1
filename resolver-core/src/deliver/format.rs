//! Printing resolved values for `resolve`: JSON, dotenv, GitLab's dotenv
//! report dialect and POSIX shell.
//!
//! The dotenv dialect is the part that every common reader reads the same
//! way: python-dotenv (`dotenv_values`, interpolation on), Node's `dotenv`
//! (`parse`), dotenvy (our own `--env-file`) and a POSIX shell (`set -a; .
//! file`). A value goes in single quotes, where all of them take the text
//! literally, unless it holds a single quote; then in double quotes, when
//! it holds nothing that any of them would interpret there. A value that
//! fits neither is refused, naming its variable: never printed damaged.

use std::io::Write as _;

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
    /// `NAME=value` lines as GitLab reads an `artifacts: reports: dotenv:`
    /// file (see [`gitlab_dotenv_line`]).
    #[serde(rename = "gitlab-dotenv")]
    GitlabDotenv,
}

impl OutputFormat {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Dotenv => "dotenv",
            OutputFormat::Shell => "shell",
            OutputFormat::GitlabDotenv => "gitlab-dotenv",
        }
    }
}

/// What an entry prints: a secret's value, or the path of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The secret's value.
    Value,
    /// The path of the file holding the secret.
    FilePath,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::Value => "value",
            EntryKind::FilePath => "file path",
        })
    }
}

/// One variable ready to print: the value, or the path of its file.
#[derive(Debug)]
pub struct OutputEntry<'a> {
    /// The variable name (validated: `[A-Za-z_][A-Za-z0-9_]*`).
    pub name: &'a str,
    /// The bytes to print: UTF-8 for a value, any bytes for a path.
    pub text: &'a [u8],
    /// Whether `text` is a value or a path.
    pub kind: EntryKind,
}

/// Why an entry cannot be printed exactly in the chosen format. Names the
/// variable and the kind of character, never the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// JSON and dotenv are text; a path that is not UTF-8 has no exact form there.
    #[error(
        "the {kind} of {variable} is not UTF-8, which --format {format} cannot carry exactly; use --format shell"
    )]
    NotUtf8 {
        /// The variable.
        variable: String,
        /// Value or path.
        kind: EntryKind,
        /// The format asked for.
        format: &'static str,
    },
    /// A value GitLab's dotenv report cannot carry.
    #[error(
        "the {kind} of {variable} holds {limit}, which --format gitlab-dotenv cannot carry exactly; pass it another way (file: true, or resolve it in the job that needs it)"
    )]
    GitlabDotenv {
        /// The variable.
        variable: String,
        /// Value or path.
        kind: EntryKind,
        /// What the report cannot carry.
        limit: GitlabDotenvLimit,
    },
    /// The report as a whole is over one of GitLab's default limits.
    #[error(
        "--format gitlab-dotenv: the report would hold {limit}; GitLab would refuse the whole artifact"
    )]
    GitlabDotenvReport {
        /// Which limit.
        limit: GitlabDotenvLimit,
    },
    /// A value outside the dotenv dialect.
    #[error(
        "the {kind} of {variable} holds {limit}, which --format dotenv cannot carry exactly for every dotenv reader; use --format shell or json, or file: true"
    )]
    Dotenv {
        /// The variable.
        variable: String,
        /// Value or path.
        kind: EntryKind,
        /// What the dialect cannot carry.
        limit: DotenvLimit,
    },
}

/// What GitLab's dotenv report cannot carry, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GitlabDotenvLimit {
    /// GitLab reads the file line by line: no value spans lines.
    #[error("a line break (GitLab reads a dotenv report line by line)")]
    LineBreak,
    /// GitLab strips both sides of each value.
    #[error("leading or trailing white space (GitLab strips both sides of a dotenv value)")]
    EdgeSpace,
    /// A NUL byte is no text GitLab keeps.
    #[error("a NUL byte")]
    Nul,
    /// More variables than GitLab's default `dotenv_variables` limit.
    #[error(
        "more than {GITLAB_DOTENV_MAX_VARIABLES} variables (GitLab's default dotenv_variables limit)"
    )]
    TooManyVariables,
    /// A file larger than GitLab's default `dotenv_size` limit.
    #[error("more than {GITLAB_DOTENV_MAX_BYTES} bytes (GitLab's default dotenv_size limit)")]
    TooLarge,
}

/// GitLab's default limit of variables in one dotenv report (`dotenv_variables`).
pub const GITLAB_DOTENV_MAX_VARIABLES: usize = 20;

/// GitLab's default size limit of one dotenv report (`dotenv_size`, 5 KiB).
pub const GITLAB_DOTENV_MAX_BYTES: usize = 5 * 1024;

/// What the dotenv dialect cannot carry, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DotenvLimit {
    /// Python and Node read a carriage return as a line end.
    #[error("a carriage return (python-dotenv and Node's dotenv read it as a line end)")]
    CarriageReturn,
    /// python-dotenv expands `${NAME}` even inside single quotes.
    #[error("`${{` followed by `}}` (python-dotenv expands it even inside single quotes)")]
    BraceReference,
    /// A single quote rules out single quotes; then `"`, `$`, `` ` `` or `\`
    /// rule out double quotes, where the readers disagree about them.
    #[error(
        "a single quote together with a double quote, `$`, a backtick or a backslash (no quoting reads the same in every dotenv reader)"
    )]
    QuoteMix,
    /// Python reads `\\` in single quotes as one backslash, Node as two; a
    /// trailing backslash escapes the closing quote for both.
    #[error(
        "two backslashes in a row or a trailing backslash (python-dotenv and Node's dotenv read them differently)"
    )]
    Backslashes,
}

/// Renders entries. The returned bytes hold secrets: write them to stdout
/// and drop them (they are zeroed on drop). Nothing is rendered unless
/// every entry can be printed exactly.
pub fn render(
    format: OutputFormat,
    entries: &[OutputEntry<'_>],
) -> Result<zeroize::Zeroizing<Vec<u8>>, FormatError> {
    // Sized up front for the worst case of every format (JSON's `\u00XX`
    // is 6 bytes a byte), so the buffer never grows: a grown Vec frees its
    // old allocation without zeroing it.
    let worst_case: usize = entries
        .iter()
        .map(|entry| entry.name.len() + 6 * entry.text.len() + 16)
        .sum();
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(worst_case + 4));
    match format {
        OutputFormat::Json => {
            let mut map = indexmap::IndexMap::with_capacity(entries.len());
            for entry in entries {
                map.insert(entry.name, text_of(entry, format)?);
            }
            // Straight into `out`: no intermediate copy of a value. Writing a
            // map of strings into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &map);
            out.push(b'\n');
        }
        OutputFormat::Dotenv => {
            for entry in entries {
                let quoted =
                    dotenv_quote(text_of(entry, format)?).map_err(|limit| FormatError::Dotenv {
                        variable: entry.name.to_string(),
                        kind: entry.kind,
                        limit,
                    })?;
                let _ = writeln!(out, "{}={}", entry.name, quoted.as_str());
            }
        }
        OutputFormat::GitlabDotenv => {
            if entries.len() > GITLAB_DOTENV_MAX_VARIABLES {
                return Err(FormatError::GitlabDotenvReport {
                    limit: GitlabDotenvLimit::TooManyVariables,
                });
            }
            for entry in entries {
                let text = text_of(entry, format)?;
                gitlab_dotenv_line(&mut out, entry.name, text).map_err(|limit| {
                    FormatError::GitlabDotenv {
                        variable: entry.name.to_string(),
                        kind: entry.kind,
                        limit,
                    }
                })?;
            }
            if out.len() > GITLAB_DOTENV_MAX_BYTES {
                return Err(FormatError::GitlabDotenvReport {
                    limit: GitlabDotenvLimit::TooLarge,
                });
            }
        }
        OutputFormat::Shell => {
            for entry in entries {
                out.extend_from_slice(b"export ");
                out.extend_from_slice(entry.name.as_bytes());
                out.push(b'=');
                out.extend_from_slice(&shell_quote(entry.text));
                out.push(b'\n');
            }
        }
    }
    Ok(out)
}

/// The entry as text, for the formats that are text.
fn text_of<'a>(entry: &OutputEntry<'a>, format: OutputFormat) -> Result<&'a str, FormatError> {
    std::str::from_utf8(entry.text).map_err(|_| FormatError::NotUtf8 {
        variable: entry.name.to_string(),
        kind: entry.kind,
        format: format.name(),
    })
}

/// POSIX single quoting: every byte is literal inside `'...'` (a shell
/// reads bytes, so any path is printed exactly); a quote is written as `'\''`.
pub fn shell_quote(text: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    // Exactly the size needed, so the buffer never grows (and never leaves
    // an unzeroed copy behind).
    let quotes = text.iter().filter(|&&byte| byte == b'\'').count();
    let mut quoted = zeroize::Zeroizing::new(Vec::with_capacity(text.len() + 3 * quotes + 2));
    quoted.push(b'\'');
    for &byte in text {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// The value in the dotenv dialect (see the module documentation), or what
/// keeps it out.
pub fn dotenv_quote(text: &str) -> Result<zeroize::Zeroizing<String>, DotenvLimit> {
    if text.contains('\r') {
        return Err(DotenvLimit::CarriageReturn);
    }
    if has_brace_reference(text) {
        return Err(DotenvLimit::BraceReference);
    }
    let quote = if !text.contains('\'') {
        if text.contains("\\\\") || text.ends_with('\\') {
            return Err(DotenvLimit::Backslashes);
        }
        '\''
    } else if !text.contains(['"', '$', '`', '\\']) {
        '"'
    } else {
        return Err(DotenvLimit::QuoteMix);
    };
    let mut quoted = zeroize::Zeroizing::new(String::with_capacity(text.len() + 2));
    quoted.push(quote);
    quoted.push_str(text);
    quoted.push(quote);
    Ok(quoted)
}

/// Appends `NAME=value` as GitLab's dotenv report reads it back to exactly
/// `text` (`Ci::ParseDotenvArtifactService`): each line split at the first
/// `=`, both sides stripped, no unquoting, no escapes, one line per variable;
/// the variables are then expanded when a later job uses them (`raw:
/// false`), so every `$` is written `$$`. A value that cannot come back
/// exactly is refused.
pub fn gitlab_dotenv_line(
    out: &mut Vec<u8>,
    name: &str,
    text: &str,
) -> Result<(), GitlabDotenvLimit> {
    if text.contains(['\n', '\r']) {
        return Err(GitlabDotenvLimit::LineBreak);
    }
    if text.contains('\0') {
        return Err(GitlabDotenvLimit::Nul);
    }
    // Ruby's `strip`: ASCII white space (and NUL, refused above) at either end.
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\x0b' | '\x0c');
    if text.starts_with(is_space) || text.ends_with(is_space) {
        return Err(GitlabDotenvLimit::EdgeSpace);
    }
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
    for piece in text.split_inclusive('$') {
        out.extend_from_slice(piece.as_bytes());
        if piece.ends_with('$') {
            out.push(b'$');
        }
    }
    out.push(b'\n');
    Ok(())
}

/// `${` with a `}` after it: python-dotenv would expand it (its pattern is
/// narrower, but any such text is refused rather than reasoned about).
fn has_brace_reference(text: &str) -> bool {
    text.find("${")
        .is_some_and(|start| text[start + 2..].contains('}'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    const HARD: &[&str] = &[
        "plain",
        "it's",
        "a\nmulti\nline",
        "$HOME and ${X} and `id` and $(id)",
        "back\\slash \"dq\" 'sq'",
        "",
        "trailing newline\n",
        "tab\tand unicode é ✓",
        "cr\r\nlf",
        "ends with \\",
        "  spaces  # not a comment = x",
    ];

    fn entry<'a>(name: &'a str, text: &'a str) -> OutputEntry<'a> {
        OutputEntry {
            name,
            text: text.as_bytes(),
            kind: EntryKind::Value,
        }
    }

    #[test]
    fn shell_output_round_trips_through_sh() {
        for value in HARD {
            let mut line = b"export V=".to_vec();
            line.extend_from_slice(&shell_quote(value.as_bytes()));
            line.extend_from_slice(b"; printf '%s' \"$V\"");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(std::ffi::OsStr::from_bytes(&line))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), *value);
        }
    }

    #[test]
    fn dotenv_output_round_trips_through_dotenvy_or_is_refused_by_name() {
        let mut carried = Vec::new();
        for (i, value) in HARD.iter().enumerate() {
            let name = format!("V{i}");
            match render(OutputFormat::Dotenv, &[entry(&name, value)]) {
                Ok(text) => {
                    let parsed: Vec<(String, String)> = dotenvy::from_read_iter(&text[..])
                        .map(Result::unwrap)
                        .collect();
                    assert_eq!(parsed, vec![(name.clone(), value.to_string())]);
                    carried.push(*value);
                }
                Err(err) => {
                    let message = err.to_string();
                    assert!(message.contains(&name), "{message}");
                    assert!(!message.contains(value), "{message}");
                }
            }
        }
        assert!(carried.contains(&"it's") && carried.contains(&"a\nmulti\nline"));
    }

    #[test]
    fn dotenv_refuses_what_a_reader_would_damage() {
        for (value, limit) in [
            ("a\rb", DotenvLimit::CarriageReturn),
            ("x${HOME}y", DotenvLimit::BraceReference),
            ("it's $5", DotenvLimit::QuoteMix),
            ("it's \"x\"", DotenvLimit::QuoteMix),
            ("c:\\\\share", DotenvLimit::Backslashes),
            ("trailing\\", DotenvLimit::Backslashes),
        ] {
            assert_eq!(dotenv_quote(value).unwrap_err(), limit, "{value:?}");
        }
        // Nothing is rendered when one entry is refused.
        let err = render(
            OutputFormat::Dotenv,
            &[entry("GOOD", "fine"), entry("BAD", "a\rb")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("BAD"), "{err}");
    }

    #[test]
    fn a_path_that_is_not_utf8_is_exact_in_shell_and_refused_elsewhere() {
        let path = b"/tmp/\xff\xfe/KEY";
        let entries = [OutputEntry {
            name: "KEY",
            text: path,
            kind: EntryKind::FilePath,
        }];
        let shell = render(OutputFormat::Shell, &entries).unwrap();
        assert_eq!(&shell[..], b"export KEY='/tmp/\xff\xfe/KEY'\n");
        for format in [OutputFormat::Dotenv, OutputFormat::Json] {
            let err = render(format, &entries).unwrap_err();
            assert!(
                matches!(err, FormatError::NotUtf8 { ref variable, .. } if variable == "KEY"),
                "{err}"
            );
        }
    }

    #[test]
    fn json_output_maps_names_to_values() {
        let text = render(OutputFormat::Json, &[entry("A", "x\"y")]).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(parsed["A"], "x\"y");
    }
}

#[cfg(test)]
mod gitlab_dotenv_tests {
    use super::*;

    /// What GitLab and then the runner make of one report line
    /// (`Ci::ParseDotenvArtifactService`: first `=`, both sides stripped,
    /// no unquoting; runner expansion: `$$` is `$`).
    fn gitlab_reads(line: &str) -> (String, String) {
        let (name, value) = line.split_once('=').unwrap();
        let mut expanded = String::new();
        let mut chars = value.trim().chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek() == Some(&'$') {
                chars.next();
            }
            expanded.push(c);
        }
        (name.trim().to_owned(), expanded)
    }

    #[test]
    fn values_come_back_exactly_through_gitlab() {
        for value in [
            "plain",
            "with = equals == signs",
            "$HOME and $$ and ${X} and $",
            "it's \"quoted\" `cmd` \\ back\\\\slash",
            "t-0123456789abcdef",
            "ünïcödé",
            "",
        ] {
            let mut out = Vec::new();
            gitlab_dotenv_line(&mut out, "NAME", value).unwrap();
            let line = String::from_utf8(out).unwrap();
            assert_eq!(line.matches('\n').count(), 1);
            assert_eq!(
                gitlab_reads(line.trim_end_matches('\n')),
                ("NAME".to_owned(), value.to_owned()),
                "{value}"
            );
        }
    }

    #[test]
    fn what_gitlab_cannot_carry_is_refused_by_kind() {
        for (value, limit) in [
            ("two\nlines", GitlabDotenvLimit::LineBreak),
            ("carriage\rreturn", GitlabDotenvLimit::LineBreak),
            (" leading", GitlabDotenvLimit::EdgeSpace),
            ("trailing\t", GitlabDotenvLimit::EdgeSpace),
            ("nul\0byte", GitlabDotenvLimit::Nul),
        ] {
            assert_eq!(
                gitlab_dotenv_line(&mut Vec::new(), "NAME", value),
                Err(limit),
                "{value:?}"
            );
        }
    }

    #[test]
    fn the_report_keeps_to_gitlabs_default_limits() {
        let names: Vec<String> = (0..=GITLAB_DOTENV_MAX_VARIABLES)
            .map(|index| format!("V{index}"))
            .collect();
        let entries: Vec<OutputEntry<'_>> = names
            .iter()
            .map(|name| OutputEntry {
                name,
                text: b"x",
                kind: EntryKind::Value,
            })
            .collect();
        let error = render(OutputFormat::GitlabDotenv, &entries).unwrap_err();
        assert!(
            error.to_string().contains("more than 20 variables"),
            "{error}"
        );
        assert!(render(OutputFormat::GitlabDotenv, &entries[..20]).is_ok());

        let big = "x".repeat(GITLAB_DOTENV_MAX_BYTES);
        let entry = OutputEntry {
            name: "BIG",
            text: big.as_bytes(),
            kind: EntryKind::Value,
        };
        let error = render(OutputFormat::GitlabDotenv, &[entry]).unwrap_err();
        assert!(
            error.to_string().contains("more than 5120 bytes"),
            "{error}"
        );

        let entry = OutputEntry {
            name: "MULTI",
            text: b"secret-line-1\nsecret-line-2",
            kind: EntryKind::Value,
        };
        let message = render(OutputFormat::GitlabDotenv, &[entry])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("MULTI") && message.contains("a line break"),
            "{message}"
        );
        assert!(!message.contains("secret-line"), "{message}");
    }
}
