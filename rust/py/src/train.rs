//! Binding of `deeplinear_core::engine::train`: borrow the arrays (their dtype picks the
//! precision), convert the options, run without the GIL, move the results out.

use deeplinear_core::array::Array;
use deeplinear_core::engine::{self, LearningRate, Problem, StateRef, TrainOptions, TrainOutput};
use deeplinear_core::loss::Loss;
use deeplinear_core::net::{Activation, Form, Parameterization};
use deeplinear_core::optim::{Manifold, Optimizer};
use deeplinear_core::record::{Quantity, RecordSpec};
use deeplinear_core::{Real, Result};
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{to_numpy, views, Dtype, Input, SeedArg, TargetInput};
use crate::enter::enter;
use crate::error::to_py_err;

/// Learning rate as passed from Python: a float or one float per network.
#[derive(FromPyObject)]
pub enum LrArg {
    Shared(f64),
    PerNetwork(Vec<f64>),
}

/// A `deeplinear.TrainState` passed back in (read through its attributes).
#[derive(FromPyObject)]
pub struct StateArg<'py> {
    #[pyo3(attribute)]
    optimizer: String,
    #[pyo3(attribute)]
    step: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    data_seed: Bound<'py, PyAny>,
    #[pyo3(attribute)]
    batch_size: Option<usize>,
    #[pyo3(attribute)]
    n: usize,
    #[pyo3(attribute)]
    scales: Option<Bound<'py, PyAny>>,
    #[pyo3(attribute)]
    slots: Vec<Bound<'py, PyAny>>,
}

/// The optimiser state as returned to Python (wrapped there in `deeplinear.TrainState`).
#[pyclass(frozen, get_all, name = "RawTrainState")]
pub struct RawState {
    optimizer: &'static str,
    step: Py<PyAny>,
    data_seed: Py<PyAny>,
    batch_size: Option<usize>,
    n: usize,
    scales: Option<Py<PyAny>>,
    slots: Vec<Py<PyAny>>,
    slot_names: Vec<String>,
}

/// The results of a call as returned to Python (wrapped there in `deeplinear.TrainResult`).
#[pyclass(frozen, get_all, name = "RawTrainOutput")]
pub struct RawOutput {
    weights: Vec<Py<PyAny>>,
    /// One entry per bias entry passed in (None for layers without one); empty without biases.
    biases: Vec<Option<Py<PyAny>>>,
    loss: Py<PyAny>,
    final_loss: Py<PyAny>,
    steps_to_tol: Py<PyAny>,
    steps_to_accuracy: Py<PyAny>,
    diverged: Py<PyAny>,
    /// (name, array) of every other recorded quantity, in the order asked.
    records: Vec<(&'static str, Py<PyAny>)>,
    state: Py<RawState>,
}

fn owned<T: Element>(py: Python<'_>, a: Array<T>) -> Py<PyAny> {
    to_numpy(py, a.data, &a.shape).into_any().unbind()
}

fn vector<T: Element>(py: Python<'_>, v: Vec<T>) -> Py<PyAny> {
    let len = v.len();
    to_numpy(py, v, &[len]).into_any().unbind()
}

impl RawOutput {
    fn new<T: Real + Element>(py: Python<'_>, out: TrainOutput<T>) -> PyResult<Self> {
        let state = out.state;
        let batch = state.steps.len();
        let (names, slots): (Vec<String>, Vec<Py<PyAny>>) =
            state.slots.into_iter().map(|(name, a)| (name, owned(py, a))).unzip();
        let raw_state = RawState {
            optimizer: state.optimizer,
            step: vector(py, state.steps),
            data_seed: to_numpy(py, state.data_seeds, &[batch, 2]).into_any().unbind(),
            batch_size: state.batch_size,
            n: state.n,
            scales: state.scales.map(|a| owned(py, a)),
            slots,
            slot_names: names,
        };
        Ok(RawOutput {
            weights: out.weights.into_iter().map(|a| owned(py, a)).collect(),
            biases: out.biases.into_iter().map(|b| b.map(|a| owned(py, a))).collect(),
            loss: owned(py, out.loss),
            final_loss: vector(py, out.final_loss),
            steps_to_tol: vector(py, out.steps_to_tol),
            steps_to_accuracy: vector(py, out.steps_to_accuracy),
            diverged: vector(py, out.diverged),
            records: out.records.into_iter().map(|(q, a)| (q.name(), owned(py, a))).collect(),
            state: Py::new(py, raw_state)?,
        })
    }
}

/// The array arguments of a call, before the dtype is known.
struct Arrays<'a, 'py> {
    weights: &'a Bound<'py, PyList>,
    biases: Option<&'a Bound<'py, PyList>>,
    x: Option<&'a Bound<'py, PyAny>>,
    y: &'a Bound<'py, PyAny>,
    eval: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    record_data: Option<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)>,
    state: Option<StateArg<'py>>,
}

