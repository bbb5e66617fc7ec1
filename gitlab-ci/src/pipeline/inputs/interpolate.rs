//! `$[[ inputs.name | function ... ]]` blocks, replaced in every string key
//! and value of the content document as GitLab's `Interpolation::Template`,
//! `Config`, `Block` and `Access` do:
//!
//! - a string that is exactly one block takes the input's value with its
//!   type (`parallel: $[[ inputs.n ]]` gives a number; an array item that is
//!   one array-typed block is spliced into its list); a block inside longer
//!   text is replaced by the value's text;
//! - values under a `!reference` tag are left alone (GitLab does not walk
//!   into tags);
//! - the first invalid block stops everything, its errors reported;
//! - GitLab's limits: [`MAX_BLOCKS`] distinct blocks, [`MAX_FUNCTIONS`] per
//!   block, [`MAX_ACCESS_BYTES`] per access path, [`MAX_NODES`] nodes and
//!   [`MAX_NODE_BYTES`] per string. Every value inserted is also charged to
//!   the load's expansion budget, so interpolation cannot amplify memory.

use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde_norway::{Mapping, Value};

use super::InterpolationContext;
use super::functions::{Function, RUBY_SPACE};
use super::value::to_s;
use crate::pipeline::ExpansionLimit;
use crate::pipeline::budget::{ExpansionBudget, Size};

/// GitLab's `Template::MAX_BLOCKS`: distinct blocks per file.
pub const MAX_BLOCKS: usize = 10_000;
/// GitLab's `Block::MAX_FUNCTIONS`: functions per block.
pub const MAX_FUNCTIONS: usize = 3;
/// GitLab's `Access::MAX_ACCESS_OBJECTS`: the access path is split in at
/// most this many parts (the last keeps any further dots).
const MAX_ACCESS_OBJECTS: usize = 5;
/// GitLab's `Access::MAX_ACCESS_BYTESIZE`.
pub const MAX_ACCESS_BYTES: usize = 1024;
/// GitLab's `Interpolation::Config::MAX_NODES`: nodes visited per file.
pub const MAX_NODES: usize = 500_000;
/// GitLab's `Interpolation::Config::MAX_NODE_SIZE`: bytes per string.
pub const MAX_NODE_BYTES: usize = 1024 * 1024;

/// GitLab's `BLOCK_REGEXP` (RE2): `$[[`, optional blanks, at least two
/// characters of which the first and last are not blank, optional blanks,
/// `]]`. RE2's `\s` is `[\t\n\f\r ]` and its `.` stops at a newline, as
/// here.
static BLOCK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"\$\[\[[\t\n\f\r ]*([^\t\n\f\r ].*?[^\t\n\f\r ])[\t\n\f\r ]*\]\]").ok()
});

/// Why interpolation stopped.
#[derive(Debug)]
pub(super) enum Stop {
    /// GitLab's errors, in its order.
    Errors(Vec<String>),
    /// The load's expansion budget ran out.
    Budget(ExpansionLimit),
}

/// Replaces the blocks of `content` with the values of `inputs`.
pub(super) fn interpolate(
    content: Value,
    inputs: &Mapping,
    context: &InterpolationContext<'_>,
    budget: &ExpansionBudget,
) -> Result<Value, Stop> {
    let mut template = Template {
        inputs,
        context,
        budget,
        blocks: IndexMap::new(),
        visited: 0,
    };
    template.replace(content).map_err(|stop| match stop {
        // The errors of every block met so far follow the template's own.
        Stop::Errors(mut errors) => {
            errors.extend(
                template
                    .blocks
                    .values()
                    .filter_map(|block| block.as_ref().err())
                    .flatten()
                    .cloned(),
            );
            Stop::Errors(errors)
        }
        budget => budget,
    })
}

struct Template<'a> {
    inputs: &'a Mapping,
    context: &'a InterpolationContext<'a>,
    budget: &'a ExpansionBudget,
    /// Each distinct block text and its value or errors.
    blocks: IndexMap<String, Result<Value, Vec<String>>>,
    visited: usize,
}

