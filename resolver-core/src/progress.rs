//! How a resolution tells its caller how far it is, without the core
//! drawing anything: the caller passes a [`Progress`] (the binary's draws a
//! bar on a terminal), a library caller that does not care passes
//! [`NoProgress`].

use std::fmt;

/// Told how many secrets a resolution has, and as they are done.
///
/// Called from the resolution's tasks, so it is `Send + Sync`; calls are
/// few (one per provider) and must return quickly.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use ci_secrets_core::progress::Progress;
///
/// #[derive(Debug, Default)]
/// struct Count(AtomicU64);
///
/// impl Progress for Count {
///     fn start(&self, _total: u64) {}
///     fn inc(&self, done: u64) {
///         self.0.fetch_add(done, Ordering::Relaxed);
///     }
///     fn finish(&self) {}
/// }
///
/// let count = Count::default();
/// count.inc(2);
/// assert_eq!(count.0.load(Ordering::Relaxed), 2);
/// ```
pub trait Progress: fmt::Debug + Send + Sync {
    /// The resolution is about to resolve `total` secrets.
    fn start(&self, total: u64);
    /// `done` more secrets are done (resolved or failed: done either way).
    fn inc(&self, done: u64);
    /// Every secret is done, or the resolution stopped; later calls may be ignored.
    fn finish(&self);
}

/// A [`Progress`] that ignores every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total: u64) {}
    fn inc(&self, _done: u64) {}
    fn finish(&self) {}
}
