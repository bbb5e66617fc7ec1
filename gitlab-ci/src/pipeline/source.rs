//! Reading one YAML file safely: size cap, UTF-8 and NUL checks, the expansion budget (which
//! stops alias bombs), a depth cap, merge keys (`<<:`), and only the `!reference` custom tag;
//! a `spec:` header document and its inputs, applied to the content document.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde_norway::value::{Tag, TaggedValue};
use serde_norway::{Mapping, Value};

use super::budget::{ExpansionBudget, Size};
use super::inputs::{self, InterpolationContext};
use super::{Expansion, PipelineError};

/// GitLab's default `max_yaml_size_bytes` (2 MiB) per CI/CD YAML file.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// GitLab's default `max_yaml_depth`.
pub const MAX_DEPTH: usize = 100;

/// The custom tag ci-secrets understands.
pub(crate) const REFERENCE_TAG: &str = "!reference";

/// Reads and parses `path`; `allow_reference` says whether `!reference`
/// tags are allowed, `inputs` and `context` are as for [`parse_yaml`].
pub(crate) fn read_yaml(
    path: &Path,
    budget: &ExpansionBudget,
    allow_reference: bool,
    inputs: Option<&Mapping>,
    context: &InterpolationContext<'_>,
) -> Result<Value, PipelineError> {
    let bytes = read_file(path)?;
    parse_yaml(path, &bytes, budget, allow_reference, inputs, context)
}

/// GitLab's `Yaml::Loader::MAX_DOCUMENTS`: a header and the content.
pub const MAX_DOCUMENTS: usize = 2;

/// GitLab's `MultiDocYaml::MULTI_DOC_DIVIDER` (`/^---\s+/` with Ruby's
/// `\s`, `^` at the start of any line): the byte range of each divider, in
/// order, as the regex would find them. Scanned by hand: compiling the
/// regex cost more than parsing a small secrets file, on every run.
fn document_dividers(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let is_space = |byte: u8| matches!(byte, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
    let mut from = Some(0);
    std::iter::from_fn(move || {
        let mut at = from?;
        loop {
            let line_start = at == 0 || bytes[at - 1] == b'\n';
            if line_start
                && bytes[at..].starts_with(b"---")
                && bytes.get(at + 3).is_some_and(|&byte| is_space(byte))
            {
                let end = at
                    + 3
                    + bytes[at + 3..]
                        .iter()
                        .take_while(|&&byte| is_space(byte))
                        .count();
                from = Some(end);
                return Some(at..end);
            }
            // Stepping byte by byte to each line's end was a quarter of parse_yaml's own work on
            // a large file.
            match memchr::memchr(b'\n', &bytes[at..]) {
                Some(offset) => at += offset + 1,
                None => {
                    from = None;
                    return None;
                }
            }
        }
    })
}

/// Parses the bytes of a file named `path` (a local file, or one fetched
/// from GitLab or a URL), with the same checks as a local file:
/// `allow_reference` says whether `!reference` tags are allowed, `inputs` are
/// the `include: inputs:` given to the file (`None` when it is not included
/// with inputs), `context` what `expand_vars` reads.
///
/// As in GitLab, the file may hold a `spec:` header document before its
/// content (`---` between them): the header's inputs are checked against
/// `inputs` (defaults applied) and the content's `$[[ inputs.name ]]` blocks
/// replaced. Inputs given to a file without a header are an error.
pub(crate) fn parse_yaml(
    path: &Path,
    bytes: &[u8],
    budget: &ExpansionBudget,
    allow_reference: bool,
    inputs: Option<&Mapping>,
    context: &InterpolationContext<'_>,
) -> Result<Value, PipelineError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(PipelineError::TooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    let text = check_text(path, bytes)?;
    check_flow_depth(path, text)?;
    let text = super::yaml11::rewrite_yaml11_scalars(text);
    let mut documents = Vec::with_capacity(MAX_DOCUMENTS + 1);
    for (line, piece) in split_documents(&text) {
        let value = parse_document(path, line, piece, budget, allow_reference)?;
        if !is_blank(&value) {
            documents.push(value);
        }
    }
    // GitLab requires every document of a multi-document file to be a hash.
    if documents.len() > 1 && !documents.iter().all(Value::is_mapping) {
        return Err(PipelineError::invalid(path, "Invalid configuration format"));
    }
    let has_header = documents.len() > 1
        && documents
            .first()
            .and_then(Value::as_mapping)
            .is_some_and(|first| first.contains_key("spec"));
    let (header, content) = if has_header {
        let content = documents.pop();
        (documents.into_iter().next(), content)
    } else {
        // Without a header GitLab reads the first document only.
        (None, documents.into_iter().next())
    };
    let Some(content) = content else {
        return Err(PipelineError::Empty {
            path: path.to_owned(),
        });
    };
    // Psych (GitLab's YAML parser) applies merge keys; templates often use them.
    // Applying them rebuilds every mapping of the document, so a text without
    // `<<` anywhere (no merge key can be written without it) skips the walk.
    let has_merge_keys = text.contains("<<");
    let merge = |value| {
        if !has_merge_keys {
            return Ok(value);
        }
        apply_merge_keys(value).map_err(|message| PipelineError::Yaml {
            path: path.to_owned(),
            message,
        })
    };
    let header = match header.map(merge).transpose()? {
        Some(Value::Mapping(header)) => Some(header),
        _ => None,
    };
    let content = merge(content)?;
    inputs::apply(header.as_ref(), content, inputs, context, budget).map_err(
        |failure| match failure {
            inputs::Failure::Inputs(error) => PipelineError::Inputs {
                path: path.to_owned(),
                error,
            },
            inputs::Failure::Budget(limit) => PipelineError::ExpansionTooLarge {
                file: path.to_owned(),
                key: None,
                expansion: Expansion::Interpolation,
                limit,
            },
        },
    )
}

/// The documents of `text` as GitLab splits them: at lines starting with
/// `---` and blanks, into at most [`MAX_DOCUMENTS`] + 1 pieces (so that a
/// leading `---` does not count), each with the number of lines before it.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut pieces = Vec::with_capacity(MAX_DOCUMENTS + 1);
    let mut start = 0;
    for found in document_dividers(text) {
        if pieces.len() + 1 == MAX_DOCUMENTS + 1 {
            break;
        }
        pieces.push((start, &text[start..found.start]));
        start = found.end;
    }
    pieces.push((start, &text[start..]));
    let mut line = 0;
    let mut counted = 0;
    pieces
        .into_iter()
        .map(|(offset, piece)| {
            line += text[counted..offset].matches('\n').count();
            counted = offset;
            (line, piece)
        })
        .collect()
}

