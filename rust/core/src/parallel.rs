//! Private thread pools. Thread counts are arguments, never global state.

use std::any::Any;
use std::ops::Deref;
use std::sync::{Mutex, OnceLock, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Cores this process may run on (its affinity mask and cgroup CPU quota), at least 1.
///
/// Read once per process: std's probe parses the cgroup files on every call (~85 µs, more than
/// a small call's whole work), so an affinity change after the first call is not seen; pass
/// `threads` explicitly to follow one.
pub fn available_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads a call may start per available core.
pub const THREADS_PER_CORE: usize = 4;
/// The cap on threads is never below this, whatever the core count.
pub const MIN_THREAD_CAP: usize = 64;

/// The most threads a call may ask for: [`THREADS_PER_CORE`] per available core, and at least
/// [`MIN_THREAD_CAP`].
///
/// Why a cap: each call starts (or reuses) a pool of exactly the threads asked for, and
/// thousands of threads take seconds to minutes to start, contend for the cores and exhaust
/// per-user process limits, while beyond a few threads per core nothing gets faster. The floor
/// keeps scripts written on a workstation (threads = 16 or 32) running, oversubscribed but with
/// the same bits, on a laptop or a 2-core CI runner; starting that many threads is cheap.
pub fn max_threads() -> usize {
    static CAP: OnceLock<usize> = OnceLock::new();
    *CAP.get_or_init(|| (THREADS_PER_CORE * available_cores()).max(MIN_THREAD_CAP))
}

/// Number of threads to use: the explicit request (1 ..= [`max_threads`]), else every core.
pub fn resolve_threads(threads: Option<usize>) -> Result<usize> {
    match threads {
        Some(0) => Err(Error::invalid("threads", "must be at least 1, got 0")),
        Some(n) if n > max_threads() => Err(Error::invalid(
            "threads",
            format!(
                "must be at most {} ({THREADS_PER_CORE} per core available to this process, \
                 at least {MIN_THREAD_CAP}), got {n}",
                max_threads()
            ),
        )),
        Some(n) => Ok(n),
        None => Ok(available_cores()),
    }
}

/// Pools not in use, kept so the next call need not start threads: building, using and dropping
/// a 2-thread pool costs ~0.13 ms, 5–10 % of a 2 ms call (`scaling_probe`), and it is serial
/// time that caps thread scaling. Tagged with the process id because a forked child (Python's
/// multiprocessing) inherits the list but none of the worker threads.
struct IdlePools {
    pid: u32,
    pools: Vec<Workers>,
}

static IDLE: Mutex<IdlePools> = Mutex::new(IdlePools {
    pid: 0,
    pools: Vec::new(),
});

/// At most this many idle pools are kept; more only exist while calls run concurrently.
const MAX_IDLE_POOLS: usize = 8;

/// A pool's threads and the spare buffers its calls left behind.
struct Workers {
    threads: ThreadPool,
    /// Buffers of earlier calls on this pool, kept for the next (any type; see [`Pool::take_spare`]).
    spares: Mutex<Vec<Box<dyn Any + Send>>>,
}

/// A pool of workers owned by one call and handed back for reuse when dropped.
///
/// Private (not rayon's global pool, and never shared by two calls at once) so that a caller
/// running several deeplinear calls in threads, a process pool or on a Dask worker controls the
/// total number of threads.
pub struct Pool(Option<Workers>);

impl Deref for Pool {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        &self.workers().threads
    }
}

/// The most bytes one spare may hold to be kept: larger buffers are freed when their call
/// ends, so an idle pool never pins more than this per thread.
pub const MAX_SPARE_BYTES: usize = 256 << 20;

impl Pool {
    fn workers(&self) -> &Workers {
        self.0.as_ref().expect("a pool is only taken out when dropped")
    }

    /// A spare of type `W` kept by an earlier call or task on this pool, if there is one.
    pub fn take_spare<W: Any + Send>(&self) -> Option<W> {
        let mut spares = self.workers().spares.lock().unwrap_or_else(PoisonError::into_inner);
        let i = spares.iter().position(|s| s.is::<W>())?;
        spares.swap_remove(i).downcast::<W>().ok().map(|b| *b)
    }

    /// Keep `spare` (of `bytes` bytes) for a later call or task: at most one per thread and at
    /// most [`MAX_SPARE_BYTES`] each; the oldest is freed to make room.
    pub fn keep_spare<W: Any + Send>(&self, spare: W, bytes: usize) {
        if bytes > MAX_SPARE_BYTES {
            return;
        }
        let workers = self.workers();
        let mut spares = workers.spares.lock().unwrap_or_else(PoisonError::into_inner);
        if spares.len() >= workers.threads.current_num_threads() {
            spares.remove(0);
        }
        spares.push(Box::new(spare));
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
        if let Some(i) = idle.pools.iter().position(|p| p.threads.current_num_threads() == n) {
            return Ok(Pool(Some(idle.pools.swap_remove(i))));
        }
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("deeplinear-{i}"))
        .build()
        .map_err(|e| Error::invalid("threads", format!("cannot start {n} threads: {e}")))?;
    Ok(Pool(Some(Workers {
        threads: pool,
        spares: Mutex::new(Vec::new()),
    })))
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

    #[test]
    fn spares_are_kept_per_type_at_most_one_per_thread_and_under_the_size_cap() {
        let p = pool(Some(2)).unwrap();
        while p.take_spare::<Vec<u8>>().is_some() {}
        p.keep_spare(vec![1u8], 1);
        p.keep_spare(vec![2u8], 1);
        p.keep_spare(vec![3u8], 1);
        p.keep_spare(vec![0u8; 4], MAX_SPARE_BYTES + 1);
        assert!(p.take_spare::<Vec<f64>>().is_none());
        let mut kept = vec![p.take_spare::<Vec<u8>>().unwrap(), p.take_spare::<Vec<u8>>().unwrap()];
        kept.sort();
        // Two threads keep two spares: the oldest went, and the one over the cap was not kept.
        assert_eq!(kept, vec![vec![2u8], vec![3u8]]);
        assert!(p.take_spare::<Vec<u8>>().is_none());
    }

    #[test]
    fn absurd_thread_counts_are_refused_before_any_thread_starts() {
        let cap = max_threads();
        assert!(cap >= MIN_THREAD_CAP && cap >= THREADS_PER_CORE * available_cores());
        assert_eq!(resolve_threads(Some(cap)).unwrap(), cap);
        // 2^31 threads could never start: returning at all shows nothing was spawned.
        for n in [cap + 1, 10_000, 1 << 31, usize::MAX] {
            let err = pool(Some(n)).err().expect("refused");
            assert!(matches!(err, Error::InvalidValue { ref arg, ref message }
                if arg == "threads" && message.contains(&format!("at most {cap}"))));
        }
    }
}
