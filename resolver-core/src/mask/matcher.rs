//! Finding forms in a haystack: an Aho-Corasick automaton over short
//! fingerprints (the first [`FINGERPRINT_LEN`] bytes of each form), each hit
//! verified against the whole form. The automaton stays small however long
//! the values are, so building it is linear in the total size of the values.
//!
//! When the fingerprints begin with few distinct prefixes (a handful of
//! values, or values that share a prefix), a SIMD search for those prefixes
//! (Teddy) skips the output that cannot hold a match many times faster than
//! the automaton walks it, and the fingerprints are looked up only where a
//! prefix was found.

use std::collections::BTreeSet;
use std::ops::Range;

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, Span};
use zeroize::Zeroizing;

use super::forms::{Alphabet, Form, Forms, Search};

/// Long enough that a hit is almost always a real match, short enough that
/// the automaton of a thousand values stays a few MiB.
const FINGERPRINT_LEN: usize = 32;

/// Teddy is fast with few prefixes, and a longer prefix means fewer false
/// starts: the longest prefix length (down to [`MIN_PREFIX_LEN`]) with at
/// most [`MAX_PREFIXES`] distinct prefixes is used.
const MAX_PREFIX_LEN: usize = 8;
const MIN_PREFIX_LEN: usize = 3;
const MAX_PREFIXES: usize = 64;

