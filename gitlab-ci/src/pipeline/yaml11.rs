//! YAML 1.1 booleans, as GitLab reads them. GitLab parses `.gitlab-ci.yml`
//! with Psych, which takes a plain (unquoted) `yes`, `no`, `on`, `off`,
//! `true` or `false`, in any case, as a boolean; serde_norway follows YAML
//! 1.2, where only `true`/`false` (three spellings) are. So `file: no` or
//! `expand: off` would be refused, and `ROLE: on` would be the text `on`
//! where GitLab sends `true`.
//!
//! The scalar's style (plain or quoted) is gone once serde_norway has built
//! a value, so the text is rewritten before it parses: a pass of
//! saphyr-parser's events finds each plain scalar that Psych reads as a
//! boolean and writes it as `true` or `false`. Quoted scalars, block
//! scalars and tagged ones stay as they are. Lines do not move, so error
//! messages keep their line numbers.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// What Psych makes of a plain scalar, when it is a boolean.
fn psych_boolean(plain: &str) -> Option<bool> {
    match plain.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// `text` with every plain YAML 1.1 boolean written as `true` or `false`.
/// When the text does not parse, it is returned unchanged: serde_norway
/// then reports the error with its position.
pub(crate) fn rewrite_booleans(text: &str) -> Cow<'_, str> {
    // (character range, replacement), in text order.
    let mut replacements: Vec<(usize, usize, &'static str)> = Vec::new();
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return Cow::Borrowed(text);
        };
        if let Event::Scalar(value, ScalarStyle::Plain, _, None) = &event
            && let Some(flag) = psych_boolean(value)
        {
            let canonical = if flag { "true" } else { "false" };
            if value.as_ref() != canonical {
                replacements.push((span.start.index(), span.end.index(), canonical));
            }
        }
    }
    if replacements.is_empty() {
        return Cow::Borrowed(text);
    }
    // The parser counts characters; the text is indexed in bytes.
    let byte_at: Vec<usize> = text
        .char_indices()
        .map(|(byte, _)| byte)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut rewritten = String::with_capacity(text.len() + replacements.len() * 2);
    let mut copied = 0;
    for (start, end, canonical) in replacements {
        let (Some(&start), Some(&end)) = (byte_at.get(start), byte_at.get(end)) else {
            return Cow::Borrowed(text);
        };
        // Only a scalar the parser saw exactly where it said is rewritten.
        if start < copied || psych_boolean(&text[start..end]).is_none() {
            return Cow::Borrowed(text);
        }
        rewritten.push_str(&text[copied..start]);
        rewritten.push_str(canonical);
        copied = end;
    }
    rewritten.push_str(&text[copied..]);
    Cow::Owned(rewritten)
}

#[cfg(test)]
mod tests {
    use super::rewrite_booleans;

    #[test]
    fn plain_yaml11_booleans_become_true_or_false() {
        let text = "a: yes\nb: No\nc: ON\nd: off\ne: True\nf: tRuE\nlist: [yes, 'no', \"on\"]\n";
        assert_eq!(
            rewrite_booleans(text),
            "a: true\nb: false\nc: true\nd: false\ne: true\nf: true\nlist: [true, 'no', \"on\"]\n"
        );
    }

    #[test]
    fn quoted_block_and_longer_scalars_stay() {
        for text in [
            "a: 'yes'\n",
            "a: \"off\"\n",
            "a: |\n  yes\n",
            "a: yesterday\nb: only\nc: no way\n",
            "a: y\nb: n\n",
            "a: !!str yes\n",
        ] {
            assert_eq!(rewrite_booleans(text), text, "{text}");
        }
    }

    #[test]
    fn keys_follow_psych_and_lines_do_not_move() {
        let text = "on: x\n# yes\nkey: [a, Off]\n";
        assert_eq!(rewrite_booleans(text), "true: x\n# yes\nkey: [a, false]\n");
    }

    #[test]
    fn text_that_does_not_parse_is_left_to_the_real_parser() {
        let text = "a: [yes\n";
        assert_eq!(rewrite_booleans(text), text);
    }
}
