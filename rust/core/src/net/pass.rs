//! Forward and backward passes of one network over a block of examples.
//!
//! One implementation serves every form: the linear chain is the case φ = identity, s_j = 1,
//! no biases, where the passes reduce to the plain products (no slope buffers, and multiplying
//! by s_j = 1 is exact), so its fused gradient-descent path costs what it always did.

use faer::Accum;

use super::form::Activation;
use crate::linalg::{row_major, row_major_mut, Products, Split};
use crate::scalar::Real;

/// The inputs of a pass: X = I (m = d_0 examples, the first product is skipped) or d_0 × m
/// row-major columns.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a, T> {
    Identity,
    Columns(&'a [T]),
}

/// One network's form resolved for a call: widths, per-layer scales s_j, where each layer's
/// weights and bias sit in the network's parameter block, and the activation.
#[derive(Clone, Debug)]
pub struct Network<T> {
    /// [d_0, …, d_L]
    pub dims: Vec<usize>,
    /// s_j per layer.
    pub scales: Vec<T>,
    pub activation: Activation,
    /// Layer j's weights are params[weight_offsets[j]..weight_offsets[j + 1]].
    pub weight_offsets: Vec<usize>,
    /// Layer j's bias (d_{j+1} entries) starts here, after all the weights; None: no bias.
    pub bias_offsets: Vec<Option<usize>>,
    /// How the passes' products run: `Plain` for training (one network per thread), blocked
    /// for the diagnostics of large networks.
    pub products: Products,
}

/// Buffers of one worker's passes over up to `cols` examples, allocated once per call.
pub struct Passes<T> {
    /// z_1 … z_L after the activation (h_1 … h_{L−1}, then z_L), each d_j × m, back to back.
    pub activations: Vec<T>,
    /// φ'(z_j) of the hidden layers, same layout; empty for linear networks.
    pub slopes: Vec<T>,
    /// ∂ℓ/∂z_j of the layer being back-propagated, and of the one below it.
    pub signal: Vec<T>,
    pub next_signal: Vec<T>,
}

/// The gradient of one layer's weights, kept factored: G = s·δ·hᵀ (h = I when the input is the
/// identity). Applying it straight from the factors is one product, with no gradient buffer.
pub struct LayerGrad<'a, T> {
    pub delta: &'a [T],
    pub input: Input<'a, T>,
    pub m: usize,
    pub d_out: usize,
    pub d_in: usize,
    pub scale: T,
    pub products: Products,
}

impl<T: Real> LayerGrad<'_, T> {
    /// dst (d_out × d_in) += alpha·G.
    pub fn add_to(&self, dst: &mut [T], alpha: T) {
        let factor = alpha * self.scale;
        match self.input {
            // X = I: G = s·δ (d_out × d_0), an axpy instead of a product.
            Input::Identity => {
                for (v, &d) in dst.iter_mut().zip(self.delta) {
                    *v += factor * d;
                }
            }
            Input::Columns(h) => self.products.gemm(
                row_major_mut(dst, self.d_out, self.d_in),
                Accum::Add,
                row_major(self.delta, self.d_out, self.m),
                row_major(h, self.d_in, self.m).transpose(),
                factor,
                Split::Rows,
            ),
        }
    }

    /// dst (d_out × d_in) = G.
    pub fn write_to(&self, dst: &mut [T]) {
        let dst = &mut dst[..self.d_out * self.d_in];
        match self.input {
            Input::Identity => {
                for (v, &d) in dst.iter_mut().zip(self.delta) {
                    *v = self.scale * d;
                }
            }
            Input::Columns(h) => self.products.gemm(
                row_major_mut(dst, self.d_out, self.d_in),
                Accum::Replace,
                row_major(self.delta, self.d_out, self.m),
                row_major(h, self.d_in, self.m).transpose(),
                self.scale,
                Split::Rows,
            ),
        }
    }
}

impl<T> Default for Passes<T> {
    fn default() -> Self {
        Passes {
            activations: Vec::new(),
            slopes: Vec::new(),
            signal: Vec::new(),
            next_signal: Vec::new(),
        }
    }
}

impl<T: Real> Passes<T> {
    /// Buffers for passes over up to `cols` examples; allocated zeroed.
    pub fn new(dims: &[usize], cols: usize, activation: Activation) -> crate::Result<Self> {
        Self::reusing(Passes::default(), dims, cols, activation)
    }

    /// Buffers for passes over up to `cols` examples in `spare`'s memory where it has room
    /// ([`crate::alloc::reuse`]): every buffer is written by a pass or the loss before it is
    /// read, so stale values never reach a result.
    pub fn reusing(spare: Passes<T>, dims: &[usize], cols: usize, activation: Activation) -> crate::Result<Self> {
        use crate::alloc::{checked_len, reuse};
        let hidden: usize = dims[1..].iter().sum();
        let act_len = checked_len("X", &[hidden, cols])?;
        let width = *dims.iter().max().unwrap();
        let signal_len = checked_len("X", &[width, cols])?;
        let slopes_len = if activation == Activation::Linear { 0 } else { act_len };
        Ok(Passes {
            activations: reuse("X", spare.activations, act_len)?,
            slopes: reuse("X", spare.slopes, slopes_len)?,
            signal: reuse("X", spare.signal, signal_len)?,
            next_signal: reuse("X", spare.next_signal, signal_len)?,
        })
    }

    /// Bytes held by the buffers (their capacity).
    pub fn bytes(&self) -> usize {
        let entries = [&self.activations, &self.slopes, &self.signal, &self.next_signal]
            .iter()
            .map(|v| v.capacity())
            .sum::<usize>();
        entries * std::mem::size_of::<T>()
    }
}