impl Template<'_> {
    fn replace(&mut self, node: Value) -> Result<Value, Stop> {
        self.visited += 1;
        if self.visited > MAX_NODES {
            return Err(Stop::Errors(vec!["config too large".to_owned()]));
        }
        match node {
            Value::Mapping(map) => {
                let mut replaced = Mapping::with_capacity(map.len());
                for (key, value) in map {
                    let key = self.replace(key)?;
                    let value = self.replace(value)?;
                    replaced.insert(key, value);
                }
                Ok(Value::Mapping(replaced))
            }
            Value::Sequence(items) => {
                let mut replaced = Vec::with_capacity(items.len());
                for item in items {
                    let was_text = item.is_string();
                    match self.replace(item)? {
                        Value::Sequence(spliced) if was_text => replaced.extend(spliced),
                        item => replaced.push(item),
                    }
                }
                Ok(Value::Sequence(replaced))
            }
            Value::String(text) => {
                if text.len() > MAX_NODE_BYTES {
                    return Err(Stop::Errors(vec!["config node too large".to_owned()]));
                }
                self.replace_text(text)
            }
            other => Ok(other),
        }
    }

    fn replace_text(&mut self, text: String) -> Result<Value, Stop> {
        if !text.contains("$[[") {
            return Ok(Value::String(text));
        }
        let Some(pattern) = BLOCK.as_ref() else {
            return Ok(Value::String(text));
        };
        let found: Vec<(String, String)> = pattern
            .captures_iter(&text)
            .filter_map(|captures| {
                Some((
                    captures.get(0)?.as_str().to_owned(),
                    captures.get(1)?.as_str().to_owned(),
                ))
            })
            .collect();
        let Some((first, _)) = found.first() else {
            return Ok(Value::String(text));
        };
        let whole = found.len() == 1 && first.len() == text.len();
        let mut values = Vec::with_capacity(found.len());
        for (block, data) in &found {
            if !self.blocks.contains_key(block) {
                let evaluated = evaluate(data, self.inputs, self.context);
                self.blocks.insert(block.clone(), evaluated);
                if self.blocks.len() > MAX_BLOCKS {
                    return Err(Stop::Errors(vec![
                        "too many interpolation blocks".to_owned(),
                    ]));
                }
            }
            match self.blocks.get(block) {
                Some(Ok(value)) => values.push(value.clone()),
                _ => return Err(Stop::Errors(Vec::new())),
            }
        }
        if whole {
            let value = values.swap_remove(0);
            self.budget.take(Size::of(&value)).map_err(Stop::Budget)?;
            return Ok(value);
        }
        // As GitLab: each block's text replaced in turn, everywhere it occurs.
        let mut text = text;
        for ((block, _), value) in found.iter().zip(&values) {
            text = gsub(&text, block, &to_s(value), self.budget).map_err(Stop::Budget)?;
        }
        Ok(Value::String(text))
    }
}

/// Ruby's `text.gsub(pattern, replacement)` with a text pattern, as GitLab
/// calls it: the replacement's backslash sequences are Ruby's (`\\` a
/// backslash, `\0` and `\&` the match, `` \` `` the text before it, `\'` the
/// text after it, `\1`..`\9` nothing), so an inserted value holding them is
/// changed as GitLab changes it. The result's size is charged to `budget`
/// before it is built.
fn gsub(
    text: &str,
    pattern: &str,
    replacement: &str,
    budget: &ExpansionBudget,
) -> Result<String, ExpansionLimit> {
    let occurrences: Vec<usize> = text.match_indices(pattern).map(|(at, _)| at).collect();
    // The replacement's size is its fixed part plus the text before and
    // after each occurrence, as many times as it names them.
    let (fixed, befores, afters) = replacement_shape(replacement, pattern);
    let mut total = text.len() - occurrences.len() * pattern.len();
    for &at in &occurrences {
        let after = text.len() - at - pattern.len();
        total = total
            .saturating_add(fixed)
            .saturating_add(befores.saturating_mul(at))
            .saturating_add(afters.saturating_mul(after));
    }
    budget.take(Size {
        nodes: 0,
        bytes: total.saturating_sub(text.len()),
    })?;
    let mut out = String::with_capacity(total);
    let mut last = 0;
    for &at in &occurrences {
        out.push_str(&text[last..at]);
        expand_replacement(text, at, pattern, replacement, &mut out);
        last = at + pattern.len();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// A piece of a Ruby replacement text.
enum Piece<'a> {
    Text(&'a str),
    Before,
    After,
}

/// The pieces of a Ruby replacement text (see [`gsub`]).
fn pieces<'a>(replacement: &'a str, pattern: &'a str) -> impl Iterator<Item = Piece<'a>> {
    let mut rest = replacement;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(slash) = rest.find('\\') else {
            let text = rest;
            rest = "";
            return Some(Piece::Text(text));
        };
        if slash > 0 {
            let text = &rest[..slash];
            rest = &rest[slash..];
            return Some(Piece::Text(text));
        }
        let mut chars = rest.chars();
        chars.next();
        let (piece, used) = match chars.next() {
            Some('\\') => (Piece::Text("\\"), 2),
            Some('0' | '&') => (Piece::Text(pattern), 2),
            Some('`') => (Piece::Before, 2),
            Some('\'') => (Piece::After, 2),
            Some('1'..='9') => (Piece::Text(""), 2),
            _ => (Piece::Text("\\"), 1),
        };
        rest = &rest[used..];
        Some(piece)
    })
}

