//! What GitLab's regular expression engine (RE2, through `untrusted_regexp`)
//! accepts, checked with the `regex` crate's parser, which follows RE2's
//! syntax closely: used by `rules:` patterns and `inputs:` `regex:` alike.

use regex_syntax::ast::{Ast, parse::Parser};
use regex_syntax::hir::translate::Translator;

/// Whether RE2 (and the `regex` crate) accept `source`, checked without
/// compiling: the `regex` crate's parser and translator, plus RE2's refusal
/// of a repetition of a repetition (`a++`, `a**`), which the `regex` crate
/// would read as nested.
pub(crate) fn accepts(source: &str) -> bool {
    fn stacked(ast: &Ast) -> bool {
        match ast {
            Ast::Repetition(repetition) => {
                matches!(*repetition.ast, Ast::Repetition(_)) || stacked(&repetition.ast)
            }
            Ast::Group(group) => stacked(&group.ast),
            Ast::Alternation(alternation) => alternation.asts.iter().any(stacked),
            Ast::Concat(concat) => concat.asts.iter().any(stacked),
            _ => false,
        }
    }
    Parser::new()
        .parse(source)
        .is_ok_and(|ast| !stacked(&ast) && Translator::new().translate(source, &ast).is_ok())
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn stacked_repetitions_are_refused_as_re2_does() {
        for accepted in ["a+", "(a+)+", "^[a-z]+$", "a{2,3}"] {
            assert!(accepts(accepted), "{accepted}");
        }
        for refused in ["a++", "a**", "(", "[z-a]"] {
            assert!(!accepts(refused), "{refused}");
        }
    }
}
