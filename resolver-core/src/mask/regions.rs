//! Where a view of the output can hold a match that the output as written
//! does not: around a `%` escape that decodes to a byte of some text form,
//! and around a skipped line break between two bytes of base64 forms.
//! Anywhere else a view reads exactly as the output, whose matches the
//! search of the output itself finds; so only these regions are viewed,
//! and ordinary output has few of them (a build log's `%2F` decodes to `/`,
//! and its lines end in no base64 run).
//!
//! A region holds every match through its escape or line break: such a
//! match is made of bytes that its forms have or that the view rewrites,
//! and spans at most [`Reach::longest`] output bytes, so it lies within the
//! run of such bytes around the escape or break, cut at that length.

use std::ops::Range;

/// Which bytes a view's matches are made of, and how far they reach.
#[derive(Debug)]
pub(super) struct Reach {
    /// The bytes of the forms searched in the view, as the view reads them.
    in_form: [bool; 256],
    /// The output bytes a match can span: `in_form`, and the bytes the view
    /// decodes or skips.
    in_match: [bool; 256],
    /// The most output bytes one match can span.
    longest: usize,
}

impl Reach {
    /// For the percent-decoded view, from the text forms' bytes and the
    /// longest text form: an escape is three output bytes for one.
    pub(super) fn percent(in_form: [bool; 256], longest_form: usize) -> Self {
        let mut in_match = in_form;
        for byte in b"%0123456789abcdefABCDEF" {
            in_match[usize::from(*byte)] = true;
        }
        Self {
            in_form,
            in_match,
            longest: longest_form.saturating_mul(3),
        }
    }

    /// For the unwrapped view, from the base64 forms' bytes and the longest
    /// base64 form: a skipped break is at most two output bytes after each
    /// byte of a form.
    pub(super) fn unwrapped(in_form: [bool; 256], longest_form: usize) -> Self {
        let mut in_match = in_form;
        in_match[usize::from(b'\n')] = true;
        in_match[usize::from(b'\r')] = true;
        Self {
            in_form,
            in_match,
            longest: longest_form.saturating_mul(3),
        }
    }
}

/// The regions of `output` where each view must be searched: `percent`
/// for the percent-decoded view, `unwrapped` for the view without single
/// line breaks (each cleared first, in output order, not overlapping; an
/// escape is never cut). Without `at_end`, the `%` or line breaks at the
/// end of the output, whose reading depends on bytes not yet seen, make a
/// region too. One pass over the output finds both.
pub(super) fn find(
    output: &[u8],
    at_end: bool,
    percent: Option<(&Reach, &mut Vec<Range<usize>>)>,
    unwrapped: Option<(&Reach, &mut Vec<Range<usize>>)>,
) {
    let mut percent = percent.map(|(reach, regions)| {
        regions.clear();
        Windows::new(output, reach, regions, true)
    });
    let mut unwrapped = unwrapped.map(|(reach, regions)| {
        regions.clear();
        Windows::new(output, reach, regions, false)
    });
    let (first, second, third) = match (percent.is_some(), unwrapped.is_some()) {
        (true, true) => (b'%', b'\n', b'\r'),
        (true, false) => (b'%', b'%', b'%'),
        (false, true) => (b'\n', b'\r', b'\r'),
        (false, false) => return,
    };
    // One searcher over the whole output: a log has a `%` or line break
    // every few dozen bytes, and starting a fresh search for each costs
    // more than the search itself. Hits inside what a handler already
    // looked at are skipped.
    let mut at = 0;
    let mut visit = |found: usize| {
        if found < at {
            return;
        }
        at = match (output[found], percent.as_mut(), unwrapped.as_mut()) {
            (b'%', Some(windows), _) => windows.escape(found, at_end),
            (_, _, Some(windows)) => windows.line_break(found, at_end),
            _ => found + 1,
        };
    };
    // `memchr3_iter` picks its implementation (and sets up its vectors)
    // again for every hit, which at a hit every few dozen bytes costs as
    // much as the search: a searcher made once for the whole output does not.
    #[cfg(target_arch = "x86_64")]
    if let Some(searcher) = memchr::arch::x86_64::avx2::memchr::Three::new(first, second, third) {
        searcher.iter(output).for_each(&mut visit);
        return;
    }
    memchr::memchr3_iter(first, second, third, output).for_each(visit);
}

