//! The training engine: one step loop for every network form, loss, optimiser, data schedule,
//! manifold, stop rule and recorded quantity.
//!
//! A call is validated and planned once (`plan`), then dispatched once on the optimiser into
//! generic code (`step`), which trains every network of the batch start to finish on the
//! private thread pool: each network has its own worker buffers, data order and state, so results
//! are bit-identical for any thread count and any batching of the same networks, and a diverging
//! or converged network simply stops costing time.

mod layers;
mod options;
mod plan;
mod schedule;
mod state;
mod step;

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

pub use crate::loss::TargetArray;
pub use crate::optim::{GroupValues, LearningRate, LrSchedule};
pub use options::{Problem, TrainOptions};
pub use schedule::{epoch_order, Schedule};
pub use state::{StateRef, TrainState};

use crate::alloc::{checked_len, zeroed};
use crate::array::Array;
use crate::error::{Error, Result};
use crate::optim::{Adam, AdamW, Gd, Momentum, Optimizer, RmsProp, Rule};
use crate::parallel;
use crate::record::Quantity;
use crate::scalar::Real;

use plan::Plan;
use step::{NetworkIo, Outcome, Trainer, Worker};

/// Results, row-major, the network axis first.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutput<T> {
    /// weights[j] is (B, d_{j+1}, d_j).
    pub weights: Vec<Array<T>>,
    /// One entry per input bias entry: (B, d_{j+1}) for layers with a bias.
    pub biases: Vec<Option<Array<T>>>,
    /// (B, steps / record_every + 1): the training loss on the full training set.
    pub loss: Array<f64>,
    pub final_loss: Vec<f64>,
    pub steps_to_tol: Vec<i64>,
    pub steps_to_accuracy: Vec<i64>,
    pub diverged: Vec<bool>,
    /// The other recorded quantities, in the order asked: (B, columns) or (B, columns, width).
    pub records: Vec<(Quantity, Array<f64>)>,
    pub state: TrainState<T>,
}

/// Split every buffer of `buffers` (B blocks each) into per-network blocks: `result[b][i]` is
/// network b's block of buffer i.
fn per_network<X>(buffers: Vec<&mut [X]>, batch: usize) -> Vec<Vec<&mut [X]>> {
    let mut blocks: Vec<Vec<&mut [X]>> = (0..batch).map(|_| Vec::with_capacity(buffers.len())).collect();
    for buffer in buffers {
        let size = buffer.len() / batch;
        if size == 0 {
            blocks.iter_mut().for_each(|b| b.push(&mut []));
            continue;
        }
        for (network, block) in blocks.iter_mut().zip(buffer.chunks_mut(size)) {
            network.push(block);
        }
    }
    blocks
}

/// An output buffer of `len` entries, allocated (fallibly) but not initialised: every entry is
/// written by a network's scatter before [`Uninit::assume_written`].
struct Uninit<T> {
    buffer: Vec<T>,
    len: usize,
}

impl<T> Uninit<T> {
    fn new(arg: &str, len: usize) -> Result<Self> {
        let mut buffer = Vec::new();
        buffer.try_reserve_exact(len).map_err(|_| Error::OutOfMemory {
            arg: arg.to_string(),
            bytes: Some(len as u128 * std::mem::size_of::<T>() as u128),
        })?;
        Ok(Uninit { buffer, len })
    }

    fn entries(&mut self) -> &mut [MaybeUninit<T>] {
        &mut self.buffer.spare_capacity_mut()[..self.len]
    }

    /// # Safety
    /// Every entry of [`Uninit::entries`] has been written.
    unsafe fn assume_written(mut self) -> Vec<T> {
        // SAFETY: the caller guarantees the first `len` entries are initialised.
        unsafe { self.buffer.set_len(self.len) };
        self.buffer
    }
}

fn entries<T>(buffers: &mut [Uninit<T>]) -> Vec<&mut [MaybeUninit<T>]> {
    buffers.iter_mut().map(Uninit::entries).collect()
}

