//! The one per-network training loop, and the worker buffers it runs in.
//!
//! Each step composes: the data schedule (the step's examples) → the network form (forward,
//! backward) → the loss (value, signal, accuracy) → the optimiser (per layer, Euclidean or on a
//! manifold, at its group's scheduled rate) → the stop rules → the recorder. A network is trained start to finish by one worker
//! with its own buffers, so results do not depend on the thread count, and the step loop
//! allocates nothing: every buffer is sized once per call. (Recording the weight diagnostics
//! allocates a few views per recorded column.)

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

use faer::MatRef;

use crate::alloc::{checked_len, reuse};
use crate::error::Result;
use crate::linalg::row_major;
use crate::loss::{evaluate, Tally, Targets};
use crate::metrics::kernels::frobenius;
use crate::net::{Input, Passes};
use crate::optim::geometry::Workspace;
use crate::optim::{Group, Manifold, Rule};
use crate::record::{Diagnostics, Quantity};
use crate::scalar::Real;

use super::layers;
use super::options::TrainOptions;
use super::plan::{NetworkData, Plan};
use super::schedule::{epoch_order, Batch, Schedule};
use crate::loss::TargetSlice;

/// One network's share of the outputs: its trained parameters, state and records.
///
/// The parameter and state blocks are not initialised (not even zeroed: the outputs are large,
/// and zeroing them would be a serial pass over memory that the network's scatter overwrites
/// anyway); every block is written exactly once, when its network is scattered.
pub(super) struct NetworkIo<'o, T> {
    pub weights: Vec<&'o mut [MaybeUninit<T>]>,
    /// The layers that have a bias, in layer order.
    pub biases: Vec<&'o mut [MaybeUninit<T>]>,
    /// The state buffers (slot kind major, then tensor): this network's block of each.
    pub slots: Vec<&'o mut [MaybeUninit<T>]>,
    /// (L) manifold scales; empty without manifold layers.
    pub scales: &'o mut [T],
    pub step: &'o mut i64,
    /// One block per recorded quantity (columns × width).
    pub records: Vec<&'o mut [f64]>,
    pub outcome: &'o mut Outcome,
}

/// How one network ended.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Outcome {
    pub final_loss: f64,
    pub steps_to_tol: i64,
    pub steps_to_accuracy: i64,
    pub diverged: bool,
}

/// The parameters and everything the passes and the optimiser work in.
pub(super) struct Core<T: Real> {
    /// The network's parameters (weights, then biases), trained in place.
    params: Vec<T>,
    /// Manifold scales (L), the rule's state (SLOTS entries per parameter, tensor-major) and
    /// the state of learned scales (SLOTS per layer).
    scales: Vec<T>,
    slots: Vec<T>,
    scale_slots: Vec<T>,
    passes: Passes<T>,
    /// A dense weight gradient (largest layer), a bias gradient and a copy of it to decay
    /// (widest layer; the copy only with weight decay).
    grad: Vec<T>,
    bias_grad: Vec<T>,
    decayed_bias_grad: Vec<T>,
    /// Manifold workspaces, one per distinct (manifold, layer shape); layer j uses
    /// `workspaces[workspace_of[j]]`.
    workspaces: Vec<Workspace<T>>,
    workspace_of: Vec<usize>,
    diagnostics: Diagnostics<T>,
}

/// Buffers for the examples of a step or an evaluation chunk, gathered from the data sets.
pub(super) struct Gathered<T> {
    /// d_0 × cols inputs, d_L × cols targets or cols labels.
    x: Vec<T>,
    y: Vec<T>,
    labels: Vec<i64>,
    /// The current epoch's order of the examples, for (network, epoch) = `order_of`.
    order: Vec<u32>,
    order_of: Option<(usize, u64)>,
}

/// A worker's buffers, reused for every network it trains, and across calls through the pool's
/// spares (see [`Worker::new`]).
pub(super) struct Worker<T: Real> {
    core: Core<T>,
    gathered: Gathered<T>,
}

