//! GitLab's `rules:` for jobs, `workflow:` and `include:`, evaluated outside GitLab.
//!
//! A rules list is validated as GitLab validates it (its messages: `rules:rule if invalid
//! expression syntax`, `rules:rule when unknown value: x`...), then its rules are tried in
//! order; the first whose clauses all hold is the match (`Gitlab::Ci::Build::Rules`). No match
//! means GitLab does not add the job (or create the pipeline, or include the file).
//!
//! - `if:` is GitLab's expression language ([`expression`]), against the variables as
//!   written (`variables_hash`: values are not expanded, an undefined variable is `null`).
//! - `exists:` matches the repository's files (`git ls-files` in the project folder) with
//!   Ruby's `File.fnmatch?` ([`glob`]); its paths are expanded first (`expand_existing`).
//!   `exists: {project:}` names another project, which cannot be read here: it holds, with a
//!   warning.
//! - `changes:` matches the changed files the caller gives ([`RuleContext::changed_files`],
//!   e.g. `git diff --name-only BASE...HEAD`); when they are unknown it holds, with a warning,
//!   as GitLab does for pipelines without a diff. `changes: {compare_to: REF}` runs that diff
//!   against `REF` itself.
//!
//! ```
//! use ci_secrets_gitlab::rules::{evaluate_rules, RuleContext};
//! let rules: serde_norway::Value = serde_norway::from_str(r#"
//! - if: $CI_COMMIT_BRANCH == "main"
//!   variables: {ENVIRONMENT: production}
//! - when: never
//! "#).unwrap();
//! let variables = |name: &str| (name == "CI_COMMIT_BRANCH").then(|| "main".to_owned());
//! let outcome = evaluate_rules(&rules, &RuleContext::new(&variables)).unwrap();
//! let matched = outcome.matched.unwrap();
//! assert_eq!(matched.display, r#"rules[0]: if: $CI_COMMIT_BRANCH == "main""#);
//! assert_eq!(matched.variables["ENVIRONMENT"].value, "production");
//! ```

mod clause;
pub mod expand;
pub mod expression;
pub mod glob;
pub mod repository;
mod rule;

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_norway::Value;

use crate::pipeline::VariableDef;

/// A `rules:` list as written in the pipeline (after `extends:` merging), kept for
/// evaluation once the variables are known. Debug shows only its length: a rule's
/// `variables:` may hold credentials.
#[derive(Clone, PartialEq)]
pub struct RulesConfig(pub Value);

impl fmt::Debug for RulesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Value::Sequence(list) => write!(f, "RulesConfig(<{} rules>)", list.len()),
            _ => f.write_str("RulesConfig(<not a list>)"),
        }
    }
}

impl RulesConfig {
    /// Whether any string in the list (a key or a value) contains `needle`: callers derive
    /// costly variables (`CI_...`) only when the rules can refer to them.
    pub fn mentions(&self, needle: &str) -> bool {
        fn walk(value: &Value, needle: &str, depth: usize) -> bool {
            match value {
                Value::String(text) => text.contains(needle),
                Value::Sequence(list) if depth < 64 => {
                    list.iter().any(|item| walk(item, needle, depth + 1))
                }
                Value::Mapping(map) if depth < 64 => map.iter().any(|(key, item)| {
                    walk(key, needle, depth + 1) || walk(item, needle, depth + 1)
                }),
                Value::Tagged(tagged) if depth < 64 => walk(&tagged.value, needle, depth + 1),
                _ => false,
            }
        }
        walk(&self.0, needle, 0)
    }
}

/// Which `rules:` list is evaluated: they differ in the keys and `when:` values they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesKind {
    /// A job's `rules:`.
    Job,
    /// `workflow: rules:`.
    Workflow,
    /// The `rules:` of an `include:` entry.
    Include,
}

impl RulesKind {
    /// The `allowed_keys` GitLab gives `Entry::Rules` for this list.
    fn allowed_keys(self) -> &'static [&'static str] {
        match self {
            Self::Job => &[
                "if",
                "changes",
                "exists",
                "when",
                "start_in",
                "allow_failure",
                "variables",
                "needs",
                "interruptible",
            ],
            Self::Workflow => &[
                "if",
                "changes",
                "exists",
                "when",
                "start_in",
                "allow_failure",
                "variables",
                "needs",
                "auto_cancel",
            ],
            Self::Include => &["if", "exists", "when", "changes"],
        }
    }

    /// The `allowed_when` of this list.
    fn allowed_when(self) -> &'static [&'static str] {
        match self {
            Self::Job => &[
                "on_success",
                "on_failure",
                "always",
                "never",
                "manual",
                "delayed",
            ],
            Self::Workflow | Self::Include => &["always", "never"],
        }
    }

    /// The location GitLab reports this list's rule errors under, below the owner
    /// (`jobs:deploy:` + `rules:rule`; `include:` + `rule`).
    fn root(self) -> &'static str {
        match self {
            Self::Job | Self::Workflow => "rules",
            Self::Include => "",
        }
    }
}

