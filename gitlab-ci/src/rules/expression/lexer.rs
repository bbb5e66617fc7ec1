//! GitLab's expression lexer (`Gitlab::Ci::Pipeline::Expression::Lexer` and its lexemes).
//!
//! At each position the lexemes are tried in GitLab's order (parentheses, input, variable,
//! string, pattern, `null`, boolean, `==`, `=~`, `!=`, `!~`, `&&`, `||`); the first that matches
//! wins. GitLab scans at most [`MAX_TOKENS`] times and then gives up with "Too many tokens!",
//! even if only whitespace is left, so an expression holds at most 99 tokens.

use std::sync::LazyLock;

use regex::Regex;

use super::ExpressionError;
use super::pattern::Pattern;

/// `Lexer::MAX_TOKENS`.
pub const MAX_TOKENS: usize = 100;

/// One lexeme with its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Open,
    Close,
    /// `$[[ inputs.name ]]`: the name.
    Input(String),
    /// `$NAME`: the name.
    Variable(String),
    /// `"text"` or `'text'`: the text (no escapes exist).
    String(String),
    /// `/regexp/flags`, already compiled.
    Pattern(Pattern),
    Null,
    Boolean(bool),
    Equals,
    Matches,
    NotEquals,
    NotMatches,
    And,
    Or,
}

/// The value lexemes' patterns, anchored at the scan position as Ruby's `StringScanner#scan`
/// is. Ruby's `\w` and `\s` are ASCII here (the statement is not a `(?u)` regexp).
struct Patterns {
    input: Regex,
    variable: Regex,
    string: Regex,
    pattern: Regex,
    boolean: Regex,
    whitespace: Regex,
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        input: Regex::new(r"^\$\[\[[ \t\r\n\f\v]*inputs\.([A-Za-z0-9_]+)[ \t\r\n\f\v]*\]\]")
            .ok()?,
        variable: Regex::new(r"^\$([A-Za-z0-9_]+)").ok()?,
        // Ruby's `.` does not match a newline.
        string: Regex::new(r#"^(?:"([^\n]*?)"|'([^\n]*?)')"#).ok()?,
        // `Lexeme::Pattern::PATTERN`; the regex crate's leftmost-first semantics give the same
        // span as Ruby's backtracking here (`/some .* / pattern/` stops at the second slash).
        pattern: Regex::new(r"^/(?:[^/]|\\/)+[^\\]/[ismU]*").ok()?,
        boolean: Regex::new(r"^(?:true|false)\b").ok()?,
        whitespace: Regex::new(r"^[ \t\r\n\f\v]+").ok()?,
    })
});

/// Splits `statement` into tokens as GitLab's lexer does.
pub(crate) fn tokenize(statement: &str) -> Result<Vec<Token>, ExpressionError> {
    let patterns = PATTERNS.as_ref().ok_or(ExpressionError::UnknownLexeme)?;
    let mut tokens = Vec::new();
    let mut rest = statement;
    for _ in 0..MAX_TOKENS {
        if let Some(space) = patterns.whitespace.find(rest) {
            rest = &rest[space.end()..];
        }
        if rest.is_empty() {
            return Ok(tokens);
        }
        let (token, width) = scan(patterns, rest)?;
        tokens.push(token);
        rest = &rest[width..];
    }
    Err(ExpressionError::TooManyTokens)
}

