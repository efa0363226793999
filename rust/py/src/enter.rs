//! The one entry into the core: run its work without the GIL, keep Ctrl-C responsive, map its
//! errors to Python exceptions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyo3::prelude::*;

use crate::error::to_py_err;

/// How often the waiting thread looks for a pending Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Run `work` on a scoped thread with the GIL released. The calling thread waits, checking for
/// Python signals; on Ctrl-C it raises the cancel flag that `work` polls, waits for it to stop,
/// and returns the signal's exception.
fn run_interruptibly<R: Send>(py: Python<'_>, work: impl FnOnce(&AtomicBool) -> R + Send) -> PyResult<R> {
    let cancel = AtomicBool::new(false);
    py.detach(|| {
        std::thread::scope(|scope| {
            let waiter = std::thread::current();
            let cancel = &cancel;
            let handle = scope.spawn(move || {
                let result = work(cancel);
                waiter.unpark();
                result
            });
            let mut signal: Option<PyErr> = None;
            while !handle.is_finished() {
                std::thread::park_timeout(SIGNAL_POLL);
                if signal.is_none() && !handle.is_finished() {
                    if let Err(err) = Python::attach(|py| py.check_signals()) {
                        cancel.store(true, Ordering::Relaxed);
                        signal = Some(err);
                    }
                }
            }
            let result = handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            signal.map_or(Ok(result), Err)
        })
    })
}

/// Run core work `f` without the GIL, cancellable by Ctrl-C (it polls the flag it is given), and
/// turn its error into the Python exception of `crate::error`.
pub fn enter<R: Send>(py: Python<'_>, f: impl FnOnce(&AtomicBool) -> deeplinear_core::Result<R> + Send) -> PyResult<R> {
    run_interruptibly(py, f)?.map_err(to_py_err)
}
