//! Bindings of `deeplinear_core::metrics`: borrow inputs, release the GIL, map errors.

use deeplinear_core::loss::Loss;
use deeplinear_core::metrics::{
    self, Activation, FisherKind, FisherMethod, FisherSpec, NetForm, NetworkDiagnostic, Parameterization, Params,
    PowerIteration,
};
use deeplinear_core::{Real, Result};
use numpy::{Element, PyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{batched_to_numpy, input_list, views, Dtype, Input, TargetInput};
use crate::enter::enter;
use crate::error::to_py_err;

type Out<'py> = PyResult<Bound<'py, PyArrayDyn<f64>>>;

/// Run `f` generic over the float type of the arrays in the list `$layers` (named `$name`).
macro_rules! dispatch {
    ($name:literal, $layers:expr, $f:ident($($arg:expr),*)) => {
        match Dtype::of_first($name, $layers)? {
            Dtype::F32 => $f::<f32>($($arg),*),
            Dtype::F64 => $f::<f64>($($arg),*),
        }
    };
}

fn optional_list<'py, T: Element>(
    name: &str,
    list: Option<&Bound<'py, PyList>>,
) -> PyResult<Option<Vec<Input<'py, T>>>> {
    list.map(|l| input_list(name, l)).transpose()
}

/// Run core work without the GIL and convert its result.
fn finish<'py>(
    py: Python<'py>,
    work: impl FnOnce(&std::sync::atomic::AtomicBool) -> Result<metrics::Batched> + Send,
) -> Out<'py> {
    let out = enter(py, work)?;
    Ok(batched_to_numpy(py, out))
}

/// The network form of the Jacobian/NTK/Fisher calls.
fn form(alpha: f64, activation: &str, parameterization: &str, sigma_w: f64) -> PyResult<NetForm> {
    Ok(NetForm {
        activation: Activation::parse(activation).map_err(to_py_err)?,
        parameterization: Parameterization::parse(parameterization, sigma_w).map_err(to_py_err)?,
        alpha,
    })
}

fn sv<'py, T: Real + Element>(py: Python<'py>, w: &Bound<'py, PyList>, alpha: f64, threads: Option<usize>) -> Out<'py> {
    let w = input_list::<T>("weights", w)?;
    let w = views(&w);
    finish(py, |c| metrics::singular_values(&w, alpha, threads, c))
}

/// Singular values of α·W_L⋯W_1, (B, min(d_0, d_L)).
#[pyfunction]
#[pyo3(signature = (weights, *, alpha, threads=None))]
pub fn metric_singular_values<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    alpha: f64,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!("weights", weights, sv(py, weights, alpha, threads))
}

fn partial<'py, T: Real + Element>(
    py: Python<'py>,
    w: &Bound<'py, PyList>,
    i: usize,
    j: usize,
    threads: Option<usize>,
) -> Out<'py> {
    let w = input_list::<T>("weights", w)?;
    let w = views(&w);
    finish(py, |c| metrics::partial_product_singular_values(&w, i, j, threads, c))
}

/// Singular values of weights[j]⋯weights[i], (B, min(d_i, d_{j+1})).
#[pyfunction]
#[pyo3(signature = (weights, i, j, *, threads=None))]
pub fn metric_partial_product_singular_values<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    i: usize,
    j: usize,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!("weights", weights, partial(py, weights, i, j, threads))
}

fn balanced<'py, T: Real + Element>(py: Python<'py>, w: &Bound<'py, PyList>, threads: Option<usize>) -> Out<'py> {
    let w = input_list::<T>("weights", w)?;
    let w = views(&w);
    finish(py, |c| metrics::balancedness(&w, threads, c))
}

/// Per-layer balancedness, (B, L−1).
#[pyfunction]
#[pyo3(signature = (weights, *, threads=None))]
pub fn metric_balancedness<'py>(py: Python<'py>, weights: &Bound<'py, PyList>, threads: Option<usize>) -> Out<'py> {
    dispatch!("weights", weights, balanced(py, weights, threads))
}