impl<T: Real> Network<T> {
    pub fn depth(&self) -> usize {
        self.dims.len() - 1
    }

    /// Total parameters of one network: all weights, then the biases.
    pub fn params(&self) -> usize {
        let biases: usize = (0..self.depth())
            .filter(|&j| self.bias_offsets[j].is_some())
            .map(|j| self.dims[j + 1])
            .sum();
        self.weight_offsets[self.depth()] + biases
    }

    /// Layer j's weights within a parameter block.
    pub fn weights_of<'p>(&self, params: &'p [T], j: usize) -> &'p [T] {
        &params[self.weight_offsets[j]..self.weight_offsets[j + 1]]
    }

    /// z_L (d_L × m) of the last forward pass over m examples, within `activations`.
    pub fn output<'s>(&self, activations: &'s [T], m: usize) -> &'s [T] {
        let end: usize = self.dims[1..].iter().sum::<usize>() * m;
        &activations[end - self.dims[self.depth()] * m..end]
    }

    /// Forward pass over m examples: fills the activations (and, with `slopes`, φ' of the
    /// hidden layers); z_L is then [`Network::output`].
    pub fn forward(&self, params: &[T], input: Input<'_, T>, m: usize, s: &mut Passes<T>, slopes: bool) {
        let dims = &self.dims;
        let depth = self.depth();
        let mut offset = 0;
        for j in 1..=depth {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            let w = self.weights_of(params, j - 1);
            let scale = self.scales[j - 1];
            let (done, rest) = s.activations.split_at_mut(offset);
            let out = &mut rest[..d_out * m];
            match (j, input) {
                // X = I: z_1 = s_1 W_1, a scaled copy instead of a product (exact for s_1 = 1).
                (1, Input::Identity) => {
                    for (o, &v) in out.iter_mut().zip(w) {
                        *o = scale * v;
                    }
                }
                (1, Input::Columns(x)) => self.products.gemm(
                    row_major_mut(out, d_out, m),
                    Accum::Replace,
                    row_major(w, d_out, d_in),
                    row_major(x, d_in, m),
                    scale,
                    Split::Columns,
                ),
                _ => self.products.gemm(
                    row_major_mut(out, d_out, m),
                    Accum::Replace,
                    row_major(w, d_out, d_in),
                    row_major(&done[offset - d_in * m..], d_in, m),
                    scale,
                    Split::Columns,
                ),
            }
            if let Some(off) = self.bias_offsets[j - 1] {
                for (row, &b) in out.chunks_mut(m).zip(&params[off..off + d_out]) {
                    for v in row {
                        *v += b;
                    }
                }
            }
            if j < depth && self.activation != Activation::Linear {
                if slopes {
                    self.activation
                        .apply_with_slopes(out, &mut s.slopes[offset..offset + d_out * m]);
                } else {
                    self.activation.apply(out);
                }
            }
            offset += d_out * m;
        }
    }

    /// Backward pass from the output signal in `s.signal` (∂ℓ/∂z_L, d_L × m), left by the loss.
    /// For j = L … 1: the signal below, φ'(z_{j−1}) ⊙ s_j W_jᵀ δ_j, is formed first with the
    /// old W_j; then `update(j, W_j, b_j, G_j, ∂ℓ/∂b_j)` may change layer j in place. The bias
    /// gradient (row sums of δ_j) is formed in `bias_grad` only for layers with a bias.
    pub fn backward(
        &self,
        params: &mut [T],
        input: Input<'_, T>,
        m: usize,
        s: &mut Passes<T>,
        bias_grad: &mut [T],
        mut update: impl FnMut(usize, &mut [T], Option<&mut [T]>, &LayerGrad<'_, T>, &[T]),
    ) {
        let dims = &self.dims;
        let depth = self.depth();
        let linear = self.activation == Activation::Linear;
        let mut end: usize = dims[1..].iter().map(|d| d * m).sum();
        let (weights, biases) = params.split_at_mut(self.weight_offsets[depth]);
        let bias_start = self.weight_offsets[depth];
        for j in (1..=depth).rev() {
            let (d_out, d_in) = (dims[j], dims[j - 1]);
            end -= d_out * m;
            let scale = self.scales[j - 1];
            let w = &mut weights[self.weight_offsets[j - 1]..self.weight_offsets[j]];
            let delta = &s.signal[..d_out * m];
            if j > 1 {
                let next = &mut s.next_signal[..d_in * m];
                self.products.gemm(
                    row_major_mut(next, d_in, m),
                    Accum::Replace,
                    row_major(w, d_out, d_in).transpose(),
                    row_major(delta, d_out, m),
                    scale,
                    Split::Columns,
                );
                if !linear {
                    for (v, &d) in next.iter_mut().zip(&s.slopes[end - d_in * m..end]) {
                        *v *= d;
                    }
                }
            }
            let layer_input = match (j, input) {
                (1, input) => input,
                _ => Input::Columns(&s.activations[end - d_in * m..end]),
            };
            let grad = LayerGrad {
                delta,
                input: layer_input,
                m,
                d_out,
                d_in,
                scale,
                products: self.products,
            };
            let bias = self.bias_offsets[j - 1].map(|off| {
                for (g, row) in bias_grad[..d_out].iter_mut().zip(delta.chunks(m)) {
                    let mut sum = T::from_f64(0.0);
                    for &v in row {
                        sum += v;
                    }
                    *g = sum;
                }
                &mut biases[off - bias_start..off - bias_start + d_out]
            });
            update(j - 1, w, bias, &grad, &bias_grad[..d_out]);
            std::mem::swap(&mut s.signal, &mut s.next_signal);
        }
    }
}
