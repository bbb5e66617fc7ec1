//! The forms in which a value can show up in output, each with the view of
//! the output it is searched in.
//!
//! Text forms (searched in the output as written and in its percent-decoded
//! view): the value, each line of a multi-line value, its JSON-string
//! escapings, and its `application/x-www-form-urlencoded` spelling of spaces.
//! Base64 forms (searched in the view that skips single line breaks): the
//! base64 core of the value at each of the three alignments, in the standard
//! and the URL alphabet.

use std::ops::Range;

use base64::Engine as _;
use zeroize::Zeroizing;

/// Values shorter than this are not masked at all: masking `a` would garble
/// all output without protecting anything.
pub const MIN_MASK_LEN: usize = 4;

/// Values shorter than this are masked, with a warning: GitLab refuses to
/// mask variables under 8 characters, because such values (`true`, `main`)
/// are also ordinary words and every occurrence of them is masked.
pub const RECOMMENDED_MIN_LEN: usize = 8;

/// The shortest base64 core that is masked. A core of 8 characters carries
/// 48 bits of the value, so random text matches it about once in 2^48
/// positions; shorter cores of short values would mask ordinary words.
pub const MIN_BASE64_CORE_LEN: usize = 8;

/// Which view of the output a form is searched in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Search {
    /// The output as written, and its percent-decoded view.
    Text,
    /// The view that skips single line breaks (wrapped base64).
    Base64,
}

/// How the stored bytes of a form compare to the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Alphabet {
    /// Byte for byte.
    Exact,
    /// Stored in the standard base64 alphabet, searched in the URL alphabet
    /// (`-` for `+`, `_` for `/`): one copy of the encoding serves both.
    Base64Url,
}

impl Alphabet {
    pub(super) fn translate(self, byte: u8) -> u8 {
        match (self, byte) {
            (Alphabet::Base64Url, b'+') => b'-',
            (Alphabet::Base64Url, b'/') => b'_',
            _ => byte,
        }
    }
}

/// One form: a range of [`Forms::bytes`].
#[derive(Clone, Debug)]
pub(super) struct Form {
    pub range: Range<usize>,
    pub search: Search,
    pub alphabet: Alphabet,
}

/// Every form of every value, their bytes in one zeroized buffer so that the
/// memory is linear in the total size of the values (a line of a value, or
/// the core of an encoding, is a range of the bytes stored once).
#[derive(Default)]
pub(super) struct Forms {
    pub bytes: Zeroizing<Vec<u8>>,
    pub forms: Vec<Form>,
}

impl Forms {
    pub(super) fn form_bytes(&self, form: &Form) -> &[u8] {
        &self.bytes[form.range.clone()]
    }

    /// The bytes that the forms searched in `search` are made of, as they
    /// appear in the output (both alphabets of a base64 form), and the
    /// length of the longest such form.
    pub(super) fn alphabet(&self, search: Search) -> ([bool; 256], usize) {
        let mut bytes = [false; 256];
        let mut longest = 0;
        for form in self.forms.iter().filter(|form| form.search == search) {
            longest = longest.max(form.range.len());
            for &byte in self.form_bytes(form) {
                bytes[usize::from(form.alphabet.translate(byte))] = true;
            }
        }
        (bytes, longest)
    }

    /// Adds the forms of one value (at least [`MIN_MASK_LEN`] bytes).
    pub(super) fn add_value(&mut self, value: &[u8]) {
        let raw = self.store(value);
        self.push(raw.clone(), Search::Text, Alphabet::Exact);
        if value.contains(&b'\n') {
            let mut start = raw.start;
            for line in value.split(|&byte| byte == b'\n') {
                let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
                if trimmed.len() >= MIN_MASK_LEN {
                    self.push(start..start + trimmed.len(), Search::Text, Alphabet::Exact);
                }
                start += line.len() + 1;
            }
        }
        if value.contains(&b' ') {
            let plus: Zeroizing<Vec<u8>> = Zeroizing::new(
                value
                    .iter()
                    .map(|&byte| if byte == b' ' { b'+' } else { byte })
                    .collect(),
            );
            let range = self.store(&plus);
            self.push(range, Search::Text, Alphabet::Exact);
        }
        if let Ok(text) = std::str::from_utf8(value) {
            // Most values (tokens, keys, base64) have nothing to escape: a
            // byte scan decides that without building a copy of the value per
            // style, which for a multi-MiB certificate bundle was most of the
            // masker's set-up.
            for style in JSON_STYLES.into_iter().filter(|style| style.changes(value)) {
                let escaped = json_escape(text, style);
                let range = self.store(escaped.as_bytes());
                self.push(range, Search::Text, Alphabet::Exact);
            }
        }
        for offset in 0..3 {
            self.add_base64_core(value, offset);
        }
    }

