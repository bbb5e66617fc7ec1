//! Views of the output in which an encoded form reads as its plain form:
//! percent-escapes decoded (either case of hex digits, any choice of which
//! bytes were escaped), and single line breaks skipped (wrapped base64).
//! Each view maps its bytes back to the output bytes they came from.
//!
//! Both are local: whether a byte is decoded or skipped depends on at most
//! [`CONTEXT`] bytes before it and two after it. The bytes whose fate
//! depends on bytes not yet seen are left out of the view, and
//! [`View::undecided_from`] says where they start.

use std::ops::Range;

use zeroize::Zeroizing;

/// How many bytes before a position decide how it is viewed.
pub(super) const CONTEXT: usize = 4;

/// A view of an output buffer that remembers where its bytes came from.
pub(super) struct View {
    pub bytes: Zeroizing<Vec<u8>>,
    /// `(i, shift)`: from view byte `i` on, view byte `j` came from output
    /// byte `j + shift` (until the next entry). One entry per escape or
    /// skipped line break, so the map stays small for ordinary output.
    shifts: Vec<(usize, usize)>,
    /// Escapes are 3 output bytes for one view byte; skipped line breaks
    /// are gaps between view bytes of one output byte each.
    escapes: bool,
    /// How many output bytes the view covers.
    consumed: usize,
    /// Output bytes from here on are not in the view yet.
    pub undecided_from: Option<usize>,
}

impl View {
    /// The output range of a range of view bytes (non-empty).
    pub(super) fn to_output(&self, range: &Range<usize>) -> Range<usize> {
        let last = range.end - 1;
        let end = if self.escapes {
            self.output_position(last + 1)
        } else {
            self.output_position(last) + 1
        };
        self.output_position(range.start)..end
    }

    /// The output position of view byte `at` (the end of the covered
    /// output for `at == bytes.len()`).
    pub(super) fn output_position(&self, at: usize) -> usize {
        if at >= self.bytes.len() {
            return self.consumed;
        }
        let entry = self.shifts.partition_point(|&(from, _)| from <= at);
        at + entry.checked_sub(1).map_or(0, |entry| self.shifts[entry].1)
    }

    fn with_capacity(capacity: usize, escapes: bool) -> Self {
        Self {
            bytes: Zeroizing::new(Vec::with_capacity(capacity)),
            shifts: Vec::new(),
            escapes,
            consumed: 0,
            undecided_from: None,
        }
    }

    /// Appends a view byte that came from output bytes `from`.
    fn push(&mut self, byte: u8, from: Range<usize>) {
        self.note_shift(from.start);
        self.bytes.push(byte);
        self.consumed = from.end;
    }

    /// Appends `output[from]` as it is: one view byte per output byte.
    fn push_run(&mut self, output: &[u8], from: Range<usize>) {
        if from.is_empty() {
            return;
        }
        self.note_shift(from.start);
        self.bytes.extend_from_slice(&output[from.clone()]);
        self.consumed = from.end;
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
    /// else as itself. Without `at_end`, a trailing `%` or `%H` is left out.
    pub(super) fn percent_decoded(output: &[u8], at_end: bool) -> Self {
        let mut view = Self::with_capacity(output.len(), true);
        let mut at = 0;
        // Runs without `%` are copied whole: ordinary output has few escapes.
        while let Some(offset) = memchr::memchr(b'%', &output[at..]) {
            let percent = at + offset;
            view.push_run(output, at..percent);
            match (output.get(percent + 1), output.get(percent + 2)) {
                (Some(&high), Some(&low)) => {
                    if let (Some(high), Some(low)) = (hex(high), hex(low)) {
                        view.push(high << 4 | low, percent..percent + 3);
                        at = percent + 3;
                        continue;
                    }
                }
                _ if !at_end => {
                    view.undecided_from = Some(percent);
                    return view;
                }
                _ => {}
            }
            view.push(b'%', percent..percent + 1);
            at = percent + 1;
        }
        view.push_run(output, at..output.len());
        view
    }

    /// The output without single line breaks (`\n` or `\r\n` between two
    /// bytes that are not line-break bytes): base64 wrapped at any width
    /// reads as one run. Blank lines and the edges of the output stay, so a
    /// match never joins two paragraphs. Without `at_end`, trailing
    /// line-break bytes are left out of the view but not held back.
    pub(super) fn unwrapped(output: &[u8], at_end: bool) -> Self {
        let is_break = |byte: u8| byte == b'\n' || byte == b'\r';
        let mut view = Self::with_capacity(output.len(), false);
        let mut at = 0;
        while let Some(offset) = memchr::memchr2(b'\n', b'\r', &output[at..]) {
            let run_start = at + offset;
            view.push_run(output, at..run_start);
            let run_end = output[run_start..]
                .iter()
                .position(|&b| !is_break(b))
                .map_or(output.len(), |len| run_start + len);
            if run_end == output.len() && !at_end {
                // Whether these breaks are skipped depends on what comes
                // next, so they stay out of the view; they hold nothing
                // back themselves (no match starts at a line break), so a
                // line is written as soon as it ends.
                return view;
            }
            let run = &output[run_start..run_end];
            let single = run == b"\n" || run == b"\r\n";
            let inside = run_start > 0 && run_end < output.len();
            if !(single && inside) {
                view.push_run(output, run_start..run_end);
            }
            at = run_end;
        }
        view.push_run(output, at..output.len());
        view
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

    #[test]
    fn percent_view_decodes_either_case_and_maps_back() {
        let view = View::percent_decoded(b"a%2fb%2Fc%zz%", true);
        assert_eq!(&view.bytes[..], b"a/b/c%zz%");
        assert_eq!(view.to_output(&(1..4)), 1..8);
        let view = View::percent_decoded(b"ab%2", false);
        assert_eq!(&view.bytes[..], b"ab");
        assert_eq!(view.undecided_from, Some(2));
    }

    #[test]
    fn unwrapped_view_skips_single_breaks_only() {
        let view = View::unwrapped(b"ab\ncd\r\nef\n\ngh\n", true);
        assert_eq!(&view.bytes[..], b"abcdef\n\ngh\n");
        assert_eq!(view.to_output(&(1..5)), 1..8);
        let view = View::unwrapped(b"ab\r", false);
        assert_eq!(&view.bytes[..], b"ab");
        assert_eq!(view.undecided_from, None);
    }
}
