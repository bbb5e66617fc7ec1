//! GitLab's parser (`Expression::Parser`): the shunting-yard algorithm into reverse Polish
//! notation, then a tree, with GitLab's own precedences and error cases.

use super::ExpressionError;
use super::lexer::Token;
use super::pattern::Pattern;
use super::value::Value;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Equals,
    NotEquals,
    Matches,
    NotMatches,
    And,
    Or,
}

impl Operator {
    /// GitLab's `precedence` (lower binds tighter; Ruby's table).
    fn precedence(self) -> u16 {
        match self {
            Self::Equals | Self::NotEquals | Self::Matches | Self::NotMatches => 10,
            Self::And => 11,
            Self::Or => 12,
        }
    }
}

/// A node of the parse tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    String(String),
    Boolean(bool),
    Pattern(Pattern),
    Variable(String),
    Input(String),
    Binary(Operator, Box<Node>, Box<Node>),
}

/// The operator stack of the shunting-yard algorithm.
enum Stacked {
    Operator(Operator),
    Open,
}

/// Items of the reverse Polish output.
enum Rpn {
    Value(Node),
    Operator(Operator),
    /// An opening parenthesis never closed: GitLab's "Unprocessable token found in parse tree".
    Open,
}

const OPEN_PRECEDENCE: u16 = 901;
const CLOSE_PRECEDENCE: u16 = 900;

fn precedence(stacked: &Stacked) -> u16 {
    match stacked {
        Stacked::Operator(operator) => operator.precedence(),
        Stacked::Open => OPEN_PRECEDENCE,
    }
}

pub(crate) fn parse(tokens: Vec<Token>) -> Result<Node, ExpressionError> {
    let mut results: Vec<Node> = Vec::new();
    for item in to_rpn(tokens)? {
        match item {
            Rpn::Value(node) => results.push(node),
            Rpn::Operator(operator) => {
                let right = results.pop();
                let left = results.pop();
                match (left, right) {
                    (Some(left), Some(right)) => {
                        results.push(Node::Binary(operator, Box::new(left), Box::new(right)));
                    }
                    (None, _) => return Err(ExpressionError::Grammar("Invalid left operand")),
                    (_, None) => return Err(ExpressionError::Grammar("Invalid right operand")),
                }
            }
            Rpn::Open => {
                return Err(ExpressionError::Grammar(
                    "Unprocessable token found in parse tree: parenthesis_open",
                ));
            }
        }
    }
    if results.len() > 1 {
        return Err(ExpressionError::Grammar("Unreachable nodes in parse tree"));
    }
    results
        .pop()
        .ok_or(ExpressionError::Grammar("Empty parse tree"))
}

/// `Parser#tokens_rpn`. An operator pops every stacked operator of lower or equal binding
/// (`consume?`: its precedence number is >= theirs); `)` pops down to its `(`.
fn to_rpn(tokens: Vec<Token>) -> Result<Vec<Rpn>, ExpressionError> {
    let mut output = Vec::with_capacity(tokens.len());
    let mut operators: Vec<Stacked> = Vec::new();
    for token in tokens {
        let operator = match token {
            Token::Open => {
                operators.push(Stacked::Open);
                continue;
            }
            Token::Close => {
                while let Some(top) = operators.pop_if(|top| CLOSE_PRECEDENCE >= precedence(top)) {
                    push_stacked(&mut output, top);
                }
                match operators.pop() {
                    Some(Stacked::Open) => {}
                    Some(Stacked::Operator(_)) | None => {
                        return Err(ExpressionError::Grammar("Unmatched parenthesis"));
                    }
                }
                continue;
            }
            Token::Equals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::Matches => Operator::Matches,
            Token::NotMatches => Operator::NotMatches,
            Token::And => Operator::And,
            Token::Or => Operator::Or,
            Token::Null => {
                output.push(Rpn::Value(Node::Null));
                continue;
            }
            Token::String(text) => {
                output.push(Rpn::Value(Node::String(text)));
                continue;
            }
            Token::Boolean(value) => {
                output.push(Rpn::Value(Node::Boolean(value)));
                continue;
            }
            Token::Pattern(pattern) => {
                output.push(Rpn::Value(Node::Pattern(pattern)));
                continue;
            }
            Token::Variable(name) => {
                output.push(Rpn::Value(Node::Variable(name)));
                continue;
            }
            Token::Input(name) => {
                output.push(Rpn::Value(Node::Input(name)));
                continue;
            }
        };
        while let Some(top) = operators.pop_if(|top| operator.precedence() >= precedence(top)) {
            push_stacked(&mut output, top);
        }
        operators.push(Stacked::Operator(operator));
    }
    while let Some(top) = operators.pop() {
        push_stacked(&mut output, top);
    }
    Ok(output)
}

fn push_stacked(output: &mut Vec<Rpn>, stacked: Stacked) {
    output.push(match stacked {
        Stacked::Operator(operator) => Rpn::Operator(operator),
        Stacked::Open => Rpn::Open,
    });
}

impl Node {
    /// `Lexeme#evaluate`. The tree is at most [`super::MAX_TOKENS`] deep, so the recursion is
    /// bounded.
    pub(crate) fn evaluate(&self, variables: &dyn Fn(&str) -> Option<String>) -> Value {
        match self {
            Self::Null | Self::Input(_) => Value::Null,
            Self::String(text) => Value::String(text.clone()),
            Self::Boolean(value) => Value::Boolean(*value),
            Self::Pattern(pattern) => Value::Pattern(pattern.clone()),
            Self::Variable(name) => variables(name).map_or(Value::Null, Value::String),
            Self::Binary(operator, left, right) => {
                let left = left.evaluate(variables);
                match operator {
                    Operator::And if !left.is_truthy() => left,
                    Operator::Or if left.is_truthy() => left,
                    Operator::And | Operator::Or => right.evaluate(variables),
                    Operator::Equals => Value::Boolean(left == right.evaluate(variables)),
                    Operator::NotEquals => Value::Boolean(left != right.evaluate(variables)),
                    Operator::Matches => Value::Boolean(left.matches(&right.evaluate(variables))),
                    Operator::NotMatches => {
                        Value::Boolean(left.not_matches(&right.evaluate(variables)))
                    }
                }
            }
        }
    }
}