/// Forms of one search kind, found through their fingerprints.
pub(super) struct Matcher {
    automaton: AhoCorasick,
    /// Finds where a fingerprint may start, when the fingerprints have few
    /// distinct prefixes.
    starts: Option<packed::Searcher>,
    /// Fingerprint `i` is `fingerprint_bytes[fingerprints[i]]`.
    fingerprint_bytes: Zeroizing<Vec<u8>>,
    fingerprints: Vec<Range<usize>>,
    /// The forms that begin with fingerprint `i`.
    candidates: Vec<Vec<usize>>,
    /// Fingerprint ids in byte order, to find prefixes by binary search.
    sorted: Vec<usize>,
    longest_fingerprint: usize,
    /// Whether a fingerprint starts with this byte: most suffixes of the
    /// output are no fingerprint's prefix, and this says so without a search.
    first_bytes: [bool; 256],
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
    /// Forgets what an earlier search found, keeping the memory.
    pub(super) fn clear(&mut self) {
        self.matches.clear();
        self.incomplete_from = None;
        self.recheck_at = None;
    }

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
        let mut first_bytes = [false; 256];
        for range in &fingerprints {
            if let Some(&first) = fingerprint_bytes.get(range.start) {
                first_bytes[usize::from(first)] = true;
            }
        }
        let starts = prefix_searcher(fingerprints.iter().map(|r| &fingerprint_bytes[r.clone()]));
        Some(Self {
            automaton,
            starts,
            fingerprint_bytes,
            fingerprints,
            candidates,
            sorted,
            longest_fingerprint,
            first_bytes,
        })
    }

    /// Every match in `haystack` of a form searched `only` in that view (of
    /// any form when `None`) and, unless `at_end`, where the earliest match
    /// that could still complete with more bytes starts.
    pub(super) fn search(
        &self,
        forms: &Forms,
        haystack: &[u8],
        at_end: bool,
        only: Option<Search>,
        found: &mut Found,
    ) {
        let scope = Scope {
            forms,
            only,
            at_end,
        };
        match &self.starts {
            Some(starts) => {
                let mut from = 0;
                while let Some(hit) = starts.find_in(haystack, Span::from(from..haystack.len())) {
                    let start = hit.start();
                    let rest = &haystack[start..];
                    for fingerprint in self.fingerprints_starting(rest) {
                        self.verify(&scope, haystack, start, fingerprint, found);
                    }
                    from = start + 1;
                    if from >= haystack.len() {
                        break;
                    }
                }
            }
            None => {
                for hit in self.automaton.find_overlapping_iter(haystack) {
                    let fingerprint = hit.pattern().as_usize();
                    self.verify(&scope, haystack, hit.start(), fingerprint, found);
                }
            }
        }
        if !at_end && let Some(len) = self.held_suffix_len(&scope, haystack) {
            found.hold(haystack.len() - len, haystack.len() + 1);
        }
    }

    /// The fingerprints that `rest` begins with, as the automaton would
    /// report them at its start (shortest first).
    ///
    /// The fingerprints that begin with `rest[..len]` follow one another
    /// in `sorted`, with `rest[..len]` itself first if it is one; each
    /// longer `len` narrows that run by one byte, and the walk stops once
    /// the run is empty. (A binary search of all fingerprints for every
    /// length up to the longest cost hundreds of comparisons per prefix
    /// hit with a thousand values.)
    fn fingerprints_starting<'a>(&'a self, rest: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let mut run = 0..self.sorted.len();
        (1..=self.longest_fingerprint.min(rest.len()))
            .map_while(move |len| {
                let at = len - 1;
                let byte = Some(&rest[at]);
                // In the run every fingerprint begins with `rest[..at]`:
                // they are ordered by their byte at `at`, none (the
                // fingerprint ends there) first.
                let ids = &self.sorted[run.clone()];
                let start = ids.partition_point(|&id| self.fingerprint(id).get(at) < byte);
                let end = ids.partition_point(|&id| self.fingerprint(id).get(at) <= byte);
                run = run.start + start..run.start + end;
                let first = *self.sorted.get(run.clone())?.first()?;
                Some((self.fingerprint(first).len() == len).then_some(first))
            })
            .flatten()
    }

    /// Checks the forms of fingerprint `fingerprint`, found at `start`.
    fn verify(
        &self,
        scope: &Scope<'_>,
        haystack: &[u8],
        start: usize,
        fingerprint: usize,
        found: &mut Found,
    ) {
        let rest = &haystack[start..];
        for form in self.forms_of(scope, fingerprint) {
            let pattern = scope.forms.form_bytes(form);
            if rest.len() >= pattern.len() {
                if equal(&rest[..pattern.len()], pattern, form) {
                    found.matches.push(start..start + pattern.len());
                }
            } else if !scope.at_end && equal(rest, &pattern[..rest.len()], form) {
                found.hold(start, start + pattern.len());
            }
        }
    }

    /// The forms in scope that begin with fingerprint `fingerprint`.
    fn forms_of<'a>(
        &'a self,
        scope: &'a Scope<'_>,
        fingerprint: usize,
    ) -> impl Iterator<Item = &'a Form> + 'a {
        self.candidates[fingerprint]
            .iter()
            .map(|&id| &scope.forms.forms[id])
            .filter(|form| scope.only.is_none_or(|only| form.search == only))
    }

    /// The longest suffix of `haystack` that is a proper prefix of a
    /// fingerprint: bytes that may still turn out to start a match.
    fn held_suffix_len(&self, scope: &Scope<'_>, haystack: &[u8]) -> Option<usize> {
        let longest = self
            .longest_fingerprint
            .saturating_sub(1)
            .min(haystack.len());
        (1..=longest).rev().find(|&len| {
            let suffix = &haystack[haystack.len() - len..];
            if !self.first_bytes[usize::from(suffix[0])] {
                return false;
            }
            let at = self
                .sorted
                .partition_point(|&id| self.fingerprint(id) < suffix);
            // The fingerprints that start with `suffix` follow one another
            // from `at`; the first may be `suffix` itself.
            // When only some forms are in scope, the fingerprints that start
            // with `suffix` are walked until one of them has such a form.
            self.sorted[at..]
                .iter()
                .take_while(|&&id| self.fingerprint(id).starts_with(suffix))
                .any(|&id| {
                    self.fingerprint(id).len() > len && self.forms_of(scope, id).next().is_some()
                })
        })
    }

    fn fingerprint(&self, id: usize) -> &[u8] {
        &self.fingerprint_bytes[self.fingerprints[id].clone()]
    }
}

/// What a search looks for.
struct Scope<'a> {
    forms: &'a Forms,
    /// Only the forms searched in this view, or all of them.
    only: Option<Search>,
    /// No bytes follow the haystack: nothing is held back.
    at_end: bool,
}

