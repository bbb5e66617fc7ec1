//! The pipeline's files as trees with byte ranges, and where a job's
//! definitions are written: its top-level key, its `extends:` parents, the
//! key its `script:` comes from, the `!reference`s that name a key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::edit::Edit;
use super::error::MigrateError;
use super::tree::{self, Kind, Node};
use crate::pipeline::Pipeline;

/// A parsed pipeline file.
pub(super) struct Source {
    pub path: PathBuf,
    pub relative: PathBuf,
    pub text: String,
    pub root: Option<Node>,
    pub edits: Vec<Edit>,
}

/// The top-level entries of the files, by name: (file index, key node, value node).
pub(super) type Index<'a> = HashMap<&'a str, Vec<(usize, &'a Node, &'a Node)>>;

pub(super) fn read_sources(
    pipeline: &Pipeline,
    project_dir: &Path,
) -> Result<Vec<Source>, MigrateError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MigrateError::Io { path, source }
    };
    let root = project_dir.canonicalize().map_err(io(project_dir))?;
    let mut sources = Vec::new();
    for path in &pipeline.local_files {
        let canonical = path.canonicalize().map_err(io(path))?;
        let relative = canonical
            .strip_prefix(&root)
            .map_err(|_| MigrateError::Outside {
                file: path.clone(),
                project_dir: project_dir.to_owned(),
            })?
            .to_owned();
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let root = tree::parse(&text).map_err(|(message, line)| MigrateError::Parse {
            file: path.clone(),
            line,
            message,
        })?;
        sources.push(Source {
            path: path.clone(),
            relative,
            text,
            root,
            edits: Vec::new(),
        });
    }
    Ok(sources)
}

pub(super) fn index_entries(sources: &[Source]) -> Index<'_> {
    let mut index: Index<'_> = HashMap::new();
    for (number, source) in sources.iter().enumerate() {
        let Some(root) = &source.root else { continue };
        for (key, value) in root.entries() {
            if let Some(name) = key.scalar() {
                index.entry(name).or_default().push((number, key, value));
            }
        }
    }
    index
}

/// The one definition of top-level key `name`; refused when several files
/// define it (their merge is not one place to edit).
pub(super) fn single<'a>(
    sources: &[Source],
    index: &Index<'a>,
    name: &str,
) -> Result<(usize, &'a Node, &'a Node), MigrateError> {
    match index.get(name).map(Vec::as_slice) {
        Some([one]) => Ok(*one),
        Some([(file, key, _), (other, ..), ..]) => Err(MigrateError::unsupported(
            &sources[*file].path,
            key.line,
            name,
            format!(
                "is defined here and in {}: migrate edits a definition in one place only",
                sources[*other].path.display()
            ),
        )),
        _ => Err(MigrateError::unsupported(
            sources
                .first()
                .map(|source| source.path.clone())
                .unwrap_or_default(),
            1,
            name,
            "is not defined in a file of this repository (it comes from a non-local include)",
        )),
    }
}

pub(super) fn where_defined(sources: &[Source], index: &Index<'_>, name: &str) -> (PathBuf, usize) {
    index
        .get(name)
        .and_then(|entries| entries.first())
        .map(|(file, key, _)| (sources[*file].path.clone(), key.line))
        .unwrap_or_else(|| {
            (
                sources.first().map(|s| s.path.clone()).unwrap_or_default(),
                1,
            )
        })
}

/// The `extends:` parents of a top-level entry, as written.
pub(super) fn parents(value: &Node) -> Vec<&str> {
    match value.get("extends").map(|(_, parents)| &parents.kind) {
        Some(Kind::Scalar { value, .. }) => vec![value.as_str()],
        Some(Kind::Seq(items)) => items.iter().filter_map(Node::scalar).collect(),
        _ => Vec::new(),
    }
}

