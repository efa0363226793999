//! The training loop's optional extras: diagnostics recorded every `record_every` steps
//! (crate::record) and Stiefel-manifold steps (crate::stiefel). The plain loop (loss only,
//! Euclidean) never enters this module's step path, so it keeps the fused update.

use faer::Accum;

use super::{ArrayRef, Network, Scratch, TrainOptions};
use crate::error::Result;
use crate::linalg::{gemm, row_major, row_major_mut};
use crate::metrics::kernels::frobenius;
use crate::record::{row_width, Recorder};
use crate::scalar::Real;
use crate::stiefel::{orthogonal_scale, Manifold, StiefelStep};

/// Checks that must pass before any network starts: with manifold="stiefel", every layer of
/// every network must be scaled-orthogonal. Returns the scales, (batch × L), else empty.
pub(super) fn prepare<T: Real>(
    opts: &TrainOptions,
    weights: &[ArrayRef<'_, T>],
    dims: &[usize],
    batch: usize,
) -> Result<Vec<f64>> {
    if opts.manifold != Manifold::Stiefel {
        return Ok(Vec::new());
    }
    let depth = dims.len() - 1;
    let mut scales = vec![0.0; batch * depth];
    for (j, w) in weights.iter().enumerate() {
        let (d_out, d_in) = (dims[j + 1], dims[j]);
        let size = d_out * d_in;
        for b in 0..batch {
            let arg = format!("weights[{j}]");
            scales[b * depth + j] = orthogonal_scale(&arg, &w.data[b * size..(b + 1) * size], d_out, d_in)?;
        }
    }
    Ok(scales)
}

/// Record-row entries per recorded column.
pub(super) fn width(opts: &TrainOptions, dims: &[usize]) -> usize {
    row_width(&opts.record, dims)
}

/// One network's extras.
pub(super) struct Hooks<'r, T: Real> {
    every: usize,
    recorder: Option<Recorder<T>>,
    /// records × width entries: this network's recorded rows.
    rows: &'r mut [f64],
    width: usize,
    /// One stepper per layer (manifold="stiefel"), else empty.
    stiefel: Vec<StiefelStep<T>>,
    /// The explicit gradient of one layer (Stiefel steps and gradient norms need it).
    grad: Vec<T>,
    /// X is the identity, so the last activation is the end-to-end matrix W_{L:1}.
    x_is_identity: bool,
    /// I_{d_0} when X = None and explicit gradients are needed; empty otherwise.
    identity: Vec<T>,
}

impl<'r, T: Real> Hooks<'r, T> {
    pub(super) fn new(net: &Network<'_, T>, opts: &TrainOptions, rows: &'r mut [f64], scales: &[f64]) -> Self {
        let dims = net.dims;
        let recorder = (!opts.record.is_empty()).then(|| Recorder::new(&opts.record, dims, opts.alpha));
        let stiefel: Vec<StiefelStep<T>> = if scales.is_empty() {
            Vec::new()
        } else {
            dims.windows(2)
                .zip(scales)
                .map(|(d, &s)| StiefelStep::new(d[1], d[0], s))
                .collect()
        };
        let needs_grad = !stiefel.is_empty() || recorder.as_ref().is_some_and(|r| r.wants_grad_norms());
        let max_layer = dims.windows(2).map(|d| d[0] * d[1]).max().unwrap();
        let (d_0, n) = (dims[0], net.n);
        let x_is_identity = match net.x {
            None => true,
            Some(x) => {
                n == d_0
                    && x.iter().enumerate().all(|(i, &v)| {
                        let target = if i / n == i % n { 1.0 } else { 0.0 };
                        v == T::from_f64(target)
                    })
            }
        };
        // X = None means the identity; the hooked (non-fused) path multiplies by it explicitly,
        // which costs one product per step but keeps this slow path simple.
        let identity = if net.x.is_none() && needs_grad {
            let mut eye = vec![T::from_f64(0.0); d_0 * d_0];
            eye.iter_mut().step_by(d_0 + 1).for_each(|v| *v = T::from_f64(1.0));
            eye
        } else {
            Vec::new()
        };
        Hooks {
            every: opts.record_every,
            width: width(opts, dims),
            recorder,
            rows,
            stiefel,
            grad: vec![T::from_f64(0.0); if needs_grad { max_layer } else { 0 }],
            x_is_identity,
            identity,
        }
    }

    /// Whether steps must leave the fused update (explicit gradients are needed).
    #[inline]
    pub(super) fn active(&self) -> bool {
        !self.grad.is_empty()
    }

    /// At a recording step, after the forward pass and before the update: record the
    /// weight-only diagnostics of column t / record_every.
    pub(super) fn record(&mut self, net: &Network<'_, T>, t: usize, weights: &[T], offsets: &[usize], s: &Scratch<T>) {
        self.record_column(net, t / self.every, weights, offsets, s);
    }

