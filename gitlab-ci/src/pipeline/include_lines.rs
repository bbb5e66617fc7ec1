//! The lines of a file's `include:` entries, so that a warning or an error
//! about one entry can say where it is. serde_norway's values carry no
//! positions; saphyr-parser's events do.

use saphyr_parser::{Event, Parser};

/// Each scalar under the top-level `include:` key of the last document of
/// `text` (the one a `spec:` header precedes), with its 1-based line, in text
/// order. Empty when the text does not parse.
pub(crate) fn include_scalar_lines(text: &str) -> Vec<(String, usize)> {
    #[derive(Clone, Copy)]
    enum Frame {
        Map { expect_key: bool },
        Seq,
    }
    let mut lines = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // The next node at depth 1 is the value of `include:`.
    let mut next_is_include = false;
    // Inside the `include:` value.
    let mut inside = false;
    let done = |stack: &mut Vec<Frame>| {
        if let Some(Frame::Map { expect_key }) = stack.last_mut() {
            *expect_key = !*expect_key;
        }
    };
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return Vec::new();
        };
        match event {
            Event::DocumentStart(_) => {
                lines.clear();
                stack.clear();
                next_is_include = false;
                inside = false;
            }
            Event::Scalar(value, ..) => {
                let at_top_key = matches!(stack.as_slice(), [Frame::Map { expect_key: true }]);
                if inside || next_is_include {
                    lines.push((value.to_string(), span.start.line()));
                    next_is_include = false;
                } else if at_top_key && value == "include" {
                    next_is_include = true;
                }
                done(&mut stack);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if next_is_include {
                    inside = true;
                    next_is_include = false;
                }
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map { expect_key: true }
                } else {
                    Frame::Seq
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                if stack.len() == 1 {
                    inside = false;
                }
                done(&mut stack);
            }
            Event::Alias(_) => {
                next_is_include = false;
                done(&mut stack);
            }
            _ => {}
        }
    }
    lines
}

/// The line of the first scalar under `include:` equal to `wanted` (after
/// trimming and a leading `/`), or `None`.
pub(crate) fn line_of(lines: &[(String, usize)], wanted: &str) -> Option<usize> {
    let normalize = |text: &str| text.trim().trim_start_matches('/').to_owned();
    let wanted = normalize(wanted);
    lines
        .iter()
        .find(|(value, _)| normalize(value) == wanted)
        .map(|&(_, line)| line)
}

#[cfg(test)]
mod tests {
    use super::{include_scalar_lines, line_of};

    #[test]
    fn scalars_under_include_keep_their_lines() {
        let text = "\
variables: {A: x.yml}
include:
  - local: a.yml
  - project: group/ci
    ref: v1
    file:
      - /one.yml
      - two.yml
  - remote: https://example.com/x.yml
job:
  script: [x.yml]
";
        let lines = include_scalar_lines(text);
        assert_eq!(line_of(&lines, "a.yml"), Some(3));
        assert_eq!(line_of(&lines, "group/ci"), Some(4));
        assert_eq!(line_of(&lines, "one.yml"), Some(7));
        assert_eq!(line_of(&lines, "/two.yml"), Some(8));
        assert_eq!(line_of(&lines, "https://example.com/x.yml"), Some(9));
        assert_eq!(line_of(&lines, "x.yml"), None);
    }

    #[test]
    fn a_plain_include_string_and_the_last_document() {
        let text = "spec:\n  inputs: {include: {default: z}}\n---\ninclude: ci/a.yml\n";
        let lines = include_scalar_lines(text);
        assert_eq!(line_of(&lines, "ci/a.yml"), Some(4));
        assert_eq!(line_of(&lines, "z"), None);
    }
}