/// The token at the start of `rest` and its width in bytes.
fn scan(patterns: &Patterns, rest: &str) -> Result<(Token, usize), ExpressionError> {
    if rest.starts_with('(') {
        return Ok((Token::Open, 1));
    }
    if rest.starts_with(')') {
        return Ok((Token::Close, 1));
    }
    if let Some(found) = patterns.input.captures(rest) {
        return Ok((Token::Input(group(&found, 1)), width(&found)));
    }
    if let Some(found) = patterns.variable.captures(rest) {
        return Ok((Token::Variable(group(&found, 1)), width(&found)));
    }
    if let Some(found) = patterns.string.captures(rest) {
        let text = found
            .get(1)
            .or_else(|| found.get(2))
            .map_or(String::new(), |text| text.as_str().to_owned());
        return Ok((Token::String(text), width(&found)));
    }
    if let Some(found) = patterns.pattern.find(rest) {
        // `Pattern.new` unescapes `\/` and refuses what RE2 cannot compile.
        let pattern = Pattern::from_ruby_syntax(&found.as_str().replace("\\/", "/"))
            .ok_or(ExpressionError::InvalidRegularExpression)?;
        return Ok((Token::Pattern(pattern), found.end()));
    }
    if rest.starts_with("null") {
        return Ok((Token::Null, 4));
    }
    if let Some(found) = patterns.boolean.find(rest) {
        return Ok((Token::Boolean(found.as_str() == "true"), found.end()));
    }
    for (operator, token) in [
        ("==", Token::Equals),
        ("=~", Token::Matches),
        ("!=", Token::NotEquals),
        ("!~", Token::NotMatches),
        ("&&", Token::And),
        ("||", Token::Or),
    ] {
        if rest.starts_with(operator) {
            return Ok((token, 2));
        }
    }
    Err(ExpressionError::UnknownLexeme)
}

fn group(found: &regex::Captures<'_>, index: usize) -> String {
    found
        .get(index)
        .map_or(String::new(), |name| name.as_str().to_owned())
}

