//! Bindings of `deeplinear_core::metrics`: copy inputs, release the GIL, map errors.

use deeplinear_core::metrics::{self, Activation, EigenMethod, NetForm, Parameterization};
use deeplinear_core::{Real, Result};
use numpy::{Element, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{batched_to_numpy, owned_list, views, Dtype, OwnedArray};
use crate::error::to_py_err;
use crate::interrupt::run_interruptibly;

type Out<'py> = PyResult<Bound<'py, PyArrayDyn<f64>>>;

/// Run `f` on the dtype named by `dtype`, generic over the float type.
macro_rules! dispatch {
    ($dtype:expr, $f:ident($($arg:expr),*)) => {
        match Dtype::parse($dtype)? {
            Dtype::F32 => $f::<f32>($($arg),*),
            Dtype::F64 => $f::<f64>($($arg),*),
        }
    };
}

fn array<'py, T: Element + Copy>(name: &str, a: &Bound<'py, PyAny>) -> PyResult<OwnedArray<T>> {
    OwnedArray::copy_from(name, &a.extract::<PyReadonlyArrayDyn<'py, T>>()?)
}

fn optional_list<T: Element + Copy>(
    name: &str,
    list: Option<&Bound<'_, PyList>>,
) -> PyResult<Option<Vec<OwnedArray<T>>>> {
    list.map(|l| owned_list(name, l)).transpose()
}

/// Run core work without the GIL and convert its result.
fn finish<'py>(
    py: Python<'py>,
    work: impl FnOnce(&std::sync::atomic::AtomicBool) -> Result<metrics::Batched> + Send,
) -> Out<'py> {
    let out = run_interruptibly(py, work)?.map_err(to_py_err)?;
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
    let w = owned_list::<T>("weights", w)?;
    finish(py, |c| metrics::singular_values(&views(&w), alpha, threads, c))
}

/// Singular values of α·W_L⋯W_1, (B, min(d_0, d_L)).
#[pyfunction]
#[pyo3(signature = (weights, *, alpha, dtype, threads=None))]
pub fn metric_singular_values<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    alpha: f64,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!(dtype, sv(py, weights, alpha, threads))
}

fn partial<'py, T: Real + Element>(
    py: Python<'py>,
    w: &Bound<'py, PyList>,
    i: usize,
    j: usize,
    threads: Option<usize>,
) -> Out<'py> {
    let w = owned_list::<T>("weights", w)?;
    finish(py, |c| {
        metrics::partial_product_singular_values(&views(&w), i, j, threads, c)
    })
}

/// Singular values of weights[j]⋯weights[i], (B, min(d_i, d_{j+1})).
#[pyfunction]
#[pyo3(signature = (weights, i, j, *, dtype, threads=None))]
pub fn metric_partial_product_singular_values<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    i: usize,
    j: usize,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!(dtype, partial(py, weights, i, j, threads))
}

fn balanced<'py, T: Real + Element>(py: Python<'py>, w: &Bound<'py, PyList>, threads: Option<usize>) -> Out<'py> {
    let w = owned_list::<T>("weights", w)?;
    finish(py, |c| metrics::balancedness(&views(&w), threads, c))
}

/// Per-layer balancedness, (B, L−1).
#[pyfunction]
#[pyo3(signature = (weights, *, dtype, threads=None))]
pub fn metric_balancedness<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!(dtype, balanced(py, weights, threads))
}

fn margin<'py, T: Real + Element>(
    py: Python<'py>,
    w: &Bound<'py, PyList>,
    phi: &Bound<'py, PyAny>,
    alpha: f64,
    threads: Option<usize>,
) -> Out<'py> {
    let (w, phi) = (owned_list::<T>("weights", w)?, array::<T>("Phi", phi)?);
    finish(py, |c| {
        metrics::deficiency_margin(&views(&w), phi.view(), alpha, threads, c)
    })
}

/// Deficiency margin σ_min(Φ) − ‖αW_{L:1} − Φ‖_F, (B,).
#[pyfunction]
#[pyo3(signature = (weights, phi, *, alpha, dtype, threads=None))]
pub fn metric_deficiency_margin<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    phi: &Bound<'py, PyAny>,
    alpha: f64,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!(dtype, margin(py, weights, phi, alpha, threads))
}

