//! One network evaluated at a set of inputs: the workspace every diagnostic of the network
//! function starts from (a forward pass through [`crate::net`], the same passes training uses),
//! and the diagnostics that need nothing more than the per-example reverse sweep (the empirical
//! NTK and the dense input–output Jacobians).

use faer::{Accum, Mat, MatRef};

use crate::alloc;
use crate::error::Result;
use crate::linalg::{row_major, Products, Split};
use crate::net::{Activation, Input, Network, Parameterization, Passes};
use crate::scalar::Real;

/// The network form shared by the Jacobian, NTK and Fisher diagnostics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetForm {
    pub activation: Activation,
    pub parameterization: Parameterization,
    pub alpha: f64,
}

impl NetForm {
    /// A plain deep linear chain f = α W_L⋯W_1 x; standard parameterisation is folded into α.
    pub fn linear(alpha: f64) -> Self {
        NetForm {
            activation: Activation::Linear,
            parameterization: Parameterization::Standard,
            alpha,
        }
    }

    /// α·∏ s_j: the output scale of the equivalent plain linear chain.
    pub fn linear_alpha(&self, dims: &[usize]) -> f64 {
        self.alpha
            * dims[..dims.len() - 1]
                .iter()
                .map(|&d| self.parameterization.scale(d))
                .product::<f64>()
    }

    /// The network of widths `dims` in this form, with a bias on every layer or on none, laid
    /// out as for training (all weights, then the biases).
    pub fn network<T: Real>(&self, dims: &[usize], biases: bool, products: Products) -> Network<T> {
        let depth = dims.len() - 1;
        let weight_offsets = crate::layout::layer_offsets(dims);
        let mut next = weight_offsets[depth];
        let bias_offsets = dims[1..]
            .iter()
            .map(|&d| {
                biases.then(|| {
                    next += d;
                    next - d
                })
            })
            .collect();
        Network {
            dims: dims.to_vec(),
            scales: dims[..depth]
                .iter()
                .map(|&d| T::from_f64(self.parameterization.scale(d)))
                .collect(),
            activation: self.activation,
            weight_offsets,
            bias_offsets,
            products,
        }
    }
}

/// Which parameters a parameter-space diagnostic counts: every parameter, or the weights only
/// (the biases then shape the function but are held fixed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Params {
    All,
    Weights,
}

impl Params {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "all" => Ok(Params::All),
            "weights" => Ok(Params::Weights),
            other => Err(crate::Error::invalid(
                "params",
                format!("expected 'all' or 'weights', got {other:?}"),
            )),
        }
    }

    /// Whether the biases count.
    pub fn biases(self) -> bool {
        self == Params::All
    }

    /// The number of parameters counted: a prefix of the network's parameter block.
    pub fn count<T: Real>(self, net: &Network<T>) -> usize {
        match self {
            Params::All => net.params(),
            Params::Weights => net.weight_offsets[net.depth()],
        }
    }
}

/// Bytes a [`Probe`] of a network of widths `dims` at `n` inputs holds: the parameters, the
/// activations and slopes of every layer, two signal buffers of the widest layer.
pub fn probe_bytes<T>(dims: &[usize], n: usize) -> u128 {
    let size = std::mem::size_of::<T>() as u128;
    let n = n as u128;
    let params: u128 = dims.windows(2).map(|w| (w[0] * w[1] + w[1]) as u128).sum();
    let hidden: u128 = dims[1..].iter().map(|&d| d as u128).sum();
    let widest = *dims.iter().max().unwrap_or(&0) as u128;
    size * (params + 2 * n * hidden + 2 * n * widest + widest)
}

/// A network's parameters and the passes' buffers for `n` inputs, reused across networks (the
/// recorder keeps one per worker). After [`Probe::evaluate`], the passes hold a forward pass
/// (with slopes) at the inputs, which the diagnostics differentiate.
pub struct Probe<T> {
    pub n: usize,
    /// The network's parameters: a private copy, since the backward pass borrows them mutably.
    pub params: Vec<T>,
    pub passes: Passes<T>,
    /// Scratch for the bias gradient of one layer.
    pub bias_grad: Vec<T>,
}

impl<T: Real> Probe<T> {
    /// Buffers for `net` at `n` inputs; `OutOfMemory` names "X" (or "weights" for the
    /// parameters).
    pub fn new(net: &Network<T>, n: usize) -> Result<Self> {
        Ok(Probe {
            n,
            params: alloc::zeroed("weights", net.params())?,
            passes: Passes::new(&net.dims, n, net.activation)?,
            bias_grad: alloc::zeroed("weights", *net.dims.iter().max().unwrap())?,
        })
    }

    /// Load `params` and run the forward pass with slopes over the n columns of `x`
    /// (d_0 × n, row-major).
    pub fn evaluate(&mut self, net: &Network<T>, params: &[T], x: &[T]) {
        self.params.copy_from_slice(params);
        self.forward(net, x);
    }

