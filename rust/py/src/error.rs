//! The one place Python exceptions are built: deeplinear's exception classes and the mapping of
//! every core error (and the few binding-level argument errors) onto them.
//!
//! The classes live in `deeplinear.errors` (re-exported at the top level). Each also derives
//! from the built-in exception that code written before the hierarchy catches, so
//! `except ValueError` keeps working:
//!
//! - `DeeplinearError(Exception)`: the base of all of them;
//! - `ShapeError(DeeplinearError, ValueError)`: shapes inconsistent with each other or the call;
//! - `InvalidValueError(DeeplinearError, ValueError)`: a value out of its allowed range;
//! - `ArgumentTypeError(DeeplinearError, TypeError)`: an argument of the wrong type or dtype;
//! - `NoConvergenceError(DeeplinearError, numpy.linalg.LinAlgError)`: an iterative
//!   decomposition did not converge;
//! - `OutOfMemoryError(MemoryError, DeeplinearError)`: a buffer sized by an argument cannot be
//!   allocated.
//!
//! A cancelled call (Ctrl-C) raises Python's own KeyboardInterrupt.

use deeplinear_core::Error;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::PyErr;

/// deeplinear's exception classes, created once per interpreter.
pub struct Classes {
    pub base: Py<PyType>,
    pub shape: Py<PyType>,
    pub invalid_value: Py<PyType>,
    pub argument_type: Py<PyType>,
    pub no_convergence: Py<PyType>,
    pub out_of_memory: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// A class `name` in `deeplinear.errors` deriving from `bases`, made as Python's
/// `type(name, bases, namespace)` would (so it pickles by its module and name).
fn class(py: Python<'_>, name: &str, doc: &str, bases: &[Bound<'_, PyAny>]) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "deeplinear.errors")?;
    namespace.set_item("__doc__", doc)?;
    let made = py
        .get_type::<PyType>()
        .call1((name, PyTuple::new(py, bases)?, namespace))?;
    Ok(made.cast_into::<PyType>()?.unbind())
}

fn make_classes(py: Python<'_>) -> PyResult<Classes> {
    let builtin = |name: &str| py.import("builtins")?.getattr(name);
    let base = class(
        py,
        "DeeplinearError",
        "Base class of every exception deeplinear raises for bad input or failed numerics.",
        &[builtin("Exception")?],
    )?;
    let b = base.bind(py).clone().into_any();
    let lin_alg = py.import("numpy.linalg")?.getattr("LinAlgError")?;
    Ok(Classes {
        shape: class(
            py,
            "ShapeError",
            "Array shapes inconsistent with each other or with what the call expects.",
            &[b.clone(), builtin("ValueError")?],
        )?,
        invalid_value: class(
            py,
            "InvalidValueError",
            "An argument's value is out of its allowed range (or names an unknown option).",
            &[b.clone(), builtin("ValueError")?],
        )?,
        argument_type: class(
            py,
            "ArgumentTypeError",
            "An argument has the wrong type or dtype.",
            &[b.clone(), builtin("TypeError")?],
        )?,
        no_convergence: class(
            py,
            "NoConvergenceError",
            "An iterative decomposition (SVD, eigensolver) did not converge.",
            &[b.clone(), lin_alg],
        )?,
        out_of_memory: class(
            py,
            "OutOfMemoryError",
            "A buffer sized by an argument cannot be allocated.",
            // MemoryError first: it has its own constructor, which (as a later base) breaks
            // the exception pickling that Dask installs (tblib), across process boundaries.
            &[builtin("MemoryError")?, b],
        )?,
        base,
    })
}

/// The exception classes (created on first use).
pub fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || make_classes(py))
}

fn raise(which: impl FnOnce(&Classes) -> &Py<PyType>, message: String) -> PyErr {
    Python::attach(|py| match classes(py) {
        Ok(c) => PyErr::from_type(which(c).bind(py).clone(), message),
        Err(err) => err,
    })
}

/// The Python exception of a core error.
pub fn to_py_err(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Shape { .. } => raise(|c| &c.shape, message),
        Error::InvalidValue { .. } => raise(|c| &c.invalid_value, message),
        Error::NoConvergence { .. } => raise(|c| &c.no_convergence, message),
        Error::OutOfMemory { .. } => raise(|c| &c.out_of_memory, message),
        Error::Cancelled => PyKeyboardInterrupt::new_err("deeplinear computation interrupted"),
    }
}

/// `arg` has the wrong type or dtype.
pub fn type_error(arg: &str, message: impl std::fmt::Display) -> PyErr {
    raise(|c| &c.argument_type, format!("{arg}: {message}"))
}

/// `arg` is not C-contiguous (the bindings borrow arrays without copying them).
pub fn not_contiguous(arg: &str) -> PyErr {
    to_py_err(Error::shape(arg, "a C-contiguous array", "a strided view"))
}

/// Register the classes on the extension module (re-exported by `deeplinear.errors`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let c = classes(m.py())?;
    for (name, class) in [
        ("DeeplinearError", &c.base),
        ("ShapeError", &c.shape),
        ("InvalidValueError", &c.invalid_value),
        ("ArgumentTypeError", &c.argument_type),
        ("NoConvergenceError", &c.no_convergence),
        ("OutOfMemoryError", &c.out_of_memory),
    ] {
        m.add(name, class.bind(m.py()))?;
    }
    Ok(())
}