/// Builds the regions of one view, a window around each escape or break,
/// merging windows that touch.
struct Windows<'a> {
    output: &'a [u8],
    reach: &'a Reach,
    regions: &'a mut Vec<Range<usize>>,
    /// Escapes must not be cut by a region's edge.
    escapes: bool,
    /// `output[run.clone()]` are all `in_match` bytes; when `run_stops`,
    /// `run.end` is not (or is the end of the output). Remembered so that
    /// windows that overlap do not scan the same bytes again.
    run: Range<usize>,
    run_stops: bool,
}

impl<'a> Windows<'a> {
    fn new(
        output: &'a [u8],
        reach: &'a Reach,
        regions: &'a mut Vec<Range<usize>>,
        escapes: bool,
    ) -> Self {
        Self {
            output,
            reach,
            regions,
            escapes,
            run: 0..0,
            run_stops: false,
        }
    }

    /// A `%` at `at`; returns where to look on. Most `%` in a log are no
    /// escape, or decode to a byte no form has: those cost a table lookup.
    fn escape(&mut self, at: usize, at_end: bool) -> usize {
        let output = self.output;
        match output.get(at + 1..at + 3) {
            Some(&[high, low]) => {
                let (high, low) = (HEX[usize::from(high)], HEX[usize::from(low)]);
                if high | low < 16 {
                    if self.reach.in_form[usize::from(high << 4 | low)] {
                        self.add(at, at + 3);
                    }
                    return at + 3;
                }
                at + 1
            }
            // `%` or `%H` at the end: an escape or not, depending on what follows.
            _ => {
                let rest = &output[at + 1..];
                if !at_end && rest.iter().all(|&byte| HEX[usize::from(byte)] < 16) {
                    self.add(at, output.len());
                    return output.len();
                }
                at + 1
            }
        }
    }

    /// A line-break byte at `at`; returns where to look on. Only the first
    /// byte of a run of them, after a byte of a form, can start a skipped
    /// break that a match runs across: any other costs a table lookup.
    fn line_break(&mut self, at: usize, at_end: bool) -> usize {
        let output = self.output;
        let before = at
            .checked_sub(1)
            .is_some_and(|before| self.reach.in_form[usize::from(output[before])]);
        if !before {
            return at + 1;
        }
        let run_end = match output.get(at..at + 2) {
            Some(b"\r\n") => at + 2,
            _ if output[at] == b'\n' => at + 1,
            // A lone `\r` at the end may be the start of a `\r\n`.
            _ if at + 1 < output.len() => {
                return at + 1;
            }
            _ => output.len(),
        };
        match output.get(run_end) {
            // Skipped when a single break sits between two bytes of forms.
            Some(&after) if self.reach.in_form[usize::from(after)] => self.add(at, run_end),
            // Skipped or not depending on what follows: what comes before
            // may continue after it.
            None if !at_end => self.add(at, run_end),
            _ => {}
        }
        run_end
    }

    /// The window around the rewritten bytes `rewritten`.
    fn add(&mut self, from: usize, to: usize) {
        let output = self.output;
        let in_match = &self.reach.in_match;
        let longest = self.reach.longest;
        let previous_end = self.regions.last().map_or(0, |region| region.end);
        // Back over bytes no earlier window covers.
        let floor = from.saturating_sub(longest).max(previous_end.min(from));
        let mut start = from
            - output[floor..from]
                .iter()
                .rev()
                .take_while(|&&byte| in_match[usize::from(byte)])
                .count();
        let mut end = self.run_end(to, to.saturating_add(longest).min(output.len()));
        if self.escapes {
            // A window cut at its reach may cut an escape: it takes all of it.
            if let Some(escape) = (start.saturating_sub(2)..start).find(|&at| escape_at(output, at))
            {
                start = escape;
            }
            if let Some(escape) =
                (end.saturating_sub(2)..end).find(|&at| escape_at(output, at) && at + 3 > end)
            {
                end = escape + 3;
            }
        }
        match self.regions.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => self.regions.push(start..end),
        }
    }

    /// Where the run of `in_match` bytes from `from` ends, looking no
    /// further than `limit`.
    fn run_end(&mut self, from: usize, limit: usize) -> usize {
        let in_match = &self.reach.in_match;
        let mut scan_from = from;
        if self.run.contains(&from) || self.run.end == from {
            if self.run_stops {
                return self.run.end.min(limit);
            }
            scan_from = self.run.end.min(limit);
        }
        let end = scan_from
            + self.output[scan_from..limit]
                .iter()
                .take_while(|&&byte| in_match[usize::from(byte)])
                .count();
        let stops = end < limit || limit == self.output.len();
        if !(self.run.contains(&from) || self.run.end == from) {
            self.run.start = from;
        }
        self.run.end = end;
        self.run_stops = stops;
        end
    }
}

