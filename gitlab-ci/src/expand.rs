//! GitLab Runner variable expansion: `$VAR`, `${VAR}`, `$$`, one pass.
//!
//! GitLab Runner expands the strings of a `secrets:` block (and variable values) with Go's
//! `os.Expand(value, JobVariables.Get)` (`common/variables.go`). This module reproduces that
//! function byte for byte, including its handling of malformed input, together with the special
//! names that `JobVariables.Get` answers itself:
//!
//! | Input | Result |
//! |---|---|
//! | `$NAME`, `${NAME}` | the variable's value, or `""` when it is unknown |
//! | `$$` | `$` |
//! | `$*` `$#` `$@` `$!` `$?` `$-` `$0`..`$9` (also braced, e.g. `${@}`) | `""` |
//! | `$` followed by any other character (e.g. `$/`, `$ `), or `$` at the end | kept as `$` |
//! | `${}` | removed |
//! | `${NAME` (unterminated) | `${` removed, `NAME` kept |
//! | `${any text}` | the text is looked up as a name, whatever characters it holds |
//!
//! Expansion is a single pass: a value that contains `$OTHER` is inserted as it is and is not
//! expanded again.

/// Expands `$VAR`, `${VAR}` and `$$` in `input` exactly as GitLab Runner does (Go `os.Expand`
/// with the runner's `JobVariables.Get`).
///
/// `lookup` is asked for every name except the special ones (`$`, `*`, `#`, `@`, `!`, `?`, `-`,
/// `0`..`9`), which the runner answers itself. A name that `lookup` does not know expands to the
/// empty string.
///
/// ```
/// use ci_secrets_gitlab::expand::expand;
///
/// let vars = |name: &str| (name == "ENV").then(|| "prod".to_string());
/// assert_eq!(expand("kv/$ENV/db", vars), "kv/prod/db");
/// assert_eq!(expand("${ENV}-$MISSING-$$-$1", vars), "prod--$-");
/// assert_eq!(expand("cost: 5$", vars), "cost: 5$");
/// ```
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    // `copied_to` is the start of the literal text not yet copied to `out`.
    let mut copied_to = 0;
    let mut index = 0;
    while index < bytes.len() {
        // A `$` as the very last byte is literal text (Go checks `j+1 < len(s)`).
        if bytes[index] != b'$' || index + 1 == bytes.len() {
            index += 1;
            continue;
        }
        out.push_str(&input[copied_to..index]);
        let rest = &input[index + 1..];
        let (name, width) = shell_name(rest);
        match name {
            Some(name) => out.push_str(&resolve(name, &lookup)),
            // Valid syntax, but `$` is not followed by a name: keep the dollar.
            None if width == 0 => out.push('$'),
            // Invalid syntax (`${}` or an unterminated `${`): the consumed bytes are dropped.
            None => {}
        }
        index += 1 + width;
        copied_to = index;
    }
    out.push_str(&input[copied_to..]);
    out
}

/// What `JobVariables.Get` returns for `name`.
fn resolve(name: &str, lookup: &impl Fn(&str) -> Option<String>) -> String {
    if name == "$" {
        return "$".to_owned();
    }
    if name.len() == 1 && name.bytes().all(is_shell_special) {
        return String::new();
    }
    lookup(name).unwrap_or_default()
}

/// Go's `isShellSpecialVar`.
fn is_shell_special(byte: u8) -> bool {
    matches!(
        byte,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `isAlphaNum` (ASCII only).
fn is_name_byte(byte: u8) -> bool {
    byte == b'_' || byte.is_ascii_alphanumeric()
}

/// Go's `getShellName`: the name after a `$` and how many bytes of `rest` it used.
///
/// `None` with a width of 0 means "no name, keep the `$`"; `None` with a positive width means
/// "bad syntax, drop that many bytes". All byte offsets returned sit next to ASCII bytes, so the
/// slices are valid UTF-8 boundaries.
fn shell_name(rest: &str) -> (Option<&str>, usize) {
    let bytes = rest.as_bytes();
    match bytes.first() {
        Some(b'{') => {
            if bytes.len() > 2 && is_shell_special(bytes[1]) && bytes[2] == b'}' {
                return (Some(&rest[1..2]), 3);
            }
            match bytes[1..].iter().position(|&byte| byte == b'}') {
                // `${}`: bad syntax, eat both bytes.
                Some(0) => (None, 2),
                Some(offset) => (Some(&rest[1..=offset]), offset + 2),
                // Unterminated `${`: eat the two bytes `${` (the `$` is counted by the caller).
                None => (None, 1),
            }
        }
        Some(&byte) if is_shell_special(byte) => (Some(&rest[..1]), 1),
        _ => {
            let len = bytes.iter().take_while(|&&byte| is_name_byte(byte)).count();
            if len == 0 {
                (None, 0)
            } else {
                (Some(&rest[..len]), len)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn malformed_input_follows_go() {
        assert_eq!(expand("a${b", none), "ab");
        assert_eq!(expand("a${}b", none), "ab");
        assert_eq!(expand("a$/b", none), "a$/b");
        assert_eq!(expand("a$", none), "a$");
        assert_eq!(expand("$é", none), "$é");
        assert_eq!(expand("${@}x${1}$9", none), "x");
    }

    #[test]
    fn braced_names_may_hold_any_text() {
        let lookup = |name: &str| (name == "a b").then(|| "v".to_owned());
        assert_eq!(expand("${a b}", lookup), "v");
        assert_eq!(
            expand("${12}", |n: &str| (n == "12").then(|| "x".to_owned())),
            "x"
        );
    }

    #[test]
    fn one_pass_only() {
        let lookup = |name: &str| (name == "A").then(|| "$B".to_owned());
        assert_eq!(expand("$A", lookup), "$B");
    }
}
