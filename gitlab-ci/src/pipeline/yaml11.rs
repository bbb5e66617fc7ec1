//! YAML 1.1 booleans and integers, as GitLab reads them. GitLab parses
//! `.gitlab-ci.yml` with Psych, which takes a plain (unquoted) `yes`, `no`,
//! `on`, `off`, `true` or `false`, in any case, as a boolean; serde_norway
//! follows YAML 1.2, where only `true`/`false` (three spellings) are. So
//! `file: no` or `expand: off` would be refused, and `ROLE: on` would be the
//! text `on` where GitLab sends `true`. Integers likewise: Psych reads
//! `COUNT: 010` as 8 (octal), `1_000` as 1000 and `1:30` as 90 (base 60),
//! and GitLab passes the decimal text to the job.
//!
//! The scalar's style (plain or quoted) is gone once serde_norway has built
//! a value, so the text is rewritten before it parses: a pass of
//! saphyr-parser's events finds each plain scalar that Psych reads as a
//! boolean or an integer and writes it as `true`, `false` or decimal digits.
//! Quoted scalars, block scalars and tagged ones stay as they are. Lines do
//! not move, so error messages keep their line numbers.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// What Psych makes of a plain scalar, when it is a boolean.
fn psych_boolean(plain: &str) -> Option<bool> {
    match plain.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Psych's YAML 1.1 integers that YAML 1.2 reads otherwise (or as text):
/// octal with a leading `0` (`010` is 8), binary `0b`, hexadecimal `0x`,
/// `_` or `,` between digits (`1_000`), and base 60 (`1:30` is 90).
/// Anchored, as Psych's scalar scanner matches the whole scalar.
static PSYCH_INTEGER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?0b[01_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)|[-+]?0x[0-9a-fA-F_,]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2})$",
    )
    .ok()
});

/// The decimal form of a plain scalar that Psych reads as an integer
/// differently from YAML 1.2, or `None` (already decimal, or not an integer).
fn psych_integer(plain: &str) -> Option<String> {
    // Every integer form starts with a digit or a sign: most scalars are
    // words and never reach the pattern.
    if !plain.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
        return None;
    }
    let matches = PSYCH_INTEGER
        .as_ref()
        .is_some_and(|integer| integer.is_match(plain));
    if !matches {
        return None;
    }
    let (negative, digits) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain),
    };
    let cleaned: String = digits.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    let magnitude: i128 = if cleaned.contains(':') {
        // Base 60: each `:` group is a digit.
        cleaned.split(':').try_fold(0i128, |total, part| {
            let part: i128 = part.parse().ok()?;
            total.checked_mul(60)?.checked_add(part)
        })?
    } else if let Some(binary) = cleaned.strip_prefix("0b") {
        i128::from_str_radix(binary, 2).ok()?
    } else if let Some(hex) = cleaned.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if cleaned.len() > 1 && cleaned.starts_with('0') {
        i128::from_str_radix(&cleaned[1..], 8).ok()?
    } else {
        cleaned.parse().ok()?
    };
    let decimal = if negative { -magnitude } else { magnitude };
    let canonical = decimal.to_string();
    (canonical != plain).then_some(canonical)
}

/// Text that could be a scalar Psych reads differently from YAML 1.2: a
/// word `yes`/`no`/`on`/`off` or a spelling of `true`/`false` YAML 1.2 does
/// not know (any case), or digits in one of Psych's integer forms. Found
/// anywhere (comments and quoted text too), so a file without any is left
/// as it is without the event pass, which costs a third of a big file's load.
/// A signed or leading-zero number is a candidate only where a plain scalar
/// can start (a line start, a blank, `[`, `{` or `,`, or after any non-ASCII
/// character, which covers YAML 1.1's Unicode line breaks): the digits of
/// `secret-0001` or `job-0001` never begin one, and such names are in most
/// pipelines. Words are runs of ASCII letters, digits and `_`.
///
/// A scan of the bytes, not a regex: compiling the equivalent pattern cost a
/// quarter of the instructions of a whole `exec` of a small job, on every
/// run. The regex stays in the tests as the oracle of this scan.
///
/// One pass, a table lookup per byte: splitting into words and then trying
/// every byte as a number start cost about 40 instructions a byte, 14% of
/// loading a 39 KB secrets file. Every number form has a digit at its start
/// or just after its sign, so the number checks run only at digits.
fn may_hold_yaml11_scalar(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut word_start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        match BYTE_CLASS[usize::from(byte)] {
            DIGIT => {
                if yaml11_number_at_digit(bytes, at) {
                    return true;
                }
            }
            WORD => {}
            _ => {
                if is_yaml11_only_boolean(&bytes[word_start..at]) {
                    return true;
                }
                word_start = at + 1;
            }
        }
    }
    bytes.get(word_start..).is_some_and(is_yaml11_only_boolean)
}

