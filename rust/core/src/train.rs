//! The batched gradient-descent engine for deep linear networks (SPEC §1).
//!
//! Each network of the batch is trained start to finish by one thread with its own weights and
//! scratch, so results are bit-identical for any thread count, and a diverging or converged
//! network simply stops costing time.

use std::sync::atomic::{AtomicBool, Ordering};

use faer::Accum;
use rayon::prelude::*;

pub use crate::array::ArrayRef;
use crate::array::{of_network, shape_str, Batched};
use crate::error::{Error, Result};
use crate::linalg::{gemm, row_major, row_major_mut};
use crate::parallel;
pub use crate::record::Quantity;
use crate::reduce;
use crate::scalar::Real;
pub use crate::stiefel::Manifold;

/// Learning rate: one for all networks or one per network.
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    Shared(f64),
    PerNetwork(Vec<f64>),
}

impl LearningRate {
    /// The learning rate of network `b`.
    pub fn of(&self, b: usize) -> f64 {
        match self {
            LearningRate::Shared(v) => *v,
            LearningRate::PerNetwork(v) => v[b],
        }
    }
}

/// Hyper-parameters of one `train` call.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub lr: LearningRate,
    pub steps: usize,
    pub alpha: f64,
    pub tol: Option<f64>,
    pub record_every: usize,
    pub threads: Option<usize>,
    /// Diagnostics recorded every `record_every` steps besides the loss (crate::record).
    pub record: Vec<Quantity>,
    pub manifold: Manifold,
}

/// Results, row-major: `weights[j]` is (batch, d_{j+1}, d_j); `loss` is (batch, records).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutput<T> {
    pub weights: Vec<Vec<T>>,
    pub loss: Vec<f64>,
    pub records: usize,
    pub final_loss: Vec<f64>,
    pub steps_to_tol: Vec<i64>,
    pub diverged: Vec<bool>,
    /// One (B, records[, width]) array per recorded quantity, in the order requested.
    pub records_of: Vec<(Quantity, Batched)>,
}

/// The validated geometry of a call.
#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    pub batch: usize,
    /// [d_0, …, d_L]
    pub dims: Vec<usize>,
    /// Number of columns (examples) of X and Y (d_0 when X is the identity).
    pub n: usize,
    pub x_shared: bool,
    pub y_shared: bool,
}

