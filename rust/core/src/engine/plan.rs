//! Validation of a call and everything derived from it before any network starts, in named
//! steps: the network form, the data (reduced when that is exact), the schedule, what is
//! recorded, the per-layer geometry and parameter groups (`geometry`), the optimiser's state
//! buffers, and where each network starts (fresh, or from a state).

use crate::array::{of_network, shape_str, ArrayRef};
use crate::error::{Error, Result};
use crate::layout::{check_matrix, check_weights, layer_offsets, Layout};
use crate::linalg::Products;
use crate::loss::{check_targets, LossKind, TargetSlice, Targets};
use crate::net::{Activation, Input, Network, Parameterization};
use crate::optim::{Group, Manifold};
use crate::parallel;
use crate::record::{ProbeData, Quantity, RecordSpec};
use crate::reduce::{self, Reduced};
use crate::rng::Seeds;
use crate::scalar::Real;

use super::layers;
use super::options::{Problem, TrainOptions};
use super::schedule::Schedule;
use super::state::{Expected, StateRef};

/// A data set's arrays after validation: X (None: I_{d_0}) and targets, each shared by the
/// batch or stacked, over `n` columns.
#[derive(Clone, Copy)]
pub(super) struct DataSet<'a, T> {
    pub x: Option<&'a [T]>,
    pub x_shared: bool,
    pub y: TargetSlice<'a, T>,
    pub y_shared: bool,
    pub n: usize,
}

/// One network's view of a data set.
#[derive(Clone, Copy)]
pub(super) struct NetworkData<'a, T> {
    pub x: Option<&'a [T]>,
    pub y: Targets<'a, T>,
    pub n: usize,
}

impl<'a, T> DataSet<'a, T> {
    pub fn of(&self, b: usize, d_0: usize, d_l: usize) -> NetworkData<'a, T> {
        let n = self.n;
        NetworkData {
            x: self.x.map(|x| of_network(x, self.x_shared, d_0 * n, b)),
            y: match self.y {
                TargetSlice::Values(y) => Targets::Values(of_network(y, self.y_shared, d_l * n, b)),
                TargetSlice::Labels(y) => Targets::Labels(of_network(y, self.y_shared, n, b)),
            },
            n,
        }
    }
}

/// The probe set of the recorded network diagnostics, validated: inputs and (optionally)
/// targets, each shared by the batch or stacked, over `n` columns.
#[derive(Clone, Copy)]
pub(super) struct ProbeSet<'a, T> {
    pub x: &'a [T],
    pub x_shared: bool,
    pub y: Option<(TargetSlice<'a, T>, bool)>,
    pub n: usize,
}

impl<'a, T: Real> ProbeSet<'a, T> {
    pub fn of(&self, b: usize, d_0: usize, d_l: usize) -> ProbeData<'a, T> {
        let n = self.n;
        ProbeData {
            x: of_network(self.x, self.x_shared, d_0 * n, b),
            targets: self.y.map(|(y, shared)| match y {
                TargetSlice::Values(y) => Targets::Values(of_network(y, shared, d_l * n, b)),
                TargetSlice::Labels(y) => Targets::Labels(of_network(y, shared, n, b)),
            }),
        }
    }
}

impl<'a, T> NetworkData<'a, T> {
    /// All n examples as a pass input.
    pub fn input(&self) -> Input<'a, T> {
        self.x.map_or(Input::Identity, Input::Columns)
    }
}