/// What the rules are evaluated against.
pub struct RuleContext<'a> {
    /// A variable's value by name, `None` when it is undefined.
    pub variables: &'a dyn Fn(&str) -> Option<String>,
    /// The repository root, for `exists:` and `changes: compare_to:`; `None` means no
    /// repository (every `exists:` is false, as GitLab's without a project).
    pub project_dir: Option<&'a Path>,
    /// The changed files, relative to the project folder; `None` means unknown (`changes:`
    /// holds, with a warning).
    pub changed_files: Option<&'a [String]>,
    /// The repository's files, listed on the first `exists:`.
    files: OnceLock<(Vec<String>, bool)>,
}

impl<'a> RuleContext<'a> {
    /// A context with these variables, no repository and unknown changes.
    pub fn new(variables: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            variables,
            project_dir: None,
            changed_files: None,
            files: OnceLock::new(),
        }
    }

    /// Sets the repository root.
    #[must_use]
    pub fn with_project_dir(mut self, project_dir: &'a Path) -> Self {
        self.project_dir = Some(project_dir);
        self
    }

    /// Sets the changed files (`None`: unknown).
    #[must_use]
    pub fn with_changed_files(mut self, changed_files: Option<&'a [String]>) -> Self {
        self.changed_files = changed_files;
        self
    }

    /// The repository's files (sorted) and whether the list was cut.
    fn files(&self) -> &(Vec<String>, bool) {
        self.files.get_or_init(|| match self.project_dir {
            Some(dir) => repository::worktree_files(dir),
            None => (Vec::new(), false),
        })
    }
}

impl fmt::Debug for RuleContext<'_> {
    /// Variables are not listed: their values may be credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleContext")
            .field("project_dir", &self.project_dir)
            .field("changed_files", &self.changed_files.map(<[String]>::len))
            .finish_non_exhaustive()
    }
}

/// Why a rule held only by assumption, or something the caller should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// `changes:` without known changed files: treated as true.
    ChangesUnknown,
    /// `exists: {project:}`: another project's files cannot be read; treated as true.
    ExistsOtherProject,
    /// More glob comparisons than GitLab makes (50 000): treated as true, as GitLab does.
    ComparisonLimit,
    /// The repository has more files than are listed: `exists:` saw only part of them.
    TooManyFiles,
}

/// A warning from evaluating rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWarning {
    /// What kind of warning (callers print some kinds once per run).
    pub kind: WarningKind,
    /// The message, naming the rule.
    pub message: String,
}

/// The rule that matched.
#[derive(Clone, PartialEq)]
pub struct MatchedRule {
    /// Its index in the list.
    pub index: usize,
    /// A short display: `rules[1]: if: $CI_COMMIT_BRANCH == "main"`.
    pub display: String,
    /// Its `when:`, `None` when it has none (the job's own `when:` applies).
    pub when: Option<String>,
    /// Its `variables:`, which override the job's (or, in `workflow:`, the global ones).
    pub variables: IndexMap<String, VariableDef>,
}

impl fmt::Debug for MatchedRule {
    /// Variables are listed by name: their values may be credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchedRule")
            .field("index", &self.index)
            .field("display", &self.display)
            .field("when", &self.when)
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The result of evaluating a rules list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RulesOutcome {
    /// The first rule whose clauses all hold; `None` when none does.
    pub matched: Option<MatchedRule>,
    /// Assumptions made on the way (`changes:` unknown...).
    pub warnings: Vec<RuleWarning>,
}

impl RulesOutcome {
    /// Whether GitLab would add the job (create the pipeline, include the file): a rule
    /// matched and its `when:` is not `never`.
    pub fn is_included(&self) -> bool {
        self.matched
            .as_ref()
            .is_some_and(|rule| rule.when.as_deref() != Some("never"))
    }