fn run<'py, T: Real + Element>(py: Python<'py>, a: &Arrays<'_, 'py>, opts: &TrainOptions) -> PyResult<RawOutput> {
    let loss = opts.loss.kind;
    let weights: Vec<Input<'py, T>> = a
        .weights
        .iter()
        .enumerate()
        .map(|(j, w)| Input::borrow(&format!("weights[{j}]"), &w))
        .collect::<PyResult<_>>()?;
    let biases: Vec<Option<Input<'py, T>>> = match a.biases {
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
    let x = a.x.map(|x| Input::<T>::borrow("X", x)).transpose()?;
    let y = TargetInput::<T>::borrow("Y", a.y, loss)?;
    let eval = match &a.eval {
        None => None,
        Some((ex, ey)) => Some((
            Input::<T>::borrow("eval_data[0]", ex)?,
            TargetInput::<T>::borrow("eval_data[1]", ey, loss)?,
        )),
    };
    let record_data = match &a.record_data {
        None => None,
        Some((px, py)) => Some((
            Input::<T>::borrow("record_data[0] (X_probe)", px)?,
            py.as_ref()
                .map(|py| TargetInput::<T>::borrow("record_data[1] (Y_probe)", py, loss))
                .transpose()?,
        )),
    };
    let state = match &a.state {
        None => None,
        Some(s) => Some((
            Input::<i64>::borrow("state.step", &s.step)?,
            Input::<u64>::borrow("state.data_seed", &s.data_seed)?,
            s.scales
                .as_ref()
                .map(|v| Input::<T>::borrow("state.scales", v))
                .transpose()?,
            s.slots
                .iter()
                .map(|v| Input::<T>::borrow("state.slots", v))
                .collect::<PyResult<Vec<_>>>()?,
        )),
    };
    // Views are taken here, with the GIL held; only they cross into the GIL-free work.
    let problem = Problem {
        weights: views(&weights),
        biases: biases.iter().map(|b| b.as_ref().map(Input::view)).collect(),
        x: x.as_ref().map(Input::view),
        y: y.view(),
        eval: eval.as_ref().map(|(ex, ey)| (ex.view(), ey.view())),
        record_data: record_data
            .as_ref()
            .map(|(px, py)| (px.view(), py.as_ref().map(TargetInput::view))),
    };
    let state_ref = match (&a.state, &state) {
        (Some(s), Some((step, seeds, scales, slots))) => Some(StateRef {
            optimizer: &s.optimizer,
            steps: step.view().data,
            data_seeds: seeds.view().data,
            batch_size: s.batch_size,
            n: s.n,
            scales: scales.as_ref().map(Input::view),
            slots: views(slots),
        }),
        _ => None,
    };
    let out = enter(py, |cancel| engine::train(&problem, opts, state_ref.as_ref(), cancel))?;
    RawOutput::new(py, out)
}

/// A recorded quantity with its interval, as passed from Python.
fn record_specs(record: Vec<(String, usize)>) -> Result<Vec<RecordSpec>> {
    record
        .into_iter()
        .map(|(name, every)| {
            Ok(RecordSpec {
                quantity: Quantity::parse(&name)?,
                every,
            })
        })
        .collect()
}

/// Train a batch of networks; see `deeplinear.train` for every argument.
#[pyfunction]
#[pyo3(signature = (
    weights, x, y, *, lr, steps, alpha, tol, record_every, threads=None,
    biases=None, activation="linear", parameterization="standard", sigma_w=1.0,
    record=Vec::new(), manifold=Vec::new(), learn_scale=false, loss="mse", reduction=None,
    optimizer="gd", momentum=None, nesterov=false, betas=None, eps=None,
    batch_size=None, data_seed=None, eval_data=None, target_accuracy=None, state=None,
    record_data=None
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
    threads: Option<usize>,
    biases: Option<&Bound<'py, PyList>>,
    activation: &str,
    parameterization: &str,
    sigma_w: f64,
    record: Vec<(String, usize)>,
    manifold: Vec<String>,
    learn_scale: bool,
    loss: &str,
    reduction: Option<&str>,
    optimizer: &str,
    momentum: Option<f64>,
    nesterov: bool,
    betas: Option<(f64, f64)>,
    eps: Option<f64>,
    batch_size: Option<usize>,
    data_seed: Option<SeedArg>,
    eval_data: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    target_accuracy: Option<f64>,
    state: Option<StateArg<'py>>,
    record_data: Option<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)>,
) -> PyResult<RawOutput> {
    let options = || -> Result<TrainOptions> {
        Ok(TrainOptions {
            lr: match lr {
                LrArg::Shared(v) => LearningRate::Shared(v),
                LrArg::PerNetwork(v) => LearningRate::PerNetwork(v),
            },
            steps,
            alpha,
            tol,
            target_accuracy,
            record_every,
            threads,
            record: record_specs(record)?,
            form: Form {
                activation: Activation::parse(activation)?,
                parameterization: Parameterization::parse(parameterization, sigma_w)?,
            },
            loss: Loss::parse(loss, reduction)?,
            optimizer: Optimizer::parse(optimizer, momentum, nesterov, betas, eps)?,
            manifold: manifold.iter().map(|m| Manifold::parse(m)).collect::<Result<_>>()?,
            learn_scale,
            batch_size,
            data_seed: data_seed.map(Into::into),
        })
    };
    let opts = options().map_err(to_py_err)?;
    let arrays = Arrays {
        weights,
        biases,
        x,
        y,
        eval: eval_data,
        record_data,
        state,
    };
    match Dtype::of_first("weights", weights)? {
        Dtype::F32 => run::<f32>(py, &arrays, &opts),
        Dtype::F64 => run::<f64>(py, &arrays, &opts),
    }
}
