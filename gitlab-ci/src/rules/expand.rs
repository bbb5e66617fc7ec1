//! `ExpandVariables.expand_existing` over `variables_hash_expanded`: how GitLab expands the
//! paths of `exists:` and `changes:`, `compare_to:`, `exists: project:` and `ref:`.
//!
//! A reference to a variable that exists is replaced by its value, itself fully expanded
//! (GitLab's `sort_and_expand_all`); a reference to an unknown variable is kept as written
//! (`path/with/$in/it/*` stays as it is when `$in` is unknown).

use std::sync::LazyLock;

use regex::Regex;

/// How deep values referring to other variables are expanded; GitLab refuses cycles, this
/// bound keeps a cycle finite.
const MAX_DEPTH: usize = 10;

/// GitLab's `VARIABLES_REGEXP`.
static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"\$([a-zA-Z_][a-zA-Z0-9_]*)|\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|%([a-zA-Z_][a-zA-Z0-9_]*)%",
    )
    .ok()
});

/// Expands the references of `value` that `lookup` knows, leaving the others untouched.
pub fn expand_existing(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    expand_at(value, lookup, 0)
}

fn expand_at(value: &str, lookup: &dyn Fn(&str) -> Option<String>, depth: usize) -> String {
    let Some(reference) = REFERENCE.as_ref() else {
        return value.to_owned();
    };
    reference
        .replace_all(value, |captures: &regex::Captures<'_>| {
            let whole = captures.get(0).map_or("", |whole| whole.as_str());
            let name = captures
                .get(1)
                .or_else(|| captures.get(2))
                .or_else(|| captures.get(3))
                .map_or("", |name| name.as_str());
            match lookup(name) {
                Some(inner) if depth < MAX_DEPTH => expand_at(&inner, lookup, depth + 1),
                Some(inner) => inner,
                None => whole.to_owned(),
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::expand_existing;

    // spec/lib/gitlab/ci/build/rules/rule/clause/changes_spec.rb and exists_spec.rb:
    // "when the variable is nested", "when variable expansion does not match".
    #[test]
    fn nested_and_unknown_references() {
        let lookup = |name: &str| match name {
            "HELM_DIR" => Some("he$SUFFIX".to_owned()),
            "SUFFIX" => Some("lm".to_owned()),
            "SUBDIR" => Some("subdir".to_owned()),
            "NESTED_FULL_PATH_VALID" => Some("$SUBDIR/my_file.txt".to_owned()),
            "PREFIX" => Some("feature_".to_owned()),
            _ => None,
        };
        assert_eq!(expand_existing("$HELM_DIR/**/*", &lookup), "helm/**/*");
        assert_eq!(
            expand_existing("path/with/$in/it/*", &lookup),
            "path/with/$in/it/*"
        );
        assert_eq!(
            expand_existing("$NESTED_FULL_PATH_VALID", &lookup),
            "subdir/my_file.txt"
        );
        assert_eq!(expand_existing("${PREFIX}1", &lookup), "feature_1");
        assert_eq!(expand_existing("$UNKNOWN/**/*", &lookup), "$UNKNOWN/**/*");
        let cycle = |name: &str| (name == "A").then(|| "x$A".to_owned());
        assert!(expand_existing("$A", &cycle).starts_with("xxxxxxxxxx"));
    }
}
