//! The expansion budget of one load: how much the loader may build, in nodes and in bytes of
//! text, over every file and every copy it makes.
//!
//! A small file can describe a huge pipeline: a YAML alias, an `extends:`, a `!reference` or an
//! inherited `default:` value is one line that copies a whole value. Each copy is charged here
//! before it is made, so an amplified input stops after a bounded amount of memory and work,
//! with an error that names the file and, where there is one, the job.

use std::cell::Cell;
use std::fmt;

use serde_norway::{Mapping, Value};

/// How many YAML nodes one load may build, alias replays and copies included: about 20 times
/// the 500-job benchmark pipeline once expanded, and low enough that a load using all of it (a
/// parsed node takes about 100 bytes, more once jobs are built) stays under 256 MiB.
pub const MAX_NODES: usize = 500_000;

/// How many bytes of text (every string, hash keys included) one load may build, alias
/// replays, included files and copies included: 32 times GitLab's 2 MiB limit on one file,
/// about 200 times the text of the 500-job benchmark pipeline once expanded.
pub const MAX_EXPANDED_BYTES: usize = 64 * 1024 * 1024;

/// Which limit of the budget an expansion went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpansionLimit {
    /// [`MAX_NODES`].
    Nodes(usize),
    /// [`MAX_EXPANDED_BYTES`].
    Bytes(usize),
}

impl fmt::Display for ExpansionLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nodes(limit) => write!(f, "{limit} YAML nodes"),
            Self::Bytes(limit) if limit % (1024 * 1024) == 0 => {
                write!(f, "{} MiB of text", limit / (1024 * 1024))
            }
            Self::Bytes(limit) => write!(f, "{limit} bytes of text"),
        }
    }
}

/// The size of a value in the budget's units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Size {
    pub nodes: usize,
    pub bytes: usize,
}

impl Size {
    /// One node holding `bytes` bytes of text.
    pub(crate) fn node(bytes: usize) -> Self {
        Self { nodes: 1, bytes }
    }

    /// The size of `value` and everything in it.
    pub(crate) fn of(value: &Value) -> Self {
        let mut size = Self::default();
        size.add_value(value);
        size
    }

    /// The size of a hash and everything in it.
    pub(crate) fn of_mapping(map: &Mapping) -> Self {
        let mut size = Self::node(0);
        size.add_entries(map);
        size
    }

    /// The size of the keys of a hash (what a copy of its names takes).
    pub(crate) fn of_keys(map: &Mapping) -> Self {
        let mut size = Self::default();
        map.keys().for_each(|key| size.add_value(key));
        size
    }

    fn add_value(&mut self, value: &Value) {
        self.nodes += 1;
        match value {
            Value::String(text) => self.bytes += text.len(),
            Value::Sequence(items) => items.iter().for_each(|item| self.add_value(item)),
            Value::Mapping(map) => self.add_entries(map),
            Value::Tagged(tagged) => {
                self.bytes += tagged.tag.to_string().len();
                self.add_value(&tagged.value);
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn add_entries(&mut self, map: &Mapping) {
        for (key, value) in map {
            self.add_value(key);
            self.add_value(value);
        }
    }
}

/// The budget shared by every step of one load. A clone is a trial: a parse
/// that may give up and start again charges a clone, and only a parse that
/// succeeds [`adopt`](Self::adopt)s what it spent.
#[derive(Debug, Clone)]
pub(crate) struct ExpansionBudget {
    nodes_left: Cell<usize>,
    bytes_left: Cell<usize>,
    exceeded: Cell<Option<ExpansionLimit>>,
}

impl ExpansionBudget {
    pub(crate) fn new() -> Self {
        Self {
            nodes_left: Cell::new(MAX_NODES),
            bytes_left: Cell::new(MAX_EXPANDED_BYTES),
            exceeded: Cell::new(None),
        }
    }

    /// Takes `size` from the budget, before the value is built; the limit it would go over
    /// otherwise (and the budget stays exhausted).
    pub(crate) fn take(&self, size: Size) -> Result<(), ExpansionLimit> {
        if let Some(limit) = self.exceeded.get() {
            return Err(limit);
        }
        let Some(nodes_left) = self.nodes_left.get().checked_sub(size.nodes) else {
            return Err(self.exceed(ExpansionLimit::Nodes(MAX_NODES)));
        };
        let Some(bytes_left) = self.bytes_left.get().checked_sub(size.bytes) else {
            return Err(self.exceed(ExpansionLimit::Bytes(MAX_EXPANDED_BYTES)));
        };
        self.nodes_left.set(nodes_left);
        self.bytes_left.set(bytes_left);
        Ok(())
    }

    /// The limit an earlier [`take`](Self::take) went over, if any: the YAML parser reports
    /// the budget's refusal as text, and this recovers its kind.
    pub(crate) fn exceeded(&self) -> Option<ExpansionLimit> {
        self.exceeded.get()
    }

    /// Takes over the state of `trial`, a clone of this budget that was charged instead.
    pub(crate) fn adopt(&self, trial: &Self) {
        self.nodes_left.set(trial.nodes_left.get());
        self.bytes_left.set(trial.bytes_left.get());
        self.exceeded.set(trial.exceeded.get());
    }

    fn exceed(&self, limit: ExpansionLimit) -> ExpansionLimit {
        self.exceeded.set(Some(limit));
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_every_node_and_the_text_of_strings_and_keys() {
        let value: Value = serde_norway::from_str("{ab: [xyz, 1, true, null]}").unwrap();
        assert_eq!(Size::of(&value), Size { nodes: 7, bytes: 5 });
    }

    #[test]
    fn the_budget_refuses_what_goes_over_and_stays_exhausted() {
        let budget = ExpansionBudget::new();
        assert_eq!(budget.take(Size::node(MAX_EXPANDED_BYTES)), Ok(()));
        let over = Err(ExpansionLimit::Bytes(MAX_EXPANDED_BYTES));
        assert_eq!(budget.take(Size::node(1)), over);
        assert_eq!(budget.take(Size::node(0)), over);
        assert_eq!(
            budget.exceeded(),
            Some(ExpansionLimit::Bytes(MAX_EXPANDED_BYTES))
        );
        assert_eq!(
            ExpansionLimit::Bytes(MAX_EXPANDED_BYTES).to_string(),
            "64 MiB of text"
        );
    }
}