/// A Teddy searcher for the prefixes of `fingerprints`, when they are few
/// (and the CPU has the instructions Teddy needs).
fn prefix_searcher<'a>(
    fingerprints: impl Iterator<Item = &'a [u8]> + Clone,
) -> Option<packed::Searcher> {
    (MIN_PREFIX_LEN..=MAX_PREFIX_LEN).rev().find_map(|len| {
        let prefixes: BTreeSet<&[u8]> = fingerprints
            .clone()
            .map(|fingerprint| &fingerprint[..fingerprint.len().min(len)])
            .collect();
        if prefixes.len() > MAX_PREFIXES {
            return None;
        }
        packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(prefixes)
            .build()
    })
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mask::forms::Search;

    /// Both ways of finding fingerprints, on the same forms.
    fn both_ways(values: &[Vec<u8>], search: Search) -> Option<(Matcher, Matcher, Forms)> {
        let mut forms = Forms::default();
        for value in values {
            forms.add_value(value);
        }
        let ids: Vec<usize> = (0..forms.forms.len())
            .filter(|&id| forms.forms[id].search == search)
            .collect();
        let with_prefixes = Matcher::new(&forms, ids.iter().copied())?;
        let mut automaton_only = Matcher::new(&forms, ids.iter().copied())?;
        automaton_only.starts = None;
        Some((with_prefixes, automaton_only, forms))
    }

    fn outcome(matcher: &Matcher, forms: &Forms, haystack: &[u8], at_end: bool) -> String {
        let mut found = Found::default();
        matcher.search(forms, haystack, at_end, None, &mut found);
        found.matches.sort_by_key(|range| (range.start, range.end));
        format!("{found:?}")
    }

    #[test]
    fn few_shared_prefixes_get_a_prefix_search_and_many_do_not() {
        let shared: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("static-value-{i:04}").into_bytes())
            .collect();
        let (with_prefixes, ..) = both_ways(&shared, Search::Text).unwrap();
        assert!(with_prefixes.starts.is_some());
        let distinct: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("{i:04}-value").into_bytes())
            .collect();
        let (with_prefixes, ..) = both_ways(&distinct, Search::Text).unwrap();
        assert!(with_prefixes.starts.is_none());
    }

    #[test]
    fn the_fingerprints_at_a_position_are_all_those_it_begins_with_shortest_first() {
        // Fingerprints that are prefixes of one another, and some that
        // share a prefix and part.
        let values: Vec<Vec<u8>> = ["abcd", "abcdef", "abcdefgh", "abcx", "abd0", "zzzz"]
            .iter()
            .map(|value| value.as_bytes().to_vec())
            .collect();
        let (matcher, ..) = both_ways(&values, Search::Text).unwrap();
        let haystack = b"abcdefghij abcxyz abd0 abcd abc zzzzz a";
        for at in 0..haystack.len() {
            let rest = &haystack[at..];
            let mut expected: Vec<usize> = (0..matcher.fingerprints.len())
                .filter(|&id| rest.starts_with(matcher.fingerprint(id)))
                .collect();
            expected.sort_by_key(|&id| matcher.fingerprint(id).len());
            let found: Vec<usize> = matcher.fingerprints_starting(rest).collect();
            assert_eq!(found, expected, "at {at}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The prefix search finds exactly what the automaton finds.
        #[test]
        fn the_prefix_search_finds_what_the_automaton_finds(
            values in proptest::collection::vec(
                proptest::collection::vec(prop::sample::select(b"ab01+/=%\n".to_vec()), 4..40),
                1..5,
            ),
            haystack in proptest::collection::vec(prop::sample::select(b"ab01+/=%\nxA".to_vec()), 0..300),
            at_end in any::<bool>(),
        ) {
            for search in [Search::Text, Search::Base64] {
                let Some((with_prefixes, automaton_only, forms)) = both_ways(&values, search) else {
                    continue;
                };
                // Every value, whole or cut, also appears in the haystack.
                let mut haystack = haystack.clone();
                for value in &values {
                    haystack.extend_from_slice(value);
                    haystack.extend_from_slice(&value[..value.len() / 2]);
                }
                prop_assert_eq!(
                    outcome(&with_prefixes, &forms, &haystack, at_end),
                    outcome(&automaton_only, &forms, &haystack, at_end)
                );
            }
        }
    }
}
