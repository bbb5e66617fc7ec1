//! Text edits over byte ranges: what to cut or replace so that the rest of a
//! file (comments, key order, anchors, quoting, blank lines) stays byte for
//! byte.
//!
//! An entry of a block mapping is cut whole lines: from the start of its
//! key's line to the end of its value's last line, that line's break
//! included, with the comment lines right above it at its indentation (they
//! are about it); other comment lines stay. An entry of a flow mapping is
//! cut with one neighbouring comma.

use std::ops::Range;

use super::tree::Node;

/// Replace `range` of a file's text by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

pub(crate) fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |newline| newline + 1)
}

pub(crate) fn line_end(text: &str, at: usize) -> usize {
    text[at..]
        .find('\n')
        .map_or(text.len(), |newline| at + newline)
}

/// The byte just past the `:` that follows `key`, `None` when there is none
/// (a `? key` entry).
pub(crate) fn colon_after(text: &str, key: &Node) -> Option<usize> {
    let rest = &text[key.end..];
    let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    rest[spaces..]
        .starts_with(':')
        .then_some(key.end + spaces + 1)
}

/// The edit that removes the entry `key: value` of a mapping, `flow` when
/// the mapping is a `{...}`. `None` when the entry does not sit alone on its
/// lines (a block entry after other text on its first line).
pub(crate) fn remove_entry(text: &str, flow: bool, key: &Node, value: &Node) -> Option<Edit> {
    let end = value.end.max(key.end);
    if flow {
        let after = &text[end..];
        let gap = after.len() - after.trim_start().len();
        if after[gap..].starts_with(',') {
            let rest = &after[gap + 1..];
            let spaces = rest.len() - rest.trim_start().len();
            return Some(Edit {
                range: key.start..end + gap + 1 + spaces,
                text: String::new(),
            });
        }
        // The last entry: the comma before it goes.
        let before = text[..key.start].trim_end();
        let start = if before.ends_with(',') {
            before.len() - 1
        } else {
            key.start
        };
        return Some(Edit {
            range: start..end,
            text: String::new(),
        });
    }
    let mut start = line_start(text, key.start);
    let indent = &text[start..key.start];
    if !indent.chars().all(|c| c == ' ') {
        return None;
    }
    // Comment lines right above the entry, at its indentation, are about it.
    while start > 0 {
        let above = line_start(text, start - 1);
        let line = &text[above..start - 1];
        match line.strip_prefix(indent) {
            Some(rest) if rest.starts_with('#') => start = above,
            _ => break,
        }
    }
    let stop = line_end(text, end);
    let stop = if stop < text.len() { stop + 1 } else { stop };
    Some(Edit {
        range: start..stop,
        text: String::new(),
    })
}

/// Applies `edits` (any order) to `text`; `None` when two overlap.
pub(crate) fn apply(text: &str, edits: &[Edit]) -> Option<String> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|edit| (edit.range.start, edit.range.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for edit in sorted {
        if edit.range.start < at || edit.range.end > text.len() {
            return None;
        }
        out.push_str(&text[at..edit.range.start]);
        out.push_str(&edit.text);
        at = edit.range.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::tree::parse;
    use super::*;

    fn remove(text: &str, path: &[&str], entry: &str) -> String {
        let root = parse(text).unwrap().unwrap();
        let mut node = &root;
        for key in path {
            node = node.get(key).unwrap().1;
        }
        let (key, value) = node.get(entry).unwrap();
        let edit = remove_entry(text, node.flow, key, value).unwrap();
        apply(text, &[edit]).unwrap()
    }

    #[test]
    fn block_entries_go_with_their_lines_only() {
        let text = "job:\n  secrets:\n    # about A\n    A:  # a\n      akeyless: {name: /a}   # n\n\n    # about B\n    B: {vault: x}\n  # about script\n  script: [x]\n";
        assert_eq!(
            remove(text, &["job", "secrets"], "A"),
            "job:\n  secrets:\n\n    # about B\n    B: {vault: x}\n  # about script\n  script: [x]\n"
        );
        assert_eq!(
            remove(text, &["job", "secrets"], "B"),
            "job:\n  secrets:\n    # about A\n    A:  # a\n      akeyless: {name: /a}   # n\n\n  # about script\n  script: [x]\n"
        );
        assert_eq!(
            remove(text, &["job"], "secrets"),
            "job:\n  # about script\n  script: [x]\n"
        );
        // The last line of a file without a final line break.
        assert_eq!(remove("a: 1\nb: 2", &[], "b"), "a: 1\n");
    }

    #[test]
    fn flow_entries_take_one_comma() {
        let text = "job: {secrets: {A: {akeyless: {name: /a}}, B: {vault: x}}, script: [x]}\n";
        assert_eq!(
            remove(text, &["job", "secrets"], "A"),
            "job: {secrets: {B: {vault: x}}, script: [x]}\n"
        );
        assert_eq!(
            remove(text, &["job", "secrets"], "B"),
            "job: {secrets: {A: {akeyless: {name: /a}}}, script: [x]}\n"
        );
        assert_eq!(remove(text, &["job"], "secrets"), "job: {script: [x]}\n");
    }

    #[test]
    fn overlapping_edits_are_refused() {
        let one = Edit {
            range: 0..4,
            text: String::new(),
        };
        let two = Edit {
            range: 2..6,
            text: String::new(),
        };
        assert_eq!(apply("abcdefgh", &[one.clone(), two]), None);
        let three = Edit {
            range: 6..7,
            text: "X".to_owned(),
        };
        assert_eq!(apply("abcdefgh", &[three, one]).unwrap(), "efXh");
    }
}