/// A validated call.
pub(super) struct Plan<'a, T: Real> {
    pub opts: &'a TrainOptions,
    /// The weights and biases the call starts from (never modified).
    pub weights: Vec<ArrayRef<'a, T>>,
    pub biases: Vec<Option<ArrayRef<'a, T>>>,
    pub layout: Layout,
    pub net: Network<T>,
    /// Training data as the steps see it (reduced to d_0 columns when that is exact).
    pub train: DataSet<'a, T>,
    reduced: Option<Reduced<T>>,
    /// Examples in the training set (the reduction's n, not d_0).
    pub examples: usize,
    pub eval: Option<DataSet<'a, T>>,
    pub record_data: Option<ProbeSet<'a, T>>,
    pub schedule: Schedule,
    /// Per network (seed, stream) of the data order.
    pub seeds: Vec<(u64, u64)>,
    /// The loss first (at record_every), then the other quantities as asked.
    pub specs: Vec<RecordSpec>,
    pub manifolds: Vec<Manifold>,
    /// The parameter group of each layer's weights.
    pub groups: Vec<Group>,
    pub alpha: T,
    /// Count correct examples at every step (accuracy stop rule or records).
    pub step_accuracy: bool,
    /// Where each network starts: step counts, manifold scales (B × L, NaN for Euclidean
    /// layers; empty without manifold layers) and the state's buffers.
    pub start_steps: Vec<i64>,
    pub scales: Vec<T>,
    pub state_slots: Option<Vec<ArrayRef<'a, T>>>,
    /// Shapes of the state's buffers, in order (slot kind, then tensor).
    pub slot_shapes: Vec<Vec<usize>>,
    pub slot_names: Vec<String>,
}

impl<T: Real> Plan<'_, T> {
    /// The training data with the reduction applied, if any.
    pub fn train_data(&self) -> DataSet<'_, T> {
        match &self.reduced {
            None => self.train,
            Some(r) => DataSet {
                x: Some(&r.x),
                x_shared: r.x_shared,
                y: TargetSlice::Values(&r.y),
                y_shared: r.y_shared,
                n: self.layout.dims[0],
            },
        }
    }

    /// The constant the reduction drops from network b's loss (0 without reduction).
    pub fn loss_offset(&self, b: usize) -> f64 {
        self.reduced.as_ref().map_or(0.0, |r| r.offsets[b])
    }

    /// Whether some layer is on a manifold (so the call has scales).
    pub fn any_manifold(&self) -> bool {
        self.manifolds.iter().any(|&m| m != Manifold::Euclidean)
    }
}

/// Whether X is exactly the identity of size d_0, shared or for every network. The engine then
/// skips the first product (multiplying by I is exact, so results are unchanged).
fn is_identity<T: Real>(x: &ArrayRef<'_, T>, layout: &Layout) -> bool {
    let d_0 = layout.dims[0];
    let matrices = match *x.shape {
        [rows, cols] if rows == d_0 && cols == d_0 => 1,
        [b, rows, cols] if b == layout.batch && rows == d_0 && cols == d_0 => b,
        _ => return false,
    };
    let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
    x.data.len() == matrices * d_0 * d_0
        && x.data.chunks(d_0 * d_0).all(|m| {
            m.iter()
                .enumerate()
                .all(|(k, &v)| v == if k / d_0 == k % d_0 { one } else { zero })
        })
}

fn check_options(opts: &TrainOptions, batch: usize) -> Result<()> {
    opts.lr.base.check("lr", batch)?;
    if !opts.alpha.is_finite() {
        return Err(Error::invalid("alpha", format!("must be finite, got {}", opts.alpha)));
    }
    if let Some(tol) = opts.tol {
        if !tol.is_finite() || tol < 0.0 {
            return Err(Error::invalid(
                "tol",
                format!("must be finite and non-negative, got {tol}"),
            ));
        }
    }
    if let Some(a) = opts.target_accuracy {
        if !(a > 0.0 && a <= 1.0) {
            return Err(Error::invalid("target_accuracy", format!("must be in (0, 1], got {a}")));
        }
    }
    if opts.record_every == 0 {
        return Err(Error::invalid("record_every", "must be at least 1, got 0"));
    }
    if let Parameterization::Ntk { sigma_w } = opts.form.parameterization {
        if !sigma_w.is_finite() {
            return Err(Error::invalid("sigma_w", format!("must be finite, got {sigma_w}")));
        }
    }
    parallel::resolve_threads(opts.threads)?;
    Ok(())
}

