//! Finding forms in a haystack: an Aho-Corasick automaton over short
//! fingerprints (the first [`FINGERPRINT_LEN`] bytes of each form), each hit
//! verified against the whole form. The automaton stays small however long
//! the values are, so building it is linear in the total size of the values.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use zeroize::Zeroizing;

use super::forms::{Alphabet, Form, Forms};

/// Long enough that a hit is almost always a real match, short enough that
/// the automaton of a thousand values stays a few MiB.
const FINGERPRINT_LEN: usize = 32;

/// Forms of one search kind, found through their fingerprints.
pub(super) struct Matcher {
    automaton: AhoCorasick,
    /// Fingerprint `i` is `fingerprint_bytes[fingerprints[i]]`.
    fingerprint_bytes: Zeroizing<Vec<u8>>,
    fingerprints: Vec<Range<usize>>,
    /// The forms that begin with fingerprint `i`.
    candidates: Vec<Vec<usize>>,
    /// Fingerprint ids in byte order, to find prefixes by binary search.
    sorted: Vec<usize>,
    longest_fingerprint: usize,
}

/// What a search of a haystack found.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Complete matches, in haystack positions.
    pub matches: Vec<Range<usize>>,
    /// The first position where a match may start that needs bytes not yet
    /// in the haystack.
    pub incomplete_from: Option<usize>,
    /// No earlier than this haystack length can the match at
    /// `incomplete_from` be decided; searching again before that is wasted
    /// work.
    pub recheck_at: Option<usize>,
}

impl Found {
    /// Output from `from` on must wait; the match that may start there is
    /// decided once the haystack is `recheck_at` long. Only the earliest
    /// hold matters: nothing after it can be written before it is decided.
    pub(super) fn hold(&mut self, from: usize, recheck_at: usize) {
        match self.incomplete_from {
            Some(earliest) if earliest < from => {}
            Some(earliest) if earliest == from => {
                self.recheck_at = Some(
                    self.recheck_at
                        .map_or(recheck_at, |old| old.min(recheck_at)),
                );
            }
            _ => {
                self.incomplete_from = Some(from);
                self.recheck_at = Some(recheck_at);
            }
        }
    }
}

impl Matcher {
    /// `None` when no form is given.
    pub(super) fn new(forms: &Forms, ids: impl Iterator<Item = usize>) -> Option<Self> {
        let mut fingerprint_bytes = Zeroizing::new(Vec::new());
        let mut keyed: Vec<(Range<usize>, usize)> = Vec::new();
        for id in ids {
            let form = &forms.forms[id];
            let bytes = forms.form_bytes(form);
            let start = fingerprint_bytes.len();
            fingerprint_bytes.extend(
                bytes[..bytes.len().min(FINGERPRINT_LEN)]
                    .iter()
                    .map(|&byte| form.alphabet.translate(byte)),
            );
            keyed.push((start..fingerprint_bytes.len(), id));
        }
        if keyed.is_empty() {
            return None;
        }
        keyed.sort_by(|a, b| fingerprint_bytes[a.0.clone()].cmp(&fingerprint_bytes[b.0.clone()]));
        let mut fingerprints: Vec<Range<usize>> = Vec::new();
        let mut candidates: Vec<Vec<usize>> = Vec::new();
        for (range, id) in keyed {
            match fingerprints.last() {
                Some(last)
                    if fingerprint_bytes[last.clone()] == fingerprint_bytes[range.clone()] =>
                {
                    if let Some(list) = candidates.last_mut() {
                        list.push(id);
                    }
                }
                _ => {
                    fingerprints.push(range);
                    candidates.push(vec![id]);
                }
            }
        }
        // Sorted above, so ids are in byte order already.
        let sorted = (0..fingerprints.len()).collect();
        let longest_fingerprint = fingerprints.iter().map(|r| r.len()).max().unwrap_or(0);
        // A DFA is fastest but its size grows with the alphabet times the
        // states; the contiguous NFA stays near the size of the patterns.
        let kind = if fingerprint_bytes.len() <= 64 * 1024 {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(fingerprints.iter().map(|r| &fingerprint_bytes[r.clone()]))
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(fingerprints.iter().map(|r| &fingerprint_bytes[r.clone()]))
            })
            .ok()?;
        Some(Self {
            automaton,
            fingerprint_bytes,
            fingerprints,
            candidates,
            sorted,
            longest_fingerprint,
        })
    }

    /// Every match of a form in `haystack` and, unless `at_end`, where the
    /// earliest match that could still complete with more bytes starts.
    pub(super) fn search(&self, forms: &Forms, haystack: &[u8], at_end: bool, found: &mut Found) {
        for hit in self.automaton.find_overlapping_iter(haystack) {
            let start = hit.start();
            let rest = &haystack[start..];
            for &id in &self.candidates[hit.pattern().as_usize()] {
                let form = &forms.forms[id];
                let pattern = forms.form_bytes(form);
                if rest.len() >= pattern.len() {
                    if equal(&rest[..pattern.len()], pattern, form) {
                        found.matches.push(start..start + pattern.len());
                    }
                } else if !at_end && equal(rest, &pattern[..rest.len()], form) {
                    found.hold(start, start + pattern.len());
                }
            }
        }
        if !at_end && let Some(len) = self.held_suffix_len(haystack) {
            found.hold(haystack.len() - len, haystack.len() + 1);
        }
    }

    /// The longest suffix of `haystack` that is a proper prefix of a
    /// fingerprint: bytes that may still turn out to start a match.
    fn held_suffix_len(&self, haystack: &[u8]) -> Option<usize> {
        let longest = self
            .longest_fingerprint
            .saturating_sub(1)
            .min(haystack.len());
        (1..=longest).rev().find(|&len| {
            let suffix = &haystack[haystack.len() - len..];
            let at = self
                .sorted
                .partition_point(|&id| self.fingerprint(id) < suffix);
            // The fingerprints that start with `suffix` follow one another
            // from `at`; the first may be `suffix` itself.
            self.sorted[at..].iter().take(2).any(|&id| {
                let fingerprint = self.fingerprint(id);
                fingerprint.len() > len && fingerprint.starts_with(suffix)
            })
        })
    }

    fn fingerprint(&self, id: usize) -> &[u8] {
        &self.fingerprint_bytes[self.fingerprints[id].clone()]
    }
}

fn equal(haystack: &[u8], pattern: &[u8], form: &Form) -> bool {
    match form.alphabet {
        Alphabet::Exact => haystack == pattern,
        Alphabet::Base64Url => haystack
            .iter()
            .zip(pattern)
            .all(|(&seen, &stored)| seen == Alphabet::Base64Url.translate(stored)),
    }
}
