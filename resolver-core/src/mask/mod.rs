//! Masking secret values in a byte stream, as GitLab masks its job log,
//! but matched across read-chunk boundaries and in the encodings a script
//! is likely to print. Inside: `forms` says which forms of a value become
//! `[MASKED]`, `view` the views of the output they are searched in,
//! `matcher` how they are found, and `stream` how a stream is masked
//! exactly whatever its chunking.

mod forms;
mod matcher;
mod stream;
mod view;

use std::sync::Arc;

pub use forms::{MIN_BASE64_CORE_LEN, MIN_MASK_LEN, RECOMMENDED_MIN_LEN};
pub use stream::StreamMasker;

use forms::{Forms, Search};
use matcher::{Found, Matcher};
use view::View;

/// What replaces a value.
pub const MASK: &[u8] = b"[MASKED]";

/// Why a value is not masked as well as it should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskWarningKind {
    /// Shorter than [`MIN_MASK_LEN`]: not masked at all.
    NotMasked,
    /// Shorter than [`RECOMMENDED_MIN_LEN`]: masked, and so is every
    /// occurrence of the same bytes in ordinary text.
    Short,
}

/// A warning about one variable's value; names the variable, never the
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskWarning {
    #[error(
        "{variable} is shorter than {MIN_MASK_LEN} bytes and is not masked in the command's output"
    )]
    NotMasked { variable: String },
    #[error(
        "{variable} is shorter than {RECOMMENDED_MIN_LEN} bytes (GitLab's minimum for masked variables): it is masked, and so is every occurrence of the same text in the command's output, even inside ordinary words"
    )]
    Short { variable: String },
}

impl MaskWarning {
    /// The variable the warning is about.
    pub fn variable(&self) -> &str {
        match self {
            MaskWarning::NotMasked { variable } | MaskWarning::Short { variable } => variable,
        }
    }

    /// What is wrong, for callers that branch on it.
    pub fn kind(&self) -> MaskWarningKind {
        match self {
            MaskWarning::NotMasked { .. } => MaskWarningKind::NotMasked,
            MaskWarning::Short { .. } => MaskWarningKind::Short,
        }
    }
}

/// The forms to mask, built once per run and shared by every stream.
#[derive(Clone)]
pub struct MaskSet {
    inner: Option<Arc<Matchers>>,
}

struct Matchers {
    forms: Forms,
    /// Text forms, searched in the output and in its percent-decoded view.
    text: Option<Matcher>,
    /// Base64 forms, searched in the view without single line breaks.
    base64: Option<Matcher>,
}

impl std::fmt::Debug for MaskSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskSet")
            .field(
                "forms",
                &self
                    .inner
                    .as_ref()
                    .map_or(0, |inner| inner.forms.forms.len()),
            )
            .finish()
    }
}

impl MaskSet {
    /// Builds the set from `(variable, value)` pairs, in time and memory
    /// linear in the total size of the values. Returns a warning for each
    /// value that is too short to mask well.
    pub fn new<'a>(
        values: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> (Self, Vec<MaskWarning>) {
        let mut forms = Forms::default();
        let mut warnings = Vec::new();
        for (variable, value) in values {
            if value.is_empty() {
                continue;
            }
            if value.len() < MIN_MASK_LEN {
                warnings.push(MaskWarning::NotMasked {
                    variable: variable.to_string(),
                });
                continue;
            }
            if value.len() < RECOMMENDED_MIN_LEN {
                warnings.push(MaskWarning::Short {
                    variable: variable.to_string(),
                });
            }
            forms.add_value(value);
        }
        let of_kind = |search: Search| {
            let forms = &forms;
            (0..forms.forms.len()).filter(move |&id| forms.forms[id].search == search)
        };
        let text = Matcher::new(&forms, of_kind(Search::Text));
        let base64 = Matcher::new(&forms, of_kind(Search::Base64));
        let inner = (text.is_some() || base64.is_some()).then(|| {
            Arc::new(Matchers {
                forms,
                text,
                base64,
            })
        });
        (Self { inner }, warnings)
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// A streaming masker for one output stream.
    pub fn stream(&self) -> StreamMasker {
        StreamMasker::new(self.inner.clone())
    }

    /// Masks a complete buffer.
    pub fn mask_all(&self, input: &[u8]) -> Vec<u8> {
        let mut stream = self.stream();
        let mut out = stream.feed(input);
        out.extend(stream.finish());
        out
    }
}

impl Matchers {
    /// Every match in `output` (as output ranges, in no particular order)
    /// and, unless `at_end`, where the first match that may still need
    /// more bytes could start.
    fn search(&self, output: &[u8], at_end: bool) -> Found {
        let mut found = Found::default();
        if let Some(text) = &self.text {
            text.search(&self.forms, output, at_end, &mut found);
            if output.contains(&b'%') {
                let view = View::percent_decoded(output, at_end);
                self.search_view(text, &view, output, at_end, &mut found);
            }
        }
        if let Some(base64) = &self.base64 {
            if output.contains(&b'\n') || output.contains(&b'\r') {
                let view = View::unwrapped(output, at_end);
                self.search_view(base64, &view, output, at_end, &mut found);
            } else {
                base64.search(&self.forms, output, at_end, &mut found);
            }
        }
        found
    }

    fn search_view(
        &self,
        matcher: &Matcher,
        view: &View,
        output: &[u8],
        at_end: bool,
        found: &mut Found,
    ) {
        let mut in_view = Found::default();
        matcher.search(&self.forms, &view.bytes, at_end, &mut in_view);
        found
            .matches
            .extend(in_view.matches.iter().map(|range| view.to_output(range)));
        if let Some(at) = in_view.incomplete_from {
            let from = view.output_position(at);
            // Each view byte comes from at least one output byte.
            let still_needed = in_view
                .recheck_at
                .map_or(1, |end| end.saturating_sub(at).max(1));
            found.hold(from, from + still_needed);
        }
        if let Some(at) = view.undecided_from {
            found.hold(at, output.len() + 1);
        }
    }
}

#[cfg(test)]
mod tests;
