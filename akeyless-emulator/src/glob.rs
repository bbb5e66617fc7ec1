//! The allow-list globs of the seed: `*` matches any run of characters, `/` included; every other
//! character matches itself. (Akeyless role rules use the same single wildcard.)

/// Whether `path` matches `pattern`.
pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let mut parts = pattern.split('*');
    // `split` always yields at least one part.
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.strip_prefix(first) else {
        return false;
    };
    let middle_and_last: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle_and_last.split_last() else {
        // No `*`: the whole path must equal the pattern.
        return rest.is_empty();
    };
    for part in middle {
        // Taking the leftmost occurrence is optimal for `*`-only globs: it leaves the longest rest.
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_matches_any_run_including_slashes() {
        assert!(matches("/prod/*", "/prod/db/password"));
        assert!(matches("/prod/*", "/prod/"));
        assert!(!matches("/prod/*", "/production/x"));
        assert!(matches("*", "/anything/at/all"));
        assert!(matches("/a/*/c", "/a/b/x/c"));
        assert!(!matches("/a/*/c", "/a/b/x/d"));
        assert!(matches("/a/*b*c", "/a/xbyc"));
        assert!(!matches("/a/*b*c", "/a/xcyb"));
    }

    #[test]
    fn without_star_the_path_must_be_equal() {
        assert!(matches("/prod/db", "/prod/db"));
        assert!(!matches("/prod/db", "/prod/db/x"));
        assert!(!matches("/prod/db", "/prod"));
    }

    #[test]
    fn prefix_and_suffix_must_not_overlap() {
        assert!(!matches("/ab*ba", "/aba"));
        assert!(matches("/ab*ba", "/abba"));
    }
}
