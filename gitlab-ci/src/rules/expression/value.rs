//! The values an expression computes, with Ruby's semantics.

use super::pattern::Pattern;

/// What a (sub)expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`: `null`, an undefined variable, an unknown input.
    Null,
    /// A string literal or a variable's value.
    String(String),
    /// The result of a comparison, or `true`/`false`.
    Boolean(bool),
    /// A `/pattern/` literal.
    Pattern(Pattern),
}

impl Value {
    /// Ruby's truthiness, used by `&&` and `||`: only `nil` and `false` are false.
    pub fn is_truthy(&self) -> bool {
        !matches!(self, Self::Null | Self::Boolean(false))
    }

    /// ActiveSupport's `present?`, used on the final result: also a string that is empty or
    /// only whitespace is false.
    pub fn is_present(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Boolean(value) => *value,
            Self::String(text) => !text.chars().all(char::is_whitespace),
            Self::Pattern(_) => true,
        }
    }

    /// Ruby's `to_s`, used for the left side of `=~` and `!~`.
    fn to_text(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::String(text) => text.clone(),
            Self::Boolean(value) => value.to_string(),
            Self::Pattern(pattern) => format!("/{}/", pattern.source()),
        }
    }

    /// `Lexeme::Matches#evaluate` (`self =~ pattern`).
    pub(crate) fn matches(&self, pattern: &Value) -> bool {
        match pattern {
            Self::Null | Self::Boolean(false) => false,
            Self::Pattern(pattern) => pattern.is_match(&self.to_text()),
            // `Pattern.build_and_evaluate`: a variable holding `/regexp/flags` is a pattern
            // (with `\/` unescaped as in a literal); any other string stays a string, and
            // Ruby's `string.scan(text)` then looks for the left side *inside* that string.
            Self::String(text) => match Pattern::from_ruby_syntax(&text.replace("\\/", "/")) {
                Some(pattern) => pattern.is_match(&self.to_text()),
                None => text.contains(&self.to_text()),
            },
            // `true.gsub` raises NoMethodError in GitLab (an error, not a match).
            Self::Boolean(true) => false,
        }
    }

    /// `Lexeme::NotMatches#evaluate` (`self !~ pattern`): true when there is no pattern.
    pub(crate) fn not_matches(&self, pattern: &Value) -> bool {
        match pattern {
            Self::Null | Self::Boolean(false) => true,
            Self::Boolean(true) => false,
            _ => !self.matches(pattern),
        }
    }
}