const OTHER: u8 = 0;
const WORD: u8 = 1;
const DIGIT: u8 = 2;

/// Word bytes (ASCII letters, digits and `_`), with digits apart.
static BYTE_CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        class[byte] = if b.is_ascii_digit() {
            DIGIT
        } else if b.is_ascii_alphabetic() || b == b'_' {
            WORD
        } else {
            OTHER
        };
        byte += 1;
    }
    class
};

/// A boolean word of YAML 1.1 (any case) that YAML 1.2 does not read alike.
fn is_yaml11_only_boolean(word: &[u8]) -> bool {
    const WORDS: [&[u8]; 6] = [b"yes", b"no", b"on", b"off", b"true", b"false"];
    const YAML12: [&[u8]; 6] = [b"true", b"True", b"TRUE", b"false", b"False", b"FALSE"];
    // Most words are of other lengths: one comparison instead of six.
    (2..=5).contains(&word.len())
        && WORDS.iter().any(|known| word.eq_ignore_ascii_case(known))
        && !YAML12.contains(&word)
}

/// Whether a candidate number starts at the digit at `at` or at a sign just
/// before it: digits with `_` or `,` between them, base 60, or (where a
/// plain scalar can start) a sign followed by a digit or a leading `0`
/// followed by a digit, `_`, `,`, or a radix letter.
fn yaml11_number_at_digit(bytes: &[u8], at: usize) -> bool {
    let byte_at = |offset: usize| bytes.get(at + offset).copied();
    let digit_at = |offset: usize| byte_at(offset).is_some_and(|byte| byte.is_ascii_digit());
    if matches!(byte_at(1), Some(b'_' | b',' | b':')) && digit_at(2) {
        return true;
    }
    if let Some(sign) = at.checked_sub(1)
        && matches!(bytes.get(sign), Some(b'-' | b'+'))
        && scalar_start(bytes, sign)
    {
        return true;
    }
    byte_at(0) == Some(b'0')
        && matches!(
            byte_at(1),
            Some(b'0'..=b'9' | b'_' | b',' | b'x' | b'X' | b'b' | b'B')
        )
        && scalar_start(bytes, at)
}

/// Whether a plain scalar can start at `at`: a line start, a blank, `[`,
/// `{` or `,` before it, or any non-ASCII byte (YAML 1.1's Unicode line
/// breaks among them).
fn scalar_start(bytes: &[u8], at: usize) -> bool {
    match at.checked_sub(1).and_then(|before| bytes.get(before)) {
        None => true,
        Some(&before) => {
            matches!(
                before,
                b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | b'[' | b'{' | b','
            ) || !before.is_ascii()
        }
    }
}

/// What a plain scalar becomes when Psych reads it differently from YAML 1.2.
fn psych_rewrite(plain: &str) -> Option<Cow<'static, str>> {
    if let Some(flag) = psych_boolean(plain) {
        let canonical = if flag { "true" } else { "false" };
        return (plain != canonical).then_some(Cow::Borrowed(canonical));
    }
    psych_integer(plain).map(Cow::Owned)
}

/// `text` with every plain YAML 1.1 boolean written as `true` or `false`.
/// When the text does not parse, it is returned unchanged: serde_norway
/// then reports the error with its position.
pub(crate) fn rewrite_yaml11_scalars(text: &str) -> Cow<'_, str> {
    if !may_hold_yaml11_scalar(text) {
        return Cow::Borrowed(text);
    }
    // (character range, replacement), in text order.
    let mut replacements: Vec<(usize, usize, Cow<'static, str>)> = Vec::new();
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return Cow::Borrowed(text);
        };
        if let Event::Scalar(value, ScalarStyle::Plain, _, None) = &event
            && let Some(canonical) = psych_rewrite(value)
        {
            replacements.push((span.start.index(), span.end.index(), canonical));
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
        if start < copied || psych_rewrite(&text[start..end]).as_deref() != Some(&*canonical) {
            return Cow::Borrowed(text);
        }
        rewritten.push_str(&text[copied..start]);
        rewritten.push_str(&canonical);
        copied = end;
    }
    rewritten.push_str(&text[copied..]);
    Cow::Owned(rewritten)
}

#[cfg(test)]
mod tests {
    use super::rewrite_yaml11_scalars;

    #[test]
    fn plain_yaml11_booleans_become_true_or_false() {
        let text = "a: yes\nb: No\nc: ON\nd: off\ne: True\nf: tRuE\nlist: [yes, 'no', \"on\"]\n";
        assert_eq!(
            rewrite_yaml11_scalars(text),
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
            assert_eq!(rewrite_yaml11_scalars(text), text, "{text}");
        }
    }

    #[test]
    fn keys_follow_psych_and_lines_do_not_move() {
        let text = "on: x\n# yes\nkey: [a, Off]\n";
        assert_eq!(
            rewrite_yaml11_scalars(text),
            "true: x\n# yes\nkey: [a, false]\n"
        );
    }

