use super::*;

fn variables(name: &str) -> Option<String> {
    match name {
        "PRESENT_VARIABLE" => Some("my variable".into()),
        "PATH_VARIABLE" => Some("a/path/variable/value".into()),
        "FULL_PATH_VARIABLE" => Some("/a/full/path/variable/value".into()),
        "EMPTY_VARIABLE" => Some(String::new()),
        _ => None,
    }
}

fn evaluate(text: &str) -> Value {
    match Statement::parse(text) {
        Ok(statement) => statement.evaluate(&variables),
        Err(error) => panic!("{text:?} does not parse: {error}"),
    }
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

const T: Value = Value::Boolean(true);
const F: Value = Value::Boolean(false);
const NIL: Value = Value::Null;

// spec/lib/gitlab/ci/pipeline/expression/statement_spec.rb, `#evaluate` (the whole table).
// The Ruby strings are single-quoted there, so `\\` is one backslash and `\r` two characters.
#[test]
fn statement_spec_evaluate_table() {
    let table: Vec<(&str, Value)> = vec![
        (r#"$PRESENT_VARIABLE == "my variable""#, T),
        (r#""my variable" == $PRESENT_VARIABLE"#, T),
        ("$PRESENT_VARIABLE == null", F),
        ("$EMPTY_VARIABLE == null", F),
        (r#""" == $EMPTY_VARIABLE"#, T),
        ("$EMPTY_VARIABLE", s("")),
        ("$UNDEFINED_VARIABLE == null", T),
        ("null == $UNDEFINED_VARIABLE", T),
        ("$PRESENT_VARIABLE", s("my variable")),
        ("$UNDEFINED_VARIABLE", NIL),
        ("$PRESENT_VARIABLE =~ /var.*e$/", T),
        (r"$PRESENT_VARIABLE =~ /va\r.*e$/", F),
        (r"$PRESENT_VARIABLE =~ /va\/r.*e$/", F),
        ("$PRESENT_VARIABLE =~ /^var.*/", F),
        ("$EMPTY_VARIABLE =~ /var.*/", F),
        ("$UNDEFINED_VARIABLE =~ /var.*/", F),
        ("$PRESENT_VARIABLE =~ /VAR.*/i", T),
        (r"$PATH_VARIABLE =~ /path\/variable/", T),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/",
            T,
        ),
        (r"$FULL_PATH_VARIABLE =~ /\/path\/variable\/value$/", T),
        (r#"$PRESENT_VARIABLE != "my variable""#, F),
        (r#""my variable" != $PRESENT_VARIABLE"#, F),
        ("$PRESENT_VARIABLE != null", T),
        ("$EMPTY_VARIABLE != null", T),
        (r#""" != $EMPTY_VARIABLE"#, F),
        ("$UNDEFINED_VARIABLE != null", F),
        ("null != $UNDEFINED_VARIABLE", F),
        ("$PRESENT_VARIABLE !~ /var.*e$/", F),
        ("$PRESENT_VARIABLE !~ /^var.*/", T),
        (r"$PRESENT_VARIABLE !~ /^v\ar.*/", T),
        (r"$PRESENT_VARIABLE !~ /^v\/ar.*/", T),
        ("$EMPTY_VARIABLE !~ /var.*/", T),
        ("$UNDEFINED_VARIABLE !~ /var.*/", T),
        ("$PRESENT_VARIABLE !~ /VAR.*/i", F),
        (r#"$PRESENT_VARIABLE && "string""#, s("string")),
        ("$PRESENT_VARIABLE && $PRESENT_VARIABLE", s("my variable")),
        ("$PRESENT_VARIABLE && $EMPTY_VARIABLE", s("")),
        ("$PRESENT_VARIABLE && null", NIL),
        (r#""string" && $PRESENT_VARIABLE"#, s("my variable")),
        ("$EMPTY_VARIABLE && $PRESENT_VARIABLE", s("my variable")),
        ("null && $PRESENT_VARIABLE", NIL),
        (r#"$EMPTY_VARIABLE && "string""#, s("string")),
        ("$EMPTY_VARIABLE && $EMPTY_VARIABLE", s("")),
        (r#""string" && $EMPTY_VARIABLE"#, s("")),
        (r#""string" && null"#, NIL),
        (r#"null && "string""#, NIL),
        (r#""string" && "string""#, s("string")),
        ("null && null", NIL),
        (
            "$PRESENT_VARIABLE =~ /my var/ && $EMPTY_VARIABLE =~ /nope/",
            F,
        ),
        (
            r#"$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE"#,
            s("my variable"),
        ),
        (r#"$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE != "nope""#, T),
        ("$PRESENT_VARIABLE && $UNDEFINED_VARIABLE", NIL),
        ("$UNDEFINED_VARIABLE && $EMPTY_VARIABLE", NIL),
        ("$UNDEFINED_VARIABLE && $PRESENT_VARIABLE", NIL),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ && $PATH_VARIABLE =~ /path\/variable/",
            T,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ && $PATH_VARIABLE =~ /path\/variable/",
            F,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ && $PATH_VARIABLE =~ /bad\/path\/variable/",
            F,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ && $PATH_VARIABLE =~ /bad\/path\/variable/",
            F,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ || $PATH_VARIABLE =~ /path\/variable/",
            T,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ || $PATH_VARIABLE =~ /path\/variable/",
            T,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ || $PATH_VARIABLE =~ /bad\/path\/variable/",
            T,
        ),
        (
            r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ || $PATH_VARIABLE =~ /bad\/path\/variable/",
            F,
        ),
        (
            "$PRESENT_VARIABLE =~ /my var/ || $EMPTY_VARIABLE =~ /nope/",
            T,
        ),
        (r#"$EMPTY_VARIABLE == "" || $PRESENT_VARIABLE"#, T),
        (r#"$PRESENT_VARIABLE != "nope" || $EMPTY_VARIABLE == """#, T),
        (r#"$PRESENT_VARIABLE && null || $EMPTY_VARIABLE == """#, T),
        ("$PRESENT_VARIABLE || $UNDEFINED_VARIABLE", s("my variable")),
        ("$UNDEFINED_VARIABLE || $PRESENT_VARIABLE", s("my variable")),
        ("$UNDEFINED_VARIABLE == null || $PRESENT_VARIABLE", T),
        (
            "$PRESENT_VARIABLE || $UNDEFINED_VARIABLE == null",
            s("my variable"),
        ),
        ("($PRESENT_VARIABLE)", s("my variable")),
        ("(($PRESENT_VARIABLE))", s("my variable")),
        (
            r#"(($PRESENT_VARIABLE && null) || $EMPTY_VARIABLE == "")"#,
            T,
        ),
        (
            r#"($PRESENT_VARIABLE) && (null || $EMPTY_VARIABLE == "")"#,
            T,
        ),
        (r#"("string" || "test") == "string""#, T),
        (r#"(null || ("test" == "string"))"#, F),
        (r#"("string" == ("test" && "string"))"#, T),
        (r#"("string" == ("test" || "string"))"#, F),
        (r#"("string" == "test" || "string")"#, s("string")),
        (
            r#"("string" == ("string" || (("1" == "1") && ("2" == "3"))))"#,
            T,
        ),
    ];
    for (text, expected) in table {
        assert_eq!(evaluate(text), expected, "{text}");
    }
}

// statement_spec.rb, `#truthful?`.
#[test]
fn statement_spec_truthful_table() {
    for (text, expected) in [
        (r#"$PRESENT_VARIABLE == "my variable""#, true),
        ("$PRESENT_VARIABLE == 'no match'", false),
        ("$UNDEFINED_VARIABLE == null", true),
        ("$PRESENT_VARIABLE", true),
        ("$UNDEFINED_VARIABLE", false),
        ("$EMPTY_VARIABLE", false),
        ("$INVALID = 1", false),
        ("$PRESENT_VARIABLE =~ /var.*/", true),
        ("$UNDEFINED_VARIABLE =~ /var.*/", false),
        ("$PRESENT_VARIABLE !~ /var.*/", false),
        ("$UNDEFINED_VARIABLE !~ /var.*/", true),
    ] {
        assert_eq!(truthful(text, &variables), expected, "{text}");
    }
}

// statement_spec.rb (older revisions), "when expression grammar is incorrect"; parser_spec.rb
// ("raises an error" on unmatched or missing parentheses).
#[test]
fn invalid_statements() {
    for text in [
        r#"$VAR "text""#,
        r#"== "123""#,
        "$VAR ==",
        "12345",
        "",
        "   ",
        "($VAR",
        "$VAR)",
        "($VAR == \"a\"",
        "()",
        "$A == \"x\" &&",
    ] {
        assert!(Statement::parse(text).is_err(), "{text:?} must be invalid");
        assert!(!truthful(text, &variables), "{text:?} is false");
    }
    assert_eq!(Statement::parse(""), Err(ExpressionError::Empty));
    assert_eq!(
        Statement::parse("$VAR)"),
        Err(ExpressionError::Grammar("Unmatched parenthesis"))
    );
    // A single string parses (GitLab's `valid?` accepts it since complex expressions).
    assert!(Statement::parse(r#""some string""#).is_ok());
}

// spec/lib/gitlab/ci/pipeline/expression/parser_spec.rb: precedence and grouping.
#[test]
fn parser_spec_precedence() {
    // `&&` binds tighter than `||`: a || (b && c).
    let lookup = |name: &str| match name {
        "ONE" => Some("1".to_owned()),
        _ => None,
    };
    let statement = Statement::parse(r#"$ONE == "1" || $TWO == "2" && $THREE"#);
    assert!(statement.is_ok_and(|s| s.truthful(&lookup)));
    let grouped = Statement::parse(r#"($ONE == "1" || $TWO == "2") && $THREE"#);
    assert!(grouped.is_ok_and(|s| !s.truthful(&lookup)));
}

// spec/lib/gitlab/ci/pipeline/expression/lexeme/matches_spec.rb and not_matches_spec.rb:
// a pattern held by a variable (`$VAR =~ $PATTERN`), and a variable that is not a pattern.
#[test]
fn matches_spec_variable_patterns() {
    let lookup = |name: &str| match name {
        "BRANCH" => Some("release/v1.2".to_owned()),
        "PATTERN" => Some(r"/^release\/v\d/".to_owned()),
        "PATTERN_I" => Some("/^RELEASE/i".to_owned()),
        "PLAIN" => Some("release/v1.2-and-more".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let check = |text: &str| truthful(text, &lookup);
    assert!(check("$BRANCH =~ $PATTERN"));
    assert!(check("$BRANCH =~ $PATTERN_I"));
    assert!(!check("$BRANCH !~ $PATTERN"));
    // An undefined right side: `=~` is false, `!~` is true.
    assert!(!check("$BRANCH =~ $UNDEFINED"));
    assert!(check("$BRANCH !~ $UNDEFINED"));
    // Not a `/pattern/`: Ruby's `String#scan` looks for the left side in the right one.
    assert!(check("$BRANCH =~ $PLAIN"));
    assert!(!check("$PLAIN =~ $BRANCH"));
    assert!(
        !check("$BRANCH =~ $EMPTY"),
        "an empty string holds no branch name"
    );
    assert!(
        check("$EMPTY =~ $PLAIN"),
        "but every string holds the empty one"
    );
}

// spec/lib/gitlab/ci/pipeline/expression/lexeme/equals_spec.rb, not_equals_spec.rb,
// and_spec.rb, or_spec.rb, null_spec.rb, boolean_spec.rb.
#[test]
fn lexeme_specs() {
    assert_eq!(evaluate(r#""a" == "a""#), T);
    assert_eq!(evaluate(r#""a" == "b""#), F);
    assert_eq!(evaluate(r#""a" != "b""#), T);
    assert_eq!(evaluate("null == null"), T);
    assert_eq!(evaluate("null"), NIL);
    assert_eq!(evaluate("true"), T);
    assert_eq!(evaluate("true == false"), F);
    // A variable's value is a string, never a boolean.
    assert_eq!(evaluate("$PRESENT_VARIABLE == true"), F);
    assert_eq!(evaluate("$[[ inputs.foo ]]"), NIL);
    // `&&`/`||` return an operand.
    assert_eq!(evaluate(r#""a" && "b""#), s("b"));
    assert_eq!(evaluate(r#"null || "b""#), s("b"));
    assert_eq!(evaluate(r#""a" || "b""#), s("a"));
}

// Not from a spec: `present?` on whitespace, and the length bound.
#[test]
fn blank_strings_and_bounds() {
    let lookup = |name: &str| (name == "SPACES").then(|| "  \t".to_owned());
    assert!(!truthful("$SPACES", &lookup));
    assert!(truthful("$SPACES == \"  \t\"", &lookup));
    let huge = format!("\"{}\"", "a".repeat(MAX_STATEMENT_LEN));
    assert_eq!(Statement::parse(&huge), Err(ExpressionError::TooLong));
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    proptest! {
        // Whatever the input, parsing terminates without panicking, and a statement that
        // parses evaluates without panicking.
        #[test]
        fn any_text_is_parsed_or_refused(text in ".{0,200}") {
            if let Ok(statement) = Statement::parse(&text) {
                let _ = statement.evaluate(&|_| Some("x".to_owned()));
            }
        }

        // Statements built from the grammar always parse, and `A || B` is as truthful as
        // either side, `A && B` as both (on present/absent variables).
        #[test]
        fn or_and_follow_their_operands(a in proptest::bool::ANY, b in proptest::bool::ANY) {
            let lookup = move |name: &str| match name {
                "A" if a => Some("x".to_owned()),
                "B" if b => Some("y".to_owned()),
                _ => None,
            };
            prop_assert_eq!(truthful("$A || $B", &lookup), a || b);
            prop_assert_eq!(truthful("$A && $B", &lookup), a && b);
            prop_assert_eq!(truthful("($A == null) || $B", &lookup), !a || b);
        }
    }
}

// spec/lib/gitlab/ci/build/rules/rule/clause/if_spec.rb
#[test]
fn if_clause_spec() {
    let none = |_: &str| None;
    assert!(truthful(r#""value" == "value""#, &none));
    assert!(!truthful(r#""value" == "other""#, &none));
    assert!(truthful(r#""abcde" =~ /^ab.*/"#, &none));
    assert!(!truthful(r#""abcde" =~ /^af.*/"#, &none));
    let with_pattern = |pattern: &'static str| {
        move |name: &str| match name {
            "teststring" => Some("abcde".to_owned()),
            "pattern" => Some(pattern.to_owned()),
            _ => None,
        }
    };
    assert!(truthful(
        "$teststring =~ $pattern",
        &with_pattern("/^ab.*/")
    ));
    assert!(!truthful(
        "$teststring =~ $pattern",
        &with_pattern("/^af.*/")
    ));
}

// spec/lib/gitlab/ci/pipeline/expression/lexeme/matches_spec.rb and not_matches_spec.rb,
// `#evaluate` (left value, right value): `!~` is always the negation here.
#[test]
fn matches_spec_evaluate_table() {
    let regexp = |source: &str| match Pattern::from_ruby_syntax(&format!("/{source}/")) {
        Some(pattern) => Value::Pattern(pattern),
        None => panic!("{source} does not compile"),
    };
    let multiline_awesome = "My awesome contents\n\nMy-text-string!\n";
    let multiline_terrible = "My awesome contents\n\nMy-terrible-string!\n";
    let table = [
        (s("my-string"), regexp("something"), false),
        (s("my-awesome-string"), regexp("awesome.string$"), true),
        (NIL, regexp("pattern"), false),
        (s("my-awesome-string"), NIL, false),
        (NIL, NIL, false),
        (s(""), regexp("pattern"), false),
        (s(""), regexp(""), true),
        (s(multiline_awesome), regexp("text-string"), true),
        (s(multiline_terrible), regexp("text-string"), false),
        (s("My AWESOME content\n"), regexp("(?i)awesome"), true),
        (s("My AWESOME content\n"), regexp("(?i)terrible"), false),
        (s("abcde"), s("/^ab.*/"), true),
        (s("dfg"), s("/^ab.*/"), false),
    ];
    for (left, right, expected) in table {
        assert_eq!(left.matches(&right), expected, "{left:?} =~ {right:?}");
        assert_eq!(left.not_matches(&right), !expected, "{left:?} !~ {right:?}");
    }
}
