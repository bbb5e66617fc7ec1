//! Masking one stream chunk by chunk with the same result as masking it
//! whole: every byte inside any match is masked, overlapping matches become
//! one `[MASKED]`, and only the bytes that a match may still need are held
//! back.

use std::sync::Arc;

use zeroize::{Zeroize as _, Zeroizing};

use super::view::CONTEXT;
use super::{MASK, Matchers};

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
        }
    }

    /// Takes a chunk; returns the bytes that are safe to write now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.matchers.is_none() {
            return chunk.to_vec();
        }
        self.pending.extend_from_slice(chunk);
        if self.pending.len() < self.recheck_at {
            return Vec::new();
        }
        self.step(false)
    }

    /// The writer paused: emit everything except what a match may still
    /// need, so interactive output is not delayed while secrets stay
    /// masked. (Feeding already holds back no more than that; this exists
    /// so that callers need not know.)
    pub fn flush_pause(&mut self) -> Vec<u8> {
        if self.matchers.is_none() {
            return Vec::new();
        }
        self.step(false)
    }

    /// End of stream: emit everything.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.matchers.is_none() {
            return Vec::new();
        }
        self.step(true)
    }

    fn step(&mut self, at_end: bool) -> Vec<u8> {
        let Some(matchers) = self.matchers.clone() else {
            return Vec::new();
        };
        let data = &self.pending[..];
        let found = matchers.search(data, at_end);
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
        let mut matches: Vec<_> = found
            .matches
            .iter()
            .filter(|found| found.start >= self.decided)
            .cloned()
            .collect();
        matches.sort_by_key(|found| (found.start, found.end));

        let mut out = Vec::with_capacity(data.len() - self.decided);
        // Bytes before `written` are in `out` or were written before.
        let mut written = self.decided.max(self.masked_to);
        let mut masked_to = self.masked_to;
        for found in matches {
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
        out
    }
}