impl<T: Real> Worker<T> {
    /// Buffers for the networks of `plan`. With a `spare` (a worker of an earlier call or task),
    /// its large buffers are reused without zeroing where they have room: the parameters, the
    /// rule's state, the passes, the gradients and the gathered examples are each overwritten
    /// before they are read (`gather_network`, the passes, the loss, `gather`), so a reused
    /// worker gives the same bits as a fresh one. The small per-call parts (manifold
    /// workspaces, diagnostics, the epoch order) are built anew.
    pub fn new<R: Rule<T>>(plan: &Plan<'_, T>, spare: Option<Worker<T>>) -> Result<Self> {
        let net = &plan.net;
        let dims = &net.dims;
        let depth = net.depth();
        let params = net.params();
        let mini_batches = matches!(plan.schedule, Schedule::MiniBatch { .. });
        // Columns of a pass: the step's examples; evaluation passes go in chunks of as many.
        let cols = plan.schedule.max_examples().min(plan.train_data().n);
        let gathers = mini_batches || plan.eval.is_some();
        let gather_cols = if gathers { cols } else { 0 };
        let max_layer = dims.windows(2).map(|w| w[0] * w[1]).max().unwrap();
        let max_d = *dims.iter().max().unwrap();
        let decays = plan.opts.weight_decay.is_some();
        let dense =
            !R::PLAIN || plan.any_manifold() || decays || plan.specs.iter().any(|s| s.quantity == Quantity::GradNorms);
        let mut workspaces: Vec<Workspace<T>> = Vec::new();
        let mut workspace_of = vec![usize::MAX; depth];
        for j in 0..depth {
            let (manifold, shape) = (plan.manifolds[j], (dims[j + 1], dims[j]));
            if manifold == Manifold::Euclidean {
                continue;
            }
            workspace_of[j] = match workspaces.iter().position(|w| w.serves(manifold, shape)) {
                Some(i) => i,
                None => {
                    let work = Workspace::new(manifold, shape.0, shape.1, plan.opts.oblique_penalty)?;
                    workspaces.extend(work);
                    workspaces.len() - 1
                }
            };
        }
        let labels = matches!(plan.train.y, TargetSlice::Labels(_));
        // The spare's buffers, taken out one by one (empty where there is no spare).
        let mut spare = spare;
        let mut take = |buffer: fn(&mut Worker<T>) -> &mut Vec<T>| {
            spare.as_mut().map_or_else(Vec::new, |w| std::mem::take(buffer(w)))
        };
        let (params_, scales_, slots_) = (
            take(|w| &mut w.core.params),
            take(|w| &mut w.core.scales),
            take(|w| &mut w.core.slots),
        );
        let (scale_slots_, grad_, bias_grad_) = (
            take(|w| &mut w.core.scale_slots),
            take(|w| &mut w.core.grad),
            take(|w| &mut w.core.bias_grad),
        );
        let (decayed_, x_, y_) = (
            take(|w| &mut w.core.decayed_bias_grad),
            take(|w| &mut w.gathered.x),
            take(|w| &mut w.gathered.y),
        );
        let passes_ = spare.map(|w| w.core.passes).unwrap_or_default();
        Ok(Worker {
            core: Core {
                params: reuse("weights", params_, params)?,
                scales: reuse("weights", scales_, if plan.any_manifold() { depth } else { 0 })?,
                slots: reuse("weights", slots_, checked_len("weights", &[R::SLOTS, params])?)?,
                scale_slots: reuse(
                    "weights",
                    scale_slots_,
                    if plan.opts.learn_scale { R::SLOTS * depth } else { 0 },
                )?,
                passes: Passes::reusing(passes_, dims, cols, net.activation)?,
                grad: reuse("weights", grad_, if dense { max_layer } else { 0 })?,
                bias_grad: reuse("weights", bias_grad_, max_d)?,
                decayed_bias_grad: reuse("weights", decayed_, if decays { max_d } else { 0 })?,
                workspaces,
                workspace_of,
                diagnostics: Diagnostics::new(
                    &plan.specs,
                    dims,
                    plan.opts.alpha,
                    plan.record_data.map(|r| (net, r.n, plan.opts.loss.kind)),
                )?,
            },
            gathered: Gathered {
                x: reuse("X", x_, checked_len("X", &[dims[0], gather_cols])?)?,
                y: reuse(
                    "Y",
                    y_,
                    if labels {
                        0
                    } else {
                        checked_len("Y", &[dims[depth], gather_cols])?
                    },
                )?,
                labels: filled("Y", if labels { gather_cols } else { 0 })?,
                order: filled("X", if mini_batches { plan.examples } else { 0 })?,
                order_of: None,
            },
        })
    }
}

