//! A second, independent model of Go's `os.Expand` plus GitLab Runner's special names, written
//! from Go's documentation as a character-level state machine, not from `expand`. Property tests
//! compare `ci_secrets_gitlab::expand::expand` with it: `gitlab-ci/tests/expansion.rs` with
//! proptest, and the fuzz crate's `expansion` target (`fuzz/src/lib.rs` includes this file).

/// What `input` expands to with `vars` (later definitions win).
pub fn expand_model(input: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| -> String {
        if name == "$" {
            return "$".into();
        }
        if name.len() == 1 && "*#@!?-0123456789".contains(name) {
            return String::new();
        }
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let special = |c: char| "*#$@!?-0123456789".contains(c);
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' || i + 1 == chars.len() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        if next == '{' {
            if i + 3 < chars.len() && special(chars[i + 2]) && chars[i + 3] == '}' {
                out.push_str(&lookup(&chars[i + 2].to_string()));
                i += 4;
            } else if let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') {
                if close > 0 {
                    out.push_str(&lookup(
                        &chars[i + 2..i + 2 + close].iter().collect::<String>(),
                    ));
                }
                i += close + 3;
            } else {
                i += 2;
            }
        } else if special(next) {
            out.push_str(&lookup(&next.to_string()));
            i += 2;
        } else {
            let len = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .count();
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&lookup(
                    &chars[i + 1..i + 1 + len].iter().collect::<String>(),
                ));
            }
            i += 1 + len;
        }
    }
    out
}