/// Whether `x` is exactly the identity of size d_0, shared or for every network of the batch.
///
/// The engines then take their X = I path, which replaces the first forward product with a copy
/// and the last gradient product with an axpy: 2 of the 3L−1 products per step (8.7 % of the
/// flops at L = 8). Multiplying by I is exact in floating point, so results are unchanged.
/// Anything that does not match the weights' geometry is left for `check_geometry` to report.
pub(crate) fn is_identity<T: Real>(x: &ArrayRef<'_, T>, weights: &[ArrayRef<'_, T>]) -> bool {
    let Some([batch, _, d_0]) = weights.first().map(|w| w.shape) else {
        return false;
    };
    let matrices = match *x.shape {
        [rows, cols] if rows == *d_0 && cols == *d_0 => 1,
        [b, rows, cols] if b == *batch && rows == *d_0 && cols == *d_0 => b,
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

impl Geometry {
    /// Entries of each layer, d_{j+1}·d_j.
    pub(crate) fn layer_sizes(&self) -> Vec<usize> {
        self.dims.windows(2).map(|w| w[0] * w[1]).collect()
    }
}

impl TrainOptions {
    /// Number of recorded columns: steps 0, k, 2k, … up to `steps`.
    pub(crate) fn records(&self) -> usize {
        self.steps / self.record_every + 1
    }
}

pub(crate) use crate::layout::layer_offsets;

pub(crate) fn check_geometry<T>(
    weights: &[ArrayRef<'_, T>],
    x: Option<ArrayRef<'_, T>>,
    y: ArrayRef<'_, T>,
) -> Result<Geometry> {
    if weights.is_empty() {
        return Err(Error::invalid("weights", "needs at least one layer, got an empty list"));
    }
    let mut dims = Vec::with_capacity(weights.len() + 1);
    let mut batch = 0;
    for (j, w) in weights.iter().enumerate() {
        let arg = format!("weights[{j}]");
        if w.shape.len() != 3 {
            return Err(Error::shape(arg, "(batch, d_out, d_in)", shape_str(w.shape)));
        }
        let (b, d_out, d_in) = (w.shape[0], w.shape[1], w.shape[2]);
        if b == 0 || d_out == 0 || d_in == 0 {
            return Err(Error::invalid(
                arg,
                format!("has an empty dimension: shape {}", shape_str(w.shape)),
            ));
        }
        if j == 0 {
            batch = b;
            dims.push(d_in);
        } else if b != batch {
            return Err(Error::shape(
                arg,
                format!("batch size {batch} (as weights[0])"),
                shape_str(w.shape),
            ));
        } else if d_in != dims[j] {
            return Err(Error::shape(
                arg,
                format!(
                    "(batch, d_out, {}) to chain with weights[{}] of shape {}",
                    dims[j],
                    j - 1,
                    shape_str(weights[j - 1].shape)
                ),
                shape_str(w.shape),
            ));
        }
        dims.push(d_out);
    }
    let (d_0, d_l) = (dims[0], *dims.last().unwrap());
    let data_shape = |arg: &str, a: ArrayRef<'_, T>, rows: usize| -> Result<(usize, bool)> {
        let (shared, r, n) = match a.shape {
            [r, n] => (true, *r, *n),
            [b, r, n] if *b == batch => (false, *r, *n),
            [_, _, _] => {
                return Err(Error::shape(
                    arg,
                    format!("({rows}, n) or ({batch}, {rows}, n): batch size {batch} as weights"),
                    shape_str(a.shape),
                ))
            }
            _ => {
                return Err(Error::shape(
                    arg,
                    format!("({rows}, n) or ({batch}, {rows}, n)"),
                    shape_str(a.shape),
                ))
            }
        };
        if r != rows {
            return Err(Error::shape(
                arg,
                format!("{rows} rows to match the network, i.e. ({rows}, n) or ({batch}, {rows}, n)"),
                shape_str(a.shape),
            ));
        }
        if n == 0 {
            return Err(Error::invalid(
                arg,
                format!("has no columns (examples): shape {}", shape_str(a.shape)),
            ));
        }
        Ok((n, shared))
    };
    // X = None is the identity of size d_0: n = d_0 columns, shared by the batch.
    let (n, x_shared) = match x {
        Some(x) => data_shape("X", x, d_0)?,
        None => (d_0, true),
    };
    let (n_y, y_shared) = data_shape("Y", y, d_l)?;
    if n_y != n {
        return Err(Error::shape("Y", format!("{n} columns, as X"), shape_str(y.shape)));
    }
    Ok(Geometry {
        batch,
        dims,
        n,
        x_shared,
        y_shared,
    })
}

pub(crate) fn check_options(opts: &TrainOptions, batch: usize) -> Result<()> {
    let check_lr = |v: f64| {
        if !v.is_finite() || v < 0.0 {
            Err(Error::invalid(
                "lr",
                format!("must be finite and non-negative, got {v}"),
            ))
        } else {
            Ok(())
        }
    };
    match &opts.lr {
        LearningRate::Shared(v) => check_lr(*v)?,
        LearningRate::PerNetwork(v) => {
            if v.len() != batch {
                return Err(Error::shape(
                    "lr",
                    format!("a scalar or ({batch},)"),
                    format!("({},)", v.len()),
                ));
            }
            v.iter().try_for_each(|&x| check_lr(x))?;
        }
    }
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
    if opts.record_every == 0 {
        return Err(Error::invalid("record_every", "must be at least 1, got 0"));
    }
    for (i, q) in opts.record.iter().enumerate() {
        if opts.record[..i].contains(q) {
            return Err(Error::invalid("record", format!("{:?} is listed twice", q.name())));
        }
    }
    parallel::resolve_threads(opts.threads)?;
    Ok(())
}

/// A worker's scratch, allocated once per call and reused for every step of every network it
/// trains (a fresh megabyte per network would also mean fresh pages on some allocators).
struct Scratch<T> {
    /// Activations h_1 … h_L, row-major (d_j × n), back to back.
    activations: Vec<T>,
    /// Back-propagated error signal and its successor (max width × n each).
    signal: Vec<T>,
    next_signal: Vec<T>,
}

impl<T: Real> Scratch<T> {
    fn new(dims: &[usize], n: usize) -> Self {
        let width = *dims.iter().max().unwrap();
        let zero = T::from_f64(0.0);
        Scratch {
            activations: vec![zero; dims[1..].iter().sum::<usize>() * n],
            signal: vec![zero; width * n],
            next_signal: vec![zero; width * n],
        }
    }
}

/// What happened to one network (shared with the MLP engine).
pub(crate) struct Outcome {
    pub(crate) final_loss: f64,
    pub(crate) steps_to_tol: i64,
    pub(crate) diverged: bool,
}

/// One network's problem: its weights (all layers back to back) and data.
struct Network<'a, T> {
    dims: &'a [usize],
    n: usize,
    /// None: X = I (n = d_0), and the first product is skipped.
    x: Option<&'a [T]>,
    y: &'a [T],
    alpha: T,
    /// Constant added to every loss: ½‖Y(I − QQᵀ)‖² after data reduction, else 0.
    loss_offset: f64,
}

impl<T: Real> Network<'_, T> {
    /// Forward pass: fills the activations and the error signal g = α(αh_L − Y); returns the
    /// loss ½‖αh_L − Y‖², accumulated in f64 so that float32 runs report losses faithfully.
    fn forward(&self, weights: &[T], offsets: &[usize], s: &mut Scratch<T>) -> f64 {
        let (dims, n) = (self.dims, self.n);
        let depth = dims.len() - 1;
        let mut act_offset = 0;
        for j in 1..=depth {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            let w = row_major(&weights[offsets[j - 1]..offsets[j]], d_out, d_in);
            let (done, rest) = s.activations.split_at_mut(act_offset);
            let out = &mut rest[..d_out * n];
            let input = match (j, self.x) {
                (1, Some(x)) => x,
                // X = I: h_1 = W_1, a copy (d_1·d_0) instead of a product (2·d_1·d_0²).
                (1, None) => {
                    out.copy_from_slice(&weights[..offsets[1]]);
                    act_offset += d_out * n;
                    continue;
                }
                _ => &done[act_offset - d_in * n..],
            };
            gemm(
                row_major_mut(out, d_out, n),
                Accum::Replace,
                w,
                row_major(input, d_in, n),
                T::from_f64(1.0),
            );
            act_offset += d_out * n;
        }
        let d_l = dims[depth];
        let output = &s.activations[act_offset - d_l * n..act_offset];
        let mut loss = 0.0;
        for ((g, &h), &y) in s.signal[..d_l * n].iter_mut().zip(output).zip(self.y) {
            let e = self.alpha * h - y;
            loss += e.to_f64() * e.to_f64();
            *g = self.alpha * e;
        }
        0.5 * loss + self.loss_offset
    }

    /// Backward pass fused with the update: for j = L … 1, propagate g ← W_jᵀg with the old
    /// W_j, then W_j −= η g h_{j−1}ᵀ in place (no gradient buffer: one pass per layer).
    fn backward_update(&self, weights: &mut [T], offsets: &[usize], lr: T, s: &mut Scratch<T>) {
        let (dims, n) = (self.dims, self.n);
        let depth = dims.len() - 1;
        let mut act_end: usize = dims[1..].iter().map(|d| d * n).sum();
        for j in (1..=depth).rev() {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            act_end -= d_out * n;
            let w = &mut weights[offsets[j - 1]..offsets[j]];
            let g = row_major(&s.signal[..d_out * n], d_out, n);
            if j > 1 {
                gemm(
                    row_major_mut(&mut s.next_signal[..d_in * n], d_in, n),
                    Accum::Replace,
                    row_major(w, d_out, d_in).transpose(),
                    g,
                    T::from_f64(1.0),
                );
            }
            let input = match (j, self.x) {
                (1, Some(x)) => x,
                // X = I: the gradient of W_1 is g itself (d_1 × d_0).
                (1, None) => {
                    for (v, &d) in w.iter_mut().zip(&s.signal[..d_out * n]) {
                        *v -= lr * d;
                    }
                    break;
                }
                _ => &s.activations[act_end - d_in * n..act_end],
            };
            gemm(
                row_major_mut(w, d_out, d_in),
                Accum::Add,
                g,
                row_major(input, d_in, n).transpose(),
                -lr,
            );
            std::mem::swap(&mut s.signal, &mut s.next_signal);
        }
    }

    /// Train one network in place; writes its recorded losses into `losses`.
    #[allow(clippy::too_many_arguments)]
    fn train(
        &self,
        weights: &mut [T],
        s: &mut Scratch<T>,
        lr: f64,
        opts: &TrainOptions,
        losses: &mut [f64],
        mut hooks: hooks::Hooks<'_, T>,
        cancel: &AtomicBool,
    ) -> Outcome {
        let offsets = layer_offsets(self.dims);
        let lr_f64 = lr;
        let lr = T::from_f64(lr);
        for t in 0..=opts.steps {
            let loss = self.forward(weights, &offsets, s);
            if t % opts.record_every == 0 {
                losses[t / opts.record_every] = loss;
                hooks.record(self, t, weights, &offsets, s);
            }
            let diverged = !loss.is_finite();
            let reached = !diverged && opts.tol.is_some_and(|tol| loss <= tol);
            if diverged || reached || t == opts.steps || cancel.load(Ordering::Relaxed) {
                // Frozen from here on: later records repeat the last loss.
                let first_unrecorded = (t / opts.record_every + 1).min(losses.len());
                losses[first_unrecorded..].fill(loss);
                hooks.finish(self, t, weights, &offsets, s);
                return Outcome {
                    final_loss: loss,
                    steps_to_tol: if reached { t as i64 } else { -1 },
                    diverged,
                };
            }
            // Recording gradient norms and Stiefel steps need explicit gradients; everything
            // else keeps the fused update.
            if hooks.active() {
                hooks.step(self, t, weights, &offsets, lr_f64, s);
            } else {
                self.backward_update(weights, &offsets, lr, s);
            }
        }
        unreachable!("the loop returns at t == steps")
    }
}

