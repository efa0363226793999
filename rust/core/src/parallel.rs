//! The private thread pool. Thread counts are arguments, never global state.

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Number of threads to use: the explicit request, else every core of the machine.
pub fn resolve_threads(threads: Option<usize>) -> Result<usize> {
    match threads {
        Some(0) => Err(Error::invalid("threads", "must be at least 1, got 0")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// A private pool of `threads` workers. Private (not rayon's global pool) so that a caller
/// running several deeplinear calls in a process pool or on a Dask worker controls the total.
pub fn pool(threads: Option<usize>) -> Result<ThreadPool> {
    let n = resolve_threads(threads)?;
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("deeplinear-{i}"))
        .build()
        .map_err(|e| Error::invalid("threads", format!("cannot start {n} threads: {e}")))
}
