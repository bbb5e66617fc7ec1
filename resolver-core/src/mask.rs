//! Masking secret values in a byte stream, as GitLab masks its job log,
//! but matched across read-chunk boundaries: every resolved value, each line
//! of a multi-line value, and their base64 and URL-encoded forms become
//! `[MASKED]`.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

/// What replaces a value.
pub const MASK: &[u8] = b"[MASKED]";

/// Values shorter than this are not masked: masking `a` would garble all
/// output without protecting anything.
pub const MIN_MASK_LEN: usize = 4;

/// The patterns to mask, built once per run.
#[derive(Clone)]
pub struct MaskSet {
    matcher: Option<AhoCorasick>,
    patterns: Vec<zeroize::Zeroizing<Vec<u8>>>,
    max_len: usize,
}

impl std::fmt::Debug for MaskSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskSet")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl MaskSet {
    /// Builds the set from `(variable, value)` pairs. Returns the variables
    /// whose values are too short to mask, so the caller can warn.
    pub fn new<'a>(values: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> (Self, Vec<String>) {
        let mut patterns: Vec<zeroize::Zeroizing<Vec<u8>>> = Vec::new();
        let mut too_short = Vec::new();
        let mut add = |pattern: Vec<u8>| {
            if pattern.len() >= MIN_MASK_LEN && !patterns.iter().any(|p| **p == pattern) {
                patterns.push(zeroize::Zeroizing::new(pattern));
            }
        };
        for (variable, value) in values {
            if value.len() < MIN_MASK_LEN {
                if !value.is_empty() {
                    too_short.push(variable.to_string());
                }
                continue;
            }
            add(value.to_vec());
            add(base64::engine::general_purpose::STANDARD
                .encode(value)
                .into_bytes());
            add(percent_encoding::percent_encode(value, URL_COMPONENT)
                .to_string()
                .into_bytes());
            add(url::form_urlencoded::byte_serialize(value)
                .collect::<String>()
                .into_bytes());
            if value.contains(&b'\n') {
                for line in value.split(|&byte| byte == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    add(line.to_vec());
                }
            }
        }
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|p| p.as_slice()))
                .ok()
        };
        (
            Self {
                matcher,
                patterns,
                max_len,
            },
            too_short,
        )
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// A streaming masker for one output stream.
    pub fn stream(&self) -> StreamMasker {
        StreamMasker {
            set: self.clone(),
            pending: zeroize::Zeroizing::new(Vec::new()),
        }
    }

    /// Masks a complete buffer.
    pub fn mask_all(&self, input: &[u8]) -> Vec<u8> {
        let mut stream = self.stream();
        let mut out = stream.feed(input);
        out.extend(stream.finish());
        out
    }

    /// Whether `tail` (a match and everything after it) is a proper prefix
    /// of a longer pattern.
    fn extends_to_longer(&self, tail: &[u8]) -> bool {
        self.patterns
            .iter()
            .any(|pattern| pattern.len() > tail.len() && pattern.starts_with(tail))
    }

    /// The longest suffix of `data` that is a proper prefix of a pattern:
    /// bytes that may still turn out to be the start of a secret.
    fn held_suffix_len(&self, data: &[u8]) -> usize {
        let longest = self.max_len.saturating_sub(1).min(data.len());
        (1..=longest)
            .rev()
            .find(|&len| {
                let suffix = &data[data.len() - len..];
                self.patterns
                    .iter()
                    .any(|pattern| pattern.len() > len && pattern.starts_with(suffix))
            })
            .unwrap_or(0)
    }
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Masks one stream. Feed it chunks as they arrive; it holds back only the
/// bytes that could still be part of a secret.
pub struct StreamMasker {
    set: MaskSet,
    pending: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for StreamMasker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMasker")
            .field("pending_bytes", &self.pending.len())
            .finish()
    }
}