/// Fresh output layers (B, d_out, d_in), zeroed lazily by the allocator: their pages are first
/// touched by the workers that write them, so page faults (~2.7 µs per 4 KiB on the development
/// VM, 40 ms for S2's 67 MB) are taken in parallel rather than by one thread.
pub(crate) fn output_layers<T: Real>(layer_sizes: &[usize], batch: usize) -> Vec<Vec<T>> {
    layer_sizes
        .iter()
        .map(|&size| vec![T::from_f64(0.0); size * batch])
        .collect()
}

/// Network b's blocks of every output layer: `result[b][j]` is layer j of network b, so each
/// worker writes its trained networks back without touching anyone else's.
pub(crate) fn network_blocks<'a, T>(
    layers: &'a mut [Vec<T>],
    layer_sizes: &[usize],
    batch: usize,
) -> Vec<Vec<&'a mut [T]>> {
    let mut blocks: Vec<Vec<&mut [T]>> = (0..batch).map(|_| Vec::with_capacity(layers.len())).collect();
    for (layer, &size) in layers.iter_mut().zip(layer_sizes) {
        for (network, block) in blocks.iter_mut().zip(layer.chunks_mut(size)) {
            network.push(block);
        }
    }
    blocks
}

/// Copy network b's layers from the inputs into `work`, its contiguous working copy: the whole
/// working set then sits together in cache for all of its steps. One working copy per worker,
/// reused from network to network, so memory does not grow with the batch.
pub(crate) fn gather_network<T: Real>(weights: &[ArrayRef<'_, T>], layer_sizes: &[usize], b: usize, work: &mut [T]) {
    let mut offset = 0;
    for (w, &size) in weights.iter().zip(layer_sizes) {
        work[offset..offset + size].copy_from_slice(&w.data[b * size..(b + 1) * size]);
        offset += size;
    }
}

/// The inverse of [`gather_network`]: the trained working copy back into the output blocks.
pub(crate) fn scatter_network<T: Real>(work: &[T], blocks: &mut [&mut [T]]) {
    let mut offset = 0;
    for block in blocks.iter_mut() {
        block.copy_from_slice(&work[offset..offset + block.len()]);
        offset += block.len();
    }
}

/// Train a batch of deep linear networks by full-batch gradient descent.
///
/// `weights[j]` has shape (B, d_{j+1}, d_j); `x` is (d_0, n) or (B, d_0, n), or None for the
/// identity of size d_0; `y` is (d_L, n) or (B, d_L, n). When n > d_0 the data are reduced
/// exactly to d_0 columns (`reduce`), and the constant part of the loss is added back to every
/// reported loss. Inputs are only read. Setting `cancel` stops the call with `Error::Cancelled`.
pub fn train<T: Real>(
    weights: &[ArrayRef<'_, T>],
    x: Option<ArrayRef<'_, T>>,
    y: ArrayRef<'_, T>,
    opts: &TrainOptions,
    cancel: &AtomicBool,
) -> Result<TrainOutput<T>> {
    let geo = check_geometry(weights, x, y)?;
    check_options(opts, geo.batch)?;
    let scales = hooks::prepare(opts, weights, &geo.dims, geo.batch)?;
    let Geometry {
        batch,
        ref dims,
        n,
        x_shared,
        y_shared,
    } = geo;
    let depth = dims.len() - 1;
    let records = opts.records();
    let layer_sizes = geo.layer_sizes();
    let params: usize = layer_sizes.iter().sum();
    // More examples than inputs: train on the exactly equivalent d_0-column problem instead.
    let reduced = match x {
        Some(x) if n > dims[0] => Some(reduce::reduce(
            x.data,
            x_shared,
            y.data,
            y_shared,
            batch,
            dims[0],
            dims[depth],
            n,
            opts.threads,
        )?),
        _ => None,
    };
    let (x, y, n, x_shared, y_shared) = match &reduced {
        Some(r) => (Some(r.x.as_slice()), r.y.as_slice(), dims[0], r.x_shared, r.y_shared),
        None => (x.map(|x| x.data), y.data, n, x_shared, y_shared),
    };

    let mut out_weights = output_layers(&layer_sizes, batch);
    let mut blocks = network_blocks(&mut out_weights, &layer_sizes, batch);
    let mut loss = vec![0.0; batch * records];
    // Recorded diagnostics: one row of `record_width` per recorded column and network.
    let record_width = hooks::width(opts, dims);
    let record_chunk = (records * record_width).max(1);
    let mut record_rows = vec![0.0; batch * record_chunk];
    let mut outcomes: Vec<Option<Outcome>> = (0..batch).map(|_| None).collect();
    let (x_size, y_size) = (dims[0] * n, dims[depth] * n);
    let alpha = T::from_f64(opts.alpha);

    parallel::pool(opts.threads)?.install(|| {
        blocks
            .par_iter_mut()
            .zip(loss.par_chunks_mut(records))
            .zip(outcomes.par_iter_mut())
            .zip(record_rows.par_chunks_mut(record_chunk))
            .enumerate()
            .for_each_init(
                || (vec![T::from_f64(0.0); params], Scratch::new(dims, n)),
                |(work, scratch), (b, (((out, losses), outcome), rows))| {
                    let network = Network {
                        dims,
                        n,
                        x: x.map(|x| of_network(x, x_shared, x_size, b)),
                        y: of_network(y, y_shared, y_size, b),
                        alpha,
                        loss_offset: reduced.as_ref().map_or(0.0, |r| r.offsets[b]),
                    };
                    let lr = opts.lr.of(b);
                    let net_scales = if scales.is_empty() {
                        &[][..]
                    } else {
                        &scales[b * depth..(b + 1) * depth]
                    };
                    let hooks = hooks::Hooks::new(&network, opts, &mut rows[..records * record_width], net_scales);
                    gather_network(weights, &layer_sizes, b, work);
                    *outcome = Some(network.train(work, scratch, lr, opts, losses, hooks, cancel));
                    scatter_network(work, out);
                },
            );
    });
    drop(blocks);
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }

    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|o| o.expect("every network ran")).collect();
    Ok(TrainOutput {
        weights: out_weights,
        loss,
        records,
        final_loss: outcomes.iter().map(|o| o.final_loss).collect(),
        steps_to_tol: outcomes.iter().map(|o| o.steps_to_tol).collect(),
        diverged: outcomes.iter().map(|o| o.diverged).collect(),
        records_of: crate::record::split(&opts.record, dims, batch, records, &record_rows),
    })
}

mod hooks;
#[cfg(test)]
mod tests;