/// The top-level key whose `script:` job `name` runs: its own, else the last
/// parent's in `extends:` order (later parents win, as in GitLab's merge).
pub(super) fn script_owner(
    sources: &[Source],
    index: &Index<'_>,
    name: &str,
    depth: usize,
) -> Result<Option<String>, MigrateError> {
    if depth > crate::pipeline::MAX_EXTENDS_DEPTH {
        return Ok(None);
    }
    let (_, _, value) = single(sources, index, name)?;
    if value.get("script").is_some() {
        return Ok(Some(name.to_owned()));
    }
    for parent in parents(value).into_iter().rev() {
        if let Some(owner) = script_owner(sources, index, parent, depth + 1)? {
            return Ok(Some(owner));
        }
    }
    Ok(None)
}

/// Whether `name` is `ancestor` or extends it, directly or not.
pub(super) fn inherits_from(index: &Index<'_>, name: &str, ancestor: &str) -> bool {
    let mut pending = vec![(name.to_owned(), 0)];
    while let Some((current, depth)) = pending.pop() {
        if current == ancestor {
            return true;
        }
        if depth > crate::pipeline::MAX_EXTENDS_DEPTH {
            continue;
        }
        for (_, _, value) in index.get(current.as_str()).into_iter().flatten() {
            pending.extend(
                parents(value)
                    .into_iter()
                    .map(|p| (p.to_owned(), depth + 1)),
            );
        }
    }
    false
}

/// Whether a `!reference [owner, script, ...]` is `node` or under it.
pub(super) fn references_script(node: &Node, owner: &str) -> bool {
    match &node.kind {
        Kind::Seq(items) => {
            let scalars: Vec<Option<&str>> = items.iter().take(2).map(Node::scalar).collect();
            (node.tagged && scalars == [Some(owner), Some("script")])
                || items.iter().any(|item| references_script(item, owner))
        }
        _ => false,
    }
}

/// Whether a `!reference [name, ...]` under `node` names top-level key `name`.
pub(super) fn references(node: &Node, name: &str) -> bool {
    match &node.kind {
        Kind::Seq(items) => {
            (node.tagged && items.first().and_then(Node::scalar) == Some(name))
                || items.iter().any(|item| references(item, name))
        }
        Kind::Map(entries) => entries.iter().any(|(_, value)| references(value, name)),
        _ => false,
    }
}

/// `name` and every key it `extends:`, directly or not, each once.
pub(super) fn lineage<'a>(index: &Index<'a>, name: &'a str) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    let mut pending = vec![(name, 0)];
    while let Some((current, depth)) = pending.pop() {
        if seen.contains(&current) || depth > crate::pipeline::MAX_EXTENDS_DEPTH {
            continue;
        }
        seen.push(current);
        for (_, _, value) in index.get(current).into_iter().flatten() {
            pending.extend(parents(value).into_iter().map(|parent| (parent, depth + 1)));
        }
    }
    seen
}

/// Every scalar's text under `node`.
pub(super) fn scalars(node: &Node) -> Vec<&str> {
    match &node.kind {
        Kind::Scalar { value, .. } => vec![value.as_str()],
        Kind::Seq(items) => items.iter().flat_map(scalars).collect(),
        Kind::Map(entries) => entries
            .iter()
            .flat_map(|(_, value)| scalars(value))
            .collect(),
        Kind::Alias(_) => Vec::new(),
    }
}

/// Whether shell text `text` reads variable `name` (`$NAME`, `${NAME}`).
pub(super) fn mentions_variable(text: &str, name: &str) -> bool {
    if text.contains(&format!("${{{name}}}")) {
        return true;
    }
    let needle = format!("${name}");
    text.match_indices(&needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::mentions_variable;

    #[test]
    fn variables_are_matched_whole() {
        assert!(mentions_variable("echo $DB", "DB"));
        assert!(mentions_variable("echo ${DB}x", "DB"));
        assert!(mentions_variable("x=$DB;", "DB"));
        assert!(!mentions_variable("echo $DB_USER", "DB"));
        assert!(!mentions_variable("echo DB", "DB"));
    }
}
