//! Masking one stream chunk by chunk with the same result as masking it
//! whole: every byte inside any match is masked, overlapping matches become
//! one `[MASKED]`, and only the bytes that a match may still need are held
//! back.

use std::sync::Arc;

use zeroize::{Zeroize as _, Zeroizing};

use super::view::CONTEXT;
use super::{MASK, Matchers, Scratch, zeroized};

/// Bytes of a chunk searched together with the bytes held back before it.
/// Enough for what is usually held back (the start of a fingerprint, an
/// escape, a line break) to be decided; when it is not, the chunk is
/// joined whole, as before. Small, because these bytes are copied and
/// searched twice.
const JOIN: usize = 256;

/// Masks one stream. Feed it chunks as they arrive; it holds back only the
/// bytes that could still be part of a secret.
pub struct StreamMasker {
    matchers: Option<Arc<Matchers>>,
    /// Unwritten bytes, after `decided` bytes kept only as context for the
    /// views (whether a line break is skipped, where a `%` escape starts).
    pending: Zeroizing<Vec<u8>>,
    /// `pending[..decided]` is written out; no match starts in it that was
    /// not already handled.
    decided: usize,
    /// `pending[..masked_to]` lies inside the last `[MASKED]` written: a
    /// match that starts before it extends that mask instead of adding one.
    masked_to: usize,
    /// Until `pending` is this long, the match that holds output back
    /// cannot be decided, so feeding does not search again (a long value
    /// arriving in small reads would otherwise be searched over and over).
    recheck_at: usize,
    /// How many bytes of a chunk are copied to be searched with the bytes
    /// held back from before it (see [`StreamMasker::feed_into`]).
    join: usize,
    /// Reused by every search, so that feeding allocates nothing once the
    /// stream is under way.
    scratch: Scratch,
}

impl std::fmt::Debug for StreamMasker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMasker")
            .field("pending_bytes", &self.pending.len())
            .finish()
    }
}

impl StreamMasker {
    pub(super) fn new(matchers: Option<Arc<Matchers>>) -> Self {
        Self {
            matchers,
            pending: Zeroizing::new(Vec::new()),
            decided: 0,
            masked_to: 0,
            recheck_at: 0,
            join: JOIN,
            scratch: Scratch::default(),
        }
    }

    /// The same masker copying `join` bytes of each chunk instead of
    /// [`JOIN`], so that tests reach the in-place path with small chunks.
    #[cfg(test)]
    pub(super) fn with_join(mut self, join: usize) -> Self {
        self.join = join;
        self
    }

    /// `input` masked in one search, with no chunk searched in place: what
    /// every way of feeding it must give.
    #[cfg(test)]
    pub(super) fn mask_in_one_search(mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        zeroized::extend(&mut self.pending, input);
        self.step(true, &mut out);
        out
    }