fn margin<'py, T: Real + Element>(
    py: Python<'py>,
    w: &Bound<'py, PyList>,
    phi: &Bound<'py, PyAny>,
    alpha: f64,
    threads: Option<usize>,
) -> Out<'py> {
    let (w, phi) = (input_list::<T>("weights", w)?, Input::<T>::borrow("Phi", phi)?);
    let (w, phi) = (views(&w), phi.view());
    finish(py, |c| metrics::deficiency_margin(&w, phi, alpha, threads, c))
}

/// Deficiency margin σ_min(Φ) − ‖αW_{L:1} − Φ‖_F, (B,).
#[pyfunction]
#[pyo3(signature = (weights, phi, *, alpha, threads=None))]
pub fn metric_deficiency_margin<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    phi: &Bound<'py, PyAny>,
    alpha: f64,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!("weights", weights, margin(py, weights, phi, alpha, threads))
}

fn change<'py, T: Real + Element>(
    py: Python<'py>,
    w0: &Bound<'py, PyList>,
    w1: &Bound<'py, PyList>,
    threads: Option<usize>,
) -> Out<'py> {
    let (w0, w1) = (input_list::<T>("w0", w0)?, input_list::<T>("w1", w1)?);
    let (w0, w1) = (views(&w0), views(&w1));
    finish(py, |c| metrics::relative_weight_change(&w0, &w1, threads, c))
}

/// Per-layer ‖W1 − W0‖_F/‖W0‖_F, (B, L).
#[pyfunction]
#[pyo3(signature = (w0, w1, *, threads=None))]
pub fn metric_relative_weight_change<'py>(
    py: Python<'py>,
    w0: &Bound<'py, PyList>,
    w1: &Bound<'py, PyList>,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!("w0", w0, change(py, w0, w1, threads))
}

fn net_metric<'py, T: Real + Element>(
    py: Python<'py>,
    which: NetworkDiagnostic,
    w: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    form: NetForm,
    biases: Option<&Bound<'py, PyList>>,
    threads: Option<usize>,
) -> Out<'py> {
    let (w, x) = (input_list::<T>("weights", w)?, Input::<T>::borrow("X", x)?);
    let b = optional_list::<T>("biases", biases)?;
    let (w, x, b) = (views(&w), x.view(), b.as_deref().map(views));
    finish(py, |c| match which {
        NetworkDiagnostic::JacobianSingularValues => {
            metrics::jacobian_singular_values(&w, x, &form, b.as_deref(), threads, c)
        }
        NetworkDiagnostic::Ntk => metrics::ntk(&w, x, &form, b.as_deref(), threads, c),
    })
}

/// A diagnostic of the network function at the columns of X, by `quantity`:
/// "jacobian_singular_values" (B, n, min(d_0, d_L)) or "ntk" (B, n·d_L, n·d_L).
#[pyfunction]
#[pyo3(signature = (weights, x, *, quantity, alpha, activation, parameterization, sigma_w, biases, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn metric_network<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    quantity: &str,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases: Option<&Bound<'py, PyList>>,
    threads: Option<usize>,
) -> Out<'py> {
    let which = NetworkDiagnostic::parse(quantity).map_err(to_py_err)?;
    let f = form(alpha, activation, parameterization, sigma_w)?;
    dispatch!(
        "weights",
        weights,
        net_metric(py, which, weights, x, f, biases, threads)
    )
}

#[allow(clippy::too_many_arguments)]
fn fisher_values<'py, T: Real + Element>(
    py: Python<'py>,
    w: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    form: NetForm,
    biases: Option<&Bound<'py, PyList>>,
    spec: FisherSpec,
    labels: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> Out<'py> {
    let (w, x) = (input_list::<T>("weights", w)?, Input::<T>::borrow("X", x)?);
    let b = optional_list::<T>("biases", biases)?;
    let y = labels
        .map(|y| TargetInput::<T>::borrow("labels", y, spec.loss))
        .transpose()?;
    let (w, x, b, y) = (
        views(&w),
        x.view(),
        b.as_deref().map(views),
        y.as_ref().map(TargetInput::view),
    );
    finish(py, |c| {
        metrics::fisher_eigenvalues(&w, x, &form, b.as_deref(), &spec, y, threads, c)
    })
}

