//! Private binding of the core's slice activations, for the accuracy tests in
//! `tests/test_vmath.py` (the engine calls them directly; users never need this).

use deeplinear_core::vmath::VecMath;
use deeplinear_core::Error;
use numpy::{Element, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::to_numpy;
use crate::error::to_py_err;

type Pair<'py, T> = (Bound<'py, PyArrayDyn<T>>, Bound<'py, PyArrayDyn<T>>);

fn evaluate<'py, T: VecMath + Element + Default>(
    py: Python<'py>,
    name: &str,
    z: PyReadonlyArrayDyn<'py, T>,
) -> PyResult<Pair<'py, T>> {
    let shape = z.shape().to_vec();
    let mut values: Vec<T> = z.as_array().iter().copied().collect();
    let mut slopes = vec![T::default(); values.len()];
    match name {
        "tanh" => T::tanh_with_slope(&mut values, &mut slopes),
        "erf" => T::erf_with_slope(&mut values, &mut slopes),
        other => {
            return Err(to_py_err(Error::invalid(
                "name",
                format!("expected 'tanh' or 'erf', got {other:?}"),
            )))
        }
    }
    Ok((to_numpy(py, values, &shape), to_numpy(py, slopes, &shape)))
}

/// (φ(z), φ'(z)) for φ = tanh or erf, elementwise, in z's dtype (float32 or float64).
#[pyfunction]
pub fn _activation<'py>(py: Python<'py>, name: &str, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(z) = z.extract::<PyReadonlyArrayDyn<'py, f64>>() {
        return Ok(evaluate(py, name, z)?.into_pyobject(py)?.into_any());
    }
    if let Ok(z) = z.extract::<PyReadonlyArrayDyn<'py, f32>>() {
        return Ok(evaluate(py, name, z)?.into_pyobject(py)?.into_any());
    }
    Err(PyTypeError::new_err(format!(
        "z: expected a float32 or float64 NumPy array, got {}",
        z.get_type().name()?
    )))
}