/// Ruby's `blank?` of a parsed document: nothing, `false`, blank text, or
/// an empty hash or list.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Mapping(map) => map.is_empty(),
        Value::Sequence(items) => items.is_empty(),
        _ => false,
    }
}

/// Parses the first YAML document of `piece`, which starts after `line`
/// lines of the file (so that error positions are the file's).
fn parse_document(
    path: &Path,
    line: usize,
    piece: &str,
    budget: &ExpansionBudget,
    allow_reference: bool,
) -> Result<Value, PipelineError> {
    if let Some(value) = parse_json_document(piece, budget, allow_reference) {
        return Ok(value);
    }
    parse_yaml_document(path, line, piece, budget, allow_reference)
}

/// Keys longer than this (decoded) are left to the YAML parser: YAML caps
/// an implicit key at 1024 characters, and an escape takes two.
const JSON_KEY_LIMIT: usize = 256;

/// Blanks allowed between a JSON key and its `:`, for the same cap.
const JSON_BLANKS_BEFORE_COLON: usize = 16;

/// `piece` as the YAML parser reads it, when `piece` is JSON of a shape on
/// which the two parsers agree; `None` otherwise, and then nothing is
/// charged to `budget`. Generated files (the benchmark's `--secrets` file,
/// jsonnet-made pipelines) are JSON, and libyaml spent about 200
/// instructions a byte on them: 8.1M of the 11.7M instructions of
/// parse_yaml on a 39 KB secrets file, which takes 2.3M in all this way.
///
/// Errors always come from the YAML parser: any JSON this path refuses,
/// including JSON YAML would read differently, goes there. The value is
/// built by the same [`NodeSeed`], so budget, depth and tag checks are the
/// same; it refuses floats (the two parsers' number grammars differ at the
/// edges) and long keys.
fn parse_json_document(
    piece: &str,
    budget: &ExpansionBudget,
    allow_reference: bool,
) -> Option<Value> {
    if !json_agrees_with_yaml(piece.as_bytes()) {
        return None;
    }
    let trial = budget.clone();
    let seed = NodeSeed {
        budget: &trial,
        depth: 0,
        allow_reference,
        json: true,
    };
    let mut deserializer = serde_json::Deserializer::from_str(piece);
    let value = seed.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    budget.adopt(&trial);
    Some(value)
}

/// Whether `bytes`, if it is JSON, is JSON that libyaml reads as serde_json
/// does (conservative): a flow mapping of printable ASCII on lines ended by
/// `\n` (no tab, which YAML refuses before a flow collection, nor carriage
/// return or a character YAML refuses to read), string escapes that mean
/// the same in YAML's double quotes (not `\u`: YAML refuses surrogates that
/// JSON pairs), and every `:` on the line of its key, close to it (a YAML
/// key is one line of at most 1024 characters).
fn json_agrees_with_yaml(bytes: &[u8]) -> bool {
    // The first byte first: a block-style file is turned away at once, where
    // reading it all first cost it 13 instructions a byte.
    if bytes.iter().find(|&&byte| !matches!(byte, b' ' | b'\n')) != Some(&b'{') {
        return false;
    }
    // Chunks without an early exit inside, which the compiler vectorises.
    let printable = bytes.chunks(64).all(|chunk| {
        chunk.iter().fold(true, |printable, &byte| {
            printable & ((byte == b'\n') | (byte.wrapping_sub(b' ') <= b'~' - b' '))
        })
    });
    if !printable {
        return false;
    }
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'\\', &bytes[at..]) {
        let escape = at + offset + 1;
        if !matches!(
            bytes.get(escape),
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')
        ) {
            return false;
        }
        at = escape + 1;
    }
    memchr::memchr_iter(b':', bytes).all(|colon| {
        let blanks = bytes[..colon]
            .iter()
            .rev()
            .take_while(|&&byte| matches!(byte, b' ' | b'\n'))
            .take(JSON_BLANKS_BEFORE_COLON + 1);
        let mut count = 0;
        for &byte in blanks {
            if byte == b'\n' {
                return false;
            }
            count += 1;
        }
        count <= JSON_BLANKS_BEFORE_COLON
    })
}