impl<T: Real> Worker<T> {
    /// Bytes held by the reusable buffers (their capacity).
    pub fn bytes(&self) -> usize {
        let c = &self.core;
        let g = &self.gathered;
        let entries: usize = [
            &c.params,
            &c.scales,
            &c.slots,
            &c.scale_slots,
            &c.grad,
            &c.bias_grad,
            &c.decayed_bias_grad,
            &g.x,
            &g.y,
        ]
        .iter()
        .map(|v| v.capacity())
        .sum();
        entries * std::mem::size_of::<T>() + c.passes.bytes()
    }
}

/// Copy columns `columns` (m of them) of a data set into the gather buffers `x`, `y`, `labels`
/// and return them as a pass input and targets.
fn gather<'g, T: Real>(
    (x, y, labels): (&'g mut [T], &'g mut [T], &'g mut [i64]),
    data: &NetworkData<'_, T>,
    columns: impl Iterator<Item = usize> + Clone,
    m: usize,
    d_0: usize,
    d_l: usize,
) -> (Input<'g, T>, Targets<'g, T>) {
    let n = data.n;
    let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
    for r in 0..d_0 {
        let row = &mut x[r * m..(r + 1) * m];
        match data.x {
            Some(src) => {
                for (dst, c) in row.iter_mut().zip(columns.clone()) {
                    *dst = src[r * n + c];
                }
            }
            // X = I: column c is the unit vector e_c.
            None => {
                for (dst, c) in row.iter_mut().zip(columns.clone()) {
                    *dst = if c == r { one } else { zero };
                }
            }
        }
    }
    let targets = match data.y {
        Targets::Values(src) => {
            for a in 0..d_l {
                for (dst, c) in y[a * m..(a + 1) * m].iter_mut().zip(columns.clone()) {
                    *dst = src[a * n + c];
                }
            }
            Targets::Values(&y[..d_l * m])
        }
        Targets::Labels(src) => {
            for (dst, c) in labels.iter_mut().zip(columns) {
                *dst = src[c];
            }
            Targets::Labels(&labels[..m])
        }
    };
    (Input::Columns(&x[..d_0 * m]), targets)
}

impl<T> Gathered<T> {
    fn buffers(&mut self) -> (&mut [T], &mut [T], &mut [i64]) {
        (&mut self.x, &mut self.y, &mut self.labels)
    }
}

/// `len` zeros of an integer buffer, or `OutOfMemory` naming `arg` (as `alloc::zeroed` for
/// floats).
fn filled<X: Default + Clone>(arg: &str, len: usize) -> Result<Vec<X>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| crate::Error::OutOfMemory {
        arg: arg.to_string(),
        bytes: Some(len as u128 * std::mem::size_of::<X>() as u128),
    })?;
    v.resize(len, X::default());
    Ok(v)
}

/// Initialise `dst` with a copy of `src` (equal lengths).
fn write<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[T]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        d.write(v);
    }
}

/// Loss (reduced as the call asks) and accuracy of a set of examples.
#[derive(Clone, Copy, Debug)]
struct Measured {
    loss: f64,
    accuracy: f64,
}

/// What the recorder reads at an iterate.
#[derive(Clone, Copy)]
struct Iterate<'a, T> {
    /// The network and whether this is the call's first iterate.
    network: usize,
    start: bool,
    step: Measured,
    whole: Option<Measured>,
    test: Option<Measured>,
    /// z_L of the step's pass when it is W_{L:1} itself (X = I, full batch).
    end_to_end: Option<&'a [T]>,
    /// The call's cancel flag, for the long probe diagnostics.
    cancel: &'a AtomicBool,
}

/// The per-call context of the loop: the plan and the rule.
pub(super) struct Trainer<'p, 'a, T: Real, R> {
    pub plan: &'p Plan<'a, T>,
    pub rule: R,
}

