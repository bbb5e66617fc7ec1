//! API calls one run made, from the emulator's per-operation counters.

use std::collections::BTreeMap;
use std::fmt;

use akeyless_emulator::{Operation, Stats};

/// The requests per operation between two snapshots of the emulator stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiCalls {
    by_operation: BTreeMap<Operation, u64>,
}

impl ApiCalls {
    /// The calls made between `before` and `after`.
    pub fn between(before: &Stats, after: &Stats) -> Self {
        let by_operation = Operation::ALL
            .into_iter()
            .map(|op| (op, after.requests(op).saturating_sub(before.requests(op))))
            .filter(|(_, count)| *count > 0)
            .collect();
        Self { by_operation }
    }

    /// Calls of one operation.
    pub fn of(&self, operation: Operation) -> u64 {
        self.by_operation.get(&operation).copied().unwrap_or(0)
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.by_operation.values().sum()
    }
}

/// `102 (auth 1, describe-item 100, get-secret-value 1)`.
impl fmt::Display for ApiCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.total())?;
        for (i, (op, count)) in self.by_operation.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{} {count}", op.name())?;
        }
        write!(f, ")")
    }
}
