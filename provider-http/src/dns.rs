//! One DNS lookup per host and connection pool.
//!
//! reqwest's default resolver runs `getaddrinfo` for every new connection,
//! so the wave of requests after a login, which opens many connections to
//! one host at once (HTTP/1.1), looked the host up once per connection. This
//! resolver looks each host up once and shares the answer with every
//! connection of its pool, concurrent ones included. A failed lookup is not
//! kept: the next connection (a retry) looks up again. A pool lives for one
//! run (see [`HttpContext`](crate::HttpContext)), so the answer does too.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::OnceCell;

/// What looks a host up: `getaddrinfo` through tokio, or a test's double.
type Lookup = dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
    + Send
    + Sync;

/// A resolver that caches each host's addresses for the pool's lifetime.
pub(crate) struct CachingResolver {
    inner: Arc<Cache>,
}

struct Cache {
    lookup: Box<Lookup>,
    hosts: Mutex<HashMap<String, Arc<OnceCell<Vec<SocketAddr>>>>>,
}

impl std::fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingResolver").finish_non_exhaustive()
    }
}

impl CachingResolver {
    /// Looks hosts up with the system resolver (`getaddrinfo`).
    pub(crate) fn system() -> Self {
        Self::with_lookup(Box::new(|host: String| {
            Box::pin(async move {
                // Port 0: reqwest sets the URL's port on each address.
                let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(addrs.collect())
            })
        }))
    }

    fn with_lookup(lookup: Box<Lookup>) -> Self {
        Self {
            inner: Arc::new(Cache {
                lookup,
                hosts: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Cache {
    async fn addresses(&self, host: String) -> io::Result<Vec<SocketAddr>> {
        let cell = {
            // The map is only inserted into: a panic elsewhere cannot leave
            // it half-updated, so poisoning is ignored.
            let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
            hosts.entry(host.clone()).or_default().clone()
        };
        // Concurrent callers wait for the one lookup; a failure leaves the
        // cell empty, so a later caller looks up again.
        let addrs = cell
            .get_or_try_init(|| async {
                let addrs = (self.lookup)(host).await?;
                if addrs.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the host name has no address",
                    ));
                }
                Ok(addrs)
            })
            .await?;
        Ok(addrs.clone())
    }
}

impl Resolve for CachingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let cache = self.inner.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = cache.addresses(host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(fail_first: bool) -> (CachingResolver, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let resolver = CachingResolver::with_lookup(Box::new(move |host: String| {
            let call = counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::task::yield_now().await;
                if fail_first && call == 0 {
                    return Err(io::Error::other("temporary failure in name resolution"));
                }
                let last = if host == "a.example" { 1 } else { 2 };
                Ok(vec![SocketAddr::from(([192, 0, 2, last], 0))])
            })
        }));
        (resolver, calls)
    }

    async fn resolve(resolver: &CachingResolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        let name: Name = host.parse().map_err(|_| "bad name".to_string())?;
        match resolver.resolve(name).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(err) => Err(err.to_string()),
        }
    }

    #[tokio::test]
    async fn concurrent_connections_to_one_host_share_one_lookup() {
        let (resolver, calls) = counting(false);
        let lookups: Vec<_> = (0..50).map(|_| resolve(&resolver, "a.example")).collect();
        let mut answers = Vec::new();
        for lookup in lookups {
            answers.push(lookup.await);
        }
        let concurrent =
            futures_join_all((0..50).map(|_| resolve(&resolver, "b.example")).collect()).await;
        assert!(
            answers
                .iter()
                .all(|a| a.as_deref() == Ok(&[SocketAddr::from(([192, 0, 2, 1], 0))][..]))
        );
        assert!(
            concurrent
                .iter()
                .all(|a| a.as_deref() == Ok(&[SocketAddr::from(([192, 0, 2, 2], 0))][..]))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one lookup per host");
    }

    #[tokio::test]
    async fn a_failed_lookup_is_not_kept() {
        let (resolver, calls) = counting(true);
        let first = resolve(&resolver, "a.example").await;
        assert!(first.unwrap_err().contains("temporary failure"));
        let second = resolve(&resolver, "a.example").await;
        assert_eq!(second.unwrap(), [SocketAddr::from(([192, 0, 2, 1], 0))]);
        let third = resolve(&resolver, "a.example").await;
        assert!(third.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// Awaits all futures concurrently (spawned on the test's runtime).
    async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
    where
        F: Future,
    {
        let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut done = true;
            for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        std::task::Poll::Ready(value) => *output = Some(value),
                        std::task::Poll::Pending => done = false,
                    }
                }
            }
            if done {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        outputs.into_iter().flatten().collect()
    }
}