fn change<'py, T: Real + Element>(
    py: Python<'py>,
    w0: &Bound<'py, PyList>,
    w1: &Bound<'py, PyList>,
    threads: Option<usize>,
) -> Out<'py> {
    let (w0, w1) = (owned_list::<T>("w0", w0)?, owned_list::<T>("w1", w1)?);
    finish(py, |c| {
        metrics::relative_weight_change(&views(&w0), &views(&w1), threads, c)
    })
}

/// Per-layer ‖W1 − W0‖_F/‖W0‖_F, (B, L).
#[pyfunction]
#[pyo3(signature = (w0, w1, *, dtype, threads=None))]
pub fn metric_relative_weight_change<'py>(
    py: Python<'py>,
    w0: &Bound<'py, PyList>,
    w1: &Bound<'py, PyList>,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    dispatch!(dtype, change(py, w0, w1, threads))
}

/// Which network-function diagnostic to run.
#[derive(Clone, Copy)]
enum NetMetric {
    Jacobian,
    Ntk,
    Fisher(EigenMethod),
}

#[allow(clippy::too_many_arguments)]
fn net_metric<'py, T: Real + Element>(
    py: Python<'py>,
    which: NetMetric,
    w: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    form: NetForm,
    biases: Option<&Bound<'py, PyList>>,
    threads: Option<usize>,
) -> Out<'py> {
    let (w, x) = (owned_list::<T>("weights", w)?, array::<T>("X", x)?);
    let b = optional_list::<T>("biases", biases)?;
    finish(py, |c| {
        let (w, x, b) = (views(&w), x.view(), b.as_deref().map(views));
        match which {
            NetMetric::Jacobian => metrics::jacobian_singular_values(&w, x, &form, b.as_deref(), threads, c),
            NetMetric::Ntk => metrics::ntk(&w, x, &form, b.as_deref(), threads, c),
            NetMetric::Fisher(m) => metrics::fisher_max_eigenvalue(&w, x, &form, b.as_deref(), m, threads, c),
        }
    })
}

/// Input–output Jacobian singular values at every column of X, (B, n, min(d_0, d_L)).
#[pyfunction]
#[pyo3(signature = (weights, x, *, alpha, activation, parameterization, sigma_w, biases, dtype, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn metric_jacobian_singular_values<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases: Option<&Bound<'py, PyList>>,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    dispatch!(
        dtype,
        net_metric(py, NetMetric::Jacobian, weights, x, f, biases, threads)
    )
}

/// Empirical NTK Gram, (B, n·d_L, n·d_L).
#[pyfunction]
#[pyo3(signature = (weights, x, *, alpha, activation, parameterization, sigma_w, biases, dtype, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn metric_ntk<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases: Option<&Bound<'py, PyList>>,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    dispatch!(dtype, net_metric(py, NetMetric::Ntk, weights, x, f, biases, threads))
}

/// λ_max(Θ)/n, the Fisher's largest eigenvalue for MSE, (B,).
#[pyfunction]
#[pyo3(signature = (weights, x, *, alpha, activation, parameterization, sigma_w, biases, method, dtype, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn metric_fisher_max_eigenvalue<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    biases: Option<&Bound<'py, PyList>>,
    method: &str,
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    let m = EigenMethod::parse(method).map_err(to_py_err)?;
    dispatch!(
        dtype,
        net_metric(py, NetMetric::Fisher(m), weights, x, f, biases, threads)
    )
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
        owned_list::<T>("w0", w0)?,
        owned_list::<T>("w1", w1)?,
        array::<T>("X", x)?,
    );
    let (b0, b1) = (optional_list::<T>("biases0", b0)?, optional_list::<T>("biases1", b1)?);
    finish(py, |c| {
        let (b0, b1) = (b0.as_deref().map(views), b1.as_deref().map(views));
        metrics::ntk_relative_change(
            &views(&w0),
            &views(&w1),
            x.view(),
            &form,
            b0.as_deref(),
            b1.as_deref(),
            threads,
            c,
        )
    })
}

/// ‖Θ(w1) − Θ(w0)‖_F/‖Θ(w0)‖_F, (B,).
#[pyfunction]
#[pyo3(signature = (w0, w1, x, *, alpha, activation, parameterization, sigma_w, biases0, biases1, dtype, threads=None))]
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
    dtype: &str,
    threads: Option<usize>,
) -> Out<'py> {
    let f = form(alpha, activation, parameterization, sigma_w)?;
    dispatch!(dtype, ntk_change(py, w0, w1, x, f, biases0, biases1, threads))
}
