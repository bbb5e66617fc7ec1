//! A YAML document as a tree of nodes with byte ranges, built from
//! saphyr-parser's events: serde_norway's values carry no positions, and a
//! text edit needs them.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// One node of the last document of a file.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Byte offset of the node's first character (its tag or anchor
    /// excluded: the parser reports where the content starts).
    pub start: usize,
    /// Byte offset just past the node's last content character (for a
    /// collection, past its last descendant; trailing spaces, comments and
    /// line breaks are not part of it).
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 0-based column (in characters) of `start`.
    pub col: usize,
    /// A `{...}` or `[...]` collection (block collections are `false`).
    pub flow: bool,
    /// The node carries a tag (`!reference`, ...).
    pub tagged: bool,
    /// The anchor the node defines (`&name`), numbered by the parser from 1;
    /// 0 when it defines none.
    pub anchor: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar {
        value: String,
        block: bool,
    },
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// `*name`: the number of the anchor it repeats.
    Alias(usize),
}

impl Node {
    /// The entry of a mapping whose key is the plain text `key`.
    pub fn get(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }
}

/// Byte offsets of each character index, for the parser's character-based markers.
struct Offsets(Vec<usize>);

impl Offsets {
    fn new(text: &str) -> Self {
        let mut offsets: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        offsets.push(text.len());
        Self(offsets)
    }

    fn byte(&self, index: usize) -> usize {
        self.0
            .get(index)
            .copied()
            .unwrap_or_else(|| self.0.last().copied().unwrap_or(0))
    }
}

/// Moves `node.start` past the `&anchor` and `!tag` in front of it.
fn skip_properties(text: &str, node: &mut Node) {
    while matches!(text.as_bytes().get(node.start), Some(b'&' | b'!')) {
        let rest = &text[node.start..];
        let token = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let after = &rest[token..];
        let gap = after.len() - after.trim_start().len();
        let skipped = &rest[..token + gap];
        match skipped.rfind('\n') {
            Some(newline) => {
                node.line += skipped.matches('\n').count();
                node.col = skipped[newline + 1..].chars().count();
            }
            None => node.col += skipped.chars().count(),
        }
        node.start += token + gap;
    }
}

/// The root node of the last document of `text`; `Err` with the parser's
/// message (and line) when the text is not YAML.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, (String, usize)> {
    let offsets = Offsets::new(text);
    // Open collections: the node (its children so far) and the pending key of a mapping.
    let mut stack: Vec<(Node, Option<Node>, bool)> = Vec::new();
    let mut root: Option<Node> = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| (err.to_string(), err.marker().line()))?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index());
        let base = |kind: Kind, tagged: bool, anchor: usize| Node {
            kind,
            start,
            end,
            line: span.start.line(),
            col: span.start.col(),
            flow: false,
            tagged,
            anchor,
        };
        let finished = match event {
            Event::DocumentStart(_) => {
                stack.clear();
                root = None;
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let mut node = base(
                    Kind::Scalar {
                        value: value.into_owned(),
                        block,
                    },
                    tag.is_some(),
                    anchor,
                );
                if block {
                    // A block scalar's span runs over the blank lines after it.
                    node.end = start + text[start..end.max(start)].trim_end().len();
                }
                Some(node)
            }
            Event::Alias(id) => Some(base(Kind::Alias(id), false, 0)),
            Event::MappingStart(anchor, ref tag) | Event::SequenceStart(anchor, ref tag) => {
                let is_map = matches!(event, Event::MappingStart(..));
                let mut node = base(
                    if is_map {
                        Kind::Map(Vec::new())
                    } else {
                        Kind::Seq(Vec::new())
                    },
                    tag.is_some(),
                    anchor,
                );
                // A block collection's span starts at its anchor or tag, if any.
                skip_properties(text, &mut node);
                node.flow = matches!(text.as_bytes().get(node.start), Some(b'{' | b'['));
                stack.push((node, None, is_map));
                None
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some((mut node, _, _)) = stack.pop() else {
                    continue;
                };
                if node.flow {
                    node.end = end;
                } else {
                    let last = match &node.kind {
                        Kind::Map(entries) => entries.last().map(|(_, value)| value.end),
                        Kind::Seq(items) => items.last().map(|item| item.end),
                        _ => None,
                    };
                    node.end = last.unwrap_or(node.start);
                }
                Some(node)
            }
            _ => None,
        };
        let Some(node) = finished else { continue };
        match stack.last_mut() {
            None => root = Some(node),
            Some((parent, pending, is_map)) => {
                if *is_map {
                    match pending.take() {
                        None => *pending = Some(node),
                        Some(key) => {
                            if let Kind::Map(entries) = &mut parent.kind {
                                entries.push((key, node));
                            }
                        }
                    }
                } else if let Kind::Seq(items) = &mut parent.kind {
                    items.push(node);
                }
            }
        }
    }
    Ok(root)
}