/// The recorded quantities: the loss at `record_every`, then the others as asked.
fn check_records(
    opts: &TrainOptions,
    layout: &Layout,
    linear_chain: bool,
    has_eval: bool,
    record_data: Option<&ProbeSet<'_, impl Sized>>,
) -> Result<Vec<RecordSpec>> {
    let mut specs = vec![RecordSpec {
        quantity: Quantity::Loss,
        every: opts.record_every,
    }];
    let d_l = layout.dims[layout.depth()];
    for spec in &opts.record {
        let name = spec.quantity.name();
        if spec.every == 0 {
            return Err(Error::invalid(
                "record",
                format!("{name:?}: the interval must be at least 1, got 0"),
            ));
        }
        if spec.quantity == Quantity::Loss {
            if spec.every != opts.record_every {
                return Err(Error::invalid(
                    "record",
                    format!(
                        "\"loss\" is recorded every record_every = {} steps, got {}",
                        opts.record_every, spec.every
                    ),
                ));
            }
            continue;
        }
        if specs.iter().any(|s| s.quantity == spec.quantity) {
            return Err(Error::invalid("record", format!("{name:?} is listed twice")));
        }
        if spec.quantity.needs_linear_chain() && !linear_chain {
            return Err(Error::invalid(
                "record",
                format!("{name:?} is a diagnostic of linear chains (activation='linear', standard parameterisation, no biases)"),
            ));
        }
        if spec.quantity.needs_record_data() && record_data.is_none() {
            return Err(Error::invalid(
                "record",
                format!("{name:?} is measured on a probe set: it needs record_data=(X_probe, Y_probe)"),
            ));
        }
        if spec.quantity.needs_record_targets() && record_data.is_some_and(|r| r.y.is_none()) {
            return Err(Error::invalid(
                "record_data",
                format!("{name:?} needs the probe set's targets: record_data=(X_probe, Y_probe), got no Y_probe"),
            ));
        }
        if spec.quantity.needs_eval_data() && !has_eval {
            return Err(Error::invalid(
                "record",
                format!("{name:?} needs eval_data=(X_test, Y_test)"),
            ));
        }
        if spec.quantity.is_accuracy() && opts.loss.kind == LossKind::Mse && d_l < 2 {
            return Err(Error::invalid(
                "record",
                format!(
                    "{name:?} with loss='mse' reads classes as argmax over d_L ≥ 2 outputs (one-hot Y); d_L = 1 here"
                ),
            ));
        }
        specs.push(*spec);
    }
    if record_data.is_some() && !specs.iter().any(|s| s.quantity.needs_record_data()) {
        return Err(Error::invalid(
            "record_data",
            "is given, but no recorded quantity uses it (the probe diagnostics: 'fisher_max_eigenvalue', 'fisher_max_eigenvalue_weights', 'empirical_fisher_max_eigenvalue', 'ntk_relative_change', 'jacobian_max_singular_value')",
        ));
    }
    Ok(specs)
}

/// The network form: biases checked against the layers, the per-layer scales.
fn network<T: Real>(problem: &Problem<'_, T>, opts: &TrainOptions, layout: &Layout) -> Result<Network<T>> {
    let (batch, depth) = (layout.batch, layout.depth());
    let dims = &layout.dims;
    if !problem.biases.is_empty() && problem.biases.len() != depth {
        return Err(Error::shape(
            "biases",
            format!("one entry per layer ({depth})"),
            format!("{} entries", problem.biases.len()),
        ));
    }
    let mut bias_offsets = vec![None; depth];
    let mut next = layer_offsets(dims)[depth];
    for (j, bias) in problem.biases.iter().enumerate() {
        if let Some(bias) = bias {
            let want = [batch, dims[j + 1]];
            if bias.shape != want || bias.data.len() != batch * dims[j + 1] {
                return Err(Error::shape(
                    format!("biases[{j}]"),
                    format!("{} = (batch, d_out of weights[{j}])", shape_str(&want)),
                    shape_str(bias.shape),
                ));
            }
            bias_offsets[j] = Some(next);
            next += dims[j + 1];
        }
    }
    let form = opts.form;
    Ok(Network {
        dims: dims.clone(),
        scales: dims[..depth]
            .iter()
            .map(|&d_in| T::from_f64(form.parameterization.scale(d_in)))
            .collect(),
        activation: form.activation,
        weight_offsets: layer_offsets(dims),
        bias_offsets,
        products: Products::Plain,
    })
}

/// The data sets of a call, validated: training (X filtered when it is the identity),
/// held-out and probe sets.
struct Data<'a, T> {
    x: Option<ArrayRef<'a, T>>,
    train: DataSet<'a, T>,
    eval: Option<DataSet<'a, T>>,
    record_data: Option<ProbeSet<'a, T>>,
}