/// [`parse_document`] by the YAML parser only.
fn parse_yaml_document(
    path: &Path,
    line: usize,
    piece: &str,
    budget: &ExpansionBudget,
    allow_reference: bool,
) -> Result<Value, PipelineError> {
    let padded;
    let piece = if line == 0 {
        piece
    } else {
        padded = format!("{}{piece}", "\n".repeat(line));
        padded.as_str()
    };
    let Some(document) = serde_norway::Deserializer::from_str(piece).next() else {
        return Ok(Value::Null);
    };
    let seed = NodeSeed {
        budget,
        depth: 0,
        allow_reference,
        json: false,
    };
    seed.deserialize(document)
        .map_err(|error| match budget.exceeded() {
            Some(limit) => PipelineError::ExpansionTooLarge {
                file: path.to_owned(),
                key: None,
                expansion: Expansion::Yaml {
                    line: error.location().map(|at| at.line()),
                    column: error.location().map(|at| at.column()),
                },
                limit,
            },
            None => yaml_error(path, &error),
        })
}

/// Refuses flow collections (`[[[...` or `{{{...`) nested deeper than
/// [`MAX_DEPTH`] before the YAML scanner sees them: its work grows with the
/// square of the flow depth, so the node-depth check during parsing would
/// come too late for a file of nested brackets. Quoted scalars and comments
/// are skipped, so brackets inside strings do not count.
fn check_flow_depth(path: &Path, text: &str) -> Result<(), PipelineError> {
    if flow_depth_exceeds(text, MAX_DEPTH) {
        return Err(PipelineError::Yaml {
            path: path.to_owned(),
            message: format!(
                "nesting deeper than {MAX_DEPTH} levels of flow collections (GitLab's limit)"
            ),
        });
    }
    Ok(())
}

/// Whether flow collections in `text` nest deeper than `limit`.
///
/// The walk is over bytes, not characters (decoding every character was a
/// tenth of loading a large secrets file): every byte it acts on is ASCII,
/// and UTF-8 never uses an ASCII byte inside a multi-byte character, so it
/// sees the quotes, brackets and comments the character walk saw. It jumps
/// from one byte that matters to the next: outside quotes, a quote, a `#`
/// or a bracket, judged by the byte before it; inside, the closing quote or
/// an escape.
fn flow_depth_exceeds(text: &str, limit: usize) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(offset) = bytes.get(at..).and_then(|rest| {
        rest.iter()
            .position(|byte| matches!(byte, b'\'' | b'"' | b'#' | b'[' | b'{' | b']' | b'}'))
    }) {
        let here = at + offset;
        let previous = here.checked_sub(1).map_or(b'\n', |before| bytes[before]);
        at = here + 1;
        match bytes[here] {
            quote @ (b'\'' | b'"')
                if depth > 0
                    || matches!(previous, b' ' | b':' | b'-' | b',' | b'[' | b'{' | b'\n') =>
            {
                at = after_quoted(bytes, at, quote);
            }
            b'#' if matches!(previous, b' ' | b'\t' | b'\n') => {
                at = memchr::memchr(b'\n', &bytes[at..])
                    .map_or(bytes.len(), |newline| at + newline + 1);
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Where the scalar quoted by `quote` that starts at `at` ends (just after
/// its closing quote, or the end of the text): `''` is an escaped quote in
/// single quotes, `\` escapes the next byte in double quotes (a multi-byte
/// character's other bytes are not ASCII, so skipping only its first is the
/// same).
fn after_quoted(bytes: &[u8], mut at: usize, quote: u8) -> usize {
    let double = quote == b'"';
    while let Some(offset) = bytes.get(at..).and_then(|rest| {
        if double {
            memchr::memchr2(quote, b'\\', rest)
        } else {
            memchr::memchr(quote, rest)
        }
    }) {
        let here = at + offset;
        let escaped = if double {
            bytes[here] == b'\\'
        } else {
            bytes.get(here + 1) == Some(&b'\'')
        };
        if !escaped {
            return here + 1;
        }
        at = here + 2;
    }
    bytes.len()
}

fn yaml_error(path: &Path, error: &serde_norway::Error) -> PipelineError {
    let message = error.to_string();
    let message = if message.contains("repetition limit exceeded") {
        format!("{message} (too many alias expansions: a YAML alias bomb?)")
    } else if message.contains("recursion limit exceeded") {
        format!("{message} (nesting deeper than {MAX_DEPTH} levels)")
    } else {
        message
    };
    PipelineError::Yaml {
        path: path.to_owned(),
        message,
    }
}

/// Applies YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) the way Psych does, since GitLab
/// parses with Psych: the merged keys take the place of `<<` in key order and overwrite keys
/// written before it; keys written after it win; in a list, earlier hashes win.
fn apply_merge_keys(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::Mapping(entries) => {
            let mut merged = Mapping::with_capacity(entries.len());
            for (key, value) in entries {
                let value = apply_merge_keys(value)?;
                if key.as_str() != Some("<<") {
                    merged.insert(key, value);
                    continue;
                }
                match value {
                    Value::Mapping(source) => merged.extend(source),
                    Value::Sequence(sources) => {
                        let mut combined = Mapping::new();
                        for source in sources.into_iter().rev() {
                            let Value::Mapping(source) = source else {
                                return Err(
                                    "a merge key (`<<`) list must hold only hashes".to_owned()
                                );
                            };
                            combined.extend(source);
                        }
                        merged.extend(combined);
                    }
                    _ => {
                        return Err(
                            "a merge key (`<<`) must be a hash or a list of hashes".to_owned()
                        );
                    }
                }
            }
            Value::Mapping(merged)
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .into_iter()
                .map(apply_merge_keys)
                .collect::<Result<_, _>>()?,
        ),
        Value::Tagged(mut tagged) => {
            tagged.value = apply_merge_keys(tagged.value)?;
            Value::Tagged(tagged)
        }
        scalar => scalar,
    })
}

/// Reads at most `MAX_FILE_BYTES + 1` bytes, so a huge file is refused without reading it all.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, PipelineError> {
    let io = |source| PipelineError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(PipelineError::TooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

fn check_text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, PipelineError> {
    let line_of = |offset: usize| bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        PipelineError::InvalidUtf8 {
            path: path.to_owned(),
            line: line_of(offset),
            offset,
        }
    })?;
    // A vectorised search: a byte-by-byte one went through every file, though a NUL is almost
    // never there.
    if let Some(offset) = memchr::memchr(0, bytes) {
        return Err(PipelineError::NulByte {
            path: path.to_owned(),
            line: line_of(offset),
            offset,
        });
    }
    Ok(text)
}

/// Builds a [`Value`] while charging every node (alias replays included) to the budget, before
/// building it, and checking the depth.
#[derive(Clone, Copy)]
struct NodeSeed<'a> {
    budget: &'a ExpansionBudget,
    depth: usize,
    allow_reference: bool,
    /// Reading JSON on [`parse_json_document`]'s path: what it leaves to
    /// the YAML parser is refused.
    json: bool,
}

