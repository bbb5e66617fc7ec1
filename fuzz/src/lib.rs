//! The properties the fuzz targets check, one function per entry point.
//!
//! Each function takes the fuzzer's raw bytes and panics when a property
//! fails. The cargo-fuzz targets in `fuzz_targets/` call them, and the main
//! workspace's `tests/tests/hostile_input.rs` includes this file
//! (`#[path]`) to replay the committed corpus (`fuzz/corpus/<target>/`) on
//! stable in every test run, so the corpus stays a regression suite.

use std::path::Path;

use ci_secrets_core::mask::{MASK, MaskSet};
use ci_secrets_gitlab::expand::expand;
use ci_secrets_gitlab::pipeline::{load_pipeline, load_pipeline_for_job, load_secrets_file};
use ci_secrets_gitlab::validate::{
    is_valid_variable_name, job_secret_specs, validate_job_secrets, validate_pipeline,
};

/// Separates the files of one pipeline input: the first part is
/// `.gitlab-ci.yml`, the next ones `a.yml`, `b.yml`, `c.yml`, so that
/// `include:` and `!reference` across files get exercised.
pub const FILE_SEPARATOR: &[u8] = b"\n--- file ---\n";

// Shared with ci-secrets-gitlab's property tests; the path is relative to this file, so it holds
// however this file is included.
#[path = "../../gitlab-ci/tests/support/expansion_model.rs"]
mod expansion_model;

use expansion_model::expand_model;

const INCLUDED_NAMES: [&str; 3] = ["a.yml", "b.yml", "c.yml"];

/// The pipeline loader never panics, whatever the files hold, and what it
/// loads can be validated and planned without panicking. Loading one job
/// alone gives that job exactly as the whole pipeline has it.
pub fn pipeline_loader(data: &[u8], dir: &Path) {
    let mut parts = split(data, FILE_SEPARATOR);
    let main = parts.remove(0);
    let path = dir.join(".gitlab-ci.yml");
    write(&path, main);
    for (name, part) in INCLUDED_NAMES
        .iter()
        .zip(parts.iter().chain(std::iter::repeat(&&b""[..])))
    {
        write(&dir.join(name), part);
    }
    if let Ok(pipeline) = load_pipeline(&path) {
        let _ = validate_pipeline(&[], &pipeline);
        for job in pipeline.jobs.values() {
            let _ = pipeline.global_variables_for(job);
            let _ = job_secret_specs(&[], job);
            if !job.hidden {
                let alone = load_pipeline_for_job(&path, &job.name)
                    .unwrap_or_else(|error| panic!("job {:?} alone: {error}", job.name));
                assert_eq!(alone.job(&job.name).ok(), Some(job), "job {:?}", job.name);
                assert_eq!(
                    alone.global_variables_for(job),
                    pipeline.global_variables_for(job)
                );
            }
        }
    } else {
        let _ = load_pipeline_for_job(&path, "job");
    }
    if let Ok(job) = load_secrets_file(&path) {
        let _ = job_secret_specs(&[], &job);
    }
}