fn data<'a, T: Real>(problem: &Problem<'a, T>, opts: &TrainOptions, layout: &Layout) -> Result<Data<'a, T>> {
    let batch = layout.batch;
    let (d_0, d_l) = (layout.dims[0], layout.dims[layout.depth()]);
    let loss = opts.loss;
    if loss.kind == LossKind::CrossEntropy && d_l < 2 {
        return Err(Error::invalid(
            "loss",
            format!("'cross_entropy' needs d_L ≥ 2 outputs (one per class), the last layer has {d_l}"),
        ));
    }
    let x = problem.x.filter(|x| !is_identity(x, layout));
    let (x_shared, n) = match x {
        Some(x) => {
            let (shared, _, n) = check_matrix("X", x, batch, Some(d_0), None)?;
            (shared, n)
        }
        None => (true, d_0),
    };
    let (y, y_shared) = check_targets("Y", problem.y, loss.kind, layout, n)?;
    let train = DataSet {
        x: x.map(|x| x.data),
        x_shared,
        y,
        y_shared,
        n,
    };
    let eval = match problem.eval {
        None => None,
        Some((ex, ey)) => {
            let (ex_shared, _, n_eval) = check_matrix("eval_data[0] (X_test)", ex, batch, Some(d_0), None)?;
            let (ey, ey_shared) = check_targets("eval_data[1] (Y_test)", ey, loss.kind, layout, n_eval)?;
            Some(DataSet {
                x: Some(ex.data),
                x_shared: ex_shared,
                y: ey,
                y_shared: ey_shared,
                n: n_eval,
            })
        }
    };
    let record_data = match problem.record_data {
        None => None,
        Some((px, py)) => {
            let (x_shared, _, n_probe) = check_matrix("record_data[0] (X_probe)", px, batch, Some(d_0), None)?;
            let y = py
                .map(|py| check_targets("record_data[1] (Y_probe)", py, loss.kind, layout, n_probe))
                .transpose()?;
            Some(ProbeSet {
                x: px.data,
                x_shared,
                y,
                n: n_probe,
            })
        }
    };
    Ok(Data {
        x,
        train,
        eval,
        record_data,
    })
}

/// The mini-batch schedule and each network's data stream (given, or the state's).
fn schedule(
    opts: &TrainOptions,
    state: Option<&StateRef<'_, impl Real>>,
    batch: usize,
    n: usize,
) -> Result<(Schedule, Vec<(u64, u64)>)> {
    let schedule = match opts.batch_size {
        None => Schedule::Full { n },
        Some(size) if (1..=n).contains(&size) => Schedule::MiniBatch { size, n },
        Some(size) => {
            return Err(Error::invalid(
                "batch_size",
                format!("must be in [1, n] = [1, {n}] (n: examples, columns of X), got {size}"),
            ))
        }
    };
    let seeds: Vec<(u64, u64)> = match (&opts.data_seed, state) {
        (Some(seeds), _) => {
            if let Seeds::PerNetwork(v) = seeds {
                if v.len() != batch {
                    return Err(Error::shape(
                        "data_seed",
                        format!("one seed per network ({batch})"),
                        format!("{} seeds", v.len()),
                    ));
                }
            }
            (0..batch).map(|b| seeds.stream_of(b)).collect()
        }
        // The state's streams (their count is checked with the rest of the state).
        (None, Some(s)) => s.data_seeds.chunks_exact(2).map(|p| (p[0], p[1])).collect(),
        (None, _) if opts.batch_size.is_some() => {
            return Err(Error::invalid(
                "data_seed",
                "is needed with batch_size (or a state to take it from)",
            ));
        }
        (None, _) => vec![(0, 0); batch],
    };
    Ok((schedule, seeds))
}

