//! Regular expressions in GitLab's Ruby syntax (`/regexp/flags`), as
//! `Gitlab::UntrustedRegexp::RubySyntax` turns them into RE2 expressions.
//!
//! GitLab compiles with RE2; this crate uses the `regex` crate, which has the same design (no
//! backtracking, no look-around, no back-references, linear time) and nearly the same syntax.
//! The differences a pipeline can meet: `\w`, `\d`, `\s` and `\b` are Unicode-aware here and
//! ASCII-only in RE2; RE2's `\C` (any byte) is refused here; `\<` and `\>` are word boundaries
//! here and refused by RE2. Flags are the same: `i` (case-insensitive), `m` (`^`/`$` match at
//! line breaks: RE2's meaning, not Ruby's), `s` (`.` matches a newline), `U` (ungreedy).

use std::fmt;
use std::sync::{LazyLock, OnceLock};

use regex::{Regex, RegexBuilder};

/// Compiled size limit: a hostile pattern such as `(a{1000}){1000}` is refused instead of
/// growing without bound.
const SIZE_LIMIT: usize = 1 << 20;

/// `RubySyntax::PATTERN`: Ruby's `^` and `$` are line anchors and `.` stops at a newline.
static RUBY_SYNTAX: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)^/(.*)/([ismU]*)$").ok());

/// A checked `/regexp/flags`, compiled on its first match: validating a pipeline parses
/// every pattern of every job, but only the rules of the job being resolved ever match, and
/// compiling is the costly part.
#[derive(Clone)]
pub struct Pattern {
    /// The RE2 source: the flags as a `(?flags)` prefix, then the regexp.
    source: String,
    /// `None` inside: the pattern is valid but over the compiled size limit; it then matches
    /// nothing.
    regex: OnceLock<Option<Regex>>,
}

impl Pattern {
    /// `RubySyntax.fabricate`: `None` when `text` is not `/.../flags` or does not compile.
    pub fn from_ruby_syntax(text: &str) -> Option<Self> {
        let parts = RUBY_SYNTAX.as_ref()?.captures(text)?;
        let body = parts.get(1).map_or("", |body| body.as_str());
        let flags = parts.get(2).map_or("", |flags| flags.as_str());
        let source = if flags.is_empty() {
            body.to_owned()
        } else {
            format!("(?{flags}){body}")
        };
        if !crate::re2::accepts(&source) {
            return None;
        }
        Some(Self {
            source,
            regex: OnceLock::new(),
        })
    }

    /// The RE2 source (flags first), as `Gitlab::UntrustedRegexp#source` gives it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `text` (`scan(text).present?`).
    pub fn is_match(&self, text: &str) -> bool {
        self.regex
            .get_or_init(|| {
                RegexBuilder::new(&self.source)
                    .size_limit(SIZE_LIMIT)
                    .dfa_size_limit(SIZE_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
            .is_some_and(|regex| regex.is_match(text))
    }
}

/// Two patterns are equal when their sources are (`UntrustedRegexp#==`).
impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    // spec/lib/gitlab/untrusted_regexp/ruby_syntax_spec.rb
    #[test]
    fn ruby_syntax_spec_vectors() {
        let source = |text: &str| Pattern::from_ruby_syntax(text).map(|p| p.source().to_owned());
        assert_eq!(source("/some .* thing/").as_deref(), Some("some .* thing"));
        assert_eq!(
            source("/some ( thing/"),
            None,
            "resembles a regexp but does not compile"
        );
        assert_eq!(
            source("//").as_deref(),
            Some(""),
            "an empty regexp is valid"
        );
        assert_eq!(source("some .* thing"), None, "a raw pattern");
        assert_eq!(source("/something/i").as_deref(), Some("(?i)something"));
        assert_eq!(source("/something/im").as_deref(), Some("(?im)something"));
        assert_eq!(source("/something/").as_deref(), Some("something"));
        assert!(Pattern::from_ruby_syntax("/something/i").is_some_and(|p| p.is_match("SOMETHING")));
    }

    // Not from a spec: the flags' RE2 meanings, and a flag RubySyntax does not know.
    #[test]
    fn flags_have_their_re2_meaning() {
        assert!(Pattern::from_ruby_syntax("/some .* thing/x").is_none());
        let multiline = Pattern::from_ruby_syntax("/^foo$/m");
        assert!(multiline.is_some_and(|p| p.is_match("bar\nfoo\nbaz")));
        let ungreedy = Pattern::from_ruby_syntax("/a+/U");
        assert!(ungreedy.is_some_and(|p| p.is_match("aaa")));
    }

    #[test]
    fn hostile_patterns_are_bounded_and_re2_refusals_kept() {
        // Valid, but over the compiled size limit: it matches nothing instead of growing.
        let huge = Pattern::from_ruby_syntax("/((a{100}){100}){100}/");
        assert!(huge.is_some_and(|pattern| !pattern.is_match(&"a".repeat(1000))));
        // RE2 refuses stacked repetitions, and look-around like the `regex` crate.
        assert!(Pattern::from_ruby_syntax("/a**/").is_none());
        assert!(Pattern::from_ruby_syntax("/a++/").is_none());
        assert!(Pattern::from_ruby_syntax("/^(?!master).+/").is_none());
        assert!(Pattern::from_ruby_syntax("/(a*)*/").is_some());
    }
}
