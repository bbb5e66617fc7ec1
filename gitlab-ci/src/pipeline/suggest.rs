//! "Did you mean" for misspelt job names.

/// The candidate closest to `wanted`, if one is close enough to be a likely typo: the same name
/// in another case, or at most a third of its characters different (and at least one).
pub(crate) fn closest<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != wanted)
        .map(|candidate| {
            let distance = if candidate.eq_ignore_ascii_case(wanted) {
                0
            } else {
                strsim::levenshtein(wanted, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_typos_only() {
        let jobs = ["deploy", "build", "test"];
        assert_eq!(closest("deplyo", jobs).as_deref(), Some("deploy"));
        assert_eq!(closest("Build", jobs).as_deref(), Some("build"));
        assert_eq!(closest("release", jobs), None);
    }
}