/// Whether a `%HH` escape starts at `at`.
fn escape_at(output: &[u8], at: usize) -> bool {
    output.get(at) == Some(&b'%')
        && output
            .get(at + 1..at + 3)
            .is_some_and(|digits| digits.iter().all(|&byte| HEX[usize::from(byte)] < 16))
}

/// The value of each hex digit; 255 for any other byte.
const HEX: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        table[b"0123456789ABCDEF"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(text: &[u8]) -> [bool; 256] {
        let mut bytes = [false; 256];
        for &byte in text {
            bytes[usize::from(byte)] = true;
        }
        bytes
    }

    fn regions(
        output: &[u8],
        at_end: bool,
        forms: &[u8],
        longest: usize,
    ) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
        let percent = Reach::percent(bytes_of(forms), longest);
        let unwrapped = Reach::unwrapped(bytes_of(forms), longest);
        let (mut escapes, mut breaks) = (Vec::new(), Vec::new());
        find(
            output,
            at_end,
            Some((&percent, &mut escapes)),
            Some((&unwrapped, &mut breaks)),
        );
        (escapes, breaks)
    }

    #[test]
    fn a_build_log_has_no_regions() {
        // `%2F` is `/`, which no form has; `100%` is no escape; the line
        // ends after `1` but the next starts with `[`. (Were more to come,
        // the last line's end after the `e` of `done` would be undecided.)
        let log = b"[ 1] 100% done url=https://example.com/a%2Fb?q=1\n[ 2] 100% done\n";
        assert_eq!(
            regions(log, true, b"static-value-0123456789", 17),
            (vec![], vec![])
        );
    }

    #[test]
    fn an_escape_of_a_form_byte_gets_the_run_around_it() {
        let output = b"x: ab%63de yz";
        let (escapes, breaks) = regions(output, true, b"abcde", 5);
        // The run of form bytes, `%` and hex digits around the escape.
        assert_eq!(escapes, vec![3..10]);
        assert!(breaks.is_empty());
    }

    #[test]
    fn a_single_break_between_form_bytes_gets_a_region_and_a_blank_line_none() {
        let output = b"abc\ndef\n\nghi";
        let (_, breaks) = regions(output, true, b"abcdefghi", 8);
        // The run goes on through the blank line (line-break bytes may sit
        // inside a match), which itself is no region.
        assert_eq!(breaks, vec![0..12]);
    }

    #[test]
    fn an_escape_or_break_gets_its_region_at_every_offset() {
        // At the first byte, anywhere in a long output, and near its end,
        // where an escape or a break has fewer bytes after it.
        for offset in 0..140 {
            for tail in [0, 1, 2, 3, 70] {
                let pad = |len| vec![b' '; len];
                let output = [pad(offset), b"ab%63de".to_vec(), pad(tail)].concat();
                let (escapes, _) = regions(&output, true, b"abcde", 5);
                assert_eq!(
                    escapes,
                    vec![offset..offset + 7],
                    "escape at {offset}+{tail}"
                );
                for line_break in [&b"\n"[..], b"\r\n"] {
                    let output = [
                        pad(offset),
                        b"abc".to_vec(),
                        line_break.to_vec(),
                        b"def".to_vec(),
                        pad(tail),
                    ]
                    .concat();
                    let (_, breaks) = regions(&output, true, b"abcdef", 6);
                    let end = offset + 6 + line_break.len();
                    assert_eq!(breaks, vec![offset..end], "break at {offset}+{tail}");
                }
            }
        }
    }

    #[test]
    fn what_may_still_change_at_the_end_gets_a_region_until_the_end() {
        let (escapes, _) = regions(b"ab %6", false, b"ab", 4);
        assert_eq!(escapes, vec![3..5]);
        let (escapes, _) = regions(b"ab %6", true, b"ab", 4);
        assert!(escapes.is_empty());
        let (_, breaks) = regions(b"xx abc\r", false, b"abc", 4);
        assert_eq!(breaks, vec![3..7]);
        let (_, breaks) = regions(b"xx abc\n\n", false, b"abc", 4);
        assert!(breaks.is_empty());
    }
}