/// Whether the accuracy of every step's batch is counted (accuracy stop rule or records).
fn step_accuracy(opts: &TrainOptions, specs: &[RecordSpec], schedule: Schedule, d_l: usize) -> Result<bool> {
    if opts.target_accuracy.is_some() && opts.loss.kind == LossKind::Mse && d_l < 2 {
        return Err(Error::invalid(
            "target_accuracy",
            format!("with loss='mse' reads classes as argmax over d_L ≥ 2 outputs (one-hot Y); d_L = {d_l} here"),
        ));
    }
    Ok(opts.target_accuracy.is_some()
        || specs.iter().any(|s| {
            s.quantity == Quantity::BatchAccuracy
                || (s.quantity == Quantity::Accuracy && matches!(schedule, Schedule::Full { .. }))
        }))
}

/// The state buffers of the call's optimiser: (names, shapes), slot kind major.
fn slots<T: Real>(opts: &TrainOptions, layout: &Layout, net: &Network<T>) -> (Vec<String>, Vec<Vec<usize>>) {
    let tensors = tensor_shapes(layout, net, opts.learn_scale);
    let mut names = Vec::new();
    let mut shapes = Vec::new();
    for slot in opts.optimizer.slot_names() {
        for (name, shape) in &tensors {
            names.push(format!("{slot}:{name}"));
            shapes.push(shape.clone());
        }
    }
    (names, shapes)
}

/// A state passed in must fit the call; a data_seed given with it must be its own.
fn check_state<T: Real>(s: &StateRef<'_, T>, opts: &TrainOptions, plan: &Plan<'_, T>) -> Result<()> {
    s.check(&Expected {
        optimizer: opts.optimizer.name(),
        batch: plan.layout.batch,
        batch_size: opts.batch_size,
        n: plan.examples,
        scales: plan.any_manifold().then_some([plan.layout.batch, plan.layout.depth()]),
        slots: &plan.slot_shapes,
    })?;
    if opts.data_seed.is_some() && opts.batch_size.is_some() {
        let given: Vec<u64> = plan.seeds.iter().flat_map(|&(a, b)| [a, b]).collect();
        if given != s.data_seeds {
            return Err(Error::invalid(
                "data_seed",
                "differs from the state's data order; pass data_seed=None to continue the state's",
            ));
        }
    }
    Ok(())
}

/// The scale of every manifold layer of every network (B × L, NaN for Euclidean layers; empty
/// without manifold layers). Manifold layers must start on their manifold; their scale comes
/// from the state when one is given (so chained calls do not re-measure it), else from the
/// weights.
fn start_scales<T: Real>(
    problem: &Problem<'_, T>,
    layout: &Layout,
    manifolds: &[Manifold],
    state: Option<&StateRef<'_, T>>,
) -> Result<Vec<T>> {
    let (batch, depth, dims) = (layout.batch, layout.depth(), &layout.dims);
    if manifolds.iter().all(|&m| m == Manifold::Euclidean) {
        return Ok(Vec::new());
    }
    let mut scales = vec![T::from_f64(f64::NAN); batch * depth];
    for (j, w) in problem.weights.iter().enumerate() {
        let manifold = manifolds[j];
        if manifold == Manifold::Euclidean {
            continue;
        }
        let (d_out, d_in) = (dims[j + 1], dims[j]);
        let size = d_out * d_in;
        let arg = format!("weights[{j}]");
        for b in 0..batch {
            let layer = &w.data[b * size..(b + 1) * size];
            scales[b * depth + j] = match state.and_then(|s| s.scales) {
                None => T::from_f64(manifold.scale_of::<T>(&arg, layer, d_out, d_in)?),
                Some(given) => {
                    let s = given.data[b * depth + j];
                    check_on_manifold(manifold, &arg, layer, d_out, d_in, s)?;
                    s
                }
            };
        }
    }
    Ok(scales)
}

/// The exact data reduction when n > d_0 (linear chain, MSE, full batch, no accuracy).
fn reduction<T: Real>(
    plan: &Plan<'_, T>,
    x: Option<ArrayRef<'_, T>>,
    linear_chain: bool,
) -> Result<Option<Reduced<T>>> {
    let opts = plan.opts;
    let layout = &plan.layout;
    let (d_0, d_l) = (layout.dims[0], layout.dims[layout.depth()]);
    let train = plan.train;
    let reducible = linear_chain
        && opts.loss.kind == LossKind::Mse
        && matches!(plan.schedule, Schedule::Full { .. })
        && !plan.step_accuracy
        && !plan.specs.iter().any(|s| s.quantity == Quantity::Accuracy);
    Ok(match (x, train.y) {
        (Some(x), TargetSlice::Values(y)) if reducible && train.n > d_0 => Some(reduce::reduce(
            x.data,
            train.x_shared,
            y,
            train.y_shared,
            layout.batch,
            d_0,
            d_l,
            train.n,
            opts.threads,
        )?),
        _ => None,
    })
}

