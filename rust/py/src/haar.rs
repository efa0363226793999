//! Bindings of `deeplinear_core::haar`.

use deeplinear_core::haar;
use deeplinear_core::rng::Seeds;
use deeplinear_core::Real;
use numpy::Element;
use pyo3::prelude::*;

use crate::convert::{to_numpy, Dtype, SeedArg};
use crate::enter::enter;

fn sample<'py, T: Real + Element>(
    py: Python<'py>,
    shape: [usize; 3],
    seeds: &Seeds,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let [batch, rows, cols] = shape;
    let q = enter(py, |cancel| {
        haar::haar_orthogonal::<T>(rows, cols, batch, seeds, threads, cancel)
    })?;
    Ok(to_numpy(py, q, &shape).into_any())
}

/// Batched Haar-orthogonal matrices, shape (batch, rows, cols).
#[pyfunction]
#[pyo3(signature = (rows, cols, batch, seed, dtype, threads=None))]
pub fn haar_orthogonal<'py>(
    py: Python<'py>,
    rows: usize,
    cols: usize,
    batch: usize,
    seed: SeedArg,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let seeds = seed.into();
    match Dtype::parse(dtype)? {
        Dtype::F32 => sample::<f32>(py, [batch, rows, cols], &seeds, threads),
        Dtype::F64 => sample::<f64>(py, [batch, rows, cols], &seeds, threads),
    }
}
