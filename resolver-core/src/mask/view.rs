//! Views of the output in which an encoded form reads as its plain form:
//! percent-escapes decoded (either case of hex digits, any choice of which
//! bytes were escaped), and single line breaks skipped (wrapped base64).
//! Each view maps its bytes back to the output bytes they came from.
//!
//! A view covers some regions of the output (see `regions`), one after the
//! other: a match that runs from one region into the next is no match, as
//! the bytes between them are not in the view. Within a region, whether a
//! byte is decoded or skipped depends on at most [`CONTEXT`] bytes before
//! it and two after it. The bytes whose fate depends on bytes not yet seen
//! are left out of the view, and [`View::undecided_from`] says where they
//! start.

use std::ops::Range;

use zeroize::Zeroizing;

/// How many bytes before a position decide how it is viewed.
pub(super) const CONTEXT: usize = 4;

/// A view of regions of an output buffer that remembers where its bytes
/// came from.
pub(super) struct View {
    pub bytes: Zeroizing<Vec<u8>>,
    /// `(i, shift)`: from view byte `i` on, view byte `j` came from output
    /// byte `j + shift` (until the next entry). One entry per escape,
    /// skipped line break or gap between regions, so the map stays small.
    shifts: Vec<(usize, usize)>,
    /// `(i, end)`: a region's view bytes start at view byte `i`, and it
    /// covers the output up to `end`.
    regions: Vec<(usize, usize)>,
    /// Escapes are 3 output bytes for one view byte; skipped line breaks
    /// are gaps between view bytes of one output byte each.
    escapes: bool,
    /// Output bytes from here on are not in the view yet.
    pub undecided_from: Option<usize>,
}

impl View {
    /// The output range of a range of view bytes (non-empty), or `None`
    /// when it runs from one region into the next.
    pub(super) fn to_output(&self, range: &Range<usize>) -> Option<Range<usize>> {
        let region = self.region_of(range.start);
        let (region_end, output_end) = self.region_end(region);
        if range.end > region_end {
            return None;
        }
        let end = if range.end == region_end {
            output_end
        } else if self.escapes {
            self.output_position(range.end)
        } else {
            self.output_position(range.end - 1) + 1
        };
        Some(self.output_position(range.start)..end)
    }

    /// The output position of view byte `at` (the end of the covered
    /// output for `at == bytes.len()`).
    pub(super) fn output_position(&self, at: usize) -> usize {
        if at >= self.bytes.len() {
            return self.regions.last().map_or(0, |&(_, end)| end);
        }
        let entry = self.shifts.partition_point(|&(from, _)| from <= at);
        at + entry.checked_sub(1).map_or(0, |entry| self.shifts[entry].1)
    }

    /// The region that view byte `at` belongs to.
    fn region_of(&self, at: usize) -> usize {
        self.regions
            .partition_point(|&(start, _)| start <= at)
            .saturating_sub(1)
    }

    /// Where region `region` ends, in view bytes and in output bytes.
    fn region_end(&self, region: usize) -> (usize, usize) {
        let view_end = self
            .regions
            .get(region + 1)
            .map_or(self.bytes.len(), |&(start, _)| start);
        let output_end = self.regions.get(region).map_or(0, |&(_, end)| end);
        (view_end, output_end)
    }

    fn with_capacity(capacity: usize, escapes: bool) -> Self {
        Self {
            bytes: Zeroizing::new(Vec::with_capacity(capacity)),
            shifts: Vec::new(),
            regions: Vec::new(),
            escapes,
            undecided_from: None,
        }
    }

    /// A new region starts at output byte `start`.
    fn start_region(&mut self, start: usize) {
        self.regions.push((self.bytes.len(), start));
    }

    /// Appends a view byte that came from output bytes `from`.
    fn push(&mut self, byte: u8, from: Range<usize>) {
        self.note_shift(from.start);
        self.bytes.push(byte);
        self.covered(from.end);
    }

    /// Appends `output[from]` as it is: one view byte per output byte.
    fn push_run(&mut self, output: &[u8], from: Range<usize>) {
        if from.is_empty() {
            return;
        }
        self.note_shift(from.start);
        self.bytes.extend_from_slice(&output[from.clone()]);
        self.covered(from.end);
    }

    /// The current region covers the output up to `end`.
    fn covered(&mut self, end: usize) {
        if let Some(region) = self.regions.last_mut() {
            region.1 = end;
        }
    }

    /// The next view byte comes from output byte `output_at`.
    fn note_shift(&mut self, output_at: usize) {
        let index = self.bytes.len();
        let shift = output_at - index;
        if self.shifts.last().map_or(0, |&(_, last)| last) != shift {
            self.shifts.push((index, shift));
        }
    }

    /// `%HH` (hex in either case) read as the byte it encodes; anything
    /// else as itself, in each of `regions` (in order, not overlapping, and
    /// never cutting an escape). Without `at_end`, a trailing `%` or `%H`
    /// of the output is left out.
    pub(super) fn percent_decoded(output: &[u8], regions: &[Range<usize>], at_end: bool) -> Self {
        let size = regions.iter().map(ExactSizeIterator::len).sum();
        let mut view = Self::with_capacity(size, true);
        for region in regions {
            let within = &output[..region.end];
            // The output goes on after a region that ends before it.
            let at_end = at_end || region.end < output.len();
            view.start_region(region.start);
            if !view.decode_region(within, region.start, at_end) {
                break;
            }
        }
        view
    }