fn width(found: &regex::Captures<'_>) -> usize {
    found.get(0).map_or(0, |all| all.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(statement: &str) -> Vec<Token> {
        match tokenize(statement) {
            Ok(tokens) => tokens,
            Err(error) => panic!("{statement:?}: {error}"),
        }
    }

    /// One scan, as the spec's `described_class.scan(scanner)`.
    fn pattern_source(text: &str) -> String {
        let Some(patterns) = PATTERNS.as_ref() else {
            panic!("lexer patterns do not compile")
        };
        match scan(patterns, text) {
            Ok((Token::Pattern(pattern), _)) => pattern.source().to_owned(),
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    /// A token as the spec prints it (`Token#value`).
    fn render(token: &Token) -> String {
        match token {
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Input(name) => format!("$[[ inputs.{name} ]]"),
            Token::Variable(name) => format!("${name}"),
            Token::String(text) => format!("\"{text}\""),
            Token::Pattern(pattern) => format!("/{}/", pattern.source()),
            Token::Null => "null".into(),
            Token::Boolean(value) => value.to_string(),
            Token::Equals => "==".into(),
            Token::Matches => "=~".into(),
            Token::NotEquals => "!=".into(),
            Token::NotMatches => "!~".into(),
            Token::And => "&&".into(),
            Token::Or => "||".into(),
        }
    }

    // spec/lib/gitlab/ci/pipeline/expression/lexer_spec.rb
    #[test]
    fn lexer_spec_vectors() {
        assert_eq!(kinds("$VARIABLE").len(), 1);
        assert_eq!(kinds("\t$VARIABLE ").len(), 1, "whitespace is ignored");
        assert_eq!(kinds("$VARIABLE1 $VARIABLE2").len(), 2);
        assert_eq!(kinds(r#"$VARIABLE "text" "value""#).len(), 3);
        assert_eq!(kinds(r#"$VARIABLE == "text""#).len(), 3);
        assert_eq!(tokenize("$V1 123 $V2"), Err(ExpressionError::UnknownLexeme));
        let table: [(&str, &[&str]); 12] = [
            (
                "$PRESENT_VARIABLE =~ /my var/ && $EMPTY_VARIABLE =~ /nope/",
                &[
                    "$PRESENT_VARIABLE",
                    "=~",
                    "/my var/",
                    "&&",
                    "$EMPTY_VARIABLE",
                    "=~",
                    "/nope/",
                ],
            ),
            (
                r#"$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE"#,
                &["$EMPTY_VARIABLE", "==", "\"\"", "&&", "$PRESENT_VARIABLE"],
            ),
            (
                r#"$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE != "nope""#,
                &[
                    "$EMPTY_VARIABLE",
                    "==",
                    "\"\"",
                    "&&",
                    "$PRESENT_VARIABLE",
                    "!=",
                    "\"nope\"",
                ],
            ),
            (
                "$PRESENT_VARIABLE && $EMPTY_VARIABLE",
                &["$PRESENT_VARIABLE", "&&", "$EMPTY_VARIABLE"],
            ),
            (
                "$PRESENT_VARIABLE =~ /my var/ || $EMPTY_VARIABLE =~ /nope/",
                &[
                    "$PRESENT_VARIABLE",
                    "=~",
                    "/my var/",
                    "||",
                    "$EMPTY_VARIABLE",
                    "=~",
                    "/nope/",
                ],
            ),
            (
                r#"$EMPTY_VARIABLE == "" || $PRESENT_VARIABLE"#,
                &["$EMPTY_VARIABLE", "==", "\"\"", "||", "$PRESENT_VARIABLE"],
            ),
            (
                r#"$EMPTY_VARIABLE == "" || $PRESENT_VARIABLE != "nope""#,
                &[
                    "$EMPTY_VARIABLE",
                    "==",
                    "\"\"",
                    "||",
                    "$PRESENT_VARIABLE",
                    "!=",
                    "\"nope\"",
                ],
            ),
            (
                "$PRESENT_VARIABLE || $EMPTY_VARIABLE",
                &["$PRESENT_VARIABLE", "||", "$EMPTY_VARIABLE"],
            ),
            (
                r#"$PRESENT_VARIABLE && null || $EMPTY_VARIABLE == """#,
                &[
                    "$PRESENT_VARIABLE",
                    "&&",
                    "null",
                    "||",
                    "$EMPTY_VARIABLE",
                    "==",
                    "\"\"",
                ],
            ),
            (
                "($PRESENT_VARIABLE =~ /my var/) && $EMPTY_VARIABLE =~ /nope/",
                &[
                    "(",
                    "$PRESENT_VARIABLE",
                    "=~",
                    "/my var/",
                    ")",
                    "&&",
                    "$EMPTY_VARIABLE",
                    "=~",
                    "/nope/",
                ],
            ),
            (
                "$PRESENT_VARIABLE =~ /my var/ || ($EMPTY_VARIABLE =~ /nope/)",
                &[
                    "$PRESENT_VARIABLE",
                    "=~",
                    "/my var/",
                    "||",
                    "(",
                    "$EMPTY_VARIABLE",
                    "=~",
                    "/nope/",
                    ")",
                ],
            ),
            (
                r#"($PRESENT_VARIABLE && (null || $EMPTY_VARIABLE == ""))"#,
                &[
                    "(",
                    "$PRESENT_VARIABLE",
                    "&&",
                    "(",
                    "null",
                    "||",
                    "$EMPTY_VARIABLE",
                    "==",
                    "\"\"",
                    ")",
                    ")",
                ],
            ),
        ];
        for (expression, expected) in table {
            let rendered: Vec<String> = kinds(expression).iter().map(render).collect();
            assert_eq!(rendered, expected, "{expression}");
        }
    }

    // Not from a spec: GitLab's MAX_TOKENS is a number of scans, so 99 tokens fit.
    #[test]
    fn max_tokens_counts_scans() {
        assert_eq!(tokenize("$VAR = 1"), Err(ExpressionError::UnknownLexeme));
        let long = vec!["$A"; MAX_TOKENS].join(" && ");
        assert_eq!(tokenize(&long), Err(ExpressionError::TooManyTokens));
        let fits = vec!["$A"; 50].join(" && ");
        assert_eq!(kinds(&fits).len(), 99);
    }

    // spec/lib/gitlab/ci/pipeline/expression/lexeme/string_spec.rb
    #[test]
    fn string_spec_vectors() {
        assert_eq!(kinds(r#""my string""#), [Token::String("my string".into())]);
        assert_eq!(kinds("'my string'"), [Token::String("my string".into())]);
        assert_eq!(kinds(r#""""#), [Token::String(String::new())]);
        // Lazy: the first closing quote ends the string.
        assert_eq!(
            kinds(r#""some" "string""#),
            [Token::String("some".into()), Token::String("string".into())]
        );
        assert_eq!(
            kinds(r#"'some "string"'"#),
            [Token::String(r#"some "string""#.into())]
        );
        assert_eq!(
            kinds(r#""some 'string'""#),
            [Token::String("some 'string'".into())]
        );
    }

    // spec/lib/gitlab/ci/pipeline/expression/lexeme/variable_spec.rb
    #[test]
    fn variable_spec_vectors() {
        assert_eq!(kinds("$VARIABLE"), [Token::Variable("VARIABLE".into())]);
        assert_eq!(kinds("$lower_1"), [Token::Variable("lower_1".into())]);
        // `${NAME}` is no variable lexeme.
        assert_eq!(tokenize("${VARIABLE}"), Err(ExpressionError::UnknownLexeme));
    }

    // spec/lib/gitlab/ci/pipeline/expression/lexeme/pattern_spec.rb
    #[test]
    fn pattern_spec_vectors() {
        assert_eq!(pattern_source("/pattern/"), "pattern");
        assert_eq!(pattern_source("/pattern/i"), "(?i)pattern");
        assert_eq!(pattern_source("/pattern/im"), "(?im)pattern");
        assert_eq!(pattern_source("/some .* / pattern/"), "some .* ");
        assert_eq!(pattern_source(r"/some .* \/ pattern/"), "some .* / pattern");
        assert_eq!(
            pattern_source(r"/some numeric \/$ pattern/"),
            "some numeric /$ pattern"
        );
        assert_eq!(
            pattern_source(r"/some numeric \$ pattern/"),
            r"some numeric \$ pattern"
        );
        // An empty pattern is no pattern. Nor, by the same PATTERN (one or more characters,
        // then one that is not a backslash), is a one-character one: GitLab refuses `/a/`.
        assert_eq!(tokenize("//"), Err(ExpressionError::UnknownLexeme));
        assert_eq!(tokenize("$X =~ /a/"), Err(ExpressionError::UnknownLexeme));
        assert_eq!(pattern_source("/ab/"), "ab");
        // Unsupported flags are not part of the lexeme ("ignores unsupported flags"); the
        // whole lexer then finds `x` unknown.
        assert_eq!(pattern_source("/pattern/x"), "pattern");
        assert_eq!(tokenize("/pattern/x"), Err(ExpressionError::UnknownLexeme));
        // `.build('/ some ( thin/i')` raises: RE2 cannot compile it.
        assert_eq!(
            tokenize("/ some ( thin/i"),
            Err(ExpressionError::InvalidRegularExpression)
        );
    }

    // spec/lib/gitlab/ci/pipeline/expression/lexeme/null_spec.rb, boolean_spec.rb, input_spec.rb
    #[test]
    fn null_boolean_and_input_lexemes() {
        assert_eq!(kinds("null"), [Token::Null]);
        assert_eq!(kinds("true"), [Token::Boolean(true)]);
        assert_eq!(kinds("false"), [Token::Boolean(false)]);
        assert_eq!(tokenize("trueish"), Err(ExpressionError::UnknownLexeme));
        assert_eq!(
            kinds("$[[ inputs.environment ]]"),
            [Token::Input("environment".into())]
        );
        assert_eq!(kinds("$[[inputs.env]]"), [Token::Input("env".into())]);
    }
}
