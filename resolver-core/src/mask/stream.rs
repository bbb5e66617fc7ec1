//! Masking one stream chunk by chunk with the same result as masking it
//! whole: every byte inside any match is masked, overlapping matches become
//! one `[MASKED]`, and only the bytes that a match may still need are held
//! back.

use std::sync::Arc;

use zeroize::{Zeroize as _, Zeroizing};

use super::view::CONTEXT;
use super::{MASK, Matchers, Scratch};

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
            scratch: Scratch::default(),
        }
    }

    /// Takes a chunk; returns the bytes that are safe to write now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out);
        out
    }

    /// Takes a chunk; appends the bytes that are safe to write now to
    /// `out`, so that a caller that reuses `out` allocates nothing per chunk.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.matchers.is_none() {
            out.extend_from_slice(chunk);
            return;
        }
        self.pending.extend_from_slice(chunk);
        if self.pending.len() < self.recheck_at {
            return;
        }
        self.step(false, out);
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

    fn step(&mut self, at_end: bool, out: &mut Vec<u8>) {
        let Some(matchers) = self.matchers.as_deref() else {
            return;
        };
        let data = &self.pending[..];
        if data.len() == self.decided {
            // Nothing new since the last step: nothing to write or search.
            return;
        }
        matchers.search(data, at_end, &mut self.scratch);
        let found = &mut self.scratch.found;
        // Where a match may start that needs more bytes: nothing from there
        // on is written yet.
        let hold_from = if at_end {
            data.len()
        } else {
            found
                .incomplete_from
                .unwrap_or(data.len())
                .clamp(self.decided, data.len())
        };
        found
            .matches
            .sort_unstable_by_key(|found| (found.start, found.end));

        out.reserve(hold_from.saturating_sub(self.decided));
        // Bytes before `written` are in `out` or were written before.
        let mut written = self.decided.max(self.masked_to);
        let mut masked_to = self.masked_to;
        // Matches that start in what was decided before were handled then.
        for found in found
            .matches
            .iter()
            .filter(|found| found.start >= self.decided)
        {
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

        // Keep what a match may still need, plus context for the views.
        let keep_from = hold_from.saturating_sub(CONTEXT);
        // Moved to the front of the same buffer, which keeps its capacity
        // for the next chunk; the bytes it no longer holds are zeroed.
        let kept = self.pending.len() - keep_from;
        self.pending.copy_within(keep_from.., 0);
        self.pending[kept..].zeroize();
        self.pending.truncate(kept);
        self.decided = hold_from - keep_from;
        self.masked_to = masked_to.saturating_sub(keep_from);
        self.recheck_at = found
            .recheck_at
            .filter(|_| !at_end)
            .map_or(0, |at| at.saturating_sub(keep_from));
    }
}
