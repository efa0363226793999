//! Bindings of `deeplinear_core::init` and `deeplinear_core::critical`.

use std::sync::atomic::AtomicBool;

use deeplinear_core::critical;
use deeplinear_core::init::{self, CriticalWeights, Product};
use deeplinear_core::rng::Seeds;
use deeplinear_core::{Real, Result};
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{to_numpy, Dtype, Input, SeedArg};
use crate::enter::enter;
use crate::error::to_py_err;

/// Run `$body` with the type alias `$t` bound to f32 or f64 according to the dtype name.
macro_rules! by_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        match Dtype::parse($dtype)? {
            Dtype::F32 => {
                type $t = f32;
                $body
            }
            Dtype::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}

/// Per-layer buffers as a list of (batch, d_out, d_in) arrays.
fn layer_list<'py, T: Real + Element>(
    py: Python<'py>,
    dims: &[usize],
    batch: usize,
    buffers: Vec<Vec<T>>,
) -> PyResult<Bound<'py, PyList>> {
    let arrays = buffers
        .into_iter()
        .enumerate()
        .map(|(j, w)| to_numpy(py, w, &[batch, dims[j + 1], dims[j]]));
    PyList::new(py, arrays)
}

/// Run a core scheme without the GIL (Ctrl-C raises its cancel flag) and return its layers.
fn layers<'py, T: Real + Element>(
    py: Python<'py>,
    dims: &[usize],
    batch: usize,
    scheme: impl FnOnce(&AtomicBool) -> Result<Vec<Vec<T>>> + Send,
) -> PyResult<Bound<'py, PyList>> {
    let buffers = enter(py, scheme)?;
    layer_list(py, dims, batch, buffers)
}

/// Bindings of the random schemes with one scale parameter, which share one signature.
macro_rules! scaled {
    ($name:ident, $core:ident, $scale:ident, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (dims, batch, seed, $scale, dtype, threads=None))]
        pub fn $name<'py>(
            py: Python<'py>,
            dims: Vec<usize>,
            batch: usize,
            seed: SeedArg,
            $scale: f64,
            dtype: &str,
            threads: Option<usize>,
        ) -> PyResult<Bound<'py, PyList>> {
            let seeds: Seeds = seed.into();
            by_dtype!(dtype, T => layers(py, &dims, batch, |c| init::$core::<T>(&dims, batch, &seeds, $scale, threads, c)))
        }
    };
}

scaled!(init_gaussian, gaussian, std, "Layer-wise i.i.d. N(0, std²) weights.");
scaled!(
    init_orthogonal,
    orthogonal,
    gain,
    "Scaled Haar-orthogonal weights, gain·√max(d_out, d_in)·Q."
);
scaled!(
    init_near_identity,
    near_identity,
    sigma,
    "Rectangular identity plus N(0, σ²/d_in) noise."
);

/// Bindings of the fan-scaled Gaussian schemes, which share one signature.
macro_rules! fan_scaled {
    ($name:ident, $core:ident, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (dims, batch, seed, dtype, threads=None))]
        pub fn $name<'py>(
            py: Python<'py>,
            dims: Vec<usize>,
            batch: usize,
            seed: SeedArg,
            dtype: &str,
            threads: Option<usize>,
        ) -> PyResult<Bound<'py, PyList>> {
            let seeds: Seeds = seed.into();
            by_dtype!(dtype, T => layers(py, &dims, batch, |c| init::$core::<T>(&dims, batch, &seeds, threads, c)))
        }
    };
}

fan_scaled!(init_xavier, xavier, "Xavier: N(0, 2/(fan_in + fan_out)).");
fan_scaled!(init_he, he, "He: N(0, 2/fan_in).");
fan_scaled!(init_lecun, lecun, "LeCun: N(0, 1/fan_in).");

/// Bindings of the deterministic schemes (no seed).
macro_rules! deterministic {
    ($name:ident, $core:ident, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (dims, batch, dtype, threads=None))]
        pub fn $name<'py>(
            py: Python<'py>,
            dims: Vec<usize>,
            batch: usize,
            dtype: &str,
            threads: Option<usize>,
        ) -> PyResult<Bound<'py, PyList>> {
            by_dtype!(dtype, T => layers(py, &dims, batch, |c| init::$core::<T>(&dims, batch, threads, c)))
        }
    };
}

deterministic!(init_identity, identity, "Rectangular identity in every layer.");
deterministic!(init_zas, zas, "Zero-asymmetric: identity layers, zero last layer.");

/// Arora et al.'s balanced initialisation; `product` (if given) is the end-to-end matrix.
#[pyfunction]
#[pyo3(signature = (dims, batch, seed, std, product, randomize, dtype, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn init_balanced<'py>(
    py: Python<'py>,
    dims: Vec<usize>,
    batch: usize,
    seed: SeedArg,
    std: f64,
    product: Option<&Bound<'py, PyAny>>,
    randomize: bool,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    let seeds: Seeds = seed.into();
    by_dtype!(dtype, T => {
        let given = product.map(|p| Input::<T>::borrow("product", p)).transpose()?;
        let given = given.as_ref().map(Input::view);
        layers(py, &dims, batch, |c| {
            let product = match given {
                Some(a) => Product::Given { data: a.data, shape: a.shape },
                None => Product::Gaussian { std },
            };
            init::balanced::<T>(&dims, batch, &seeds, product, randomize, threads, c)
        })
    })
}

/// Mean-field (critical) weights and biases for given (σ_w, σ_b); returns (weights, biases).
#[pyfunction]
#[pyo3(signature = (dims, batch, seed, sigma_w, sigma_b, weights, ntk, dtype, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn init_mean_field<'py>(
    py: Python<'py>,
    dims: Vec<usize>,
    batch: usize,
    seed: SeedArg,
    sigma_w: f64,
    sigma_b: f64,
    weights: &str,
    ntk: bool,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
    let seeds: Seeds = seed.into();
    let kind = CriticalWeights::parse(weights).map_err(to_py_err)?;
    by_dtype!(dtype, T => {
        let (ws, bs) = enter(py, |c| {
            init::mean_field::<T>(&dims, batch, &seeds, sigma_w, sigma_b, kind, ntk, threads, c)
        })?;
        let biases = PyList::new(py, bs.into_iter().enumerate().map(|(j, b)| to_numpy(py, b, &[batch, dims[j + 1]])))?;
        Ok((layer_list(py, &dims, batch, ws)?, biases))
    })
}

/// (σ_w, σ_b) of the critical tanh network with pre-activation variance q*.
#[pyfunction]
pub fn critical_sigmas(py: Python<'_>, q_star: f64) -> PyResult<(f64, f64)> {
    enter(py, |_| critical::critical_sigmas(q_star))
}
