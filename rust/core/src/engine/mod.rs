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

fn run<T: Real, R: Rule<T>>(plan: &Plan<'_, T>, rule: R, cancel: &AtomicBool) -> Result<TrainOutput<T>> {
    let opts = plan.opts;
    let layout = &plan.layout;
    let (batch, depth) = (layout.batch, layout.depth());
    let dims = &layout.dims;

    // Fresh outputs, not initialised: their pages are first touched by the workers that write
    // them, so page faults are taken in parallel, and no serial zeroing pass precedes the work.
    let mut weights: Vec<Uninit<T>> = layout
        .layer_sizes()
        .iter()
        .map(|&size| Uninit::new("weights", checked_len("weights", &[batch, size])?))
        .collect::<Result<_>>()?;
    let bias_layers: Vec<usize> = (0..depth).filter(|&j| plan.net.bias_offsets[j].is_some()).collect();
    let mut biases: Vec<Uninit<T>> = bias_layers
        .iter()
        .map(|&j| Uninit::new("biases", batch * dims[j + 1]))
        .collect::<Result<_>>()?;
    let mut slots: Vec<Uninit<T>> = plan
        .slot_shapes
        .iter()
        .map(|shape| Uninit::new("weights", checked_len("weights", shape)?))
        .collect::<Result<_>>()?;
    let mut scales: Vec<T> = zeroed("weights", if plan.any_manifold() { batch * depth } else { 0 })?;
    let mut steps = vec![0i64; batch];
    let columns: Vec<(usize, usize)> = plan
        .specs
        .iter()
        .map(|s| (s.columns(opts.steps), s.quantity.width(dims)))
        .collect();
    let mut records: Vec<Vec<f64>> = columns
        .iter()
        .map(|&(c, w)| zeroed("steps", checked_len("steps", &[batch, c, w])?))
        .collect::<Result<_>>()?;
    let mut outcomes = vec![Outcome::default(); batch];

    let mut ios: Vec<NetworkIo<'_, T>> = {
        let w = per_network(entries(&mut weights), batch);
        let bs = per_network(entries(&mut biases), batch);
        let sl = per_network(entries(&mut slots), batch);
        let rs = per_network(records.iter_mut().map(|r| r.as_mut_slice()).collect(), batch);
        let scale_rows: Vec<&mut [T]> = if scales.is_empty() {
            (0..batch).map(|_| &mut [][..]).collect()
        } else {
            scales.chunks_mut(depth).collect()
        };
        w.into_iter()
            .zip(bs)
            .zip(sl)
            .zip(rs)
            .zip(scale_rows)
            .zip(steps.iter_mut())
            .zip(outcomes.iter_mut())
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
    };

    let trainer = Trainer { plan, rule };
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    parallel::pool(opts.threads)?.install(|| {
        ios.par_iter_mut().enumerate().for_each_init(
            || match Worker::new::<R>(plan) {
                Ok(worker) => Some(worker),
                Err(err) => {
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
                    None
                }
            },
            |worker, (b, io)| {
                if let Some(worker) = worker {
                    trainer.train_network(b, worker, io, cancel);
                }
            },
        );
    });
    drop(ios);
    if let Some(err) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(err);
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    // SAFETY: every network ran (no worker failed to allocate: checked above), and its scatter
    // wrote its whole block of each of these buffers, so all their entries are initialised.
    let written = |buffers: Vec<Uninit<T>>| -> Vec<Vec<T>> {
        buffers.into_iter().map(|b| unsafe { b.assume_written() }).collect()
    };
    let (weights, biases, slots) = (written(weights), written(biases), written(slots));

    let mut records = records
        .into_iter()
        .zip(&plan.specs)
        .zip(columns)
        .map(|((data, spec), (c, w))| {
            let shape = if spec.quantity.is_scalar() {
                vec![batch, c]
            } else {
                vec![batch, c, w]
            };
            (spec.quantity, Array { data, shape })
        });
    let (_, loss) = records.next().expect("the loss is always recorded");
    let layer_shape = |j: usize| vec![batch, dims[j + 1], dims[j]];
    let mut bias_out = biases.into_iter().zip(&bias_layers);
    Ok(TrainOutput {
        weights: weights
            .into_iter()
            .enumerate()
            .map(|(j, data)| Array {
                data,
                shape: layer_shape(j),
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
            steps,
            data_seeds: plan.seeds.iter().flat_map(|&(s, t)| [s, t]).collect(),
            batch_size: opts.batch_size,
            n: plan.examples,
            scales: plan.any_manifold().then(|| Array {
                data: scales,
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
    })
}

#[cfg(test)]
mod tests;
