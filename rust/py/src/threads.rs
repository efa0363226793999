//! The thread-count cap, exported so that Python checks `threads` with the engine's own rule.

use deeplinear_core::parallel;
use pyo3::prelude::*;

/// The largest `threads` any call accepts: 4 per core available to this process, at least 64.
#[pyfunction]
pub fn max_threads() -> usize {
    parallel::max_threads()
}
