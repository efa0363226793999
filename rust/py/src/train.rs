//! Binding of `deeplinear_core::train`.

use deeplinear_core::mlp::{Activation, Form, Parameterization};
use deeplinear_core::train::{ArrayRef, LearningRate, Manifold, Quantity, TrainOptions};
use deeplinear_core::Real;
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{to_numpy, Dtype, Input};
use crate::enter::enter;
use crate::error::to_py_err;

/// Learning rate as passed from Python: a float or one float per network.
#[derive(FromPyObject)]
pub enum LrArg {
    Shared(f64),
    PerNetwork(Vec<f64>),
}

fn run<'py, T: Real + Element>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    biases: Option<&Bound<'py, PyList>>,
    x: Option<&Bound<'py, PyAny>>,
    y: &Bound<'py, PyAny>,
    opts: TrainOptions,
    form: Form,
) -> PyResult<Bound<'py, PyDict>> {
    let inputs: Vec<Input<'py, T>> = weights
        .iter()
        .enumerate()
        .map(|(j, w)| Input::borrow(&format!("weights[{j}]"), &w))
        .collect::<PyResult<_>>()?;
    let biases: Vec<Option<Input<'py, T>>> = match biases {
        None => Vec::new(),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(j, b)| {
                (!b.is_none())
                    .then(|| Input::borrow(&format!("biases[{j}]"), &b))
                    .transpose()
            })
            .collect::<PyResult<_>>()?,
    };
    let x = x.map(|x| Input::borrow("X", x)).transpose()?;
    let y = Input::borrow("Y", y)?;
    // Views are taken here, with the GIL held; only they cross into the GIL-free work.
    let refs: Vec<ArrayRef<'_, T>> = inputs.iter().map(Input::view).collect();
    let bias_refs: Vec<Option<ArrayRef<'_, T>>> = biases.iter().map(|b| b.as_ref().map(Input::view)).collect();
    let (x_ref, y_ref) = (x.as_ref().map(Input::view), y.view());
    let out = enter(py, |cancel| {
        deeplinear_core::mlp::train_network(&refs, &bias_refs, x_ref, y_ref, &opts, form, cancel)
    })?;
    let trained_biases = out.biases;
    let out = out.train;
    let batch = out.diverged.len();
    let new_weights = PyList::new(
        py,
        out.weights
            .into_iter()
            .zip(&inputs)
            .map(|(w, old)| to_numpy(py, w, old.shape())),
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
    if !biases.is_empty() {
        let arrays = trained_biases.into_iter().zip(&biases).map(|(b, old)| match (b, old) {
            (Some(b), Some(old)) => to_numpy(py, b, old.shape()).into_any(),
            _ => py.None().into_bound(py),
        });
        result.set_item("biases", PyList::new(py, arrays)?)?;
    }
    Ok(result)
}

/// Train a batch of deep linear networks; returns a dict of the TrainResult fields.
#[pyfunction]
#[pyo3(signature = (
    weights, x, y, *, lr, steps, alpha, tol, record_every, dtype, threads=None,
    biases=None, activation="linear", parameterization="standard", sigma_w=1.0,
    record=Vec::new(), manifold="euclidean"
))]
#[allow(clippy::too_many_arguments)]
pub fn train<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: Option<&Bound<'py, PyAny>>,
    y: &Bound<'py, PyAny>,
    lr: LrArg,
    steps: usize,
    alpha: f64,
    tol: Option<f64>,
    record_every: usize,
    dtype: &str,
    threads: Option<usize>,
    biases: Option<&Bound<'py, PyList>>,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    record: Vec<String>,
    manifold: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let form = Form {
        activation: Activation::parse(activation).map_err(to_py_err)?,
        parameterization: Parameterization::parse(parameterization, sigma_w).map_err(to_py_err)?,
    };
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
        Dtype::F32 => run::<f32>(py, weights, biases, x, y, opts, form),
        Dtype::F64 => run::<f64>(py, weights, biases, x, y, opts, form),
    }
}
