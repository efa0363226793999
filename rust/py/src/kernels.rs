//! Bindings of `deeplinear_core::infinite_width`: borrow inputs, release the GIL, map errors.

use deeplinear_core::infinite_width::{self, Kernel, KernelForm, Method};
use deeplinear_core::metrics::Activation;
use numpy::PyArrayDyn;
use pyo3::prelude::*;

use crate::convert::{to_numpy, Input};
use crate::enter::enter;
use crate::error::to_py_err;

/// Infinite-width `kernel` ("nngp" or "ntk") between the columns of x1 and x2 (x1 when None),
/// both float64 (d_0, n): (n1, n2) float64.
#[pyfunction]
#[pyo3(signature = (
    dims, x1, x2=None, *, kernel, activation, parameterization, sigma_w, sigma_b, alpha, method, threads=None
))]
#[allow(clippy::too_many_arguments)]
pub fn infinite_width_kernel<'py>(
    py: Python<'py>,
    dims: Vec<usize>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    kernel: &str,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    sigma_b: Option<f64>,
    alpha: f64,
    method: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let activation = Activation::parse(activation).map_err(to_py_err)?;
    let form = KernelForm::new(activation, parameterization, sigma_w, sigma_b, alpha).map_err(to_py_err)?;
    let (which, method) = (
        Kernel::parse(kernel).map_err(to_py_err)?,
        Method::parse(method).map_err(to_py_err)?,
    );
    let x1 = Input::<f64>::borrow("X", x1)?;
    let x2 = x2.map(|x| Input::<f64>::borrow("X2", x)).transpose()?;
    let (v1, v2) = (x1.view(), x2.as_ref().map(Input::view));
    let columns = |shape: &[usize]| shape.last().copied().unwrap_or(0);
    let shape = [columns(v1.shape), columns(v2.unwrap_or(v1).shape)];
    let out = enter(py, |cancel| {
        infinite_width::kernel(&dims, v1, v2, &form, which, method, threads, cancel)
    })?;
    Ok(to_numpy(py, out, &shape))
}