    /// The forward pass with slopes over the n columns of `x` with the parameters already in
    /// [`Probe::params`].
    pub fn forward(&mut self, net: &Network<T>, x: &[T]) {
        net.forward(&self.params, Input::Columns(x), self.n, &mut self.passes, true);
    }

    /// z_L (d_L × n) of the last evaluation.
    pub fn output(&self, net: &Network<T>) -> &[T] {
        net.output(&self.passes.activations, self.n)
    }

    /// The empirical NTK Θ = J_θJ_θᵀ of the evaluated network ((n·d_L)², example-major: index
    /// x·d_L + a) with respect to its weights and, with `biases`, its biases: layer j
    /// contributes (s_j²·h_{j−1}(x)ᵀh_{j−1}(x') + [b_j]) · B_j(x)B_j(x')ᵀ with B_j the
    /// per-example Jacobians of f with respect to z_j, so the (n·d_L) × #params Jacobian is
    /// never formed.
    ///
    /// Plain linear chains (linear, no biases) use the closed form of
    /// [`super::kernels::linear_ntk`] instead: O(L) products, no per-example sweep.
    pub fn ntk(&self, net: &Network<T>, x: &[T], alpha: f64, biases: bool) -> Result<Mat<f64>> {
        let n = self.n;
        if net.activation == Activation::Linear && net.bias_offsets.iter().all(Option::is_none) {
            let layers: Vec<MatRef<'_, T>> = (0..net.depth())
                .map(|j| row_major(net.weights_of(&self.params, j), net.dims[j + 1], net.dims[j]))
                .collect();
            let scales: f64 = net.scales.iter().map(|s| s.to_f64()).product();
            return super::kernels::linear_ntk(&layers, row_major(x, net.dims[0], n), alpha * scales);
        }
        self.swept_ntk(net, x, alpha, biases)
    }

    /// [`Probe::ntk`] by the per-example sweep, whatever the form.
    pub(crate) fn swept_ntk(&self, net: &Network<T>, x: &[T], alpha: f64, biases: bool) -> Result<Mat<f64>> {
        let n = self.n;
        let d_l = net.dims[net.depth()];
        let big = alloc::checked_len("X", &[n, d_l])?;
        let one = T::from_f64(1.0);
        let mut theta = alloc::mat_zeros::<f64>("X", big, big)?;
        let mut gram = alloc::mat_zeros::<T>("X", big, big)?;
        let mut k = alloc::mat_zeros::<T>("X", n, n)?;
        net.per_example_sweep(&self.params, x, n, &self.passes, alpha, |j, h, stack| {
            let s = net.scales[j].to_f64();
            let bias = if biases && net.bias_offsets[j].is_some() {
                1.0
            } else {
                0.0
            };
            net.products
                .gemm(k.as_mut(), Accum::Replace, h.transpose(), h, one, Split::Columns);
            net.products.gemm(
                gram.as_mut(),
                Accum::Replace,
                stack,
                stack.transpose(),
                one,
                Split::Columns,
            );
            for xp in 0..n {
                for xi in 0..n {
                    let factor = s * s * k[(xi, xp)].to_f64() + bias;
                    for b in 0..d_l {
                        for a in 0..d_l {
                            let (r, c) = (xi * d_l + a, xp * d_l + b);
                            theta[(r, c)] += factor * gram[(r, c)].to_f64();
                        }
                    }
                }
            }
        })?;
        Ok(theta)
    }

    /// The input–output Jacobians ∂f(x)/∂x of the evaluated network at each input, stacked
    /// ((n·d_L) × d_0, row x·d_L + a).
    pub fn input_jacobians(&self, net: &Network<T>, x: &[T], alpha: f64) -> Result<Mat<T>> {
        net.per_example_sweep(&self.params, x, self.n, &self.passes, alpha, |_, _, _| {})
    }
}

/// Copy network b's weights (and biases, when given) into `params`, laid out as `net`'s.
pub fn gather_params<T: Real>(
    net: &Network<T>,
    weights: &[crate::array::ArrayRef<'_, T>],
    biases: Option<&[crate::array::ArrayRef<'_, T>]>,
    b: usize,
    params: &mut [T],
) {
    for (j, w) in weights.iter().enumerate() {
        let (start, end) = (net.weight_offsets[j], net.weight_offsets[j + 1]);
        let size = end - start;
        params[start..end].copy_from_slice(&w.data[b * size..(b + 1) * size]);
    }
    for (j, bias) in biases.into_iter().flatten().enumerate() {
        if let Some(off) = net.bias_offsets[j] {
            let d = net.dims[j + 1];
            params[off..off + d].copy_from_slice(&bias.data[b * d..(b + 1) * d]);
        }
    }
}
