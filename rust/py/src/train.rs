//! Binding of `deeplinear_core::train`.

use deeplinear_core::train::{ArrayRef, LearningRate, Manifold, Quantity, TrainOptions};
use deeplinear_core::Real;
use numpy::{Element, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{to_numpy, Dtype, OwnedArray};
use crate::error::to_py_err;
use crate::interrupt::run_interruptibly;

/// Learning rate as passed from Python: a float or one float per network.
#[derive(FromPyObject)]
pub enum LrArg {
    Shared(f64),
    PerNetwork(Vec<f64>),
}

fn run<'py, T: Real + Element>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    opts: TrainOptions,
) -> PyResult<Bound<'py, PyDict>> {
    let owned: Vec<OwnedArray<T>> = weights
        .iter()
        .enumerate()
        .map(|(j, w)| OwnedArray::copy_from(&format!("weights[{j}]"), &w.extract::<PyReadonlyArrayDyn<'py, T>>()?))
        .collect::<PyResult<_>>()?;
    let x = OwnedArray::copy_from("X", &x.extract::<PyReadonlyArrayDyn<'py, T>>()?)?;
    let y = OwnedArray::copy_from("Y", &y.extract::<PyReadonlyArrayDyn<'py, T>>()?)?;
    let out = run_interruptibly(py, |cancel| {
        let refs: Vec<ArrayRef<'_, T>> = owned
            .iter()
            .map(|a| ArrayRef {
                data: &a.data,
                shape: &a.shape,
            })
            .collect();
        let x = ArrayRef {
            data: &x.data,
            shape: &x.shape,
        };
        let y = ArrayRef {
            data: &y.data,
            shape: &y.shape,
        };
        deeplinear_core::train::train(&refs, x, y, &opts, cancel)
    })?
    .map_err(to_py_err)?;
    let batch = out.diverged.len();
    let new_weights = PyList::new(
        py,
        out.weights
            .into_iter()
            .zip(&owned)
            .map(|(w, old)| to_numpy(py, w, &old.shape)),
    )?;
    let result = PyDict::new(py);
    result.set_item("weights", new_weights)?;
    result.set_item("loss", to_numpy(py, out.loss, &[batch, out.records]))?;
    result.set_item("final_loss", to_numpy(py, out.final_loss, &[batch]))?;
    result.set_item("steps_to_tol", to_numpy(py, out.steps_to_tol, &[batch]))?;
    result.set_item("diverged", to_numpy(py, out.diverged, &[batch]))?;
    let records = PyDict::new(py);
    for (q, arr) in out.records_of {
        records.set_item(q.name(), to_numpy(py, arr.data, &arr.shape))?;
    }
    result.set_item("records", records)?;
    Ok(result)
}

/// Train a batch of deep linear networks; returns a dict of the TrainResult fields.
#[pyfunction]
#[pyo3(signature = (weights, x, y, *, lr, steps, alpha, tol, record_every, dtype, threads=None, record=Vec::new(), manifold="euclidean"))]
#[allow(clippy::too_many_arguments)]
pub fn train<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    lr: LrArg,
    steps: usize,
    alpha: f64,
    tol: Option<f64>,
    record_every: usize,
    dtype: &str,
    threads: Option<usize>,
    record: Vec<String>,
    manifold: &str,
) -> PyResult<Bound<'py, PyDict>> {
    // "loss" is accepted and always recorded by the engine.
    let record = record
        .iter()
        .filter_map(|name| Quantity::parse(name).transpose())
        .collect::<deeplinear_core::Result<Vec<_>>>()
        .map_err(to_py_err)?;
    let manifold = Manifold::parse(manifold).map_err(to_py_err)?;
    let lr = match lr {
        LrArg::Shared(v) => LearningRate::Shared(v),
        LrArg::PerNetwork(v) => LearningRate::PerNetwork(v),
    };
    let opts = TrainOptions {
        lr,
        steps,
        alpha,
        tol,
        record_every,
        threads,
        record,
        manifold,
    };
    match Dtype::parse(dtype)? {
        Dtype::F32 => run::<f32>(py, weights, x, y, opts),
        Dtype::F64 => run::<f64>(py, weights, x, y, opts),
    }
}
