//! The masking contract: which forms are masked, and that streaming is
//! exact whatever the chunking.

use super::*;
use base64::Engine as _;

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
fn short_values_are_reported_by_name_not_value() {
    let (masks, warnings) = MaskSet::new([
        ("SHORT", b"abc".as_slice()),
        ("WORD", b"true".as_slice()),
        ("LONG", b"abcdefgh".as_slice()),
        ("EMPTY", b"".as_slice()),
    ]);
    assert_eq!(
        warnings,
        vec![
            MaskWarning::NotMasked {
                variable: "SHORT".into()
            },
            MaskWarning::Short {
                variable: "WORD".into()
            },
        ]
    );
    assert_eq!(warnings[1].kind(), MaskWarningKind::Short);
    let text = warnings[1].to_string();
    assert!(text.contains("WORD") && !text.contains("true"), "{text}");
    assert_eq!(
        masks.mask_all(b"abc true abcdefgh"),
        b"abc [MASKED] [MASKED]"
    );
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

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64_NO_PAD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;
const B64_URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 33 bytes, with `+` and `/` in its base64 at every alignment, `"` and `\`
/// for JSON, and `/`, `:` and spaces for URLs.
const VALUE: &str = "p4ss/w0rd \"q\" \\ ~?>>>:+~~~ end";

fn masked(text: &[u8]) -> String {
    String::from_utf8_lossy(&set(&[("S", VALUE)]).mask_all(text)).into_owned()
}

fn assert_fully_masked(label: &str, encoded: &str) {
    let out = masked(format!("<{encoded}>").as_bytes());
    assert!(
        out.starts_with("<[MASKED]") && out.len() <= "<[MASKED]".len() + 4,
        "{label}: {encoded} -> {out}"
    );
}

#[test]
fn base64_is_masked_at_every_alignment_and_with_any_neighbours() {
    use base64::Engine as _;
    for before in ["", "x", "u:", "user:", "longer prefix "] {
        for after in ["", "\n", "\r\n", "@host", "z"] {
            let plain = format!("{before}{VALUE}{after}");
            for (engine, name) in [(B64, "padded"), (B64_NO_PAD, "unpadded"), (B64_URL, "url")] {
                let encoded = engine.encode(&plain);
                let out = masked(encoded.as_bytes());
                assert!(out.contains("[MASKED]"), "{name} {plain:?}: {out}");
                // At most the characters that also depend on the
                // neighbours are left: 2 on each side, plus the neighbours'
                // own characters and padding.
                let left = out.len() - "[MASKED]".len();
                let neighbours = (before.len() + after.len()) * 4 / 3 + 6;
                assert!(left <= neighbours, "{name} {plain:?}: {out}");
            }
        }
    }
}

#[test]
fn wrapped_base64_is_masked_across_line_breaks() {
    use base64::Engine as _;
    let long = VALUE.repeat(5);
    let masks = set(&[("S", &long)]);
    for prefix in ["", "a", "ab"] {
        let encoded = B64.encode(format!("{prefix}{long}\n"));
        for newline in ["\n", "\r\n"] {
            for width in [76, 64, 17] {
                let wrapped: Vec<&str> = encoded
                    .as_bytes()
                    .chunks(width)
                    .map(|line| std::str::from_utf8(line).unwrap_or_default())
                    .collect();
                let text = wrapped.join(newline);
                let out = String::from_utf8_lossy(&masks.mask_all(text.as_bytes())).into_owned();
                assert!(
                    out.matches("[MASKED]").count() == 1 && out.len() < "[MASKED]".len() + 12,
                    "width {width} {newline:?} prefix {prefix:?}: {out}"
                );
            }
        }
    }
}

#[test]
fn percent_encodings_are_masked_in_either_case_and_with_any_safe_set() {
    let upper: String = VALUE
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    assert_fully_masked("RFC 3986", &upper);
    assert_fully_masked("lower-case hex", &upper.to_lowercase());
    // Python's urllib.parse.quote keeps `/`.
    assert_fully_masked("quote", &upper.replace("%2F", "/"));
    // Forms: spaces as `+`.
    assert_fully_masked("form", &upper.replace("%20", "+"));
    // Everything escaped.
    let all: String = VALUE.bytes().map(|b| format!("%{b:02x}")).collect();
    assert_fully_masked("all escaped", &all);
}

#[test]
fn json_escaped_values_are_masked() {
    let plain = serde_json::to_string(VALUE).unwrap_or_default();
    assert_fully_masked("serde_json", plain.trim_matches('"'));
    assert_fully_masked("php", &plain.trim_matches('"').replace('/', "\\/"));
    let unicode = "pässwörd-\u{1F600}-secret";
    let masks = set(&[("S", unicode)]);
    // json.dumps in Python: ASCII only.
    let python = "\"p\\u00e4ssw\\u00f6rd-\\ud83d\\ude00-secret\"";
    assert_eq!(masks.mask_all(python.as_bytes()), b"\"[MASKED]\"");
}

#[test]
fn short_values_do_not_get_base64_cores_that_match_random_text() {
    // A 4-byte value has cores of at most 5 characters: too short to mask.
    let masks = set(&[("S", "main")]);
    use base64::Engine as _;
    let encoded = B64.encode("xmain");
    assert_eq!(masks.mask_all(encoded.as_bytes()), encoded.as_bytes());
    assert_eq!(
        masks.mask_all(b"git checkout main"),
        b"git checkout [MASKED]"
    );
}

#[test]
fn a_large_value_builds_quickly_into_a_small_set_and_still_masks() {
    // Linear build: with the old quadratic hold-back this took minutes.
    let value: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (masks, _) = MaskSet::new([("BIG", value.as_slice())]);
    let mut text = b"head ".to_vec();
    text.extend_from_slice(&value);
    text.extend_from_slice(b" tail");
    let mut stream = masks.stream();
    let mut out = Vec::new();
    for chunk in text.chunks(16 * 1024) {
        out.extend(stream.feed(chunk));
    }
    out.extend(stream.finish());
    assert_eq!(out, b"head [MASKED] tail");
}

mod properties {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::super::*;

    /// The forms the test itself derives from a value: it must find none of
    /// them in the output.
    fn forbidden_forms(value: &[u8]) -> Vec<Vec<u8>> {
        let mut forms = vec![value.to_vec()];
        for offset in 0..3 {
            let mut input = vec![b'Q'; offset];
            input.extend_from_slice(value);
            let encoded = super::B64_NO_PAD.encode(&input);
            let core = (8 * offset).div_ceil(6)..8 * (offset + value.len()) / 6;
            forms.push(encoded.as_bytes()[core.clone()].to_vec());
            let url = super::B64_URL.encode(&input);
            forms.push(url.as_bytes()[core].to_vec());
        }
        forms.push(
            value
                .iter()
                .flat_map(|b| format!("%{b:02x}").into_bytes())
                .collect(),
        );
        forms
    }

    fn encode(value: &[u8], how: u8, neighbour: &[u8]) -> Vec<u8> {
        let mut plain = neighbour.to_vec();
        plain.extend_from_slice(value);
        match how % 6 {
            0 => value.to_vec(),
            1 => super::B64.encode(&plain).into_bytes(),
            2 => super::B64_URL.encode(&plain).into_bytes(),
            3 => {
                let encoded = super::B64.encode(&plain);
                encoded
                    .as_bytes()
                    .chunks(7)
                    .collect::<Vec<_>>()
                    .join(&b"\r\n"[..])
            }
            4 => value
                .iter()
                .flat_map(|b| format!("%{b:02X}").into_bytes())
                .collect(),
            _ => serde_json::to_string(&String::from_utf8_lossy(value))
                .unwrap_or_default()
                .into_bytes(),
        }
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop::sample::select(b"abAB01+/=-_%\"\\ :\n~".to_vec()),
            8..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn streaming_equals_one_shot_and_no_form_survives(
            values in proptest::collection::vec(value(), 1..4),
            pieces in proptest::collection::vec(
                (proptest::collection::vec(prop::sample::select(b"ab01 %\n\r+/xyz".to_vec()), 0..12),
                 any::<u8>(), 0usize..4, proptest::collection::vec(any::<u8>(), 0..3)),
                0..8),
            chunks in proptest::collection::vec((1usize..80, any::<bool>()), 1..10),
            join in prop_oneof![0usize..40, Just(256usize)],
        ) {
            let named: Vec<(String, Vec<u8>)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("V{i}"), v.clone()))
                .collect();
            let (masks, _) = MaskSet::new(named.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
            let mut text = Vec::new();
            for (noise, how, which, neighbour) in &pieces {
                text.extend_from_slice(noise);
                text.extend(encode(&values[which % values.len()], *how, neighbour));
            }
            let whole = masks.stream().mask_in_one_search(&text);
            prop_assert_eq!(&masks.mask_all(&text), &whole);

            let mut stream = masks.stream().with_join(join);
            let mut streamed = Vec::new();
            let mut at = 0;
            let mut index = 0;
            while at < text.len() {
                let (size, pause) = chunks[index % chunks.len()];
                let end = (at + size).min(text.len());
                streamed.extend(stream.feed(&text[at..end]));
                if pause {
                    streamed.extend(stream.flush_pause());
                }
                at = end;
                index += 1;
            }
            streamed.extend(stream.finish());
            prop_assert_eq!(&streamed, &whole);

            for value in &values {
                for form in forbidden_forms(value) {
                    prop_assert!(
                        !whole.windows(form.len()).any(|w| w == form.as_slice()),
                        "form {:?} of {:?} survived in {:?}",
                        String::from_utf8_lossy(&form),
                        String::from_utf8_lossy(value),
                        String::from_utf8_lossy(&whole)
                    );
                }
            }
        }
    }
}

/// Feeds `pieces` (with a pause after each when `pause`) to a stream that
/// joins `join` bytes of a chunk to what it holds back.
fn streamed(masks: &MaskSet, join: usize, pieces: &[&[u8]], pause: bool) -> Vec<u8> {
    let mut stream = masks.stream().with_join(join);
    let mut out = Vec::new();
    for piece in pieces {
        stream.feed_into(piece, &mut out);
        if pause {
            stream.flush_pause_into(&mut out);
        }
    }
    stream.finish_into(&mut out);
    out
}

/// Join lengths from none to more than any chunk here, so that chunks are
/// searched in place right after a boundary, a little after it, and not at
/// all.
const JOINS: [usize; 6] = [0, 1, 3, 8, 20, 256];

#[test]
fn a_value_split_at_every_offset_across_two_and_three_feeds_is_masked() {
    let masks = set(&[("A", "s3cr3t-value-0042")]);
    let input: &[u8] = b"log line 1\nkey=s3cr3t-value-0042 and %73%33cr3t-value-0042 done\n";
    let whole = masks.stream().mask_in_one_search(input);
    assert_eq!(whole, b"log line 1\nkey=[MASKED] and [MASKED] done\n");
    for join in JOINS {
        for pause in [false, true] {
            for first in 0..=input.len() {
                let two = streamed(&masks, join, &[&input[..first], &input[first..]], pause);
                assert_eq!(two, whole, "join {join}, split at {first}");
                for second in first..=input.len() {
                    let three = streamed(
                        &masks,
                        join,
                        &[&input[..first], &input[first..second], &input[second..]],
                        pause,
                    );
                    assert_eq!(three, whole, "join {join}, split at {first} and {second}");
                }
            }
        }
    }
}

#[test]
fn a_value_longer_than_a_chunk_is_masked() {
    let value: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let masks = set(&[("LONG", value.as_str())]);
    let input = format!(
        "before {value} between {value}{value} after %61{}",
        &value[1..]
    );
    let whole = masks.stream().mask_in_one_search(input.as_bytes());
    assert_eq!(
        whole,
        // Values that touch without overlapping are masked apart.
        b"before [MASKED] between [MASKED][MASKED] after [MASKED]".to_vec()
    );
    for join in JOINS {
        for size in [1, 7, 64, 299, 300, 301, 1000] {
            let pieces: Vec<&[u8]> = input.as_bytes().chunks(size).collect();
            for pause in [false, true] {
                assert_eq!(
                    streamed(&masks, join, &pieces, pause),
                    whole,
                    "join {join}, chunks of {size}"
                );
            }
        }
    }
}

#[test]
fn overlapping_values_are_masked_as_one() {
    let masks = set(&[
        ("A", "abcdefgh-1234"),
        ("B", "efgh-1234-wxyz"),
        ("C", "abcdefgh-1234-wxyz-long"),
    ]);
    let input: &[u8] =
        b"x abcdefgh-1234-wxyz y abcdefgh-1234-wxyz-long z efgh-1234-wxyzabcdefgh-1234 end";
    let whole = masks.stream().mask_in_one_search(input);
    // Values that touch without overlapping are masked apart.
    assert_eq!(whole, b"x [MASKED] y [MASKED] z [MASKED][MASKED] end");
    for join in JOINS {
        for size in 1..=input.len() {
            let pieces: Vec<&[u8]> = input.chunks(size).collect();
            assert_eq!(
                streamed(&masks, join, &pieces, false),
                whole,
                "join {join}, chunks of {size}"
            );
        }
    }
}

#[test]
fn a_line_end_is_written_at_a_pause() {
    let masks = set(&[("A", "s3cr3t-value")]);
    let mut stream = masks.stream();
    let mut out = stream.feed(b"/tmp/dir/CERT_FILE\n");
    out.extend(stream.flush_pause());
    assert_eq!(out, b"/tmp/dir/CERT_FILE\n");
}

/// The fast path (views built only over the regions where they can differ
/// from the output) finds what searching the whole views finds.
mod regions_against_whole_views {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::super::*;

    fn normalized(found: &Found) -> (Vec<Range<usize>>, Option<usize>, Option<usize>) {
        let mut matches = found.matches.clone();
        matches.sort_by_key(|range| (range.start, range.end));
        matches.dedup();
        (matches, found.incomplete_from, found.recheck_at)
    }

    /// Output made of pieces: noise rich in `%`, hex digits and line
    /// breaks, and values as written, percent-encoded (any bytes escaped),
    /// base64 wrapped at any width with either line break, cut anywhere.
    fn piece() -> impl Strategy<Value = (Vec<u8>, u8, usize, Vec<bool>, usize, bool, usize)> {
        (
            proptest::collection::vec(
                prop::sample::select(b"ab01fF %%\n\n\r+/=xyz-_".to_vec()),
                0..12,
            ),
            any::<u8>(),
            0usize..4,
            proptest::collection::vec(any::<bool>(), 0..40),
            1usize..20,
            any::<bool>(),
            0usize..64,
        )
    }

    fn render(
        value: &[u8],
        (noise, how, _, escaped, width, crlf, cut): &(
            Vec<u8>,
            u8,
            usize,
            Vec<bool>,
            usize,
            bool,
            usize,
        ),
    ) -> Vec<u8> {
        let mut out = noise.clone();
        let encoded = match how % 4 {
            0 => value.to_vec(),
            1 => value
                .iter()
                .enumerate()
                .flat_map(|(i, &b)| {
                    if escaped.get(i).copied().unwrap_or(true) {
                        format!("%{b:02X}").into_bytes()
                    } else {
                        vec![b]
                    }
                })
                .collect(),
            2 => {
                let text = super::B64.encode(value);
                let newline: &[u8] = if *crlf { b"\r\n" } else { b"\n" };
                text.as_bytes()
                    .chunks(*width)
                    .collect::<Vec<_>>()
                    .join(newline)
            }
            _ => super::B64_URL.encode(value).into_bytes(),
        };
        let keep = encoded.len() - cut % (encoded.len() + 1) / 4;
        out.extend_from_slice(&encoded[..keep]);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn regions_find_what_whole_views_find(
            values in proptest::collection::vec(
                proptest::collection::vec(prop::sample::select(b"ab01/+%= \nfF".to_vec()), 4..30),
                1..4,
            ),
            pieces in proptest::collection::vec(piece(), 0..8),
            at_end in any::<bool>(),
        ) {
            let (masks, _) = MaskSet::new(values.iter().map(|v| ("V", v.as_slice())));
            let Some(matchers) = masks.inner.as_deref() else {
                return Ok(());
            };
            let mut output = Vec::new();
            for piece in &pieces {
                output.extend(render(&values[piece.2 % values.len()], piece));
            }
            // Every prefix: each is the pending output of some chunking.
            for end in 0..=output.len() {
                let output = &output[..end];
                let mut scratch = Scratch::default();
                matchers.search(output, at_end, &mut scratch);
                let mut whole = Found::default();
                matchers.search_whole_views(output, at_end, &mut whole);
                prop_assert_eq!(
                    normalized(&scratch.found),
                    normalized(&whole),
                    "output {:?}",
                    String::from_utf8_lossy(output)
                );
            }
        }
    }
}