/// Train a batch of networks.
///
/// `problem` holds the (borrowed, never modified) weights, biases and data, `opts` what to do,
/// `state` where a previous call stopped (None: a fresh start). Setting `cancel` stops the call
/// with `Error::Cancelled`.
pub fn train<T: Real>(
    problem: &Problem<'_, T>,
    opts: &TrainOptions,
    state: Option<&StateRef<'_, T>>,
    cancel: &AtomicBool,
) -> Result<TrainOutput<T>> {
    let plan = Plan::new(problem, opts, state)?;
    // The one dispatch of the call: everything below is generic in the rule.
    match opts.optimizer {
        Optimizer::Gd => run(&plan, Gd, cancel),
        Optimizer::Sgd { momentum, nesterov } => run(
            &plan,
            Momentum {
                beta: T::from_f64(momentum),
                nesterov,
            },
            cancel,
        ),
        Optimizer::Adam { beta1, beta2, eps } => run(&plan, Adam { beta1, beta2, eps }, cancel),
        Optimizer::AdamW { beta1, beta2, eps } => run(&plan, AdamW(Adam { beta1, beta2, eps }), cancel),
        Optimizer::RmsProp {
            decay,
            eps,
            momentum,
            centered,
        } => {
            let (decay, eps, momentum) = (T::from_f64(decay), T::from_f64(eps), T::from_f64(momentum));
            match (centered, momentum > T::from_f64(0.0)) {
                (false, false) => run(&plan, RmsProp::<T, false, false> { decay, eps, momentum }, cancel),
                (true, false) => run(&plan, RmsProp::<T, true, false> { decay, eps, momentum }, cancel),
                (false, true) => run(&plan, RmsProp::<T, false, true> { decay, eps, momentum }, cancel),
                (true, true) => run(&plan, RmsProp::<T, true, true> { decay, eps, momentum }, cancel),
            }
        }
    }
}

/// Train every network of a validated call with rule `rule`: allocate the outputs, train each
/// network into its share of them on the pool, assemble the results.
fn run<T: Real, R: Rule<T>>(plan: &Plan<'_, T>, rule: R, cancel: &AtomicBool) -> Result<TrainOutput<T>> {
    let mut outputs = Outputs::new(plan)?;
    let mut ios = outputs.per_network(plan);
    train_all(&Trainer { plan, rule }, &mut ios, plan.opts.threads, cancel)?;
    drop(ios);
    // SAFETY: `train_all` returned Ok, so every network ran and its scatter wrote its whole
    // block of each output buffer.
    Ok(unsafe { outputs.into_output(plan) })
}

/// Train every network start to finish on the private pool, each worker with its own buffers.
/// Errors: a worker that could not allocate, or the call cancelled.
fn train_all<T: Real, R: Rule<T>>(
    trainer: &Trainer<'_, '_, T, R>,
    ios: &mut [NetworkIo<'_, T>],
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<()> {
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let pool = parallel::pool(threads)?;
    pool.install(|| {
        // rayon builds a worker for each piece of the batch it splits off, several per thread;
        // leasing them from the pool's spares allocates (and page-faults) each buffer once per
        // thread rather than once per piece and call.
        ios.par_iter_mut().enumerate().for_each_init(
            || match Worker::new::<R>(trainer.plan, pool.take_spare()) {
                Ok(worker) => Some(Lease {
                    worker: Some(worker),
                    pool: &pool,
                }),
                Err(err) => {
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
                    None
                }
            },
            |lease, (b, io)| {
                if let Some(worker) = lease.as_mut().and_then(|l| l.worker.as_mut()) {
                    trainer.train_network(b, worker, io, cancel);
                }
            },
        );
    });
    if let Some(err) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(err);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    Ok(())
}

/// A worker in use, handed back to its pool's spares when its piece of the batch is done.
struct Lease<'p, T: Real> {
    worker: Option<Worker<T>>,
    pool: &'p parallel::Pool,
}

impl<T: Real> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            let bytes = worker.bytes();
            self.pool.keep_spare(worker, bytes);
        }
    }
}

/// The output buffers of a call. The parameter and state buffers are allocated but not
/// initialised: their pages are first touched by the workers that write them, so page faults
/// are taken in parallel, and no serial zeroing pass precedes the work.
struct Outputs<T> {
    weights: Vec<Uninit<T>>,
    /// The layers with a bias, and one buffer for each.
    bias_layers: Vec<usize>,
    biases: Vec<Uninit<T>>,
    slots: Vec<Uninit<T>>,
    /// (B, L) manifold scales; empty without manifold layers.
    scales: Vec<T>,
    steps: Vec<i64>,
    /// (columns, width) and the buffer of every recorded quantity.
    columns: Vec<(usize, usize)>,
    records: Vec<Vec<f64>>,
    outcomes: Vec<Outcome>,
}