    /// The characters of `base64(k unknown bytes + value + unknown bytes)`
    /// that depend on the value alone: character `i` covers bits
    /// `6i..6i+6`, the value bits `8k..8(k+n)`, so the core is characters
    /// `ceil(8k/6)..floor(8(k+n)/6)`. At offset 0 the whole padded encoding
    /// (the value encoded on its own) is a form too.
    fn add_base64_core(&mut self, value: &[u8], offset: usize) {
        let mut input = Zeroizing::new(vec![0u8; offset]);
        input.extend_from_slice(value);
        let engine = &base64::engine::general_purpose::STANDARD;
        let encoded = Zeroizing::new(engine.encode(&*input));
        let value_bits = 8 * (offset + value.len());
        let core = (8 * offset).div_ceil(6)..value_bits / 6;
        if core.len() < MIN_BASE64_CORE_LEN {
            return;
        }
        let stored = if offset == 0 {
            self.store(encoded.as_bytes())
        } else {
            self.store(&encoded.as_bytes()[core.clone()])
        };
        let core_range = stored.start..stored.start + core.len();
        let mut ranges = vec![core_range];
        if stored.len() != core.len() {
            ranges.push(stored);
        }
        for range in ranges {
            let url_differs = self.bytes[range.clone()]
                .iter()
                .any(|&byte| byte == b'+' || byte == b'/');
            self.push(range.clone(), Search::Base64, Alphabet::Exact);
            if url_differs {
                self.push(range, Search::Base64, Alphabet::Base64Url);
            }
        }
    }

    fn store(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        super::zeroized::extend(&mut self.bytes, bytes);
        start..self.bytes.len()
    }

    fn push(&mut self, range: Range<usize>, search: Search, alphabet: Alphabet) {
        self.forms.push(Form {
            range,
            search,
            alphabet,
        });
    }
}

/// The JSON string escapings in common use: the minimal one (serde_json,
/// Go with `SetEscapeHTML(false)`, JavaScript), `/` escaped too (PHP), and
/// ASCII-only with `\uXXXX` for every other character (Python's default).
#[derive(Clone, Copy)]
struct JsonStyle {
    escape_slash: bool,
    ascii_only: bool,
}

const JSON_STYLES: [JsonStyle; 3] = [
    JsonStyle {
        escape_slash: false,
        ascii_only: false,
    },
    JsonStyle {
        escape_slash: true,
        ascii_only: false,
    },
    JsonStyle {
        escape_slash: false,
        ascii_only: true,
    },
];

impl JsonStyle {
    /// Whether [`json_escape`] in this style would change `value`: it has a
    /// byte that the style escapes (every non-ASCII byte starts or continues
    /// a character that `ascii_only` escapes).
    fn changes(&self, value: &[u8]) -> bool {
        value.iter().any(|&byte| {
            matches!(byte, b'"' | b'\\' | 0x00..=0x1f)
                || (self.escape_slash && byte == b'/')
                || (self.ascii_only && !byte.is_ascii())
        })
    }
}

fn json_escape(text: &str, style: JsonStyle) -> Zeroizing<String> {
    use std::fmt::Write as _;
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 16));
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if style.escape_slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (style.ascii_only && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_styles_match_the_usual_encoders() {
        let plain = JSON_STYLES[0];
        assert_eq!(&*json_escape("a\"b\\c/d\né", plain), "a\\\"b\\\\c/d\\né");
        assert_eq!(&*json_escape("a/b", JSON_STYLES[1]), "a\\/b");
        // json.dumps("é😀\x01") in Python.
        assert_eq!(
            &*json_escape("é😀\u{1}", JSON_STYLES[2]),
            "\\u00e9\\ud83d\\ude00\\u0001"
        );
    }

    /// The byte scan that skips [`json_escape`] agrees with it: a style
    /// "changes" a value exactly when escaping gives different text.
    fn changes_agrees_with_escaping(text: &str) {
        for style in JSON_STYLES {
            assert_eq!(
                style.changes(text.as_bytes()),
                *json_escape(text, style) != *text,
                "{text:?} (escape_slash {}, ascii_only {})",
                style.escape_slash,
                style.ascii_only
            );
        }
    }

    #[test]
    fn the_escape_scan_agrees_with_escaping_on_every_ascii_character() {
        for byte in 0u8..0x80 {
            let ch = char::from(byte);
            changes_agrees_with_escaping(&format!("token{ch}value"));
            changes_agrees_with_escaping(&ch.to_string());
        }
        for text in ["é", "tökén", "😀", "plain-token_1234+/=", "\u{7f}", ""] {
            changes_agrees_with_escaping(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn the_escape_scan_agrees_with_escaping(text in "\\PC*|[\\x00-\\x7f]{0,40}") {
            changes_agrees_with_escaping(&text);
        }
    }

    #[test]
    fn base64_cores_are_the_characters_that_depend_on_the_value_only() {
        let value = b"correct horse battery";
        let mut forms = Forms::default();
        for offset in 0..3 {
            forms.add_base64_core(value, offset);
        }
        let engine = &base64::engine::general_purpose::STANDARD;
        for offset in 0..3 {
            for before in [[0u8; 2], [0xFF; 2], [b'x', b':']] {
                for after in [b"".as_slice(), b"\n", b"\xFF\xFF"] {
                    let mut text = before[..offset].to_vec();
                    text.extend_from_slice(value);
                    text.extend_from_slice(after);
                    let encoded = engine.encode(&text);
                    let found = forms.forms.iter().any(|form| {
                        form.alphabet == Alphabet::Exact
                            && encoded
                                .as_bytes()
                                .windows(form.range.len())
                                .any(|w| w == forms.form_bytes(form))
                    });
                    assert!(found, "offset {offset}: {encoded}");
                }
            }
        }
    }
}
