//! The one mapping from core errors to Python exceptions.

use deeplinear_core::Error;
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyValueError};
use pyo3::PyErr;

pyo3::import_exception!(numpy.linalg, LinAlgError);

pub fn to_py_err(err: Error) -> PyErr {
    match err {
        Error::InvalidValue { .. } | Error::Shape { .. } => PyValueError::new_err(err.to_string()),
        Error::Cancelled => PyKeyboardInterrupt::new_err("deeplinear computation interrupted"),
        Error::NoConvergence { .. } => LinAlgError::new_err(err.to_string()),
        Error::OutOfMemory { .. } => PyMemoryError::new_err(err.to_string()),
    }
}
