//! Evaluating a rule's clauses (`Gitlab::Ci::Build::Rules::Rule::Clause::{If,Changes,Exists}`).

use std::collections::HashSet;

use super::expand::expand_existing;
use super::glob::Glob;
use super::repository;
use super::rule::Clause;
use super::{RuleContext, RuleWarning, RulesError, RulesErrorKind, WarningKind};

/// GitLab's `MAX_PATTERN_COMPARISONS` / `CHANGES_MAX_PATTERN_COMPARISONS`: beyond this many
/// glob comparisons GitLab assumes a match.
pub const MAX_PATTERN_COMPARISONS: usize = 50_000;

/// Whether every clause holds (`Rule#matches?`: `all?`, in file order, stopping at the first
/// that does not).
pub(crate) fn all_hold(
    clauses: &[Clause],
    ctx: &RuleContext<'_>,
    display: &str,
    warnings: &mut Vec<RuleWarning>,
) -> Result<bool, RulesError> {
    for clause in clauses {
        let holds = match clause {
            Clause::If(statement) => statement.truthful(ctx.variables),
            Clause::Changes { paths, compare_to } => {
                changes(paths, compare_to.as_deref(), ctx, display, warnings)?
            }
            Clause::Exists { paths, project } => {
                exists(paths, project.as_deref(), ctx, display, warnings)
            }
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn expand_all(globs: &[String], ctx: &RuleContext<'_>) -> Vec<String> {
    let mut seen = HashSet::new();
    globs
        .iter()
        .map(|glob| expand_existing(glob, ctx.variables))
        .filter(|glob| seen.insert(glob.clone()))
        .collect()
}

/// `Clause::Changes#satisfied_by?`.
fn changes(
    globs: &[String],
    compare_to: Option<&str>,
    ctx: &RuleContext<'_>,
    display: &str,
    warnings: &mut Vec<RuleWarning>,
) -> Result<bool, RulesError> {
    let compared;
    let modified: &[String] = match (compare_to, ctx.project_dir) {
        (Some(reference), Some(dir)) => {
            let reference = expand_existing(reference, ctx.variables);
            compared = repository::changed_files(dir, &reference).ok_or_else(|| RulesError {
                kind: RulesErrorKind::InvalidRef,
                location: "rules:changes:compare_to".to_owned(),
                message: format!("is not a valid ref (`{reference}`)"),
                index: None,
            })?;
            &compared
        }
        _ => match ctx.changed_files {
            Some(files) => files,
            None => {
                warnings.push(RuleWarning {
                    kind: WarningKind::ChangesUnknown,
                    message: format!(
                        "{display}: the changed files are unknown (no --changes-base), so \
                         `changes:` is treated as true"
                    ),
                });
                return Ok(true);
            }
        },
    };
    if modified.is_empty() {
        return Ok(false);
    }
    let globs = expand_all(globs, ctx);
    if globs.is_empty() {
        return Ok(false);
    }
    if modified.len().saturating_mul(globs.len()) > MAX_PATTERN_COMPARISONS {
        warnings.push(limit_warning(display, "changes"));
        return Ok(true);
    }
    let globs: Vec<Glob> = globs.iter().filter_map(|glob| Glob::new(glob)).collect();
    Ok(modified
        .iter()
        .any(|path| globs.iter().any(|glob| glob.matches(path))))
}

/// `Clause::Exists#satisfied_by?`.
fn exists(
    globs: &[String],
    project: Option<&str>,
    ctx: &RuleContext<'_>,
    display: &str,
    warnings: &mut Vec<RuleWarning>,
) -> bool {
    if globs.is_empty() {
        return false;
    }
    if let Some(project) = project {
        warnings.push(RuleWarning {
            kind: WarningKind::ExistsOtherProject,
            message: format!(
                "{display}: `exists:` looks in project `{}`, which cannot be read here, so it \
                 is treated as true",
                expand_existing(project, ctx.variables)
            ),
        });
        return true;
    }
    let globs = expand_all(globs, ctx);
    let (files, truncated) = ctx.files();
    if *truncated {
        warnings.push(RuleWarning {
            kind: WarningKind::TooManyFiles,
            message: format!(
                "{display}: the repository has more than {} files; `exists:` saw only the \
                 first ones",
                repository::MAX_FILES
            ),
        });
    }
    let (exact, patterns): (Vec<&String>, Vec<&String>) = globs
        .iter()
        .partition(|glob| !glob.contains(['*', '?', '[', '{']));
    let exact_match = exact.iter().any(|glob| {
        if glob.ends_with('/') {
            files.iter().any(|file| file.starts_with(glob.as_str()))
        } else {
            files.binary_search(glob).is_ok()
        }
    });
    if exact_match {
        return true;
    }
    if patterns.is_empty() {
        return false;
    }
    if files.len().saturating_mul(patterns.len()) > MAX_PATTERN_COMPARISONS {
        warnings.push(limit_warning(display, "exists"));
        return true;
    }
    patterns
        .iter()
        .filter_map(|glob| Glob::new(glob))
        .any(|glob| files.iter().any(|file| glob.matches(file)))
}

fn limit_warning(display: &str, clause: &str) -> RuleWarning {
    RuleWarning {
        kind: WarningKind::ComparisonLimit,
        message: format!(
            "{display}: `{clause}:` needs more than {MAX_PATTERN_COMPARISONS} glob comparisons, \
             so it is treated as true, as GitLab does"
        ),
    }
}