    /// Decodes `output[start..]`; false when its end is left undecided.
    fn decode_region(&mut self, output: &[u8], start: usize, at_end: bool) -> bool {
        let mut at = start;
        // Runs without `%` are copied whole: ordinary output has few escapes.
        while let Some(offset) = memchr::memchr(b'%', &output[at..]) {
            let percent = at + offset;
            self.push_run(output, at..percent);
            match (output.get(percent + 1), output.get(percent + 2)) {
                (Some(&high), Some(&low)) => {
                    if let (Some(high), Some(low)) = (hex(high), hex(low)) {
                        self.push(high << 4 | low, percent..percent + 3);
                        at = percent + 3;
                        continue;
                    }
                }
                // `%` or `%H` at the end: an escape if hex digits follow.
                (high, None) if !at_end && high.is_none_or(|&high| hex(high).is_some()) => {
                    self.undecided_from = Some(percent);
                    return false;
                }
                _ => {}
            }
            self.push(b'%', percent..percent + 1);
            at = percent + 1;
        }
        self.push_run(output, at..output.len());
        true
    }

    /// The output without single line breaks (`\n` or `\r\n` between two
    /// bytes that are not line-break bytes), in each of `regions`: base64
    /// wrapped at any width reads as one run. Blank lines and the edges of
    /// a region stay, so a match never joins two paragraphs. Without
    /// `at_end`, trailing line-break bytes of the output that may still
    /// become a single break are left out of the view but not held back.
    pub(super) fn unwrapped(output: &[u8], regions: &[Range<usize>], at_end: bool) -> Self {
        let size = regions.iter().map(ExactSizeIterator::len).sum();
        let mut view = Self::with_capacity(size, false);
        for region in regions {
            let at_end = at_end || region.end < output.len();
            view.start_region(region.start);
            view.unwrap_region(&output[..region.end], region.start, at_end);
        }
        view
    }

    /// Unwraps `output[start..]`.
    fn unwrap_region(&mut self, output: &[u8], start: usize, at_end: bool) {
        let is_break = |byte: u8| byte == b'\n' || byte == b'\r';
        let mut at = start;
        while let Some(offset) = memchr::memchr2(b'\n', b'\r', &output[at..]) {
            let run_start = at + offset;
            self.push_run(output, at..run_start);
            let run_end = output[run_start..]
                .iter()
                .position(|&b| !is_break(b))
                .map_or(output.len(), |len| run_start + len);
            let run = &output[run_start..run_end];
            if run_end == output.len() && !at_end && matches!(run, b"\n" | b"\r" | b"\r\n") {
                // Whether these breaks are skipped depends on what comes
                // next, so they stay out of the view; they hold nothing
                // back themselves (no match starts at a line break), so a
                // line is written as soon as it ends. A longer run is never
                // skipped, whatever follows.
                return;
            }
            let single = run == b"\n" || run == b"\r\n";
            let inside = run_start > start && run_end < output.len();
            if !(single && inside) {
                self.push_run(output, run_start..run_end);
            }
            at = run_end;
        }
        self.push_run(output, at..output.len());
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One region, the whole output.
    fn whole(output: &[u8]) -> Vec<Range<usize>> {
        std::iter::once(0..output.len()).collect()
    }

    #[test]
    fn percent_view_decodes_either_case_and_maps_back() {
        let output = b"a%2fb%2Fc%zz%";
        let view = View::percent_decoded(output, &whole(output), true);
        assert_eq!(&view.bytes[..], b"a/b/c%zz%");
        assert_eq!(view.to_output(&(1..4)), Some(1..8));
        let view = View::percent_decoded(b"ab%2", &whole(b"ab%2"), false);
        assert_eq!(&view.bytes[..], b"ab");
        assert_eq!(view.undecided_from, Some(2));
    }

    #[test]
    fn unwrapped_view_skips_single_breaks_only() {
        let output = b"ab\ncd\r\nef\n\ngh\n";
        let view = View::unwrapped(output, &whole(output), true);
        assert_eq!(&view.bytes[..], b"abcdef\n\ngh\n");
        assert_eq!(view.to_output(&(1..5)), Some(1..8));
        let view = View::unwrapped(b"ab\r", &whole(b"ab\r"), false);
        assert_eq!(&view.bytes[..], b"ab");
        assert_eq!(view.undecided_from, None);
    }

    #[test]
    fn regions_are_viewed_apart_and_map_back_to_their_own_bytes() {
        let output = b"xx%41b yy zz%42%43 end";
        let view = View::percent_decoded(output, &[0..6, 10..18], true);
        assert_eq!(&view.bytes[..], b"xxAbzzBC");
        // Within a region, up to its end.
        assert_eq!(view.to_output(&(2..4)), Some(2..6));
        assert_eq!(view.to_output(&(4..8)), Some(10..18));
        assert_eq!(view.to_output(&(6..8)), Some(12..18));
        // Across the gap between them: no match.
        assert_eq!(view.to_output(&(3..5)), None);
        assert_eq!(view.output_position(5), 11);
        assert_eq!(view.output_position(8), 18);
    }
}