impl<T: Real> Outputs<T> {
    fn new(plan: &Plan<'_, T>) -> Result<Self> {
        let layout = &plan.layout;
        let (batch, depth, dims) = (layout.batch, layout.depth(), &layout.dims);
        let bias_layers: Vec<usize> = (0..depth).filter(|&j| plan.net.bias_offsets[j].is_some()).collect();
        let columns: Vec<(usize, usize)> = plan
            .specs
            .iter()
            .map(|s| (s.columns(plan.opts.steps), s.quantity.width(dims)))
            .collect();
        Ok(Outputs {
            weights: layout
                .layer_sizes()
                .iter()
                .map(|&size| Uninit::new("weights", checked_len("weights", &[batch, size])?))
                .collect::<Result<_>>()?,
            biases: bias_layers
                .iter()
                .map(|&j| Uninit::new("biases", batch * dims[j + 1]))
                .collect::<Result<_>>()?,
            bias_layers,
            slots: plan
                .slot_shapes
                .iter()
                .map(|shape| Uninit::new("weights", checked_len("weights", shape)?))
                .collect::<Result<_>>()?,
            scales: zeroed("weights", if plan.any_manifold() { batch * depth } else { 0 })?,
            steps: vec![0; batch],
            records: columns
                .iter()
                .map(|&(c, w)| zeroed("steps", checked_len("steps", &[batch, c, w])?))
                .collect::<Result<_>>()?,
            columns,
            outcomes: vec![Outcome::default(); batch],
        })
    }

    /// Each network's share of every buffer.
    fn per_network(&mut self, plan: &Plan<'_, T>) -> Vec<NetworkIo<'_, T>> {
        let (batch, depth) = (plan.layout.batch, plan.layout.depth());
        let weights = per_network(entries(&mut self.weights), batch);
        let biases = per_network(entries(&mut self.biases), batch);
        let slots = per_network(entries(&mut self.slots), batch);
        let records = per_network(self.records.iter_mut().map(|r| r.as_mut_slice()).collect(), batch);
        let scales: Vec<&mut [T]> = if self.scales.is_empty() {
            (0..batch).map(|_| &mut [][..]).collect()
        } else {
            self.scales.chunks_mut(depth).collect()
        };
        weights
            .into_iter()
            .zip(biases)
            .zip(slots)
            .zip(records)
            .zip(scales)
            .zip(self.steps.iter_mut())
            .zip(self.outcomes.iter_mut())
            .map(
                |((((((weights, biases), slots), records), scales), step), outcome)| NetworkIo {
                    weights,
                    biases,
                    slots,
                    scales,
                    step,
                    records,
                    outcome,
                },
            )
            .collect()
    }

    /// The results of the call.
    ///
    /// # Safety
    /// Every network's scatter has written its whole block of each output buffer.
    unsafe fn into_output(self, plan: &Plan<'_, T>) -> TrainOutput<T> {
        let opts = plan.opts;
        let layout = &plan.layout;
        let (batch, depth, dims) = (layout.batch, layout.depth(), &layout.dims);
        // SAFETY: the caller guarantees every entry of these buffers has been written.
        let written = |buffers: Vec<Uninit<T>>| -> Vec<Vec<T>> {
            buffers.into_iter().map(|b| unsafe { b.assume_written() }).collect()
        };
        let (weights, biases, slots) = (written(self.weights), written(self.biases), written(self.slots));
        let mut records = self
            .records
            .into_iter()
            .zip(&plan.specs)
            .zip(self.columns)
            .map(|((data, spec), (c, w))| {
                let shape = if spec.quantity.is_scalar() {
                    vec![batch, c]
                } else {
                    vec![batch, c, w]
                };
                (spec.quantity, Array { data, shape })
            });
        let (_, loss) = records.next().expect("the loss is always recorded");
        let mut bias_out = biases.into_iter().zip(&self.bias_layers);
        let outcomes = &self.outcomes;
        TrainOutput {
            weights: weights
                .into_iter()
                .enumerate()
                .map(|(j, data)| Array {
                    data,
                    shape: vec![batch, dims[j + 1], dims[j]],
                })
                .collect(),
            biases: plan
                .biases
                .iter()
                .map(|b| {
                    b.map(|_| {
                        let (data, &j) = bias_out.next().expect("one output per bias");
                        Array {
                            data,
                            shape: vec![batch, dims[j + 1]],
                        }
                    })
                })
                .collect(),
            loss,
            final_loss: outcomes.iter().map(|o| o.final_loss).collect(),
            steps_to_tol: outcomes.iter().map(|o| o.steps_to_tol).collect(),
            steps_to_accuracy: outcomes.iter().map(|o| o.steps_to_accuracy).collect(),
            diverged: outcomes.iter().map(|o| o.diverged).collect(),
            records: records.collect(),
            state: TrainState {
                optimizer: opts.optimizer.name(),
                steps: self.steps,
                data_seeds: plan.seeds.iter().flat_map(|&(s, t)| [s, t]).collect(),
                batch_size: opts.batch_size,
                n: plan.examples,
                scales: plan.any_manifold().then(|| Array {
                    data: self.scales,
                    shape: vec![batch, depth],
                }),
                slots: plan
                    .slot_names
                    .iter()
                    .cloned()
                    .zip(slots)
                    .zip(&plan.slot_shapes)
                    .map(|((name, data), shape)| {
                        (
                            name,
                            Array {
                                data,
                                shape: shape.clone(),
                            },
                        )
                    })
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
