//! GitLab Rails' variable expansion (`ExpandVariables.expand`), used where
//! GitLab itself expands before any runner sees the pipeline: `include:`
//! paths. It differs from the runner's ([`crate::expand`]): `$NAME`,
//! `${NAME}` and `%NAME%` are references (names of letters, digits and `_`,
//! not starting with a digit), an unknown one becomes empty, and `$$` is
//! no escape (`$$NAME` is a `$` and then a reference).

use std::sync::LazyLock;

use regex::Regex;

/// GitLab's `VARIABLES_REGEXP`.
static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"\$([a-zA-Z_][a-zA-Z0-9_]*)|\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|%([a-zA-Z_][a-zA-Z0-9_]*)%",
    )
    .ok()
});

/// Expands the references of `value` with `lookup`, as GitLab Rails does.
///
/// ```
/// use ci_secrets_gitlab::rails_expand::expand;
/// let lookup = |name: &str| (name == "DIR").then(|| "ci".to_string());
/// assert_eq!(expand("$DIR/${DIR}/%DIR%/$NONE.yml", lookup), "ci/ci/ci/.yml");
/// assert_eq!(expand("a$$DIR", lookup), "a$ci");
/// ```
pub fn expand(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let Some(reference) = REFERENCE.as_ref() else {
        // The pattern is a constant that compiles; unreachable in practice.
        return value.to_owned();
    };
    reference
        .replace_all(value, |captures: &regex::Captures<'_>| {
            let name = captures
                .get(1)
                .or_else(|| captures.get(2))
                .or_else(|| captures.get(3))
                .map_or("", |name| name.as_str());
            lookup(name).unwrap_or_default()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "A" => Some("x".into()),
            "B_1" => Some("$A".into()),
            _ => None,
        }
    }

    #[test]
    fn references_and_their_neighbours_expand_as_in_rails() {
        assert_eq!(expand("$A/${A}/%A%", lookup), "x/x/x");
        // One pass: an inserted value is not expanded again.
        assert_eq!(expand("$B_1", lookup), "$A");
        assert_eq!(expand("$UNKNOWN-y", lookup), "-y");
        // Not references: a digit first, a lone `$`, `$$`, `%` without a closing `%`.
        assert_eq!(expand("$1 $ $$ %A", lookup), "$1 $ $$ %A");
        assert_eq!(expand("$A1", lookup), "");
    }
}