    /// Takes a chunk; returns the bytes that are safe to write now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out);
        out
    }

    /// Takes a chunk; appends the bytes that are safe to write now to
    /// `out`, so that a caller that reuses `out` allocates nothing per chunk.
    ///
    /// The chunk is searched where it lies: only the bytes held back from
    /// before and the first 256 bytes (`JOIN`) of the chunk are copied, to be
    /// searched together; once what was held back is decided, the rest of
    /// the chunk is masked in place, and only its own undecided tail is
    /// kept. (Copying every chunk into a buffer first, and from there into
    /// `out`, cost more than the search.)
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(matchers) = self.matchers.as_deref() else {
            out.extend_from_slice(chunk);
            return;
        };
        if chunk.is_empty() {
            return;
        }
        let held = self.pending.len();
        if held + chunk.len() < self.recheck_at {
            zeroized::extend(&mut self.pending, chunk);
            return;
        }
        // The held bytes and enough of the chunk to decide them: at least
        // what the match that holds them back is waiting for.
        let join = self
            .join
            .max(self.recheck_at.saturating_sub(held))
            .min(chunk.len());
        zeroized::extend(&mut self.pending, &chunk[..join]);
        let joined = mask_step(
            matchers,
            &mut self.scratch,
            &self.pending,
            self.decided,
            self.masked_to,
            false,
            out,
        );
        if join == chunk.len() || joined.keep_from() < held {
            // The chunk is used up, or a match that started before it is
            // still undecided (a long value arriving in pieces): the rest of
            // the chunk waits with it, as a chunk that is not searched in
            // place would.
            self.keep(joined, false);
            if join < chunk.len() {
                zeroized::extend(&mut self.pending, &chunk[join..]);
                if self.pending.len() >= self.recheck_at {
                    self.step(false, out);
                }
            }
            return;
        }
        // What is kept of the joined bytes is the chunk's own: the rest of
        // the chunk is searched where it lies, those bytes its start, just
        // as if the chunk had come in two reads.
        let from = joined.keep_from() - held;
        let rest = &chunk[from..];
        let step = mask_step(
            matchers,
            &mut self.scratch,
            rest,
            joined.hold_from - joined.keep_from(),
            joined.masked_to.saturating_sub(joined.keep_from()),
            false,
            out,
        );
        // Only the bytes it holds: its spare capacity was zeroed when it
        // last shrank, and zeroing all of it would cost a memset of the
        // largest value ever held back, per chunk.
        self.pending.as_mut_slice().zeroize();
        self.pending.clear();
        zeroized::extend(&mut self.pending, &rest[step.keep_from()..]);
        self.take_state(step, false);
    }

    /// The writer paused: emit everything except what a match may still
    /// need, so interactive output is not delayed while secrets stay
    /// masked. (Feeding already holds back no more than that; this exists
    /// so that callers need not know.)
    pub fn flush_pause(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.flush_pause_into(&mut out);
        out
    }

    /// [`StreamMasker::flush_pause`], appending to `out`.
    pub fn flush_pause_into(&mut self, out: &mut Vec<u8>) {
        self.step(false, out);
    }

    /// End of stream: emit everything.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.finish_into(&mut out);
        out
    }

    /// [`StreamMasker::finish`], appending to `out`.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.step(true, out);
    }

    /// Masks what is pending, keeping what a match may still need.
    fn step(&mut self, at_end: bool, out: &mut Vec<u8>) {
        let Some(matchers) = self.matchers.as_deref() else {
            return;
        };
        if self.pending.len() == self.decided {
            // Nothing new since the last step: nothing to write or search.
            return;
        }
        let step = mask_step(
            matchers,
            &mut self.scratch,
            &self.pending,
            self.decided,
            self.masked_to,
            at_end,
            out,
        );
        self.keep(step, at_end);
    }

    /// Drops from `pending` what `step` no longer needs, and remembers
    /// where it stopped.
    fn keep(&mut self, step: Step, at_end: bool) {
        let keep_from = step.keep_from();
        // Moved to the front of the same buffer, which keeps its capacity
        // for the next chunk; the bytes it no longer holds are zeroed.
        let kept = self.pending.len() - keep_from;
        self.pending.copy_within(keep_from.., 0);
        self.pending[kept..].zeroize();
        self.pending.truncate(kept);
        self.take_state(step, at_end);
    }

    /// The state after `step`, once `pending` holds what it keeps.
    fn take_state(&mut self, step: Step, at_end: bool) {
        let keep_from = step.keep_from();
        self.decided = step.hold_from - keep_from;
        self.masked_to = step.masked_to.saturating_sub(keep_from);
        self.recheck_at = step
            .recheck_at
            .filter(|_| !at_end)
            .map_or(0, |at| at.saturating_sub(keep_from));
    }
}

/// Where one search of a stretch of output stopped, in its positions.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Nothing from here on is written yet.
    hold_from: usize,
    /// The last `[MASKED]` written covers the output up to here.
    masked_to: usize,
    /// Searching again is wasted before the output is this long.
    recheck_at: Option<usize>,
}

impl Step {
    /// Where the bytes to keep start: what a match may still need, and
    /// context for the views before it.
    fn keep_from(&self) -> usize {
        self.hold_from.saturating_sub(CONTEXT)
    }
}

/// Masks `data[decided..]` into `out`, up to what a match may still need
/// (everything when `at_end`). `data[..decided]` was written before;
/// `data[..masked_to]` lies inside the last `[MASKED]` written.
fn mask_step(
    matchers: &Matchers,
    scratch: &mut Scratch,
    data: &[u8],
    decided: usize,
    masked_to: usize,
    at_end: bool,
    out: &mut Vec<u8>,
) -> Step {
    matchers.search(data, at_end, scratch);
    let found = &mut scratch.found;
    // Where a match may start that needs more bytes: nothing from there
    // on is written yet.
    let hold_from = if at_end {
        data.len()
    } else {
        found
            .incomplete_from
            .unwrap_or(data.len())
            .clamp(decided, data.len())
    };
    found
        .matches
        .sort_unstable_by_key(|found| (found.start, found.end));

    out.reserve(hold_from.saturating_sub(decided));
    // Bytes before `written` are in `out` or were written before.
    let mut written = decided.max(masked_to);
    let mut masked_to = masked_to;
    // Matches that start in what was decided before were handled then.
    for found in found.matches.iter().filter(|found| found.start >= decided) {
        if found.start < masked_to {
            masked_to = masked_to.max(found.end);
        } else if found.start < hold_from {
            out.extend_from_slice(&data[written..found.start]);
            out.extend_from_slice(MASK);
            masked_to = found.end;
        } else {
            break;
        }
        written = written.max(masked_to);
    }
    if hold_from > written {
        out.extend_from_slice(&data[written..hold_from]);
    }
    Step {
        hold_from,
        masked_to,
        recheck_at: found.recheck_at,
    }
}
