//! Requests from synchronous code: a pipeline loader or a planner that
//! needs a file or a token, and may itself run inside the binary's runtime
//! (where blocking on that runtime would panic).

use std::future::Future;

/// Runs the future `make` returns to completion on a runtime of its own, in
/// a thread of its own, and returns its output. Works inside or outside an
/// async runtime. Connections made there belong to that runtime: build the
/// [`HttpClient`](crate::HttpClient) inside `make`'s future's scope (or per
/// call), not once for the process.
///
/// ```
/// let answer = ci_secrets_http::block_on_own_runtime(|| async { 6 * 7 }).unwrap();
/// assert_eq!(answer, 42);
/// ```
pub fn block_on_own_runtime<T, F>(make: impl FnOnce() -> F + Send) -> Result<T, String>
where
    F: Future<Output = T>,
    T: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|err| format!("cannot start a runtime: {err}"))?;
                Ok(runtime.block_on(make()))
            })
            .join()
            .unwrap_or_else(|_| Err("the request thread panicked".to_owned()))
    })
}