impl<'p, T: Real, R: Rule<T>> Trainer<'p, '_, T, R> {
    /// Loss and accuracy of the network on a whole data set, in chunks of the passes' columns
    /// (no slopes, no signal: the step's own pass is not disturbed before it is taken).
    fn measure(&self, core: &mut Core<T>, gathered: &mut Gathered<T>, data: &NetworkData<'_, T>) -> Measured {
        let plan = self.plan;
        let net = &plan.net;
        let (d_0, d_l) = (net.dims[0], net.dims[net.depth()]);
        let chunk = plan.schedule.max_examples().min(plan.train_data().n);
        let mut total = Tally::default();
        let mut start = 0;
        while start < data.n {
            let m = chunk.min(data.n - start);
            let (input, targets) = if m == data.n {
                (data.input(), data.y)
            } else {
                gather(gathered.buffers(), data, start..start + m, m, d_0, d_l)
            };
            net.forward(&core.params, input, m, &mut core.passes, false);
            let z = net.output(&core.passes.activations, m);
            let t = evaluate(plan.opts.loss.kind, z, d_l, targets, plan.alpha, None, true);
            total.loss += t.loss;
            total.correct += t.correct;
            start += m;
        }
        Measured {
            loss: plan.opts.loss.scale(data.n) * total.loss,
            accuracy: total.correct as f64 / data.n as f64,
        }
    }

    /// Write quantity `q` at an iterate into `out` (its width). Gradient norms are written by
    /// the backward pass instead.
    fn record(
        &self,
        q: Quantity,
        (params, diagnostics): (&[T], &mut Diagnostics<T>),
        initial: &[MatRef<'_, T>],
        at: &Iterate<'_, T>,
        out: &mut [f64],
    ) {
        let measured = |m: Option<Measured>| m.expect("measured when due");
        match q {
            Quantity::Loss => out[0] = measured(at.whole).loss,
            Quantity::Accuracy => out[0] = measured(at.whole).accuracy,
            Quantity::BatchLoss => out[0] = at.step.loss,
            Quantity::BatchAccuracy => out[0] = at.step.accuracy,
            Quantity::TestLoss => out[0] = measured(at.test).loss,
            Quantity::TestAccuracy => out[0] = measured(at.test).accuracy,
            Quantity::GradNorms => {}
            q if q.needs_record_data() => {
                let net = &self.plan.net;
                let probe = self.plan.record_data.expect("validated: record_data given");
                let data = probe.of(at.network, net.dims[0], net.dims[net.depth()]);
                diagnostics.probe(q, params, data, at.start, at.cancel, out);
            }
            _ => {
                let net = &self.plan.net;
                let dims = &net.dims;
                let layers: Vec<MatRef<'_, T>> = (0..net.depth())
                    .map(|j| row_major(net.weights_of(params, j), dims[j + 1], dims[j]))
                    .collect();
                let end_to_end = at.end_to_end.map(|p| row_major(p, dims[net.depth()], dims[0]));
                diagnostics.weights(q, &layers, end_to_end, initial, out);
            }
        }
    }

    /// The backward pass of the step whose signal the forward pass left: with `update` =
    /// (rates, t) one update of every parameter from this iterate at the step's rates (t is
    /// the 1-based update count of Adam's bias correction); with `norms`, ‖∂ℓ/∂W_j‖_F of every
    /// layer.
    fn backward(
        &self,
        core: &mut Core<T>,
        input: Input<'_, T>,
        m: usize,
        update: Option<(&StepRates<T>, u64)>,
        mut norms: Option<&mut [f64]>,
    ) {
        let plan = self.plan;
        let net = &plan.net;
        let rule = &self.rule;
        let k = R::SLOTS;
        let learn_scale = plan.opts.learn_scale;
        let Core {
            params,
            scales,
            slots,
            scale_slots,
            passes,
            grad,
            bias_grad,
            decayed_bias_grad,
            workspaces,
            workspace_of,
            ..
        } = core;
        net.backward(params, input, m, passes, bias_grad, |j, w, bias, g, bias_g| {
            let size = w.len();
            let mut dense = false;
            if let Some(norms) = norms.as_deref_mut() {
                g.write_to(grad);
                dense = true;
                norms[j] = frobenius(row_major(&grad[..size], g.d_out, g.d_in));
            }
            let Some((rates, t)) = update else { return };
            let offset = net.weight_offsets[j];
            let w_slots = &mut slots[k * offset..k * (offset + size)];
            let (lr, decay) = rates.of(plan.groups[j]);
            let manifold = plan.manifolds[j];
            if manifold == Manifold::Euclidean && R::PLAIN && decay == T::from_f64(0.0) {
                // Plain GD applies the factored gradient with one product, no gradient buffer.
                g.add_to(w, -lr);
            } else {
                if !dense {
                    g.write_to(grad);
                }
                let g = &mut grad[..size];
                if manifold == Manifold::Euclidean {
                    decay_weights::<T, R>(w, g, decay);
                    rule.apply(w, g, w_slots, lr, t);
                } else {
                    let s = scales[j];
                    let new_s = if learn_scale {
                        let scale_slots = &mut scale_slots[k * j..k * (j + 1)];
                        step_scale(rule, s, g, w, scale_slots, rates.of(Group::Scales), t)
                    } else {
                        s
                    };
                    workspaces[workspace_of[j]].step(rule, w, g, w_slots, lr, t, s, new_s);
                    scales[j] = new_s;
                }
            }
            if let (Some(bias), Some(offset)) = (bias, net.bias_offsets[j]) {
                let len = bias.len();
                let bias_slots = &mut slots[k * offset..k * (offset + len)];
                let (lr, decay) = rates.of(Group::Biases);
                if decay == T::from_f64(0.0) {
                    rule.apply(bias, bias_g, bias_slots, lr, t);
                } else {
                    let g = &mut decayed_bias_grad[..len];
                    g.copy_from_slice(bias_g);
                    decay_weights::<T, R>(bias, g, decay);
                    rule.apply(bias, g, bias_slots, lr, t);
                }
            }
        });
    }

    /// Network b's parameters, scales and optimiser state into the worker (from the inputs and
    /// the state passed in, or zero state when fresh).
    fn gather_network(&self, b: usize, core: &mut Core<T>) {
        let plan = self.plan;
        let net = &plan.net;
        let depth = net.depth();
        for (j, w) in plan.weights.iter().enumerate() {
            let (start, end) = (net.weight_offsets[j], net.weight_offsets[j + 1]);
            let size = end - start;
            core.params[start..end].copy_from_slice(&w.data[b * size..(b + 1) * size]);
        }
        for (j, bias) in plan.biases.iter().enumerate() {
            if let (Some(bias), Some(offset)) = (bias, net.bias_offsets[j]) {
                let d = net.dims[j + 1];
                core.params[offset..offset + d].copy_from_slice(&bias.data[b * d..(b + 1) * d]);
            }
        }
        if !core.scales.is_empty() {
            core.scales.copy_from_slice(&plan.scales[b * depth..(b + 1) * depth]);
        }
        match &plan.state_slots {
            None => {
                core.slots.fill(T::from_f64(0.0));
                core.scale_slots.fill(T::from_f64(0.0));
            }
            Some(given) => self.for_each_slot(core, |slot, index, offset| {
                let per_network = given[index].data.len() / plan.layout.batch;
                let start = b * per_network + offset;
                slot.copy_from_slice(&given[index].data[start..start + slot.len()]);
            }),
        }
    }

    /// Visit every state buffer of the worker: `f(worker entries, state buffer index, offset
    /// within the network's block of that buffer)`. Weight and bias buffers are whole blocks;
    /// the learned scales' buffers are (B, L) in the state but SLOTS per layer in the worker,
    /// so they are visited one entry at a time.
    fn for_each_slot(&self, core: &mut Core<T>, mut f: impl FnMut(&mut [T], usize, usize)) {
        let net = &self.plan.net;
        let depth = net.depth();
        let k = R::SLOTS;
        let mut tensors: Vec<(usize, usize)> = (0..depth)
            .map(|j| (net.weight_offsets[j], net.weight_offsets[j + 1] - net.weight_offsets[j]))
            .collect();
        tensors.extend((0..depth).filter_map(|j| net.bias_offsets[j].map(|o| (o, net.dims[j + 1]))));
        let count = tensors.len() + usize::from(self.plan.opts.learn_scale);
        for slot in 0..k {
            for (i, &(offset, size)) in tensors.iter().enumerate() {
                let block = &mut core.slots[k * offset + slot * size..k * offset + (slot + 1) * size];
                f(block, slot * count + i, 0);
            }
            if self.plan.opts.learn_scale {
                for j in 0..depth {
                    f(
                        &mut core.scale_slots[k * j + slot..k * j + slot + 1],
                        slot * count + tensors.len(),
                        j,
                    );
                }
            }
        }
    }

    /// The trained network back into its output blocks.
    fn scatter_network(&self, core: &mut Core<T>, io: &mut NetworkIo<'_, T>) {
        let net = &self.plan.net;
        for (j, out) in io.weights.iter_mut().enumerate() {
            write(out, net.weights_of(&core.params, j));
        }
        let mut biases = io.biases.iter_mut();
        for j in 0..net.depth() {
            if let Some(offset) = net.bias_offsets[j] {
                let out = biases.next().expect("one output per bias");
                write(out, &core.params[offset..offset + net.dims[j + 1]]);
            }
        }
        io.scales.copy_from_slice(&core.scales);
        let slots = &mut io.slots;
        self.for_each_slot(core, |slot, index, offset| {
            write(&mut slots[index][offset..offset + slot.len()], slot);
        });
    }

    /// What network b's loop keeps fixed: its data, loss offset, group rates and decays, where
    /// it starts, its data stream and its initial layers.
    fn network_run(&self, b: usize) -> NetworkRun<'p, T> {
        let plan = self.plan;
        let net = &plan.net;
        let (d_0, d_l) = (net.dims[0], net.dims[net.depth()]);
        let (rates, decays) = layers::resolve(plan.opts, b);
        NetworkRun {
            b,
            train: plan.train_data().of(b, d_0, d_l),
            whole_set: plan.train.of(b, d_0, d_l),
            eval: plan.eval.map(|e| e.of(b, d_0, d_l)),
            offset: plan.loss_offset(b),
            rates,
            decays,
            start: plan.start_steps[b] as u64,
            stream: plan.seeds[b],
            initial: plan.layout.layers(&plan.weights, b),
        }
    }

    /// The whole-set measurements due at iterate t (training set with mini-batches, held-out
    /// set), taken before the step's own pass, whose buffers they reuse.
    fn due_measurements(
        &self,
        core: &mut Core<T>,
        gathered: &mut Gathered<T>,
        run: &NetworkRun<'_, T>,
        t: usize,
    ) -> (Option<Measured>, Option<Measured>) {
        let plan = self.plan;
        let due = |q: Quantity| plan.specs.iter().any(|s| s.quantity == q && s.column_at(t).is_some());
        let full_batch = matches!(plan.schedule, Schedule::Full { .. });
        let whole = (!full_batch && (due(Quantity::Loss) || due(Quantity::Accuracy)))
            .then(|| self.measure(core, gathered, &run.whole_set));
        let test = (due(Quantity::TestLoss) || due(Quantity::TestAccuracy))
            .then(|| self.measure(core, gathered, run.eval.as_ref().expect("validated: eval data given")));
        (whole, test)
    }

    /// The step's examples (all, or the slice of the epoch's order at update `global`), its
    /// forward pass, loss, output signal and accuracy: (input, examples, measured).
    fn step_pass<'g>(
        &self,
        core: &mut Core<T>,
        gathered: &'g mut Gathered<T>,
        train: NetworkData<'g, T>,
        (b, (seed, stream), offset): (usize, (u64, u64), f64),
        global: u64,
    ) -> (Input<'g, T>, usize, Measured) {
        let plan = self.plan;
        let opts = plan.opts;
        let net = &plan.net;
        let (d_0, d_l) = (net.dims[0], net.dims[net.depth()]);
        let (input, m, targets, examples) = match plan.schedule.batch(global) {
            Batch::All => (train.input(), train.n, train.y, plan.examples),
            Batch::Slice { epoch, start, len } => {
                if gathered.order_of != Some((b, epoch)) {
                    epoch_order(seed, stream, epoch, &mut gathered.order);
                    gathered.order_of = Some((b, epoch));
                }
                let Gathered {
                    x, y, labels, order, ..
                } = gathered;
                let columns = order[start..start + len].iter().map(|&c| c as usize);
                let (input, targets) = gather((x, y, labels), &train, columns, len, d_0, d_l);
                (input, len, targets, len)
            }
        };
        net.forward(&core.params, input, m, &mut core.passes, true);
        let scale = opts.loss.scale(examples);
        let Passes {
            activations, signal, ..
        } = &mut core.passes;
        let tally = evaluate(
            opts.loss.kind,
            net.output(activations, m),
            d_l,
            targets,
            plan.alpha,
            Some((signal, T::from_f64(scale) * plan.alpha)),
            plan.step_accuracy,
        );
        let step = Measured {
            loss: scale * (tally.loss + offset),
            accuracy: tally.correct as f64 / m as f64,
        };
        (input, m, step)
    }

    /// Record every quantity due at iterate t.
    fn record_iterate(
        &self,
        (params, diagnostics): (&[T], &mut Diagnostics<T>),
        records: &mut [&mut [f64]],
        initial: &[MatRef<'_, T>],
        at: &Iterate<'_, T>,
        t: usize,
    ) {
        let dims = &self.plan.net.dims;
        for (spec, rows) in self.plan.specs.iter().zip(records.iter_mut()) {
            if let Some(col) = spec.column_at(t) {
                let width = spec.quantity.width(dims);
                let out = &mut rows[col * width..(col + 1) * width];
                self.record(spec.quantity, (params, diagnostics), initial, at, out);
            }
        }
    }

    /// A network stopping at iterate t: the column holding t of every recorded quantity (unless
    /// recorded at t) and every later column get the stopping state; the outcome.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        core: &mut Core<T>,
        gathered: &mut Gathered<T>,
        records: &mut [&mut [f64]],
        run: &NetworkRun<'_, T>,
        t: usize,
        (step, mut whole, mut test): (Measured, Option<Measured>, Option<Measured>),
        stop: Stop,
        cancel: &AtomicBool,
    ) -> Outcome {
        let plan = self.plan;
        let steps = plan.opts.steps;
        for (i, spec) in plan.specs.iter().enumerate() {
            let col = spec.stop_column(t);
            let width = spec.quantity.width(&plan.net.dims);
            if col >= spec.columns(steps) || width == 0 {
                continue;
            }
            if spec.column_at(t).is_none() && spec.quantity != Quantity::GradNorms {
                if matches!(spec.quantity, Quantity::Loss | Quantity::Accuracy) && whole.is_none() {
                    whole = Some(self.measure(core, gathered, &run.whole_set));
                }
                if spec.quantity.needs_eval_data() && test.is_none() {
                    test = Some(self.measure(core, gathered, run.eval.as_ref().expect("validated")));
                }
                // The passes may have been reused by a measurement: no end-to-end view.
                let at = Iterate {
                    network: run.b,
                    start: false,
                    step,
                    whole,
                    test,
                    end_to_end: None,
                    cancel,
                };
                let out = &mut records[i][col * width..(col + 1) * width];
                self.record(
                    spec.quantity,
                    (&core.params, &mut core.diagnostics),
                    &run.initial,
                    &at,
                    out,
                );
            }
            let (head, tail) = records[i].split_at_mut((col + 1) * width);
            for later in tail.chunks_mut(width) {
                later.copy_from_slice(&head[col * width..]);
            }
        }
        Outcome {
            final_loss: whole.map_or_else(|| self.measure(core, gathered, &run.whole_set).loss, |w| w.loss),
            steps_to_tol: if stop.reached_tol { t as i64 } else { -1 },
            steps_to_accuracy: if stop.reached_accuracy { t as i64 } else { -1 },
            diverged: stop.diverged,
        }
    }

    /// Train network b start to finish: at each iterate, measure and record what is due, stop
    /// or take one update at the step's scheduled group rates.
    pub fn train_network(&self, b: usize, worker: &mut Worker<T>, io: &mut NetworkIo<'_, T>, cancel: &AtomicBool) {
        let plan = self.plan;
        let opts = plan.opts;
        let net = &plan.net;
        let depth = net.depth();
        let Worker { core, gathered } = worker;
        self.gather_network(b, core);
        let run = self.network_run(b);
        let full_batch = matches!(plan.schedule, Schedule::Full { .. });
        let grad_norms = plan.specs.iter().position(|s| s.quantity == Quantity::GradNorms);
        let mut updates = 0u64;

        for t in 0..=opts.steps {
            let global = run.start + t as u64;
            let (whole, test) = self.due_measurements(core, gathered, &run, t);
            let (input, m, step) = self.step_pass(core, gathered, run.train, (b, run.stream, run.offset), global);
            let whole = if full_batch { Some(step) } else { whole };
            let identity = full_batch && matches!(input, Input::Identity);
            let at = Iterate {
                network: b,
                start: t == 0,
                step,
                whole,
                test,
                end_to_end: identity.then(|| net.output(&core.passes.activations, m)),
                cancel,
            };
            self.record_iterate(
                (&core.params, &mut core.diagnostics),
                &mut io.records,
                &run.initial,
                &at,
                t,
            );

            if let Some(stop) = Stop::at(opts, step, t, cancel) {
                // The gradient norms of the stopping state, from this iterate's pass.
                if let Some(i) = grad_norms {
                    let col = plan.specs[i].stop_column(t);
                    if col < plan.specs[i].columns(opts.steps) {
                        let rows = &mut io.records[i][col * depth..(col + 1) * depth];
                        self.backward(core, input, m, None, Some(rows));
                    }
                }
                *io.outcome = self.finish(
                    core,
                    gathered,
                    &mut io.records,
                    &run,
                    t,
                    (step, whole, test),
                    stop,
                    cancel,
                );
                break;
            }

            let norms = grad_norms.and_then(|i| {
                plan.specs[i]
                    .column_at(t)
                    .map(|col| &mut io.records[i][col * depth..(col + 1) * depth])
            });
            let step_rates = StepRates::new::<R>(&run.rates, &run.decays, opts.lr_schedule.factor(global));
            self.backward(core, input, m, Some((&step_rates, global + 1)), norms);
            updates += 1;
        }
        *io.step = (run.start + updates) as i64;
        self.scatter_network(core, io);
    }
}