impl<'a, T: Real> Plan<'a, T> {
    pub fn new(problem: &Problem<'a, T>, opts: &'a TrainOptions, state: Option<&StateRef<'a, T>>) -> Result<Self> {
        let layout = check_weights("weights", &problem.weights)?;
        let (batch, depth) = (layout.batch, layout.depth());
        let d_l = layout.dims[depth];
        check_options(opts, batch)?;
        let net = network(problem, opts, &layout)?;
        let has_biases = net.bias_offsets.iter().any(Option::is_some);
        let form = opts.form;
        let linear_chain =
            form.activation == Activation::Linear && form.parameterization == Parameterization::Standard && !has_biases;
        let data = data(problem, opts, &layout)?;
        let (schedule, seeds) = schedule(opts, state, batch, data.train.n)?;
        let specs = check_records(
            opts,
            &layout,
            linear_chain,
            data.eval.is_some(),
            data.record_data.as_ref(),
        )?;
        let step_accuracy = step_accuracy(opts, &specs, schedule, d_l)?;
        let layers = layers::check(opts, &layout, has_biases)?;
        let (slot_names, slot_shapes) = slots(opts, &layout, &net);
        let mut plan = Plan {
            opts,
            weights: problem.weights.clone(),
            biases: problem.biases.clone(),
            net,
            train: data.train,
            reduced: None,
            examples: data.train.n,
            eval: data.eval,
            record_data: data.record_data,
            schedule,
            seeds,
            specs,
            manifolds: layers.manifolds,
            groups: layers.groups,
            alpha: T::from_f64(opts.alpha),
            step_accuracy,
            start_steps: state.map_or_else(|| vec![0; batch], |s| s.steps.to_vec()),
            scales: Vec::new(),
            state_slots: state.map(|s| s.slots.clone()),
            slot_shapes,
            slot_names,
            layout,
        };
        if let Some(s) = state {
            check_state(s, opts, &plan)?;
        }
        plan.scales = start_scales(problem, &plan.layout, &plan.manifolds, state)?;
        plan.reduced = reduction(&plan, data.x, linear_chain)?;
        Ok(plan)
    }
}

/// A manifold layer given with its scale s (from a state) must still be on its manifold.
fn check_on_manifold<T: Real>(manifold: Manifold, arg: &str, w: &[T], d_out: usize, d_in: usize, s: T) -> Result<()> {
    let (s2, _) = manifold.spread(w, d_out, d_in);
    let s = s.to_f64();
    let scale_err = ((s2.sqrt() - s.abs()) / s.abs()).abs();
    if !(s.is_finite() && s != 0.0 && scale_err <= 1e-3) {
        return Err(Error::invalid(
            "state",
            format!(
                "the {} scale {s} of {arg} does not match the weights (scale {:.6})",
                manifold.name(),
                s2.sqrt()
            ),
        ));
    }
    manifold.scale_of::<T>(arg, w, d_out, d_in).map(|_| ())
}

/// The parameter tensors of a network, in state order: every layer's weights, the biases of the
/// layers that have one, and (learned scales) one scale per layer. Names and batched shapes.
fn tensor_shapes<T: Real>(layout: &Layout, net: &Network<T>, learn_scale: bool) -> Vec<(String, Vec<usize>)> {
    let (batch, dims) = (layout.batch, &layout.dims);
    let mut tensors: Vec<(String, Vec<usize>)> = (0..layout.depth())
        .map(|j| (format!("weights[{j}]"), vec![batch, dims[j + 1], dims[j]]))
        .collect();
    for j in 0..layout.depth() {
        if net.bias_offsets[j].is_some() {
            tensors.push((format!("biases[{j}]"), vec![batch, dims[j + 1]]));
        }
    }
    if learn_scale {
        tensors.push(("scales".to_string(), vec![batch, layout.depth()]));
    }
    tensors
}
