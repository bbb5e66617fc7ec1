//! Masking secret values in a byte stream, as GitLab masks its job log,
//! but matched across read-chunk boundaries and in the encodings a script
//! is likely to print. Inside: `forms` says which forms of a value become
//! `[MASKED]`, `view` the views of the output they are searched in,
//! `regions` where a view can differ from the output in a way that
//! matters, `matcher` how forms are found, and `stream` how a stream is
//! masked exactly whatever its chunking; `zeroized` grows the buffers that
//! hold secret bytes without leaving copies in freed memory.

mod forms;
mod matcher;
mod regions;
mod stream;
mod view;
mod zeroized;

use std::ops::Range;
use std::sync::Arc;

pub use forms::{MIN_BASE64_CORE_LEN, MIN_MASK_LEN, RECOMMENDED_MIN_LEN};
pub use stream::StreamMasker;

use forms::{Forms, Search};
use matcher::{Found, Matcher};
use regions::Reach;
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
    /// Every form, searched in the output as written in one pass. Text
    /// forms are also searched in the percent-decoded view, base64 forms in
    /// the view without single line breaks, where those differ from it.
    matcher: Matcher,
    /// Where the percent-decoded view can hold a text form (none: no text
    /// forms).
    percent: Option<Reach>,
    /// Where the unwrapped view can hold a base64 form.
    unwrapped: Option<Reach>,
}

/// What one search of a stream's output reuses from the last one.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    found: Found,
    percent: Vec<Range<usize>>,
    unwrapped: Vec<Range<usize>>,
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
        let reach = |search: Search, of: fn([bool; 256], usize) -> Reach| {
            let (bytes, longest) = forms.alphabet(search);
            (longest > 0).then(|| of(bytes, longest))
        };
        let percent = reach(Search::Text, Reach::percent);
        let unwrapped = reach(Search::Base64, Reach::unwrapped);
        let inner = Matcher::new(&forms, 0..forms.forms.len()).map(|matcher| {
            Arc::new(Matchers {
                forms,
                matcher,
                percent,
                unwrapped,
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
    /// more bytes could start: left in `scratch.found`.
    fn search(&self, output: &[u8], at_end: bool, scratch: &mut Scratch) {
        let Scratch {
            found,
            percent,
            unwrapped,
        } = scratch;
        found.clear();
        self.matcher
            .search(&self.forms, output, at_end, None, found);
        regions::find(
            output,
            at_end,
            self.percent.as_ref().map(|reach| (reach, &mut *percent)),
            self.unwrapped
                .as_ref()
                .map(|reach| (reach, &mut *unwrapped)),
        );
        if self.percent.is_some() {
            self.search_regions(
                View::percent_decoded,
                Search::Text,
                percent,
                output,
                at_end,
                found,
            );
        }
        if self.unwrapped.is_some() {
            self.search_regions(
                View::unwrapped,
                Search::Base64,
                unwrapped,
                output,
                at_end,
                found,
            );
        }
    }

    /// Searches the view `build` makes of `regions` of the output for the
    /// forms searched `only` there.
    fn search_regions(
        &self,
        build: fn(&[u8], &[Range<usize>], bool) -> View,
        only: Search,
        regions: &[Range<usize>],
        output: &[u8],
        at_end: bool,
        found: &mut Found,
    ) {
        // A region at the end of an output that goes on is searched on its
        // own, for what it must hold back; the others are decided.
        let (decided, open) = match regions.split_last() {
            Some((last, rest)) if !at_end && last.end == output.len() => (rest, Some(last)),
            _ => (regions, None),
        };
        if !decided.is_empty() {
            let view = build(output, decided, true);
            let mut in_view = Found::default();
            self.matcher
                .search(&self.forms, &view.bytes, true, Some(only), &mut in_view);
            found.matches.extend(
                in_view
                    .matches
                    .iter()
                    .filter_map(|range| view.to_output(range)),
            );
        }
        if let Some(open) = open {
            let view = build(output, std::slice::from_ref(open), false);
            self.search_view(&view, only, output, false, found);
        }
    }

    /// Searches a view, taking in what it must hold back.
    fn search_view(
        &self,
        view: &View,
        only: Search,
        output: &[u8],
        at_end: bool,
        found: &mut Found,
    ) {
        let mut in_view = Found::default();
        self.matcher
            .search(&self.forms, &view.bytes, at_end, Some(only), &mut in_view);
        found.matches.extend(
            in_view
                .matches
                .iter()
                .filter_map(|range| view.to_output(range)),
        );
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

    /// What [`Matchers::search`] finds, found the slow way: each view built
    /// over the whole output (the unwrapped one when it has a line break)
    /// and searched in full. The fast path must find the same.
    #[cfg(test)]
    fn search_whole_views(&self, output: &[u8], at_end: bool, found: &mut Found) {
        found.clear();
        let whole: Vec<Range<usize>> = std::iter::once(0..output.len()).collect();
        self.matcher
            .search(&self.forms, output, at_end, Some(Search::Text), found);
        if output.contains(&b'%') {
            let view = View::percent_decoded(output, &whole, at_end);
            self.search_view(&view, Search::Text, output, at_end, found);
        }
        if output.contains(&b'\n') || output.contains(&b'\r') {
            let view = View::unwrapped(output, &whole, at_end);
            self.search_view(&view, Search::Base64, output, at_end, found);
        } else {
            self.matcher
                .search(&self.forms, output, at_end, Some(Search::Base64), found);
        }
    }
}

#[cfg(test)]
mod tests;