impl NodeSeed<'_> {
    fn child(self) -> Self {
        Self {
            depth: self.depth + 1,
            ..self
        }
    }

    fn count<E: de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }

    /// Charges one node of `bytes` bytes of text. The error text is replaced by a typed error
    /// in [`read_yaml`], which asks the budget which limit was hit.
    fn charge<E: de::Error>(self, bytes: usize) -> Result<(), E> {
        self.budget.take(Size::node(bytes)).map_err(|limit| {
            E::custom(format_args!(
                "more than {limit} after alias expansion (a YAML alias bomb?)"
            ))
        })
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom(format_args!(
                "nesting deeper than {MAX_DEPTH} levels (GitLab's limit)"
            )));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        if self.json {
            return Err(E::custom("a JSON float is left to the YAML parser"));
        }
        self.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.charge(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.charge(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.count()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child())? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.count()?;
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(self.child())? {
            if self.json && key.as_str().is_some_and(|key| key.len() > JSON_KEY_LIMIT) {
                return Err(de::Error::custom(
                    "a long JSON key is left to the YAML parser",
                ));
            }
            let value = map.next_value_seed(self.child())?;
            // As in Psych (Ruby), a repeated key keeps its first position and its last value.
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant) = data.variant::<String>()?;
        self.charge(tag.len())?;
        let tag = Tag::new(tag);
        if !(self.allow_reference && tag == REFERENCE_TAG) {
            let allowed = if self.allow_reference {
                " (only `!reference` is supported)"
            } else {
                ""
            };
            return Err(de::Error::custom(format_args!(
                "unsupported YAML tag `{tag}`{allowed}"
            )));
        }
        let value = variant.newtype_variant_seed(self.child())?;
        Ok(Value::Tagged(Box::new(TaggedValue { tag, value })))
    }
}