/// What one network's loop keeps fixed (see [`Trainer::network_run`]).
struct NetworkRun<'p, T: Real> {
    b: usize,
    /// The data the steps see (reduced, when that is exact), the whole training set, the
    /// held-out set.
    train: NetworkData<'p, T>,
    whole_set: NetworkData<'p, T>,
    eval: Option<NetworkData<'p, T>>,
    /// The constant the reduction drops from the loss.
    offset: f64,
    /// Learning rate and weight decay of every group (`Group` order), before the schedule.
    rates: [f64; 5],
    decays: [f64; 5],
    /// Updates done before this call, and the data stream (seed, stream).
    start: u64,
    stream: (u64, u64),
    initial: Vec<MatRef<'p, T>>,
}

/// Why a network stops at an iterate.
#[derive(Clone, Copy, Debug)]
struct Stop {
    diverged: bool,
    reached_tol: bool,
    reached_accuracy: bool,
}

impl Stop {
    /// The stop rules at iterate t with the step's measurement (None: the network goes on):
    /// a non-finite loss, the tolerance or target accuracy reached, the last step, or the call
    /// cancelled.
    fn at(opts: &TrainOptions, step: Measured, t: usize, cancel: &AtomicBool) -> Option<Stop> {
        let diverged = !step.loss.is_finite();
        let stop = Stop {
            diverged,
            reached_tol: !diverged && opts.tol.is_some_and(|tol| step.loss <= tol),
            reached_accuracy: !diverged && opts.target_accuracy.is_some_and(|a| step.accuracy >= a),
        };
        let any = diverged || stop.reached_tol || stop.reached_accuracy;
        (any || t == opts.steps || cancel.load(Ordering::Relaxed)).then_some(stop)
    }
}