    /// Psych's integer forms (its scalar scanner's INTEGER and base-60
    /// patterns), as Ruby's `Integer()` reads them.
    #[test]
    fn plain_yaml11_integers_become_decimal() {
        let cases = [
            ("010", "8"),
            ("007", "7"),
            ("-010", "-8"),
            ("0b101", "5"),
            ("0x1A", "26"),
            ("1_000", "1000"),
            ("1,000", "1000"),
            ("+5", "5"),
            ("190:20:30", "685230"),
            ("1:30", "90"),
        ];
        for (plain, decimal) in cases {
            assert_eq!(
                rewrite_yaml11_scalars(&format!("a: {plain}\n")),
                format!("a: {decimal}\n"),
                "{plain}"
            );
        }
        for unchanged in [
            "a: 08\n",
            "a: 0\n",
            "a: 12\n",
            "a: '010'\n",
            "a: 1.10\n",
            "a: 1_\n",
            "a: 0x\n",
        ] {
            assert_eq!(rewrite_yaml11_scalars(unchanged), unchanged);
        }
    }

    /// The cheap scan lets through every text the event pass would change,
    /// and skips texts with nothing to change.
    #[test]
    fn the_candidate_scan_misses_nothing_the_pass_would_rewrite() {
        for text in [
            "a: yes\n",
            "a: Off\n",
            "a: tRuE\n",
            "a: 010\n",
            "a: -010\n",
            "a: 1_000\n",
            "a: 1,000\n",
            "a: 0x1A\n",
            "a: 0b1\n",
            "a: 1:30\n",
            "[on]\n",
            "a: [x, NO]\n",
            "010: key\n",
            "a:\n  - -010\n",
            "{a: [x,010]}\n",
            "a: {b: 0x1A}\n",
            "a: [é, yes]\n",
            "é: off\n",
        ] {
            assert!(super::may_hold_yaml11_scalar(text), "{text}");
            assert_ne!(rewrite_yaml11_scalars(text), text, "{text}");
        }
        for text in [
            "a: true\nb: False\nc: TRUE\n",
            "TOKEN_00001: {aud: x}\nversion: 1.10\nport: 8080\n",
            "image: node:20\nscript: [echo onwards]\n",
            "job-0001:\n  name: /prod/app/secret-0001\n  v: v-010\n",
        ] {
            assert!(!super::may_hold_yaml11_scalar(text), "{text}");
        }
    }

    #[test]
    fn text_that_does_not_parse_is_left_to_the_real_parser() {
        let text = "a: [yes\n";
        assert_eq!(rewrite_yaml11_scalars(text), text);
    }

    /// The scan finds a candidate exactly where the pattern it replaced
    /// does (with its separators widened to every non-ASCII character).
    mod scan_against_regex {
        #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

        use proptest::prelude::*;

        fn by_regex(text: &str) -> bool {
            let candidate = regex::Regex::new(
                r"(?i-u:\b(?:yes|no|on|off|true|false)\b)|(?m:^|[\s\[\{,]|[^\x00-\x7F])(?:[-+][0-9]|[-+]?0[0-9_,xXbB])|[0-9][_,][0-9]|[0-9]:[0-5]?[0-9]",
            )
            .unwrap();
            candidate.find_iter(text).any(|found| {
                !matches!(
                    found.as_str(),
                    "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
                )
            })
        }

        /// Cases at the edges of the scan, among them the proptest's past
        /// finding: a number after a non-ASCII character.
        #[test]
        fn agrees_with_the_regex_at_the_edges() {
            for (text, candidate) in [
                ("trueé-0", true),
                ("é010", true),
                ("x-010", false),
                ("x010", false),
                ("\u{85}+5", true),
                ("a-1_0", true),
                ("a1:2", true),
                ("a:2", false),
                ("True", false),
                ("TRUE_no", false),
                ("", false),
            ] {
                assert_eq!(
                    super::super::may_hold_yaml11_scalar(text),
                    candidate,
                    "{text:?}"
                );
                assert_eq!(by_regex(text), candidate, "{text:?}");
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn agrees_with_the_regex(
                text in proptest::collection::vec(
                    prop::sample::select(vec![
                        "yes", "No", "oN", "off", "true", "True", "TRUE", "fAlse", "FALSE", "e", "a",
                        "0", "1", "9", "5", "_", ",", ":", "-", "+", "x", "B", " ", "\t", "\n",
                        "\r", "[", "{", "é", "\u{85}", "\u{2028}", "\u{a0}", "#", "'",
                    ]),
                    0..24,
                )
            ) {
                let text: String = text.concat();
                prop_assert_eq!(super::super::may_hold_yaml11_scalar(&text), by_regex(&text), "{:?}", text);
            }
        }
    }
}