#[cfg(test)]
mod document_tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use indexmap::IndexMap;

    use super::*;
    use crate::pipeline::InputsError;

    fn parse(text: &str, inputs: Option<&str>) -> Result<Value, PipelineError> {
        let variables: IndexMap<String, String> =
            [("TEST_FRAMEWORK".to_owned(), "pytest".to_owned())].into();
        let inputs: Option<Mapping> = inputs.map(|inputs| serde_norway::from_str(inputs).unwrap());
        parse_yaml(
            Path::new("ci/file.yml"),
            text.as_bytes(),
            &ExpansionBudget::new(),
            true,
            inputs.as_ref(),
            &InterpolationContext::new(&variables),
        )
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    /// After GitLab's `yaml/documents_spec.rb`, `yaml/result_spec.rb` and
    /// `MultiDocYaml`: the header is the first of several documents when it
    /// has `spec`; otherwise the first document is the content.
    #[test]
    fn header_and_content_documents() {
        assert_eq!(parse("spec:\n---\njob: x\n", None).unwrap(), yaml("job: x"));
        assert_eq!(
            parse("job1: a\n---\njob2: b\n", None).unwrap(),
            yaml("job1: a")
        );
        assert_eq!(parse("---\njob: x\n", None).unwrap(), yaml("job: x"));
        assert_eq!(
            parse(
                "---\nspec: {inputs: {a: {default: 1}}}\n---\nx: $[[ inputs.a ]]\n",
                None
            )
            .unwrap(),
            // No `type:` is a string input: GitLab gives the default's text.
            yaml("x: '1'")
        );
        // A single document with `spec:` has no header: `spec` is a job to GitLab.
        assert_eq!(
            parse("spec: {inputs: {a: null}}\n", None).unwrap(),
            yaml("spec: {inputs: {a: null}}")
        );
        // Blank documents do not count.
        assert_eq!(
            parse("# header\n---\n\n---\nspec:\n---\njob: x\n", None).unwrap(),
            yaml("spec: null")
        );
        assert!(matches!(
            parse("spec:\n---\n- a\n", None),
            Err(PipelineError::Invalid { message, .. }) if message == "Invalid configuration format"
        ));
    }

    #[test]
    fn errors_keep_the_files_line_numbers() {
        let error = parse("spec:\n  inputs:\n---\njob:\n  key: [unclosed\n", None).unwrap_err();
        assert!(error.to_string().contains("line 5"), "{error}");
    }

    /// After GitLab's `external/file/base_spec.rb` and `interpolator_spec.rb`.
    #[test]
    fn input_errors_name_the_file() {
        assert_eq!(
            parse("job: x\n", Some("{foo: bar}"))
                .unwrap_err()
                .to_string(),
            "ci/file.yml: Given inputs not defined in the `spec` section of the included configuration file"
        );
        assert_eq!(
            parse(
                "spec:\n  inputs:\n---\nrun:\n  script: deploy $[[ inputs.abcd ]]\n",
                None
            )
            .unwrap_err()
            .to_string(),
            "ci/file.yml: unknown interpolation key: `abcd`"
        );
        assert_eq!(
            parse("spec:\n  a: abc\n---\nrun:\n  script: deploy\n", None)
                .unwrap_err()
                .to_string(),
            "ci/file.yml: header:spec config contains unknown keys: a"
        );
        assert_eq!(
            parse("spec: abcd\n---\nrun:\n  script: deploy\n", None)
                .unwrap_err()
                .to_string(),
            "ci/file.yml: header:spec config should be a hash"
        );
        let error = parse("spec:\n  inputs:\n    website:\n---\nkey: value\n", None).unwrap_err();
        assert!(matches!(
            &error,
            PipelineError::Inputs { error: InputsError::Inputs(errors), .. }
                if errors == &["`website` input: required value has not been provided"]
        ));
    }

    /// GitLab's `yaml/fixtures/complex-included-ci.yml` with the inputs and
    /// the expected result of `yaml/loader_spec.rb`.
    #[test]
    fn gitlabs_complex_included_file() {
        let file = r#"spec:
  inputs:
    compiler:
      default: gcc
    optimization_level:
      type: number
      default: 2
    test_framework:
      default: unittest
    coverage_enabled:
      type: boolean
      default: false
    environment:
      default: staging
    deploy_strategy:
      type: string
      options: ['blue-green', 'rolling']
    job_prefix:
      description: Define a prefix for the job name
      default: my-job
    job_stage:
    version:
      type: string
      regex: ^\d+\.\d+\.\d+$
      default: 1.0.0
    parallel_jobs:
      type: number
      default: 2
    allow_failure:
      type: boolean
      default: false
    test_script:
      type: array
    test_rules:
      type: array
      default: []
    deploy_rules:
      type: array
      default: []

---

variables:
  ALLOW_FAILURE: $[[ inputs.allow_failure ]]

"$[[ inputs.job_prefix ]]-build":
  stage: $[[ inputs.job_stage ]]
  script:
    - echo "Building with $[[ inputs.compiler ]] and optimization level $[[ inputs.optimization_level ]]"
    - echo "$[[ inputs.version ]]"
  parallel: $[[ inputs.parallel_jobs ]]

"$[[ inputs.job_prefix ]]-test":
  stage: $[[ inputs.job_stage ]]
  script:
    - echo "Testing with $[[ inputs.test_framework | expand_vars ]]"
    - if [ $[[ inputs.coverage_enabled ]] == true ]; then echo "Coverage is enabled"; fi
  allow_failure: $[[ inputs.allow_failure ]]

"$[[ inputs.job_prefix ]]-test-2":
  stage: $[[ inputs.job_stage ]]
  script: $[[ inputs.test_script ]]
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      changes:
        - .gitlab-ci.yml
    - $[[ inputs.test_rules ]]

"$[[ inputs.job_prefix ]]-deploy":
  stage: $[[ inputs.job_stage ]]
  script:
    - echo "Deploying to $[[ inputs.environment ]] using $[[ inputs.deploy_strategy ]] strategy"
  rules:
    - if: $CI_PIPELINE_SOURCE != "merge_request_event"
    - $[[ inputs.deploy_rules ]]
"#;
        let inputs = r#"
compiler: clang
optimization_level: 3
test_framework: $TEST_FRAMEWORK
coverage_enabled: true
environment: production
deploy_strategy: blue-green
job_stage: build
test_script: [array item script 1, array item script 2]
test_rules:
  - {if: '$CI_MERGE_REQUEST_SOURCE_BRANCH_NAME =~ /^feature/', when: never}
  - {if: '$CI_MERGE_REQUEST_TARGET_BRANCH_NAME != $CI_DEFAULT_BRANCH', when: manual}
"#;
        let expected = r#"
variables:
  ALLOW_FAILURE: false
my-job-build:
  stage: build
  script: ['echo "Building with clang and optimization level 3"', 'echo "1.0.0"']
  parallel: 2
my-job-test:
  stage: build
  script: ['echo "Testing with pytest"', 'if [ true == true ]; then echo "Coverage is enabled"; fi']
  allow_failure: false
my-job-test-2:
  stage: build
  script: [array item script 1, array item script 2]
  rules:
    - {if: '$CI_PIPELINE_SOURCE == "merge_request_event"', changes: [.gitlab-ci.yml]}
    - {if: '$CI_MERGE_REQUEST_SOURCE_BRANCH_NAME =~ /^feature/', when: never}
    - {if: '$CI_MERGE_REQUEST_TARGET_BRANCH_NAME != $CI_DEFAULT_BRANCH', when: manual}
my-job-deploy:
  stage: build
  script: ['echo "Deploying to production using blue-green strategy"']
  rules:
    - {if: '$CI_PIPELINE_SOURCE != "merge_request_event"'}
"#;
        assert_eq!(parse(file, Some(inputs)).unwrap(), yaml(expected));
        // `yaml/loader_spec.rb`, "when there are errors with the inputs" (today
        // GitLab casts the text `true` to a boolean, so `maybe` stands in).
        let error = parse(
            file,
            Some(
                "{coverage_enabled: maybe, deploy_strategy: not-an-option, version: test-version}",
            ),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "ci/file.yml: `coverage_enabled` input: provided value is not a boolean, \
             `deploy_strategy` input: `not-an-option` cannot be used because it is not in the list of allowed options, \
             `job_stage` input: required value has not been provided"
        );
    }
}

