//! Run counters that feed the summary line: logins, API calls, retries.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by every provider of a run. Cheap to update from any task.
///
/// ```
/// use ci_secrets_provider_api::Metrics;
///
/// let metrics = Metrics::default();
/// metrics.record_api_call();
/// metrics.record_retry();
/// let snap = metrics.snapshot();
/// assert_eq!((snap.api_calls, snap.retries, snap.logins), (1, 1, 0));
/// ```
#[derive(Debug, Default)]
pub struct Metrics {
    logins: AtomicU64,
    api_calls: AtomicU64,
    retries: AtomicU64,
    cache_hits: AtomicU64,
}

/// A point-in-time copy of [`Metrics`].
///
/// ```
/// # use ci_secrets_provider_api::Metrics;
/// assert_eq!(Metrics::default().snapshot().cache_hits, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Logins made (cached logins do not count).
    pub logins: u64,
    /// HTTP requests sent, retries included.
    pub api_calls: u64,
    /// Requests that were sent again after a transient failure.
    pub retries: u64,
    /// Logins or lookups answered from a cache.
    pub cache_hits: u64,
}

impl Metrics {
    /// Counts one login.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Metrics;
    /// let m = Metrics::default();
    /// m.record_login();
    /// assert_eq!(m.snapshot().logins, 1);
    /// ```
    pub fn record_login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP request (the shared HTTP layer does this itself).
    ///
    /// ```
    /// # use ci_secrets_provider_api::Metrics;
    /// let m = Metrics::default();
    /// m.record_api_call();
    /// assert_eq!(m.snapshot().api_calls, 1);
    /// ```
    pub fn record_api_call(&self) {
        self.api_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one retry (the shared HTTP layer does this itself).
    ///
    /// ```
    /// # use ci_secrets_provider_api::Metrics;
    /// let m = Metrics::default();
    /// m.record_retry();
    /// assert_eq!(m.snapshot().retries, 1);
    /// ```
    pub fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one cache hit.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Metrics;
    /// let m = Metrics::default();
    /// m.record_cache_hit();
    /// assert_eq!(m.snapshot().cache_hits, 1);
    /// ```
    pub fn record_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters.
    ///
    /// ```
    /// # use ci_secrets_provider_api::Metrics;
    /// assert_eq!(Metrics::default().snapshot().api_calls, 0);
    /// ```
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            logins: self.logins.load(Ordering::Relaxed),
            api_calls: self.api_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }
}