impl Node {
    /// The node that defines anchor `id`, in this node or under it.
    pub fn find_anchor(&self, id: usize) -> Option<&Node> {
        if self.anchor == id {
            return Some(self);
        }
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find_map(|(key, value)| key.find_anchor(id).or_else(|| value.find_anchor(id))),
            Kind::Seq(items) => items.iter().find_map(|item| item.find_anchor(id)),
            _ => None,
        }
    }

    /// Whether this node or one under it defines an anchor.
    pub fn defines_anchor(&self) -> bool {
        self.anchor != 0
            || match &self.kind {
                Kind::Map(entries) => entries
                    .iter()
                    .any(|(key, value)| key.defines_anchor() || value.defines_anchor()),
                Kind::Seq(items) => items.iter().any(Node::defines_anchor),
                _ => false,
            }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn text_of<'a>(text: &'a str, node: &Node) -> &'a str {
        &text[node.start..node.end]
    }

    #[test]
    fn ranges_cover_content_and_stop_before_comments_and_blank_lines() {
        let text = "a: 1\njob:\n  secrets:   # c\n    X: {akeyless: {name: /x}}\n    Y:\n      vault: p@q  # t\n\n  # gap\n  script:\n    - |\n      echo h\u{e9}\n      ok\n\n    - 'q'\nz: [1, {b: 2}]\n";
        let root = parse(text).unwrap().unwrap();
        let (_, job) = root.get("job").unwrap();
        let (key, secrets) = job.get("secrets").unwrap();
        assert_eq!((key.line, key.col), (3, 2));
        assert_eq!(
            text_of(text, secrets),
            "X: {akeyless: {name: /x}}\n    Y:\n      vault: p@q"
        );
        let (_, x) = secrets.get("X").unwrap();
        assert!(x.flow);
        assert_eq!(text_of(text, x), "{akeyless: {name: /x}}");
        let (_, script) = job.get("script").unwrap();
        assert!(!script.flow);
        // A block scalar starts at its content (after the `|` line), and
        // multi-byte characters do not shift the byte offsets.
        assert_eq!(
            text_of(text, script),
            "- |\n      echo h\u{e9}\n      ok\n\n    - 'q'"
        );
        let (_, z) = root.get("z").unwrap();
        assert_eq!(text_of(text, z), "[1, {b: 2}]");
    }

    #[test]
    fn the_last_document_and_anchors() {
        let text = "spec: {inputs: {}}\n---\n.a: &s {X: 1}\njob: {secrets: *s}\n";
        let root = parse(text).unwrap().unwrap();
        assert!(root.get("spec").is_none());
        let (_, anchored) = root.get(".a").unwrap();
        let (_, alias) = root.get("job").unwrap().1.get("secrets").unwrap();
        let Kind::Alias(id) = alias.kind else {
            panic!("not an alias")
        };
        assert_eq!(root.find_anchor(id).unwrap().start, anchored.start);
        assert!(root.get(".a").unwrap().1.defines_anchor());
    }

    #[test]
    fn broken_yaml_is_an_error_with_a_line() {
        let (_, line) = parse("a: [1,\nb: }\n").unwrap_err();
        assert!(line >= 1);
    }
}