/// The bytes of a replacement that do not depend on where it goes, and how
/// many times it names the text before and after the occurrence.
fn replacement_shape(replacement: &str, pattern: &str) -> (usize, usize, usize) {
    pieces(replacement, pattern).fold((0, 0, 0), |(fixed, befores, afters), piece| match piece {
        Piece::Text(text) => (fixed + text.len(), befores, afters),
        Piece::Before => (fixed, befores + 1, afters),
        Piece::After => (fixed, befores, afters + 1),
    })
}

/// Appends the replacement for the occurrence of `pattern` at `at` in `text`.
fn expand_replacement(text: &str, at: usize, pattern: &str, replacement: &str, out: &mut String) {
    for piece in pieces(replacement, pattern) {
        out.push_str(match piece {
            Piece::Text(text) => text,
            Piece::Before => &text[..at],
            Piece::After => &text[at + pattern.len()..],
        });
    }
}

/// One block's value: the access path, then each function in turn.
fn evaluate(
    data: &str,
    inputs: &Mapping,
    context: &InterpolationContext<'_>,
) -> Result<Value, Vec<String>> {
    let parts = ruby_split(data, '|', None);
    let mut parts = parts.into_iter().map(|part| part.trim_matches(RUBY_SPACE));
    let access = parts.next().unwrap_or_default();
    let functions: Vec<&str> = parts.collect();
    let value = access_value(access, inputs)?;
    if functions.len() > MAX_FUNCTIONS {
        return Err(vec!["too many functions in interpolation block".to_owned()]);
    }
    let mut stack = Vec::with_capacity(functions.len());
    let mut errors = Vec::new();
    for expression in functions {
        match Function::parse(expression) {
            Some(function) => stack.push(function),
            None => errors.push(format!(
                "no function matching `{expression}`: check that the function name, arguments, and types are correct"
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    stack.iter().try_fold(value, |value, function| {
        function.apply(&value, context).map_err(|error| vec![error])
    })
}

/// The value an access path (`inputs.name`) names.
fn access_value(access: &str, inputs: &Mapping) -> Result<Value, Vec<String>> {
    let objects = ruby_split(access, '.', Some(MAX_ACCESS_OBJECTS));
    let mut errors = Vec::new();
    if objects.len() <= 1 {
        errors.push("invalid interpolation access pattern".to_owned());
    }
    if access.len() > MAX_ACCESS_BYTES {
        errors.push("maximum interpolation expression size exceeded".to_owned());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let unknown = |key: &str| vec![format!("unknown interpolation key: `{key}`")];
    let mut objects = objects.into_iter();
    // The context holds `inputs` only.
    match objects.next() {
        Some("inputs") => {}
        other => return Err(unknown(other.unwrap_or_default())),
    }
    let mut current: Option<&Value> = None;
    for key in objects {
        let map = match current {
            None => inputs,
            Some(Value::Mapping(map)) => map,
            Some(_) => return Err(unknown(key)),
        };
        current = Some(map.get(key).ok_or_else(|| unknown(key))?);
    }
    current.cloned().ok_or_else(|| unknown(access))
}

/// Ruby's `String#split` with a one-character separator: without a limit,
/// trailing empty parts are dropped; with one, the last part keeps the rest.
fn ruby_split(text: &str, separator: char, limit: Option<usize>) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    match limit {
        Some(limit) => text.splitn(limit, separator).collect(),
        None => {
            let mut parts: Vec<&str> = text.split(separator).collect();
            while parts.last().is_some_and(|part| part.is_empty()) {
                parts.pop();
            }
            parts
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    fn run(content: &str, inputs: &str) -> Result<Value, Vec<String>> {
        let Value::Mapping(inputs) = yaml(inputs) else {
            panic!("inputs must be a hash");
        };
        let variables = IndexMap::new();
        let budget = ExpansionBudget::new();
        interpolate(
            yaml(content),
            &inputs,
            &InterpolationContext::new(&variables),
            &budget,
        )
        .map_err(|stop| match stop {
            Stop::Errors(errors) => errors,
            Stop::Budget(limit) => vec![limit.to_string()],
        })
    }

    /// After GitLab's `interpolation/template_spec.rb`.
    #[test]
    fn template_interpolates_keys_and_typed_values() {
        let inputs = "{allow_failure: true, env: dev, key: abc, parallel: 6}";
        let content = r#"
test:
  spec:
    env: $[[ inputs.env ]]

$[[ inputs.key ]]:
  name: $[[ inputs.key ]]
  parallel: $[[ inputs.parallel ]]
  allow_failure: $[[ inputs.allow_failure ]]
  script: 'echo "This job makes $[[ inputs.parallel ]] jobs for the $[[ inputs.env ]] env"'
"#;
        let expected = r#"
test:
  spec:
    env: dev

abc:
  name: abc
  parallel: 6
  allow_failure: true
  script: 'echo "This job makes 6 jobs for the dev env"'
"#;
        assert_eq!(run(content, inputs).unwrap(), yaml(expected));
        let nested = "
test:
  - a-$[[ inputs.key ]]-b
  - c-$[[ inputs.key ]]-d:
      d-$[[ inputs.key ]]-e
    val: 1
";
        assert_eq!(
            run(nested, inputs).unwrap(),
            yaml("test: [a-abc-b, {c-abc-d: d-abc-e, val: 1}]")
        );
        assert_eq!(
            run("'$[[ xxx.yyy ]]': abc", inputs).unwrap_err(),
            ["unknown interpolation key: `xxx`"]
        );
    }

    /// After GitLab's `interpolation/config_spec.rb`: an array input given
    /// as a whole list item is spliced into the list.
    #[test]
    fn array_inputs_splice_into_lists() {
        assert_eq!(
            run("script: [a, '$[[ inputs.more ]]', z]", "{more: [b, c]}").unwrap(),
            yaml("script: [a, b, c, z]")
        );
        assert_eq!(
            run("rules: '$[[ inputs.rules ]]'", "{rules: [{if: x}]}").unwrap(),
            yaml("rules: [{if: x}]")
        );
        assert_eq!(
            run("script: 'echo $[[ inputs.more ]]'", "{more: [b, 1]}").unwrap(),
            yaml(r#"script: 'echo ["b", 1]'"#)
        );
    }

    /// After GitLab's `interpolation/block_spec.rb`.
    #[test]
    fn blocks_with_functions() {
        let inputs = "{data: abcdef}";
        let value = |block: &str| run(&format!("v: '{block}'"), inputs).map(|v| v["v"].clone());
        assert_eq!(value("$[[ inputs.data ]]").unwrap(), yaml("abcdef"));
        assert_eq!(
            value("$[[ inputs.data | truncate(1,5) ]]").unwrap(),
            yaml("bcdef")
        );
        assert_eq!(
            value("$[[ inputs.data | truncate(1,5) | truncate(2,2) ]]").unwrap(),
            yaml("de")
        );
        assert_eq!(
            value("$[[ inputs.data|truncate(1,5)  | truncate(2,2) ]]").unwrap(),
            yaml("de")
        );
        assert_eq!(
            value("$[[ inputs.undefined | truncate(1,5) ]]").unwrap_err(),
            ["unknown interpolation key: `undefined`"]
        );
        assert_eq!(
            value("$[[ inputs.data | undefined ]]").unwrap_err(),
            [
                "no function matching `undefined`: check that the function name, arguments, and types are correct"
            ]
        );
        assert_eq!(
            value("$[[ inputs.data | truncate(1,5) | truncate(2) ]]").unwrap_err(),
            [
                "no function matching `truncate(2)`: check that the function name, arguments, and types are correct"
            ]
        );
        assert_eq!(
            value("$[[ inputs.data | posix_escape | posix_escape | posix_escape | posix_escape ]]")
                .unwrap_err(),
            ["too many functions in interpolation block"]
        );
        // A one-character block is no block.
        assert_eq!(value("$[[ a ]]").unwrap(), yaml("'$[[ a ]]'"));
    }

    /// After GitLab's `interpolation/access_spec.rb` and `interpolator_spec.rb`.
    #[test]
    fn access_paths() {
        let inputs = "{data: abcd, website: gitlab.com}";
        let value = |block: &str| run(&format!("v: '{block}'"), inputs).map(|v| v["v"].clone());
        assert_eq!(value("$[[ inputs.data ]]").unwrap(), yaml("abcd"));
        assert_eq!(
            value("$[[ abc[123] ]]").unwrap_err(),
            ["invalid interpolation access pattern"]
        );
        assert_eq!(
            value("$[[ inputs.nonexistent ]]").unwrap_err(),
            ["unknown interpolation key: `nonexistent`"]
        );
        assert_eq!(
            ruby_split("a.b.c.d.e.f.g.h", '.', Some(MAX_ACCESS_OBJECTS)).len(),
            5
        );
        let long = format!("$[[ inputs.{} ]]", "x".repeat(MAX_ACCESS_BYTES));
        assert_eq!(
            value(&long).unwrap_err(),
            ["maximum interpolation expression size exceeded"]
        );
        // The first invalid block stops the interpolation.
        assert_eq!(
            value("deploy $[[ inputs.something.abc ]] $[[ inputs.cde ]] $[[ efg ]]").unwrap_err(),
            ["unknown interpolation key: `something`"]
        );
        assert_eq!(
            value("deploy $[[ inputs.website ]]").unwrap(),
            yaml("deploy gitlab.com")
        );
    }

    /// GitLab replaces a block inside text with Ruby's `gsub(text, text)`,
    /// whose replacement reads backslash sequences (Ruby's `String#gsub`).
    #[test]
    fn text_replacement_reads_ruby_backslash_sequences() {
        let budget = ExpansionBudget::new();
        let gsub = |text: &str, value: &str| gsub(text, "B", value, &budget).unwrap();
        assert_eq!(gsub("xBy", "plain"), "xplainy");
        assert_eq!(gsub("xBy", r"a\\b"), r"xa\by");
        assert_eq!(gsub("xBy", r"<\0>"), "x<B>y");
        assert_eq!(gsub("xBy", r"<\&>"), "x<B>y");
        assert_eq!(gsub("xBy", r"<\`>"), "x<x>y");
        assert_eq!(gsub("xBy", r"<\'>"), "x<y>y");
        assert_eq!(gsub("xBy", r"<\1>"), "x<>y");
        assert_eq!(gsub("xBy", r"a\ b\"), r"xa\ b\y");
        assert_eq!(gsub("BxB", "1"), "1x1");
        // So a value `posix_escape` made with `\'` is changed inside text.
        assert_eq!(
            run("v: 'echo $[[ inputs.x | posix_escape ]]!'", "{x: \"it's\"}").unwrap(),
            yaml("v: echo it!s!")
        );
        // A block that is the whole value is inserted as it is.
        assert_eq!(
            run("v: '$[[ inputs.x | posix_escape ]]'", "{x: \"it's\"}").unwrap(),
            yaml(r"v: it\'s")
        );
    }

    #[test]
    fn references_are_not_walked_into() {
        let content = "a: !reference [.x, '$[[ inputs.y ]]']";
        let value: Value = serde_norway::from_str(content).unwrap();
        let variables = IndexMap::new();
        let Value::Mapping(inputs) = yaml("{y: z}") else {
            panic!()
        };
        let out = interpolate(
            value.clone(),
            &inputs,
            &InterpolationContext::new(&variables),
            &ExpansionBudget::new(),
        )
        .unwrap();
        assert_eq!(out, value);
    }

    #[test]
    fn inserted_values_are_charged_to_the_budget() {
        let big = "x".repeat(1024 * 1024);
        let blocks = "$[[ inputs.big ]]".repeat(100);
        let content = format!("a: [{}]", vec![format!("'{blocks}'"); 1000].join(", "));
        let errors = run(&content, &format!("{{big: {big}}}")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("MiB of text"), "{errors:?}");
    }
}
