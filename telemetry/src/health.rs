//! What went wrong while exporting, gathered quietly during the run so
//! that the exit can report it once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Export failures seen so far. Shared by the exporter (lost spans) and
/// the HTTP client (the transport's reasons).
#[derive(Debug, Default)]
pub(crate) struct ExportHealth {
    exporting: AtomicBool,
    lost_spans: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

impl ExportHealth {
    /// Notes that an export starts (`true`) or ends (`false`).
    pub(crate) fn set_exporting(&self, exporting: bool) {
        self.exporting.store(exporting, Ordering::SeqCst);
    }

    /// Whether an export is under way: after a failed shutdown, this tells
    /// a flush cut short by its budget from any other failure.
    pub(crate) fn exporting(&self) -> bool {
        self.exporting.load(Ordering::SeqCst)
    }

    /// Notes why a request failed.
    pub(crate) fn record_failure(&self, cause: String) {
        // A poisoned lock only means another thread panicked mid-write;
        // the text is still a usable hint.
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *last = Some(cause);
    }

    /// Notes spans that will never reach the collector.
    pub(crate) fn record_lost(&self, spans: u64) {
        self.lost_spans.fetch_add(spans, Ordering::Relaxed);
    }

    /// How many spans were lost.
    pub(crate) fn lost_spans(&self) -> u64 {
        self.lost_spans.load(Ordering::Relaxed)
    }

    /// The latest failure's cause, if any.
    pub(crate) fn last_failure(&self) -> Option<String> {
        self.last_failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}