/// The validator never panics on any JSON value, and its verdict on a
/// variable name matches the documented rule.
pub fn validator(data: &[u8]) {
    if let Ok(secrets) = serde_json::from_slice::<serde_json::Value>(data) {
        let _messages = validate_job_secrets(&[], "job", &secrets);
        if let Some(map) = secrets.as_object() {
            for name in map.keys() {
                assert_eq!(is_valid_variable_name(name), name_rule(name), "{name:?}");
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(is_valid_variable_name(text), name_rule(text), "{text:?}");
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn name_rule(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Expansion matches an independent model of Go's `os.Expand` with the
/// runner's special names. The first line is the input, each next line a
/// `NAME=VALUE` variable (later ones win).
pub fn expansion(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let input = lines.next().unwrap_or_default();
    let vars: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let lookup = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        expand(input, lookup),
        expand_model(input, &vars),
        "{input:?} with {vars:?}"
    );
}

/// A masking scenario decoded from fuzz bytes: up to four secret values
/// and an output stream, both over a small alphabet (so values collide,
/// overlap and prefix each other often) that shares no byte with
/// `[MASKED]` (so a value found in the output can only be unmasked text),
/// plus the read-chunk sizes and where the writer paused.
#[derive(Debug)]
pub struct MaskScenario {
    /// The secret values.
    pub values: Vec<Vec<u8>>,
    /// The child's output.
    pub stream: Vec<u8>,
    /// Read-chunk sizes (cycled), each at least 1.
    pub chunks: Vec<usize>,
    /// For each chunk (cycled): whether the writer paused after it.
    pub pauses: Vec<bool>,
}

const ALPHABET: &[u8] = b"abc\n01/+";

impl MaskScenario {
    /// Layout: byte 0 = value count (1-4); per value a length byte (4-11)
    /// and that many bytes; then one byte per chunk up to a 0xFF byte (low
    /// 6 bits: size, top bit: pause); the rest is the stream, where a byte
    /// >= 0xF0 inserts a value (so values appear often) and any other byte
    /// maps into the alphabet.
    pub fn decode(data: &[u8]) -> Option<Self> {
        let (&count, mut rest) = data.split_first()?;
        let mut values = Vec::new();
        for _ in 0..(count % 4 + 1) {
            let (&len, tail) = rest.split_first()?;
            let len = usize::from(len % 8) + 4;
            if tail.len() < len {
                return None;
            }
            values.push(
                tail[..len]
                    .iter()
                    .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
                    .collect(),
            );
            rest = &tail[len..];
        }
        let plan_end = rest
            .iter()
            .position(|&b| b == 0xFF)
            .unwrap_or(rest.len().min(8));
        let plan = &rest[..plan_end];
        let stream = rest.get(plan_end + 1..).unwrap_or_default();
        let chunks: Vec<usize> = plan.iter().map(|b| usize::from(b & 0x3F) + 1).collect();
        let pauses = plan.iter().map(|b| b & 0x80 != 0).collect();
        let scenario = Self {
            values,
            stream: Vec::new(),
            chunks: if chunks.is_empty() { vec![3] } else { chunks },
            pauses,
        };
        Some(scenario.with_values_inserted(stream))
    }

    /// Rebuilds the stream so that each byte >= 0xF0 of `raw` becomes one of
    /// the values, and other bytes map into the alphabet.
    fn with_values_inserted(mut self, raw: &[u8]) -> Self {
        let mut stream = Vec::new();
        for &b in raw {
            if b >= 0xF0 {
                stream.extend_from_slice(&self.values[usize::from(b - 0xF0) % self.values.len()]);
            } else {
                stream.push(ALPHABET[usize::from(b) % ALPHABET.len()]);
            }
        }
        self.stream = stream;
        self
    }

    /// The masker fed chunk by chunk; `pause` says whether pauses flush.
    pub fn streamed(&self, set: &MaskSet, pause: bool) -> Vec<u8> {
        let mut masker = set.stream();
        let mut out = Vec::new();
        let mut at = 0;
        let mut index = 0;
        while at < self.stream.len() {
            let size = self.chunks[index % self.chunks.len()];
            let end = (at + size).min(self.stream.len());
            out.extend(masker.feed(&self.stream[at..end]));
            if pause
                && self
                    .pauses
                    .get(index % self.pauses.len().max(1))
                    .copied()
                    .unwrap_or(false)
            {
                out.extend(masker.flush_pause());
            }
            at = end;
            index += 1;
        }
        out.extend(masker.finish());
        out
    }

    /// The mask set of the values, named `V0`, `V1`, ...
    pub fn mask_set(&self) -> MaskSet {
        let names: Vec<String> = (0..self.values.len()).map(|i| format!("V{i}")).collect();
        MaskSet::new(
            names
                .iter()
                .map(String::as_str)
                .zip(self.values.iter().map(Vec::as_slice)),
        )
        .0
    }
}

/// Streaming masking is chunking-independent and never lets a value through:
/// fed in any chunks, the output equals `mask_all`; with pauses flushed,
/// no value appears in the output.
pub fn masker(data: &[u8]) {
    let Some(scenario) = MaskScenario::decode(data) else {
        return;
    };
    let set = scenario.mask_set();
    let whole = set.mask_all(&scenario.stream);
    assert_eq!(
        scenario.streamed(&set, false),
        whole,
        "chunked output differs from mask_all: {scenario:?}"
    );
    assert_no_value(&whole, &scenario);
    let paused = scenario.streamed(&set, true);
    assert_no_value(&paused, &scenario);
}

/// The stricter property: flushing at pauses changes nothing either.
pub fn masker_pauses_change_nothing(data: &[u8]) {
    let Some(scenario) = MaskScenario::decode(data) else {
        return;
    };
    let set = scenario.mask_set();
    assert_eq!(
        scenario.streamed(&set, true),
        set.mask_all(&scenario.stream),
        "flushing at pauses changed the output: {scenario:?}"
    );
}

fn assert_no_value(output: &[u8], scenario: &MaskScenario) {
    debug_assert!(MASK.iter().all(|b| !ALPHABET.contains(b)));
    for value in &scenario.values {
        assert!(
            !output
                .windows(value.len())
                .any(|window| window == value.as_slice()),
            "value {value:?} passed the masker: {:?} from {scenario:?}",
            String::from_utf8_lossy(output)
        );
    }
}

fn split<'a>(data: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(separator.len()).position(|w| w == separator) {
        parts.push(&rest[..at]);
        rest = &rest[at + separator.len()..];
    }
    parts.push(rest);
    parts
}

fn write(path: &Path, data: &[u8]) {
    if let Err(err) = std::fs::write(path, data) {
        panic!("cannot write the fuzz input to {}: {err}", path.display());
    }
}

/// `rules:` building blocks on any input: GitLab's expression language and its globs never
/// panic, and a statement's truth is its value's `present?`. The first line is an `if:`
/// expression, the second a glob, the third a path, each next one a `NAME=VALUE` variable.
pub fn rules(data: &[u8]) {
    use ci_secrets_gitlab::rules::expression::Statement;
    use ci_secrets_gitlab::rules::glob::Glob;

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let expression = lines.next().unwrap_or_default();
    let glob = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let vars: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let lookup = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Ok(statement) = Statement::parse(expression) {
        assert_eq!(
            statement.truthful(&lookup),
            statement.evaluate(&lookup).is_present(),
            "{expression:?}"
        );
    }
    if let Some(glob) = Glob::new(glob) {
        let _ = glob.matches(path);
    }
}
