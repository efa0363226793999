//! Network forms beyond the plain linear chain (SPEC §1): activations, biases and the NTK
//! parameterisation, trained by the same full-batch GD rule as `train`.
//!
//! z_j = s_j W_j h_{j−1} + b_j, h_j = φ(z_j) for hidden layers, f = α z_L, loss ½‖f − Y‖²_F,
//! with s_j = 1 (standard) or σ_w/√d_{j−1} (NTK). `train_network` dispatches: a linear network
//! with standard scaling and no biases goes to the fused linear engine (`train::train`, the
//! fast path, untouched); everything else runs the engine below, which keeps one network per
//! thread exactly like the linear one, so results are again bit-identical for any thread count.

use std::sync::atomic::{AtomicBool, Ordering};

use faer::Accum;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::linalg::{gemm, row_major, row_major_mut};
use crate::parallel;
use crate::scalar::Real;
use crate::train::{self, check_geometry, check_options, ArrayRef, Geometry, Outcome, TrainOptions, TrainOutput};

pub use crate::net::form::{Activation, Form, Parameterization};

/// Training results plus the trained biases (`None` for layers without one).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkOutput<T> {
    pub train: TrainOutput<T>,
    /// `biases[j]` is (batch, d_{j+1}) row-major, or None.
    pub biases: Vec<Option<Vec<T>>>,
}