#[cfg(test)]
mod limit_tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use indexmap::IndexMap;
    use proptest::prelude::*;

    use super::*;

    fn parse(text: &str, inputs: Option<&Mapping>) -> Result<Value, PipelineError> {
        let variables: IndexMap<String, String> = [("V".to_owned(), "v".to_owned())].into();
        parse_yaml(
            Path::new("f.yml"),
            text.as_bytes(),
            &ExpansionBudget::new(),
            true,
            inputs,
            &InterpolationContext::new(&variables),
        )
    }

    /// After GitLab's `interpolation/template_spec.rb` and `loader_spec.rb`
    /// (limits stubbed there, reached here): distinct blocks and string size.
    #[test]
    fn gitlabs_limits() {
        let items: Vec<String> = (0..=crate::pipeline::MAX_BLOCKS)
            .map(|length| format!("  - '$[[ inputs.a | truncate(0,{length}) ]]'"))
            .collect();
        let file = format!(
            "spec:\n  inputs:\n    a:\n      default: x\n---\nitems:\n{}\n",
            items.join("\n")
        );
        assert_eq!(
            parse(&file, None).unwrap_err().to_string(),
            "f.yml: too many interpolation blocks"
        );
        let file = format!(
            "spec:\n  inputs:\n    a:\n      default: x\n---\nbig: {}\n",
            "x".repeat(crate::pipeline::MAX_NODE_BYTES + 1)
        );
        assert_eq!(
            parse(&file, None).unwrap_err().to_string(),
            "f.yml: config node too large"
        );
    }

    /// Pieces of headers, blocks and functions, right and wrong.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "$[[",
            "]]",
            " ",
            "inputs.",
            "a",
            "b",
            ".",
            "|",
            "truncate(0,2)",
            "truncate(9",
            "expand_vars",
            "posix_escape",
            "split(',')",
            "split('')",
            "\n",
            "---\n",
            "spec:\n",
            "  inputs:\n",
            "    a:\n",
            "      default: x\n",
            "      type: array\n",
            "      type: number\n",
            "      options: [x]\n",
            "      regex: '['\n",
            "k: ",
            "- ",
            "'",
            "\"",
            "$V",
            "%V%",
            "{",
            "}",
            "[",
            "]",
            ":",
            "!reference [a]",
            "&x ",
            "*x",
        ])
    }

    fn inputs() -> impl Strategy<Value = Option<Mapping>> {
        let value = prop_oneof![
            Just(Value::String("x".to_owned())),
            Just(Value::String("[\"a\"]".to_owned())),
            Just(Value::String("$[[ inputs.a ]]".to_owned())),
            Just(Value::Number(3.into())),
            Just(Value::Bool(true)),
            Just(Value::Null),
            Just(Value::Sequence(vec![Value::String("x".to_owned())])),
        ];
        prop::option::of(prop::collection::vec(
            (prop::sample::select(vec!["a", "b", "c"]), value),
            0..3,
        ))
        .prop_map(|pairs| {
            pairs.map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(name, value)| (Value::String(name.to_owned()), value))
                    .collect()
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the header, content and inputs, loading ends with a
        /// value or an error, never a panic.
        #[test]
        fn interpolation_never_panics(
            pieces in prop::collection::vec(fragment(), 0..60),
            inputs in inputs(),
        ) {
            let text: String = pieces.concat();
            let _ = parse(&text, inputs.as_ref());
            let with_header = format!("spec:\n  inputs:\n    a:\n      default: x\n---\nk: {text}");
            let _ = parse(&with_header, inputs.as_ref());
        }
    }
}

#[cfg(test)]
mod flow_depth_tests {
    use proptest::prelude::*;

    use super::flow_depth_exceeds;

    /// The walk over characters that the byte walk replaced.
    fn by_chars(text: &str, limit: usize) -> bool {
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut previous = '\n';
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('\'') if c == '\'' => {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some('"') if c == '"' => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"'
                        if depth > 0
                            || matches!(previous, ' ' | ':' | '-' | ',' | '[' | '{' | '\n') =>
                    {
                        quote = Some(c)
                    }
                    '#' if matches!(previous, ' ' | '\t' | '\n') => {
                        for skipped in chars.by_ref() {
                            if skipped == '\n' {
                                break;
                            }
                        }
                        previous = '\n';
                        continue;
                    }
                    '[' | '{' => {
                        depth += 1;
                        if depth > limit {
                            return true;
                        }
                    }
                    ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
        }
        false
    }