/// The learning rate and weight decay of every parameter group at one step: lr = η_g·f(t)
/// (computed in f64), and the decay as the rule uses it: λ_g (coupled) or η_g·f(t)·λ_g
/// (decoupled). Built once per step, so groups and schedules cost a few multiplications.
pub(super) struct StepRates<T> {
    lr: [T; 5],
    decay: [T; 5],
}

impl<T: Real> StepRates<T> {
    fn new<R: Rule<T>>(rates: &[f64; 5], decays: &[f64; 5], factor: f64) -> Self {
        let lr = std::array::from_fn(|g| rates[g] * factor);
        StepRates {
            lr: lr.map(T::from_f64),
            decay: std::array::from_fn(|g| {
                T::from_f64(if R::DECOUPLED_DECAY {
                    lr[g] * decays[g]
                } else {
                    decays[g]
                })
            }),
        }
    }

    /// (learning rate, decay) of group `g`.
    fn of(&self, g: Group) -> (T, T) {
        (self.lr[g as usize], self.decay[g as usize])
    }
}

/// Weight decay of one tensor before its rule's step: coupled g ← g + λ·p, or decoupled
/// p ← p − (η·λ)·p (AdamW; `decay` is then η·λ).
fn decay_weights<T: Real, R: Rule<T>>(p: &mut [T], g: &mut [T], decay: T) {
    if decay == T::from_f64(0.0) {
        return;
    }
    if R::DECOUPLED_DECAY {
        for p in p.iter_mut() {
            *p -= decay * *p;
        }
    } else {
        for (g, &p) in g.iter_mut().zip(p.iter()) {
            *g += decay * p;
        }
    }
}

/// The learned scale s of a manifold layer W = s·Q after one Euclidean step of the rule with
/// ∂ℓ/∂s = ⟨G, Q⟩ = ⟨G, W⟩/s (G the data gradient), at the scales group's (lr, decay).
fn step_scale<T: Real, R: Rule<T>>(
    rule: &R,
    s: T,
    g: &[T],
    w: &[T],
    slots: &mut [T],
    (lr, decay): (T, T),
    t: u64,
) -> T {
    let dot: f64 = g.iter().zip(w).map(|(&a, &b)| a.to_f64() * b.to_f64()).sum();
    let mut scale = [s];
    let mut ds = [T::from_f64(dot / s.to_f64())];
    decay_weights::<T, R>(&mut scale, &mut ds, decay);
    rule.apply(&mut scale, &ds, slots, lr, t);
    scale[0]
}
