//! The secrets sweep: the `secrets:` entries of a moving provider are cut
//! where they are written (see the `plan` module documentation).

use std::collections::HashMap;

use serde_json::Value;

use super::edit::{Edit, colon_after, line_end, remove_entry};
use super::error::MigrateError;
use super::source::Source;
use super::tree::{Kind, Node};
use crate::pipeline::Pipeline;

/// Whether an entry (key, value) of a `secrets:` mapping moves.
pub(super) type Decide<'a> = dyn Fn(&Node, &Node) -> bool + 'a;

/// The secrets sweep (see the module documentation).
pub(super) fn sweep_secrets(
    sources: &[Source],
    pipeline: &Pipeline,
    moves: &dyn Fn(&Value) -> bool,
    edits: &mut [Vec<Edit>],
) -> Result<(), MigrateError> {
    for (number, source) in sources.iter().enumerate() {
        let Some(root) = &source.root else { continue };
        let text = source.text.as_str();
        let tree_moves = |value: &Node| node_holds_provider(root, value, moves);
        // Anchored mappings of secrets, swept once, and whether they end up empty.
        let mut anchors: HashMap<usize, bool> = HashMap::new();
        let sweep_anchor = |id: usize,
                            anchors: &mut HashMap<usize, bool>,
                            edits: &mut Vec<Edit>|
         -> Result<bool, MigrateError> {
            if let Some(emptied) = anchors.get(&id) {
                return Ok(*emptied);
            }
            let Some(map) = root
                .find_anchor(id)
                .filter(|node| matches!(node.kind, Kind::Map(_)))
            else {
                anchors.insert(id, false);
                return Ok(false);
            };
            let emptied = sweep_map(source, map, None, &tree_moves, edits, true)?;
            anchors.insert(id, emptied);
            Ok(emptied)
        };
        for (key, entry) in root.entries() {
            let Some(name) = key.scalar() else { continue };
            let Some((secrets_key, secrets)) = entry.get("secrets") else {
                continue;
            };
            let loaded = pipeline
                .jobs
                .get(name)
                .and_then(|job| job.secrets.as_ref())
                .and_then(Value::as_object);
            let emptied = match &secrets.kind {
                Kind::Alias(id) => sweep_anchor(*id, &mut anchors, &mut edits[number])?,
                Kind::Map(entries) if !secrets.tagged => {
                    for (merge_key, merged) in entries {
                        if merge_key.scalar() != Some("<<") {
                            continue;
                        }
                        let ids: Vec<usize> = match &merged.kind {
                            Kind::Alias(id) => vec![*id],
                            Kind::Seq(items) => items
                                .iter()
                                .filter_map(|item| match item.kind {
                                    Kind::Alias(id) => Some(id),
                                    _ => None,
                                })
                                .collect(),
                            _ => Vec::new(),
                        };
                        for id in ids {
                            sweep_anchor(id, &mut anchors, &mut edits[number])?;
                        }
                    }
                    if secrets.anchor != 0 {
                        anchors.insert(secrets.anchor, false);
                    }
                    let decide = |entry_key: &Node, value: &Node| {
                        tree_moves(value)
                            || entry_key
                                .scalar()
                                .and_then(|variable| loaded.and_then(|loaded| loaded.get(variable)))
                                .is_some_and(moves)
                    };
                    let emptied = sweep_map(
                        source,
                        secrets,
                        Some(&decide),
                        &tree_moves,
                        &mut edits[number],
                        secrets.anchor != 0,
                    )?;
                    if secrets.anchor != 0 {
                        anchors.insert(secrets.anchor, emptied);
                    }
                    emptied && secrets.anchor == 0
                }
                // `!reference [.x, secrets]`: its target is swept where it is written; the
                // reference goes when everything it brings moves (the target may lose its key).
                _ if secrets.tagged => {
                    loaded.is_some_and(|loaded| !loaded.is_empty() && loaded.values().all(moves))
                }
                _ => false,
            };
            if emptied {
                // A template that held nothing else stays a (empty) hash: `extends:` and
                // `!reference` may still name it.
                let alone = entry.entries().len() == 1;
                let edit = if alone {
                    colon_after(text, key).map(|colon| Edit {
                        range: colon..line_end(text, entry.end),
                        text: " {}".to_owned(),
                    })
                } else {
                    remove_entry(text, entry.flow, secrets_key, secrets)
                };
                let edit = edit.ok_or_else(|| {
                    MigrateError::unsupported(
                        &source.path,
                        secrets_key.line,
                        name,
                        "`secrets:` is not alone on its line; migrate does not rewrite that layout",
                    )
                })?;
                // The entries' own edits are inside this one.
                edits[number].retain(|other| {
                    !(other.range.start >= edit.range.start && other.range.end <= edit.range.end)
                });
                edits[number].push(edit);
            }
        }
    }
    Ok(())
}

/// Cuts the entries of secrets mapping `map` that move. Returns whether none
/// is left (merge keys count as left). An emptied anchored mapping becomes
/// `{}` (`keep_anchor`): its aliases still need a mapping.
pub(super) fn sweep_map(
    source: &Source,
    map: &Node,
    decide: Option<&Decide<'_>>,
    tree_moves: &dyn Fn(&Node) -> bool,
    edits: &mut Vec<Edit>,
    keep_anchor: bool,
) -> Result<bool, MigrateError> {
    let entries = map.entries();
    let cut: Vec<&(Node, Node)> = entries
        .iter()
        .filter(|(key, value)| {
            key.scalar() != Some("<<")
                && decide.map_or_else(|| tree_moves(value), |decide| decide(key, value))
        })
        .collect();
    if cut.is_empty() {
        return Ok(false);
    }
    if cut.len() == entries.len() {
        if keep_anchor {
            edits.push(Edit {
                range: map.start..map.end,
                text: "{}".to_owned(),
            });
        }
        return Ok(true);
    }
    for (key, value) in cut {
        let edit = remove_entry(&source.text, map.flow, key, value).ok_or_else(|| {
            MigrateError::unsupported(
                &source.path,
                key.line,
                key.scalar().unwrap_or_default(),
                "this `secrets:` entry is not alone on its line; migrate does not rewrite that layout",
            )
        })?;
        edits.push(edit);
    }
    Ok(false)
}

/// Whether a secrets entry, as written, names a provider that moves: a
/// mapping with its key, directly or through an alias or a merge key.
pub(super) fn node_holds_provider(
    root: &Node,
    value: &Node,
    moves: &dyn Fn(&Value) -> bool,
) -> bool {
    let mut visited = 0;
    let mut pending = vec![value];
    while let Some(node) = pending.pop() {
        visited += 1;
        if visited > 64 {
            return false;
        }
        match &node.kind {
            Kind::Alias(id) => pending.extend(root.find_anchor(*id)),
            Kind::Map(entries) => {
                for (key, child) in entries {
                    match key.scalar() {
                        Some("<<") => match &child.kind {
                            Kind::Seq(items) => pending.extend(items.iter()),
                            _ => pending.push(child),
                        },
                        Some(name) => {
                            let mut block = serde_json::Map::new();
                            block.insert(name.to_owned(), Value::Null);
                            if moves(&Value::Object(block)) {
                                return true;
                            }
                        }
                        None => {}
                    }
                }
            }
            _ => {}
        }
    }
    false
}