    #[test]
    fn quotes_comments_and_escapes_as_before() {
        for (text, deep) in [
            ("[[[", true),
            ("[[]]", false),
            ("a: '[[['", false),
            ("a: \"[[\\\"[\"", false),
            ("a: 'it''s [[['", false),
            ("a: b'[[['", true),
            ("# [[[\n[", false),
            ("a#[[[", true),
            ("\"é\\é[[[\" [[[", true),
            ("é'[[[", true),
            (" é'[[[", true),
            ("[\"\\", false),
            ("a: \"it's\" [[[", true),
            ("a: '\"' [[[", true),
            ("a: 'x''' [[[", true),
            ("a: \"\\\\\" [[[", true),
        ] {
            assert_eq!(flow_depth_exceeds(text, 2), deep, "{text:?}");
            assert_eq!(by_chars(text, 2), deep, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn bytes_and_characters_agree(text in "[\\[\\]{}'\"\\\\# :,\\-\t\na-zé€😀]{0,60}", limit in 0usize..4) {
            prop_assert_eq!(flow_depth_exceeds(&text, limit), by_chars(&text, limit));
        }
    }
}

#[cfg(test)]
mod divider_tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use proptest::prelude::*;

    use super::*;

    /// GitLab's divider as a regex: the scan must find exactly its matches.
    fn by_regex(text: &str) -> Vec<std::ops::Range<usize>> {
        regex::Regex::new(r"(?m)^---[\t\n\x0B\f\r ]+")
            .unwrap()
            .find_iter(text)
            .map(|found| found.range())
            .collect()
    }

    #[test]
    fn dividers_are_found_at_line_starts_only() {
        let text = "spec:\n---\ncontent: 1\n x---\n--- \n---x\n---";
        assert_eq!(document_dividers(text).collect::<Vec<_>>(), by_regex(text));
        assert_eq!(
            document_dividers(text).collect::<Vec<_>>(),
            vec![6..10, 27..32]
        );
    }

    proptest! {
        #[test]
        fn the_scan_finds_what_the_regex_finds(
            text in proptest::collection::vec(
                prop::sample::select(vec!['-', '-', '\n', '\r', ' ', '\t', '\u{b}', '\u{c}', 'a', 'é']),
                0..60,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            prop_assert_eq!(document_dividers(&text).collect::<Vec<_>>(), by_regex(&text));
        }
    }
}

#[cfg(test)]
mod json_tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly by design.

    use proptest::prelude::*;

    use super::*;

    /// A parsed value and what was left of a fresh budget (its `Debug`).
    type Spent = (Value, String);

    /// The JSON path's answer and the YAML parser's.
    fn both(piece: &str) -> (Option<Spent>, Result<Spent, String>) {
        let budget = ExpansionBudget::new();
        let fast =
            parse_json_document(piece, &budget, true).map(|value| (value, format!("{budget:?}")));
        let budget = ExpansionBudget::new();
        let slow = parse_yaml_document(Path::new("f.yml"), 0, piece, &budget, true)
            .map(|value| (value, format!("{budget:?}")))
            .map_err(|error| error.to_string());
        (fast, slow)
    }

    /// Whenever the JSON path answers, the YAML parser gives the same value
    /// and charges the budget alike; `true` when the JSON path answered.
    fn agree(piece: &str) -> bool {
        let (fast, slow) = both(piece);
        match fast {
            Some(fast) => {
                assert_eq!(Ok(fast), slow, "{piece:?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn json_the_yaml_parser_reads_alike_takes_the_json_path() {
        for piece in [
            "{}",
            "{\"a\":\"b\"}",
            "{\"a\":\"b\",\"c\":[1,-2,true,false,null,{\"d\":\"e\"},[]],\"e\":{}}",
            "{\n  \"secrets\": {\n    \"A\": {\n      \"file\": false,\n      \"akeyless\": {\"name\": \"/x/y-01\"}\n    }\n  }\n}\n",
            "\n  {\"a\" : \"b\"}  \n\n",
            "{\"esc\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
            "{\"a\": 1, \"a\": 2, \"b\": 3}",
            "{\"<<\": {\"a\": 1}, \"b\": \"x\"}",
            "{\"yes\": \"no\", \"on\": \"010\", \"t\": \"1:30\", \"u\": \"# not a comment\"}",
            "{\"k\": \"a: b\", \"l\": \"- x\", \"m\": \"*alias\", \"n\": \"&anchor !tag\"}",
            "{\"big\": 18446744073709551615, \"neg\": -9223372036854775808}",
            "{\"csr\": \"-----BEGIN CERTIFICATE REQUEST-----\\nMIIBazCCARA+/=\\n-----END CERTIFICATE REQUEST-----\\n\"}",
        ] {
            assert!(agree(piece), "not taken: {piece:?}");
        }
    }

    #[test]
    fn json_the_parsers_might_read_apart_is_left_to_yaml() {
        let long_key = format!("{{\"{}\": 1}}", "k".repeat(JSON_KEY_LIMIT + 1));
        let far_colon = format!("{{\"k\"{}: 1}}", " ".repeat(JSON_BLANKS_BEFORE_COLON + 1));
        for piece in [
            "{\"a\": \"\\u00e9\"}",
            "{\"a\": \"\\ud83d\\ude00\"}",
            "{\"a\": \"é\"}",
            "{\"a\":\t1}",
            "\t{\"a\": 1}",
            "{\"a\": 1}\r\n",
            "{\"a\": 1.5}",
            "{\"a\": 1e3}",
            "{\"a\"\n: 1}",
            "[1, 2]",
            "\"text\"",
            "{\"a\": 1} # comment",
            "{\"a\": 1}\n---\n{}",
            "{\"a\": \u{7f}1}",
            "{a: 1}",
            "{\"a\": yes}",
            "{\"a\": [1,}",
            long_key.as_str(),
            far_colon.as_str(),
        ] {
            let (fast, _) = both(piece);
            assert!(fast.is_none(), "taken: {piece:?}");
        }
    }

    /// parse_yaml gives the same value and the same errors as before, on
    /// JSON and on the YAML 1.1 scalars, merge keys and documents around it.
    #[test]
    fn whole_files_load_as_the_yaml_parser_loads_them() {
        for text in [
            "{\"a\": \"yes\", \"b\": [\"on\", \"0755\", \"1:30\"], \"c\": true}",
            "{\"a\": -0, \"b\": 10, \"c\": null}",
            "{\"base\": {\"x\": 1}, \"job\": {\"<<\": {\"x\": 2, \"y\": 3}, \"x\": 4}}",
            "{\"job\": {\"<<\": [{\"a\": 1}, {\"a\": 2, \"b\": 2}]}}",
            "{\"job\": {\"<<\": \"text\"}}",
            "spec:\n  inputs:\n    a:\n      default: x\n---\n{\"k\": \"$[[ inputs.a ]]\"}\n",
            "{\"a\": 1}\n---\n{\"b\": 2}\n",
            "a: yes\nb: 0755\nc: 1:30\nd: off\nbase: &b {x: 1}\njob: {<<: *b, y: n}\n",
        ] {
            let variables = indexmap::IndexMap::new();
            let context = InterpolationContext::new(&variables);
            let loaded = parse_yaml(
                Path::new("f.yml"),
                text.as_bytes(),
                &ExpansionBudget::new(),
                true,
                None,
                &context,
            )
            .map_err(|error| error.to_string());
            // The same steps, every document by the YAML parser.
            let rewritten = crate::pipeline::yaml11::rewrite_yaml11_scalars(text);
            let budget = ExpansionBudget::new();
            let mut documents: Vec<Value> = split_documents(&rewritten)
                .into_iter()
                .map(|(line, piece)| {
                    parse_yaml_document(Path::new("f.yml"), line, piece, &budget, true).unwrap()
                })
                .filter(|value| !is_blank(value))
                .collect();
            let has_header = documents.len() > 1
                && documents[0]
                    .as_mapping()
                    .is_some_and(|first| first.contains_key("spec"));
            let content = if has_header {
                documents.pop().unwrap()
            } else {
                documents.swap_remove(0)
            };
            let header = has_header.then(|| documents[0].as_mapping().unwrap().clone());
            let expected = apply_merge_keys(content)
                .map_err(|message| {
                    PipelineError::Yaml {
                        path: "f.yml".into(),
                        message,
                    }
                    .to_string()
                })
                .and_then(|content| {
                    inputs::apply(header.as_ref(), content, None, &context, &budget)
                        .map_err(|_| "inputs".to_owned())
                });
            assert_eq!(loaded, expected, "{text:?}");
        }
    }

    fn json_text() -> impl Strategy<Value = String> {
        let text = prop::collection::vec(
            prop::sample::select(vec![
                "a", "yes", "on", "0755", "1:30", "<<", " ", ":", "-", "#", "\"", "\\", "/", "\n",
                "\t", "\r", "\u{8}", "\u{c}", "\u{1}", "\u{7f}", "é", "😀", "{", "[", "&", "*",
                "!", "'", "---", "...",
            ]),
            0..6,
        )
        .prop_map(|pieces| pieces.concat());
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e6f64..1e6).prop_map(serde_json::Value::from),
            text.clone().prop_map(serde_json::Value::String),
        ];
        let value = leaf.prop_recursive(4, 32, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::vec((text.clone(), inner), 0..5)
                    .prop_map(|entries| serde_json::Value::Object(entries.into_iter().collect())),
            ]
        });
        (
            prop::collection::vec((text_key(), value), 0..5),
            any::<bool>(),
        )
            .prop_map(|(entries, pretty)| {
                let object = serde_json::Value::Object(entries.into_iter().collect());
                if pretty {
                    serde_json::to_string_pretty(&object).unwrap()
                } else {
                    object.to_string()
                }
            })
    }

    fn text_key() -> impl Strategy<Value = String> {
        "[a-z<>:# -]{0,8}"
    }

    /// Pieces of JSON and of YAML around it, right and wrong.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\n",
            "\t",
            "\"a\"",
            "\"yes\"",
            "\"\\/\"",
            "\"\\u0041\"",
            "\"\\n\"",
            "1",
            "-1",
            "010",
            "1.5",
            "true",
            "null",
            "yes",
            "a",
            "# c",
            "---",
            "&x ",
            "*x",
            "!reference [a]",
            "'q'",
            "<<",
            "\"<<\"",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn generated_json_loads_as_the_yaml_parser_loads_it(text in json_text()) {
            agree(&text);
        }

        #[test]
        fn fragments_load_as_the_yaml_parser_loads_them(
            pieces in prop::collection::vec(fragment(), 0..30),
        ) {
            agree(&pieces.concat());
        }
    }

    /// The generated JSON takes the JSON path often enough for the property
    /// above to mean something.
    #[test]
    fn generated_json_mostly_takes_the_json_path() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = json_text();
        let taken = (0..300)
            .filter(|_| agree(&strategy.new_tree(&mut runner).unwrap().current()))
            .count();
        assert!(taken > 30, "{taken} of 300");
    }
}
