//! Conversions between NumPy arrays and the core's owned buffers.

use deeplinear_core::array::{ArrayRef, Batched};
use deeplinear_core::loss::{LossKind, TargetArray};
use deeplinear_core::rng::Seeds;
use numpy::ndarray::{Array, IxDyn};
use numpy::{
    Element, IntoPyArray, PyArrayDescrMethods, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::error::{not_contiguous, to_py_err, type_error};

/// A seed argument: one seed for the batch (streams 0..batch) or one seed per network.
#[derive(FromPyObject)]
pub enum SeedArg {
    Shared(u64),
    PerNetwork(Vec<u64>),
}

impl From<SeedArg> for Seeds {
    fn from(arg: SeedArg) -> Self {
        match arg {
            SeedArg::Shared(s) => Seeds::Shared(s),
            SeedArg::PerNetwork(v) => Seeds::PerNetwork(v),
        }
    }
}

/// A read-only NumPy input borrowed for the length of a call, without a copy: copying the
/// 67 MB of weights of the S2 benchmark cost 40 ms (fresh pages fault in at ~2.7 µs each on the
/// development VM), more than the three training steps it fed. rust-numpy's borrow flag keeps
/// other Rust code from writing the array meanwhile; as with NumPy's own GIL-free loops, Python
/// threads must not modify an input while a call that reads it runs.
pub struct Input<'py, T: Element> {
    array: PyReadonlyArrayDyn<'py, T>,
}

impl<'py, T: Element> Input<'py, T> {
    /// Borrow `obj` (already of dtype T); it must be C-contiguous.
    pub fn borrow(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        let array = obj.extract::<PyReadonlyArrayDyn<'py, T>>().map_err(|_| {
            type_error(
                name,
                format!("expected a NumPy array of {}", std::any::type_name::<T>()),
            )
        })?;
        if !array.is_c_contiguous() {
            return Err(not_contiguous(name));
        }
        Ok(Input { array })
    }

    /// The core's view; `Send`, so it can cross into GIL-free work where `self` cannot.
    pub fn view(&self) -> ArrayRef<'_, T> {
        ArrayRef {
            data: self.array.as_slice().expect("checked C-contiguous when borrowed"),
            shape: self.array.shape(),
        }
    }
}

/// Move an owned buffer into a NumPy array of the given shape (no copy).
pub fn to_numpy<'py, T: Element>(py: Python<'py>, data: Vec<T>, shape: &[usize]) -> Bound<'py, PyArrayDyn<T>> {
    Array::from_shape_vec(IxDyn(shape), data)
        .expect("core returns buffers of the promised shape")
        .into_pyarray(py)
}

/// The floating-point dtype of a call, named as NumPy names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    /// The dtype of array `obj` (named `arg` in errors): float32 or float64.
    pub fn of(arg: &str, obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let array = obj
            .cast::<PyUntypedArray>()
            .map_err(|_| type_error(arg, "expected a NumPy array"))?;
        let dtype = array.dtype();
        if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
            Ok(Dtype::F64)
        } else if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
            Ok(Dtype::F32)
        } else {
            Err(type_error(
                arg,
                format!("expected a float32 or float64 array, got dtype {dtype}"),
            ))
        }
    }

    /// The dtype of the first array of the list `name` (the call's precision).
    pub fn of_first(name: &str, list: &Bound<'_, PyList>) -> PyResult<Self> {
        let first = list.get_item(0).map_err(|_| {
            to_py_err(deeplinear_core::Error::invalid(
                name,
                "needs at least one layer, got an empty list",
            ))
        })?;
        Self::of(&format!("{name}[0]"), &first)
    }

    pub fn parse(name: &str) -> PyResult<Self> {
        match name {
            "float32" => Ok(Dtype::F32),
            "float64" => Ok(Dtype::F64),
            other => Err(type_error("dtype", format!("expected float32 or float64, got {other}"))),
        }
    }
}

/// Borrow every array of a Python list of per-layer arrays, named `name[j]` in errors.
pub fn input_list<'py, T: Element>(name: &str, list: &Bound<'py, PyList>) -> PyResult<Vec<Input<'py, T>>> {
    list.iter()
        .enumerate()
        .map(|(j, w)| Input::borrow(&format!("{name}[{j}]"), &w))
        .collect()
}

/// The core's views of a list of inputs (taken with the GIL held; they are `Send`).
pub fn views<'a, T: Element>(arrays: &'a [Input<'_, T>]) -> Vec<ArrayRef<'a, T>> {
    arrays.iter().map(Input::view).collect()
}

/// Move a core result into a NumPy array.
pub fn batched_to_numpy(py: Python<'_>, out: Batched) -> Bound<'_, PyArrayDyn<f64>> {
    to_numpy(py, out.data, &out.shape)
}

/// Targets: float values (MSE) or int64 labels (cross-entropy), borrowed.
pub enum TargetInput<'py, T: Element> {
    Values(Input<'py, T>),
    Labels(Input<'py, i64>),
}

impl<'py, T: Element> TargetInput<'py, T> {
    pub fn borrow(arg: &str, obj: &Bound<'py, PyAny>, loss: LossKind) -> PyResult<Self> {
        Ok(match loss {
            LossKind::Mse => TargetInput::Values(Input::borrow(arg, obj)?),
            LossKind::CrossEntropy => TargetInput::Labels(Input::borrow(arg, obj)?),
        })
    }

    pub fn view(&self) -> TargetArray<'_, T> {
        match self {
            TargetInput::Values(y) => TargetArray::Values(y.view()),
            TargetInput::Labels(y) => TargetArray::Labels(y.view()),
        }
    }
}
