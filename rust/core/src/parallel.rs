//! Private thread pools. Thread counts are arguments, never global state.

use std::ops::Deref;
use std::sync::{Mutex, PoisonError};

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

/// Pools not in use, kept so the next call need not start threads: building, using and dropping
/// a 2-thread pool costs ~0.13 ms, 5–10 % of a 2 ms call (`scaling_probe`), and it is serial
/// time that caps thread scaling. Tagged with the process id because a forked child (Python's
/// multiprocessing) inherits the list but none of the worker threads.
struct IdlePools {
    pid: u32,
    pools: Vec<ThreadPool>,
}

static IDLE: Mutex<IdlePools> = Mutex::new(IdlePools {
    pid: 0,
    pools: Vec::new(),
});

/// At most this many idle pools are kept; more only exist while calls run concurrently.
const MAX_IDLE_POOLS: usize = 8;

/// A pool of workers owned by one call and handed back for reuse when dropped.
///
/// Private (not rayon's global pool, and never shared by two calls at once) so that a caller
/// running several deeplinear calls in threads, a process pool or on a Dask worker controls the
/// total number of threads.
pub struct Pool(Option<ThreadPool>);

impl Deref for Pool {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        self.0.as_ref().expect("a pool is only taken out when dropped")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.pid == std::process::id() && idle.pools.len() < MAX_IDLE_POOLS {
            idle.pools.extend(self.0.take());
        }
    }
}

/// A pool of `threads` workers (every core when None), reused from an earlier call if one of
/// that size is idle.
pub fn pool(threads: Option<usize>) -> Result<Pool> {
    let n = resolve_threads(threads)?;
    {
        let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        if idle.pid != pid {
            // Forked: the parent's workers do not exist here, so these pools can neither run
            // work nor be shut down cleanly. Leak them.
            for stale in idle.pools.drain(..) {
                std::mem::forget(stale);
            }
            idle.pid = pid;
        }
        if let Some(i) = idle.pools.iter().position(|p| p.current_num_threads() == n) {
            return Ok(Pool(Some(idle.pools.swap_remove(i))));
        }
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("deeplinear-{i}"))
        .build()
        .map_err(|e| Error::invalid("threads", format!("cannot start {n} threads: {e}")))?;
    Ok(Pool(Some(pool)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_calls_get_distinct_pools_of_the_requested_size() {
        let a = pool(Some(2)).unwrap();
        let b = pool(Some(2)).unwrap();
        assert!(!std::ptr::eq(&*a, &*b));
        assert_eq!(a.current_num_threads(), 2);
        assert_eq!(pool(Some(3)).unwrap().current_num_threads(), 3);
        assert!(pool(Some(0)).is_err());
    }
}
