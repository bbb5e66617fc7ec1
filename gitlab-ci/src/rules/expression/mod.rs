//! GitLab's CI/CD expression language (`rules:if`, `only:variables`), after
//! `lib/gitlab/ci/pipeline/expression/`: a lexer, a shunting-yard parser with GitLab's
//! precedences (`==` `!=` `=~` `!~` bind tighter than `&&`, which binds tighter than `||`;
//! parentheses group), and an evaluator with Ruby's value semantics.
//!
//! Values are those of the Ruby implementation: `null` (also an undefined variable), strings,
//! booleans and patterns. `&&` and `||` return one of their operands as Ruby does (`"" && "a"`
//! is `"a"`: an empty string is true for Ruby), and only the final result is tested with
//! ActiveSupport's `present?` (`null`, `false`, an empty or blank string are false).

mod lexer;
mod parser;
mod pattern;
mod value;

pub use lexer::MAX_TOKENS;
pub use pattern::Pattern;
pub use value::Value;

use parser::Node;

/// Longest statement accepted, in bytes. GitLab has no such limit, only [`MAX_TOKENS`]; this
/// one bounds the work on a hostile string made of a few enormous tokens.
pub const MAX_STATEMENT_LEN: usize = 64 * 1024;

/// Why a statement is invalid. GitLab reports every kind the same way (`invalid expression
/// syntax` at validation, `false` at evaluation); the kinds say which of its exceptions it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// `Lexer::SyntaxError`: nothing at this position is a lexeme (e.g. `=`, `12`, `${A}`).
    #[error("Unknown lexeme found!")]
    UnknownLexeme,
    /// `Lexer::SyntaxError`: more than [`MAX_TOKENS`] scans.
    #[error("Too many tokens!")]
    TooManyTokens,
    /// `Lexer::SyntaxError`: a `/pattern/` that does not compile.
    #[error("Invalid regular expression!")]
    InvalidRegularExpression,
    /// `Statement::StatementError`: no tokens at all.
    #[error("Empty statement")]
    Empty,
    /// `Parser::ParseError` or `OperatorError`: the tokens do not form one expression (a
    /// missing operand, an unmatched parenthesis, two values side by side).
    #[error("{0}")]
    Grammar(&'static str),
    /// Longer than [`MAX_STATEMENT_LEN`].
    #[error("statement longer than {MAX_STATEMENT_LEN} bytes")]
    TooLong,
}

/// A parsed statement, ready to be evaluated against any set of variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    root: Node,
}

impl Statement {
    /// Parses `text`; the error is the reason GitLab's `Statement#valid?` would be false.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        if text.len() > MAX_STATEMENT_LEN {
            return Err(ExpressionError::TooLong);
        }
        let tokens = lexer::tokenize(text)?;
        if tokens.is_empty() {
            return Err(ExpressionError::Empty);
        }
        Ok(Self {
            root: parser::parse(tokens)?,
        })
    }

    /// The statement's value (`Statement#evaluate`). `variables` answers a variable's value,
    /// `None` when it is undefined; `$[[ inputs.name ]]` is `null` (no inputs here).
    pub fn evaluate(&self, variables: &dyn Fn(&str) -> Option<String>) -> Value {
        self.root.evaluate(variables)
    }

    /// Whether the statement holds (`Statement#truthful?`: the value is `present?`).
    pub fn truthful(&self, variables: &dyn Fn(&str) -> Option<String>) -> bool {
        self.evaluate(variables).is_present()
    }
}

/// `Statement.new(text, variables).truthful?`: an invalid statement is simply false.
pub fn truthful(text: &str, variables: &dyn Fn(&str) -> Option<String>) -> bool {
    Statement::parse(text).is_ok_and(|statement| statement.truthful(variables))
}

#[cfg(test)]
mod tests;