/// Train a batch of networks of the given form. `biases` is empty (no biases) or one entry per
/// layer, `Some` with shape (batch, d_{j+1}) for a layer with a trained bias. `x = None` means
/// X = I of size d_0 (the target-matrix form). See `train::train` for everything else.
pub fn train_network<T: Real>(
    weights: &[ArrayRef<'_, T>],
    biases: &[Option<ArrayRef<'_, T>>],
    x: Option<ArrayRef<'_, T>>,
    y: ArrayRef<'_, T>,
    opts: &TrainOptions,
    form: Form,
    cancel: &AtomicBool,
) -> Result<NetworkOutput<T>> {
    let x = x.filter(|x| !train::is_identity(x, weights));
    let no_biases = biases.iter().all(Option::is_none);
    if form.activation == Activation::Linear && form.parameterization == Parameterization::Standard && no_biases {
        // The fast path: the fused linear engine, with data reduction when n > d_0.
        let out = train::train(weights, x, y, opts, cancel)?;
        return Ok(NetworkOutput {
            train: out,
            biases: vec![None; if biases.is_empty() { 0 } else { weights.len() }],
        });
    }
    // Recording and manifold steps hook into the linear engine only; say so rather than
    // silently ignoring them.
    if !opts.record.is_empty() {
        return Err(Error::invalid(
            "record",
            "diagnostics can only be recorded for linear networks without biases in standard parameterisation",
        ));
    }
    if opts.manifold != train::Manifold::Euclidean {
        return Err(Error::invalid(
            "manifold",
            "Stiefel training is only available for linear networks without biases in standard parameterisation",
        ));
    }
    train_mlp(weights, biases, x, y, opts, form, cancel)
}

fn check_form(form: Form) -> Result<()> {
    if let Parameterization::Ntk { sigma_w } = form.parameterization {
        if !sigma_w.is_finite() {
            return Err(Error::invalid("sigma_w", format!("must be finite, got {sigma_w}")));
        }
    }
    Ok(())
}

fn check_biases<T>(biases: &[Option<ArrayRef<'_, T>>], geo: &Geometry) -> Result<()> {
    let depth = geo.dims.len() - 1;
    if !biases.is_empty() && biases.len() != depth {
        return Err(Error::shape(
            "biases",
            format!("one entry per layer ({depth})"),
            format!("{} entries", biases.len()),
        ));
    }
    for (j, b) in biases.iter().enumerate() {
        if let Some(b) = b {
            let want = [geo.batch, geo.dims[j + 1]];
            if b.shape != want {
                return Err(Error::shape(
                    format!("biases[{j}]"),
                    format!("({}, {}) = (batch, d_out of weights[{j}])", want[0], want[1]),
                    format!("{:?}", b.shape).replace('[', "(").replace(']', ")"),
                ));
            }
        }
    }
    Ok(())
}

/// A worker's scratch, allocated once per call and reused for every step of every network.
struct Scratch<T> {
    /// h_1 … h_{L−1} and z_L, row-major (d_j × n), back to back.
    activations: Vec<T>,
    /// φ'(z_j) of the hidden layers, same layout (empty for linear networks).
    slopes: Vec<T>,
    signal: Vec<T>,
    next_signal: Vec<T>,
}

impl<T: Real> Scratch<T> {
    fn new(dims: &[usize], n: usize, activation: Activation) -> Self {
        let width = *dims.iter().max().unwrap();
        let zero = T::from_f64(0.0);
        let act_len = dims[1..].iter().sum::<usize>() * n;
        Scratch {
            activations: vec![zero; act_len],
            slopes: if activation == Activation::Linear {
                Vec::new()
            } else {
                vec![zero; act_len]
            },
            signal: vec![zero; width * n],
            next_signal: vec![zero; width * n],
        }
    }
}

/// One network's problem.
struct Mlp<'a, T> {
    dims: &'a [usize],
    n: usize,
    /// None: X = I (n = d_0).
    x: Option<&'a [T]>,
    y: &'a [T],
    alpha: T,
    /// s_j per layer.
    scales: &'a [T],
    /// Offsets of each layer's bias in the network's bias block (None: no bias).
    bias_offsets: &'a [Option<usize>],
    activation: Activation,
}

impl<T: Real> Mlp<'_, T> {
    fn forward(&self, weights: &[T], offsets: &[usize], biases: &[T], s: &mut Scratch<T>) -> f64 {
        let (dims, n) = (self.dims, self.n);
        let depth = dims.len() - 1;
        let linear = self.activation == Activation::Linear;
        let mut act_offset = 0;
        for j in 1..=depth {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            let w = &weights[offsets[j - 1]..offsets[j]];
            let scale = self.scales[j - 1];
            let (done, rest) = s.activations.split_at_mut(act_offset);
            let out = &mut rest[..d_out * n];
            match (j, self.x) {
                // X = I: z_1 = s_1 W_1, a scaled copy instead of a product.
                (1, None) => {
                    for (o, &v) in out.iter_mut().zip(w) {
                        *o = scale * v;
                    }
                }
                _ => {
                    let input = if j == 1 {
                        self.x.unwrap_or_default()
                    } else {
                        &done[act_offset - d_in * n..]
                    };
                    gemm(
                        row_major_mut(out, d_out, n),
                        Accum::Replace,
                        row_major(w, d_out, d_in),
                        row_major(input, d_in, n),
                        scale,
                    );
                }
            }
            if let Some(off) = self.bias_offsets[j - 1] {
                for (row, &b) in out.chunks_mut(n).zip(&biases[off..off + d_out]) {
                    for v in row {
                        *v += b;
                    }
                }
            }
            if j < depth && !linear {
                let slopes = &mut s.slopes[act_offset..act_offset + d_out * n];
                for (v, d) in out.iter_mut().zip(slopes) {
                    (*v, *d) = self.activation.value_and_slope(*v);
                }
            }
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
        0.5 * loss
    }

    /// Backward pass fused with the update, layer by layer from the top: δ_{j−1} =
    /// φ'(z_{j−1}) ⊙ s_j W_jᵀ δ_j with the old W_j, then W_j −= η s_j δ_j h_{j−1}ᵀ and
    /// b_j −= η δ_j 1.
    fn backward_update(&self, weights: &mut [T], offsets: &[usize], biases: &mut [T], lr: T, s: &mut Scratch<T>) {
        let (dims, n) = (self.dims, self.n);
        let depth = dims.len() - 1;
        let linear = self.activation == Activation::Linear;
        let mut act_end: usize = dims[1..].iter().map(|d| d * n).sum();
        for j in (1..=depth).rev() {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            act_end -= d_out * n;
            let scale = self.scales[j - 1];
            let w = &mut weights[offsets[j - 1]..offsets[j]];
            let g = &s.signal[..d_out * n];
            if j > 1 {
                let next = &mut s.next_signal[..d_in * n];
                gemm(
                    row_major_mut(next, d_in, n),
                    Accum::Replace,
                    row_major(w, d_out, d_in).transpose(),
                    row_major(g, d_out, n),
                    scale,
                );
                if !linear {
                    for (v, &d) in next.iter_mut().zip(&s.slopes[act_end - d_in * n..act_end]) {
                        *v *= d;
                    }
                }
            }
            match (j, self.x) {
                (1, None) => {
                    // X = I: the gradient of W_1 is s_1 δ_1 itself.
                    let step = lr * scale;
                    for (v, &d) in w.iter_mut().zip(g) {
                        *v -= step * d;
                    }
                }
                _ => {
                    let input = if j == 1 {
                        self.x.unwrap_or_default()
                    } else {
                        &s.activations[act_end - d_in * n..act_end]
                    };
                    gemm(
                        row_major_mut(w, d_out, d_in),
                        Accum::Add,
                        row_major(g, d_out, n),
                        row_major(input, d_in, n).transpose(),
                        -(lr * scale),
                    );
                }
            }
            if let Some(off) = self.bias_offsets[j - 1] {
                for (b, row) in biases[off..off + d_out].iter_mut().zip(g.chunks(n)) {
                    let mut sum = T::from_f64(0.0);
                    for &v in row {
                        sum += v;
                    }
                    *b -= lr * sum;
                }
            }
            std::mem::swap(&mut s.signal, &mut s.next_signal);
        }
    }

    /// Train one network in place (same stopping and recording rules as `train::train`).
    #[allow(clippy::too_many_arguments)]
    fn train(
        &self,
        weights: &mut [T],
        biases: &mut [T],
        s: &mut Scratch<T>,
        lr: f64,
        opts: &TrainOptions,
        losses: &mut [f64],
        cancel: &AtomicBool,
    ) -> Outcome {
        let offsets = train::layer_offsets(self.dims);
        let lr = T::from_f64(lr);
        for t in 0..=opts.steps {
            let loss = self.forward(weights, &offsets, biases, s);
            if t % opts.record_every == 0 {
                losses[t / opts.record_every] = loss;
            }
            let diverged = !loss.is_finite();
            let reached = !diverged && opts.tol.is_some_and(|tol| loss <= tol);
            if diverged || reached || t == opts.steps || cancel.load(Ordering::Relaxed) {
                let first_unrecorded = (t / opts.record_every + 1).min(losses.len());
                losses[first_unrecorded..].fill(loss);
                return Outcome {
                    final_loss: loss,
                    steps_to_tol: if reached { t as i64 } else { -1 },
                    diverged,
                };
            }
            self.backward_update(weights, &offsets, biases, lr, s);
        }
        unreachable!("the loop returns at t == steps")
    }
}

/// The general engine: any activation, optional biases, standard or NTK scaling.
fn train_mlp<T: Real>(
    weights: &[ArrayRef<'_, T>],
    biases: &[Option<ArrayRef<'_, T>>],
    x: Option<ArrayRef<'_, T>>,
    y: ArrayRef<'_, T>,
    opts: &TrainOptions,
    form: Form,
    cancel: &AtomicBool,
) -> Result<NetworkOutput<T>> {
    let geo = check_geometry(weights, x, y)?;
    check_options(opts, geo.batch)?;
    check_form(form)?;
    check_biases(biases, &geo)?;
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
    let scales: Vec<T> = dims[..depth]
        .iter()
        .map(|&d_in| T::from_f64(form.parameterization.scale(d_in)))
        .collect();
    let mut bias_offsets = vec![None; depth];
    let mut bias_params = 0;
    for (j, b) in biases.iter().enumerate() {
        if b.is_some() {
            bias_offsets[j] = Some(bias_params);
            bias_params += dims[j + 1];
        }
    }

    // Each worker trains a contiguous working copy of one network at a time, as in the linear
    // engine; biases are small and packed per network up front.
    let mut out_weights = train::output_layers(&layer_sizes, batch);
    let mut blocks = train::network_blocks(&mut out_weights, &layer_sizes, batch);
    // Without biases each network still gets a (never used) one-element block, which keeps
    // the parallel zip below uniform.
    let bias_block = bias_params.max(1);
    let mut packed_biases = vec![T::from_f64(0.0); batch * bias_block];
    if bias_params > 0 {
        for (b, block) in packed_biases.chunks_mut(bias_block).enumerate() {
            for (j, bias) in biases.iter().enumerate() {
                if let (Some(bias), Some(off)) = (bias, bias_offsets[j]) {
                    let d = dims[j + 1];
                    block[off..off + d].copy_from_slice(&bias.data[b * d..(b + 1) * d]);
                }
            }
        }
    }
    let mut loss = vec![0.0; batch * records];
    let mut outcomes: Vec<Option<Outcome>> = (0..batch).map(|_| None).collect();
    let (x_size, y_size) = (dims[0] * n, dims[depth] * n);
    let alpha = T::from_f64(opts.alpha);

    parallel::pool(opts.threads)?.install(|| {
        blocks
            .par_iter_mut()
            .zip(packed_biases.par_chunks_mut(bias_block))
            .zip(loss.par_chunks_mut(records))
            .zip(outcomes.par_iter_mut())
            .enumerate()
            .for_each_init(
                || (vec![T::from_f64(0.0); params], Scratch::new(dims, n, form.activation)),
                |(work, scratch), (b, (((out, bias), losses), outcome))| {
                    let network = Mlp {
                        dims,
                        n,
                        x: x.map(|x| crate::array::of_network(x.data, x_shared, x_size, b)),
                        y: crate::array::of_network(y.data, y_shared, y_size, b),
                        alpha,
                        scales: &scales,
                        bias_offsets: &bias_offsets,
                        activation: form.activation,
                    };
                    let lr = opts.lr.of(b);
                    train::gather_network(weights, &layer_sizes, b, work);
                    *outcome = Some(network.train(work, bias, scratch, lr, opts, losses, cancel));
                    train::scatter_network(work, out);
                },
            );
    });
    drop(blocks);
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }

    let out_biases: Vec<Option<Vec<T>>> = (0..biases.len())
        .map(|j| {
            bias_offsets[j].map(|off| {
                let d = dims[j + 1];
                packed_biases
                    .chunks(bias_block)
                    .flat_map(|block| block[off..off + d].iter().copied())
                    .collect()
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|o| o.expect("every network ran")).collect();
    Ok(NetworkOutput {
        train: TrainOutput {
            weights: out_weights,
            loss,
            records,
            final_loss: outcomes.iter().map(|o| o.final_loss).collect(),
            steps_to_tol: outcomes.iter().map(|o| o.steps_to_tol).collect(),
            diverged: outcomes.iter().map(|o| o.diverged).collect(),
            records_of: Vec::new(),
        },
        biases: out_biases,
    })
}

#[cfg(test)]
mod tests;
