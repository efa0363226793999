//! Binding of `deeplinear_core::engine::train`: borrow the arrays (their dtype picks the
//! precision), convert the options, run without the GIL, move the results out.

use deeplinear_core::array::Array;
use deeplinear_core::engine::{self, Problem, StateRef, TrainOptions, TrainOutput};
use deeplinear_core::loss::Loss;
use deeplinear_core::net::{Activation, Form, Parameterization};
use deeplinear_core::optim::{GroupValues, LearningRate, LrSchedule, Manifold, Optimizer, OptimizerSpec};
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

/// One value per parameter group, as `deeplinear.optim.Rates` carries it (read through its
/// attributes; a group left as None is None here too).
#[derive(FromPyObject)]
pub struct RatesArg {
    #[pyo3(attribute)]
    base: LrArg,
    #[pyo3(attribute)]
    manifold: Option<LrArg>,
    #[pyo3(attribute)]
    output: Option<LrArg>,
    #[pyo3(attribute)]
    biases: Option<LrArg>,
    #[pyo3(attribute)]
    scales: Option<LrArg>,
}

impl From<LrArg> for LearningRate {
    fn from(arg: LrArg) -> Self {
        match arg {
            LrArg::Shared(v) => LearningRate::Shared(v),
            LrArg::PerNetwork(v) => LearningRate::PerNetwork(v),
        }
    }
}

impl From<RatesArg> for GroupValues {
    fn from(arg: RatesArg) -> Self {
        GroupValues {
            base: arg.base.into(),
            manifold: arg.manifold.map(Into::into),
            output: arg.output.map(Into::into),
            biases: arg.biases.map(Into::into),
            scales: arg.scales.map(Into::into),
        }
    }
}

/// A `deeplinear.optim.LrSchedule`: its kind and parameters.
#[derive(FromPyObject)]
pub struct ScheduleArg {
    #[pyo3(attribute)]
    kind: String,
    #[pyo3(attribute)]
    params: Vec<f64>,
}

/// A `deeplinear.options.TrainOptions`, read through its attributes: every option of
/// `deeplinear.train` but the arrays, already type-checked in Python. Values are checked by
/// the core (`TrainOptions` and the plan), which names the argument of any error.
#[derive(FromPyObject)]
pub struct OptionsArg {
    #[pyo3(attribute)]
    lr: RatesArg,
    #[pyo3(attribute)]
    lr_schedule: Option<ScheduleArg>,
    #[pyo3(attribute)]
    weight_decay: Option<RatesArg>,
    #[pyo3(attribute)]
    steps: usize,
    #[pyo3(attribute)]
    alpha: f64,
    #[pyo3(attribute)]
    tol: Option<f64>,
    #[pyo3(attribute)]
    target_accuracy: Option<f64>,
    #[pyo3(attribute)]
    record_every: usize,
    #[pyo3(attribute)]
    threads: Option<usize>,
    #[pyo3(attribute)]
    record: Vec<(String, usize)>,
    #[pyo3(attribute)]
    activation: String,
    #[pyo3(attribute)]
    parameterization: String,
    #[pyo3(attribute)]
    sigma_w: f64,
    #[pyo3(attribute)]
    loss: String,
    #[pyo3(attribute)]
    reduction: Option<String>,
    #[pyo3(attribute)]
    optimizer: String,
    #[pyo3(attribute)]
    momentum: Option<f64>,
    #[pyo3(attribute)]
    nesterov: bool,
    #[pyo3(attribute)]
    betas: Option<(f64, f64)>,
    #[pyo3(attribute)]
    eps: Option<f64>,
    #[pyo3(attribute)]
    decay: Option<f64>,
    #[pyo3(attribute)]
    centered: bool,
    #[pyo3(attribute)]
    manifold: Vec<String>,
    #[pyo3(attribute)]
    learn_scale: bool,
    #[pyo3(attribute)]
    oblique_penalty: f64,
    #[pyo3(attribute)]
    batch_size: Option<usize>,
    #[pyo3(attribute)]
    data_seed: Option<SeedArg>,
}

impl OptionsArg {
    /// The core's options, every name parsed.
    fn into_core(self) -> Result<TrainOptions> {
        let optimizer = OptimizerSpec {
            name: self.optimizer,
            momentum: self.momentum,
            nesterov: self.nesterov,
            betas: self.betas,
            eps: self.eps,
            decay: self.decay,
            centered: self.centered,
        };
        Ok(TrainOptions {
            lr: self.lr.into(),
            lr_schedule: match self.lr_schedule {
                None => LrSchedule::Constant,
                Some(s) => LrSchedule::parse(&s.kind, &s.params)?,
            },
            weight_decay: self.weight_decay.map(Into::into),
            steps: self.steps,
            alpha: self.alpha,
            tol: self.tol,
            target_accuracy: self.target_accuracy,
            record_every: self.record_every,
            threads: self.threads,
            record: record_specs(self.record)?,
            form: Form {
                activation: Activation::parse(&self.activation)?,
                parameterization: Parameterization::parse(&self.parameterization, self.sigma_w)?,
            },
            loss: Loss::parse(&self.loss, self.reduction.as_deref())?,
            optimizer: Optimizer::parse(&optimizer)?,
            manifold: self
                .manifold
                .iter()
                .map(|m| Manifold::parse(m))
                .collect::<Result<_>>()?,
            learn_scale: self.learn_scale,
            oblique_penalty: self.oblique_penalty,
            batch_size: self.batch_size,
            data_seed: self.data_seed.map(Into::into),
        })
    }
}

/// Train a batch of networks; see `deeplinear.train` for every argument. `options` is a
/// `deeplinear.options.TrainOptions`; the arrays come separately (borrowed, never copied).
#[pyfunction]
#[pyo3(signature = (weights, x, y, options, *, biases=None, eval_data=None, state=None, record_data=None))]
#[allow(clippy::too_many_arguments)] // the arrays of a call, each its own Python argument
pub fn train<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyList>,
    x: Option<&Bound<'py, PyAny>>,
    y: &Bound<'py, PyAny>,
    options: OptionsArg,
    biases: Option<&Bound<'py, PyList>>,
    eval_data: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    state: Option<StateArg<'py>>,
    record_data: Option<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)>,
) -> PyResult<RawOutput> {
    let opts = options.into_core().map_err(to_py_err)?;
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
