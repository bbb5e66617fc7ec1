//! The edit of a `script:` value that makes it load the secrets file:
//! replaced by the one `exec` line, or (`shell` style) given the `eval` line
//! first, the other lines left as written where the layout allows.

use super::edit::{Edit, colon_after, line_end, line_start};
use super::options::MigrateOptions;
use super::render::{self, Style};
use super::source::Source;
use super::tree::{Kind, Node};

/// The edit that makes `script:` load the secrets file.
pub(super) fn script_edit(
    source: &Source,
    parent_flow: bool,
    key: &Node,
    value: &Node,
    script: &[String],
    file: &str,
    options: &MigrateOptions,
) -> Option<Edit> {
    let text = source.text.as_str();
    let colon = colon_after(text, key)?;
    let value_end = match &value.kind {
        // An empty value ends where it starts.
        Kind::Scalar { value: v, .. } if v.is_empty() && value.start < colon => colon,
        _ => value.end,
    };
    let lines: Vec<String> = match options.style {
        Style::Exec => vec![render::exec_line(
            &options.command,
            file,
            options.shell,
            script,
        )],
        Style::Shell => {
            let first = render::shell_line(&options.command, file);
            // Insert the line before the first item: the others stay as written.
            if !value.tagged && value.anchor == 0 {
                match &value.kind {
                    Kind::Seq(items) if !value.flow && !items.is_empty() => {
                        return Some(Edit {
                            range: value.start..value.start,
                            text: format!(
                                "- {}\n{}",
                                render::yaml_quote(&first),
                                " ".repeat(value.col)
                            ),
                        });
                    }
                    Kind::Seq(items) if value.flow && !items.is_empty() => {
                        let after = value.start + 1;
                        return Some(Edit {
                            range: after..after,
                            text: format!("{}, ", render::yaml_quote(&first)),
                        });
                    }
                    _ => {}
                }
            }
            std::iter::once(first)
                .chain(script.iter().cloned())
                .collect()
        }
    };
    if parent_flow {
        let items: Vec<String> = lines.iter().map(|line| render::yaml_quote(line)).collect();
        return Some(Edit {
            range: colon..value_end,
            text: format!(" [{}]", items.join(", ")),
        });
    }
    if !text[line_start(text, key.start)..key.start]
        .chars()
        .all(|c| c == ' ')
    {
        return None;
    }
    let indent = " ".repeat(key.col + 2);
    let mut rendered = String::new();
    for line in &lines {
        rendered.push('\n');
        if line.contains('\n') {
            rendered.push_str(&format!("{indent}- |-"));
            for part in line.split('\n') {
                rendered.push('\n');
                if !part.is_empty() {
                    rendered.push_str(&indent);
                    rendered.push_str("  ");
                    rendered.push_str(part);
                }
            }
        } else {
            rendered.push_str(&format!("{indent}- {}", render::yaml_quote(line)));
        }
    }
    // A comment after `script:` stays when the value starts on a later line.
    let key_line_end = line_end(text, colon);
    let rest = text[colon..key_line_end].trim();
    let is_block_scalar = matches!(value.kind, Kind::Scalar { block: true, .. });
    let start = if value.start > key_line_end
        && !is_block_scalar
        && (rest.is_empty() || rest.starts_with('#'))
        && !value.tagged
    {
        key_line_end
    } else {
        colon
    };
    Some(Edit {
        range: start..line_end(text, value_end),
        text: rendered,
    })
}
