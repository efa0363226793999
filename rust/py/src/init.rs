//! Bindings of `deeplinear_core::init`.

use deeplinear_core::rng::Seeds;
use deeplinear_core::{init, Real, Result};
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{to_numpy, Dtype, SeedArg};
use crate::error::to_py_err;
use crate::interrupt::run_interruptibly;

/// Run a core scheme and return its layers as a list of (batch, d_out, d_in) arrays.
fn layers<'py, T: Real + Element>(
    py: Python<'py>,
    dims: &[usize],
    batch: usize,
    scheme: impl FnOnce() -> Result<Vec<Vec<T>>> + Send,
) -> PyResult<Bound<'py, PyList>> {
    let buffers = run_interruptibly(py, |_| scheme())?.map_err(to_py_err)?;
    let arrays = buffers
        .into_iter()
        .enumerate()
        .map(|(j, w)| to_numpy(py, w, &[batch, dims[j + 1], dims[j]]));
    PyList::new(py, arrays)
}

/// Layer-wise i.i.d. N(0, std²) weights.
#[pyfunction]
#[pyo3(signature = (dims, batch, seed, std, dtype, threads=None))]
pub fn init_gaussian<'py>(
    py: Python<'py>,
    dims: Vec<usize>,
    batch: usize,
    seed: SeedArg,
    std: f64,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let seeds: Seeds = seed.into();
    match Dtype::parse(dtype)? {
        Dtype::F32 => layers(py, &dims, batch, || {
            init::gaussian::<f32>(&dims, batch, &seeds, std, threads)
        }),
        Dtype::F64 => layers(py, &dims, batch, || {
            init::gaussian::<f64>(&dims, batch, &seeds, std, threads)
        }),
    }
}

/// Scaled Haar-orthogonal weights, gain·√max(d_out, d_in)·Q.
#[pyfunction]
#[pyo3(signature = (dims, batch, seed, gain, dtype, threads=None))]
pub fn init_orthogonal<'py>(
    py: Python<'py>,
    dims: Vec<usize>,
    batch: usize,
    seed: SeedArg,
    gain: f64,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let seeds: Seeds = seed.into();
    match Dtype::parse(dtype)? {
        Dtype::F32 => layers(py, &dims, batch, || {
            init::orthogonal::<f32>(&dims, batch, &seeds, gain, threads)
        }),
        Dtype::F64 => layers(py, &dims, batch, || {
            init::orthogonal::<f64>(&dims, batch, &seeds, gain, threads)
        }),
    }
}