impl StreamMasker {
    /// Takes a chunk; returns the bytes that are safe to write now.
    ///
    /// A match that starts more than `max_len` bytes before the end of the
    /// buffer is final (no longer pattern can start there and still be
    /// unseen), so everything up to that point can be emitted exactly.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let Some(matcher) = &self.set.matcher else {
            return chunk.to_vec();
        };
        self.pending.extend_from_slice(chunk);
        let data = std::mem::take(&mut *self.pending);
        let boundary = data
            .len()
            .saturating_sub(self.set.max_len.saturating_sub(1));
        let mut out = Vec::with_capacity(data.len());
        let mut cursor = 0;
        for found in matcher.find_iter(&data) {
            if found.start() >= boundary {
                break;
            }
            out.extend_from_slice(&data[cursor..found.start()]);
            out.extend_from_slice(MASK);
            cursor = found.end();
        }
        let keep_from = cursor.max(boundary);
        out.extend_from_slice(&data[cursor..keep_from]);
        self.pending.extend_from_slice(&data[keep_from..]);
        let mut data = data;
        zeroize::Zeroize::zeroize(&mut data);
        out
    }

    /// The writer paused: emit everything except a trailing partial match,
    /// so interactive output is not delayed while secrets stay masked.
    pub fn flush_pause(&mut self) -> Vec<u8> {
        self.drain(false)
    }

    /// End of stream: emit everything.
    pub fn finish(&mut self) -> Vec<u8> {
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> Vec<u8> {
        let data = std::mem::take(&mut *self.pending);
        let Some(matcher) = &self.set.matcher else {
            return data;
        };
        let mut out = Vec::with_capacity(data.len());
        let mut cursor = 0;
        let mut held_from = None;
        for found in matcher.find_iter(&data) {
            // A match that runs to the end of what we have may be the start
            // of a longer value still arriving: hold it rather than mask
            // the short one and let the rest of the long one through.
            if !at_end && self.set.extends_to_longer(&data[found.start()..]) {
                held_from = Some(found.start());
                break;
            }
            out.extend_from_slice(&data[cursor..found.start()]);
            out.extend_from_slice(MASK);
            cursor = found.end();
        }
        let emit_to = match held_from {
            Some(start) => start,
            None if at_end => data.len(),
            None => data.len() - self.set.held_suffix_len(&data[cursor..]),
        };
        out.extend_from_slice(&data[cursor..emit_to]);
        self.pending.extend_from_slice(&data[emit_to..]);
        let mut data = data;
        zeroize::Zeroize::zeroize(&mut data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[(&str, &str)]) -> MaskSet {
        MaskSet::new(values.iter().map(|(n, v)| (*n, v.as_bytes()))).0
    }

    #[test]
    fn masks_across_every_chunk_boundary() {
        let masks = set(&[("A", "s3cr3t-value")]);
        let input = b"before s3cr3t-value middle s3cr3t-value after";
        for split in 0..input.len() {
            let mut stream = masks.stream();
            let mut out = stream.feed(&input[..split]);
            out.extend(stream.feed(&input[split..]));
            out.extend(stream.finish());
            assert_eq!(
                out, b"before [MASKED] middle [MASKED] after",
                "split at {split}"
            );
        }
    }

    #[test]
    fn byte_by_byte_with_pauses_still_masks() {
        let masks = set(&[("A", "s3cr3t-value")]);
        let mut stream = masks.stream();
        let mut out = Vec::new();
        for byte in b"x s3cr3t-value y" {
            out.extend(stream.feed(&[*byte]));
            out.extend(stream.flush_pause());
        }
        out.extend(stream.finish());
        assert_eq!(out, b"x [MASKED] y");
    }

    #[test]
    fn pause_flush_emits_text_that_cannot_be_a_secret() {
        let masks = set(&[("A", "s3cr3t-value")]);
        let mut stream = masks.stream();
        let mut out = stream.feed(b"Password: ");
        out.extend(stream.flush_pause());
        assert_eq!(out, b"Password: ");
    }

    #[test]
    fn multi_line_values_mask_each_line_and_encodings() {
        let pem = "-----BEGIN KEY-----\nMIIBkeyline1\nMIIBkeyline2\n-----END KEY-----";
        let masks = set(&[("K", pem)]);
        let out = masks.mask_all(b"line: MIIBkeyline2\n");
        assert_eq!(out, b"line: [MASKED]\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode("p@ss w0rd/x");
        let masks = set(&[("P", "p@ss w0rd/x")]);
        let text = format!("{b64} p%40ss%20w0rd%2Fx p%40ss+w0rd%2Fx");
        assert_eq!(
            masks.mask_all(text.as_bytes()),
            b"[MASKED] [MASKED] [MASKED]"
        );
    }

    #[test]
    fn short_values_are_reported_not_masked() {
        let (masks, short) =
            MaskSet::new([("SHORT", b"abc".as_slice()), ("LONG", b"abcdef".as_slice())]);
        assert_eq!(short, vec!["SHORT"]);
        assert_eq!(masks.mask_all(b"abc abcdef"), b"abc [MASKED]");
    }

    #[test]
    fn a_pause_after_a_value_that_prefixes_another_leaks_nothing() {
        let masks = set(&[("A", "abcd1234"), ("B", "abcd1234-tail-of-long")]);
        let mut stream = masks.stream();
        let mut out = stream.feed(b"token=abcd1234");
        out.extend(stream.flush_pause());
        out.extend(stream.feed(b"-tail-of-long\n"));
        out.extend(stream.finish());
        assert_eq!(out, b"token=[MASKED]\n");
    }

    #[test]
    fn longer_value_sharing_a_prefix_wins() {
        let masks = set(&[("A", "abcd"), ("B", "abcdefgh")]);
        let mut stream = masks.stream();
        let mut out = stream.feed(b"xx abcdef");
        out.extend(stream.feed(b"gh yy"));
        out.extend(stream.finish());
        assert_eq!(out, b"xx [MASKED] yy");
    }
}