    /// Why GitLab would not add it, when it would not: `no rule matched` or
    /// `rules[2]: when: never matched`.
    pub fn exclusion_reason(&self) -> Option<String> {
        match &self.matched {
            None => Some("no rule matched".to_owned()),
            Some(rule) if rule.when.as_deref() == Some("never") => {
                Some(format!("{} matched (when: never)", rule.display))
            }
            Some(_) => None,
        }
    }
}

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesErrorKind {
    /// The list or a rule is not what GitLab accepts (wrong type, unknown key or `when:`).
    InvalidConfig,
    /// An `if:` that does not parse.
    InvalidExpression,
    /// `changes: compare_to:` names no ref of the repository.
    InvalidRef,
}

/// A rules list GitLab would refuse, with GitLab's message.
///
/// The location is relative to the list's owner: prefix `jobs:<name>:`, `workflow:` or
/// `include:` to get GitLab's full message (`jobs:deploy:rules:rule if invalid expression
/// syntax`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location} {message}{}", index.map(|index| format!(" (rules[{index}])")).unwrap_or_default())]
pub struct RulesError {
    /// The kind of error.
    pub kind: RulesErrorKind,
    /// GitLab's location below the owner: `rules`, `rules:rule`, `rules:rule:changes`, `rule`.
    pub location: String,
    /// GitLab's message after the location.
    pub message: String,
    /// The index of the rule at fault, when one is.
    pub index: Option<usize>,
}

impl RulesError {
    /// GitLab's message, under `owner` (`jobs:deploy`, `workflow`, `include`), without the
    /// rule index.
    pub fn gitlab_message(&self, owner: &str) -> String {
        match (owner.is_empty(), self.location.is_empty()) {
            (true, _) => format!("{} {}", self.location, self.message),
            (false, true) => format!("{owner}: {}", self.message),
            (false, false) => format!("{owner}:{} {}", self.location, self.message),
        }
    }
}

/// Evaluates a job's `rules:` (the YAML value after `extends:` merging).
pub fn evaluate_rules(rules: &Value, ctx: &RuleContext<'_>) -> Result<RulesOutcome, RulesError> {
    evaluate(rules, RulesKind::Job, ctx)
}

/// Evaluates `workflow: rules:`.
pub fn evaluate_workflow_rules(
    rules: &Value,
    ctx: &RuleContext<'_>,
) -> Result<RulesOutcome, RulesError> {
    evaluate(rules, RulesKind::Workflow, ctx)
}

/// Evaluates the `rules:` of an `include:` entry, with warnings (see [`include_rules_match`]).
pub fn evaluate_include_rules(
    rules: &Value,
    ctx: &RuleContext<'_>,
) -> Result<RulesOutcome, RulesError> {
    evaluate(rules, RulesKind::Include, ctx)
}

/// Whether an `include:` entry with these `rules:` is included (`External::Rules#evaluate`):
/// no rules (`null`) includes it; otherwise the first matching rule does, unless its `when:`
/// is `never`; no match excludes it. Only `if`, `exists`, `changes` and `when: never|always`
/// are allowed (`Entry::Include::Rules::Rule`); an error is located under `include:`.
pub fn include_rules_match(rules: &Value, ctx: &RuleContext<'_>) -> Result<bool, RulesError> {
    if rules.is_null() {
        return Ok(true);
    }
    Ok(evaluate_include_rules(rules, ctx)?.is_included())
}

/// Checks a rules list as GitLab validates it, without evaluating anything: for `validate`,
/// which has no variables. The error is the one [`evaluate_rules`] (and friends) would give.
pub fn validate_rules(rules: &Value, kind: RulesKind) -> Result<(), RulesError> {
    parse_all(rules, kind).map(|_| ())
}

/// Every rule of the list, validated (GitLab refuses the whole configuration for one bad
/// rule).
fn parse_all(rules: &Value, kind: RulesKind) -> Result<Vec<rule::Rule>, RulesError> {
    let list_error = |message: &str| RulesError {
        kind: RulesErrorKind::InvalidConfig,
        location: kind.root().to_owned(),
        message: message.to_owned(),
        index: None,
    };
    let list = match rules {
        Value::Sequence(list) if list.is_empty() => {
            return Err(list_error("config can't be blank"));
        }
        // `ComposableArray#compose!` flattens: `- !reference [.base, rules]` splices a list.
        Value::Sequence(list) => flatten(list),
        Value::Null => return Err(list_error("config can't be blank")),
        _ => return Err(list_error("config should be an array")),
    };
    list.iter()
        .enumerate()
        .map(|(index, value)| {
            rule::parse(
                value,
                kind,
                &rule::Location {
                    root: kind.root(),
                    index,
                },
            )
        })
        .collect()
}

/// Validates every rule, then tries them in order.
fn evaluate(
    rules: &Value,
    kind: RulesKind,
    ctx: &RuleContext<'_>,
) -> Result<RulesOutcome, RulesError> {
    let parsed = parse_all(rules, kind)?;
    let mut warnings = Vec::new();
    for (index, rule) in parsed.into_iter().enumerate() {
        let display = format!("rules[{index}]: {}", rule.summary);
        let holds = clause::all_hold(&rule.clauses, ctx, &display, &mut warnings).map_err(
            |mut error| {
                error.index = Some(index);
                error
            },
        )?;
        if holds {
            return Ok(RulesOutcome {
                matched: Some(MatchedRule {
                    index,
                    display,
                    when: rule.when,
                    variables: rule.variables,
                }),
                warnings,
            });
        }
    }
    Ok(RulesOutcome {
        matched: None,
        warnings,
    })
}

/// The rules of `list` with nested lists spliced in, as Ruby's `flatten`. Nesting comes only
/// from `!reference`, itself bounded, so the recursion is too.
fn flatten(list: &[Value]) -> Vec<&Value> {
    let mut flat = Vec::with_capacity(list.len());
    for item in list {
        match item {
            Value::Sequence(inner) => flat.extend(flatten(inner)),
            other => flat.push(other),
        }
    }
    flat
}

#[cfg(test)]
mod tests;