    fn record_column(&mut self, net: &Network<'_, T>, col: usize, weights: &[T], offsets: &[usize], s: &Scratch<T>) {
        let Some(rec) = self.recorder.as_mut() else { return };
        let row = &mut self.rows[col * self.width..(col + 1) * self.width];
        let dims = net.dims;
        let depth = dims.len() - 1;
        let layers: Vec<_> = (0..depth)
            .map(|j| row_major(&weights[offsets[j]..offsets[j + 1]], dims[j + 1], dims[j]))
            .collect();
        let end = dims[1..].iter().sum::<usize>() * net.n;
        let end_to_end = (self.x_is_identity && rec.wants_end_to_end())
            .then(|| row_major(&s.activations[end - dims[depth] * net.n..end], dims[depth], net.n));
        rec.record_weights(&layers, end_to_end, row);
    }

    /// One step when `active()`: backprop with explicit per-layer gradients, recording their
    /// norms on recording steps, then a Euclidean or Stiefel update.
    pub(super) fn step(
        &mut self,
        net: &Network<'_, T>,
        t: usize,
        weights: &mut [T],
        offsets: &[usize],
        lr: f64,
        s: &mut Scratch<T>,
    ) {
        let col = t.is_multiple_of(self.every).then_some(t / self.every);
        self.backward(net, weights, offsets, s, Some(lr), col);
    }

    /// The network stops at step t (after its forward pass): complete the current column and
    /// repeat the stopping state in every later column, as the engine does for the loss.
    pub(super) fn finish(
        &mut self,
        net: &Network<'_, T>,
        t: usize,
        weights: &mut [T],
        offsets: &[usize],
        s: &mut Scratch<T>,
    ) {
        let Some(wants_grads) = self.recorder.as_ref().map(|r| r.wants_grad_norms()) else {
            return;
        };
        let records = self.rows.len() / self.width.max(1);
        // The column that holds the stopping state: the current one on a recording step, else
        // the next one (the current column keeps the state recorded at its own step).
        let col = if t.is_multiple_of(self.every) {
            t / self.every
        } else {
            t / self.every + 1
        };
        if col >= records {
            return;
        }
        if !t.is_multiple_of(self.every) {
            self.record_column(net, col, weights, offsets, s);
        }
        if wants_grads {
            self.backward(net, weights, offsets, s, None, Some(col));
        }
        self.copy_forward(col, records);
    }

    fn copy_forward(&mut self, col: usize, records: usize) {
        let width = self.width;
        let (head, tail) = self.rows.split_at_mut((col + 1) * width);
        let src = &head[col * width..];
        for dst in tail.chunks_mut(width).take(records - col - 1) {
            dst.copy_from_slice(src);
        }
    }

    /// Backprop from the error signal left by the forward pass. For each layer j = L…1: form
    /// G_j = g h_{j−1}ᵀ, record ‖G_j‖_F into column `col` if asked, propagate g ← W_jᵀg with the
    /// old W_j, then update W_j when `lr` is given. The Euclidean update is the same product as
    /// the fused engine's, so recording gradient norms leaves the trajectory bit-identical.
    fn backward(
        &mut self,
        net: &Network<'_, T>,
        weights: &mut [T],
        offsets: &[usize],
        s: &mut Scratch<T>,
        lr: Option<f64>,
        col: Option<usize>,
    ) {
        let (dims, n) = (net.dims, net.n);
        let depth = dims.len() - 1;
        let one = T::from_f64(1.0);
        let width = self.width;
        let mut norms = match (col, self.recorder.as_ref()) {
            (Some(c), Some(rec)) => rec.grad_norms_slot(&mut self.rows[c * width..(c + 1) * width]),
            _ => None,
        };
        let mut act_end: usize = dims[1..].iter().map(|d| d * n).sum();
        for j in (1..=depth).rev() {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            act_end -= d_out * n;
            let input = if j == 1 {
                net.x.unwrap_or(&self.identity)
            } else {
                &s.activations[act_end - d_in * n..act_end]
            };
            let input = row_major(input, d_in, n);
            let w = &mut weights[offsets[j - 1]..offsets[j]];
            let g = row_major(&s.signal[..d_out * n], d_out, n);
            let grad = &mut self.grad[..d_out * d_in];
            gemm(
                row_major_mut(grad, d_out, d_in),
                Accum::Replace,
                g,
                input.transpose(),
                one,
            );
            if let Some(norms) = norms.as_deref_mut() {
                norms[j - 1] = frobenius(row_major(grad, d_out, d_in));
            }
            if j > 1 {
                gemm(
                    row_major_mut(&mut s.next_signal[..d_in * n], d_in, n),
                    Accum::Replace,
                    row_major(w, d_out, d_in).transpose(),
                    g,
                    one,
                );
            }
            if let Some(lr) = lr {
                if self.stiefel.is_empty() {
                    gemm(
                        row_major_mut(w, d_out, d_in),
                        Accum::Add,
                        g,
                        input.transpose(),
                        -T::from_f64(lr),
                    );
                } else {
                    self.stiefel[j - 1].step(w, grad, lr);
                }
            }
            std::mem::swap(&mut s.signal, &mut s.next_signal);
        }
    }
}