/// The top k eigenvalues of the Fisher information, (B, k).
#[pyfunction]
#[pyo3(signature = (
    weights, x, *, alpha, activation, parameterization, sigma_w, biases, loss, fisher, labels,
    k, params, method, threads=None
))]
#[allow(clippy::too_many_arguments)]
pub fn metric_fisher<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases: Option<&Bound<'py, PyList>>,
    loss: &str,
    fisher: &str,
    labels: Option<&Bound<'py, PyAny>>,
    k: usize,
    params: &str,
    method: &str,
    threads: Option<usize>,
) -> Out<'py> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    let spec = || -> Result<FisherSpec> {
        Ok(FisherSpec {
            loss: Loss::parse(loss, None)?.kind,
            kind: FisherKind::parse(fisher)?,
            params: Params::parse(params)?,
            k,
            method: FisherMethod::parse(method)?,
        })
    };
    let spec = spec().map_err(to_py_err)?;
    dispatch!(
        "weights",
        weights,
        fisher_values(py, weights, x, f, biases, spec, labels, threads)
    )
}

#[allow(clippy::too_many_arguments)]
fn power<'py, T: Real + Element>(
    py: Python<'py>,
    w: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    form: NetForm,
    biases: Option<&Bound<'py, PyList>>,
    settings: PowerIteration,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArrayDyn<f64>>, usize)> {
    let (w, x) = (input_list::<T>("weights", w)?, Input::<T>::borrow("X", x)?);
    let b = optional_list::<T>("biases", biases)?;
    let (w, x, b) = (views(&w), x.view(), b.as_deref().map(views));
    let (sigma, unconverged) = enter(py, |c| {
        metrics::jacobian_max_singular_value(&w, x, &form, b.as_deref(), &settings, threads, c)
    })?;
    Ok((batched_to_numpy(py, sigma), unconverged))
}

/// σ_max of the input–output Jacobian at every input by power iteration: ((B, n) array, number
/// of (network, input) pairs that did not converge).
#[pyfunction]
#[pyo3(signature = (
    weights, x, *, alpha, activation, parameterization, sigma_w, biases, iterations, tol,
    threads=None
))]
#[allow(clippy::too_many_arguments)]
pub fn metric_jacobian_max_singular_value<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases: Option<&Bound<'py, PyList>>,
    iterations: Option<usize>,
    tol: f64,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArrayDyn<f64>>, usize)> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    let settings = PowerIteration::new(iterations, tol).map_err(to_py_err)?;
    dispatch!("weights", weights, power(py, weights, x, f, biases, settings, threads))
}

#[allow(clippy::too_many_arguments)]
fn ntk_change<'py, T: Real + Element>(
    py: Python<'py>,
    w0: &Bound<'py, PyList>,
    w1: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    form: NetForm,
    b0: Option<&Bound<'py, PyList>>,
    b1: Option<&Bound<'py, PyList>>,
    threads: Option<usize>,
) -> Out<'py> {
    let (w0, w1, x) = (
        input_list::<T>("w0", w0)?,
        input_list::<T>("w1", w1)?,
        Input::<T>::borrow("X", x)?,
    );
    let (b0, b1) = (optional_list::<T>("biases0", b0)?, optional_list::<T>("biases1", b1)?);
    let (w0, w1, x) = (views(&w0), views(&w1), x.view());
    let (b0, b1) = (b0.as_deref().map(views), b1.as_deref().map(views));
    finish(py, |c| {
        metrics::ntk_relative_change(&w0, &w1, x, &form, b0.as_deref(), b1.as_deref(), threads, c)
    })
}

/// ‖Θ(w1) − Θ(w0)‖_F/‖Θ(w0)‖_F, (B,).
#[pyfunction]
#[pyo3(signature = (w0, w1, x, *, alpha, activation, parameterization, sigma_w, biases0, biases1, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn metric_ntk_relative_change<'py>(
    py: Python<'py>,
    w0: &Bound<'py, PyList>,
    w1: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases0: Option<&Bound<'py, PyList>>,
    biases1: Option<&Bound<'py, PyList>>,
    threads: Option<usize>,
) -> Out<'py> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    dispatch!("w0", w0, ntk_change(py, w0, w1, x, f, biases0, biases1, threads))
}
