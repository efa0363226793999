//! The top eigenvalues of the Fisher information of a network at a set of inputs.
//!
//! F = (1/n) Σ_x J_xᵀ H_x J_x, J_x = ∂f(x)/∂θ (d_L × P) and H_x the output curvature
//! (docs/science.md, Diagnostics):
//!
//! - MSE, true Fisher (the Gaussian model): H_x = I, so F = J_θᵀJ_θ/n, the Gauss–Newton matrix.
//! - Cross-entropy, true Fisher: H_x = diag(p) − ppᵀ with p = softmax(f(x)), the generalised
//!   Gauss–Newton matrix, the Fisher of the softmax model (what Sokol & Park's code computes).
//! - Empirical Fisher: H_x = g_x g_xᵀ with g_x = ∂ℓ_x/∂f the per-example loss gradient
//!   (p − e_y, or f − y for MSE), so F = (1/n) Σ_x ∇_θℓ_x ∇_θℓ_xᵀ (Kunstner et al. 2019).
//!
//! Every H_x is written H_x = M_x M_xᵀ with a factor M_x (d_L × r): M = I; M = diag(√p) − p√pᵀ
//! (M Mᵀ = diag(p) − 2ppᵀ + pᵀ1·ppᵀ = diag(p) − ppᵀ as Σ p = 1); M = g_x (r = 1). Then
//! F = AᵀA with A = Mᵀ J/√n ((n·r) × P), and F has the nonzero spectrum of the (n·r)-square
//! Gram A Aᵀ. Two routes:
//!
//! - Gram: form the NTK Θ = J Jᵀ ((n·d_L)², per-example reverse sweep) and G = MᵀΘM/n, then a
//!   dense eigensolver or Lanczos on G. Memory and time grow as (n·d_L)².
//! - Matrix-free: Lanczos on v ↦ A(Aᵀv) (or Aᵀ(Av), whichever side is smaller), where Aᵀu is
//!   one backward pass and A w one tangent (forward-mode) pass through the network. Neither J
//!   nor any Gram is formed: memory is one forward pass and one parameter-sized vector, time
//!   about four layer products per Lanczos step.

use std::sync::atomic::AtomicBool;

use faer::{Mat, MatMut, MatRef};

use super::lanczos::{dense_eigenvalues, top_eigenvalues, Explicit, SymmetricOperator};
use super::probe::{Params, Probe};
use crate::alloc;
use crate::error::{Error, Result};
use crate::loss::{LossKind, Targets};
use crate::net::{Direction, Network};
use crate::scalar::Real;

/// Which Fisher information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FisherKind {
    /// The expectation over the model's own outputs: needs no labels.
    True,
    /// The average outer product of the per-example loss gradients at the given labels.
    Empirical,
}

impl FisherKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "true" => Ok(FisherKind::True),
            "empirical" => Ok(FisherKind::Empirical),
            other => Err(Error::invalid(
                "fisher",
                format!("expected 'true' or 'empirical', got {other:?}"),
            )),
        }
    }
}

/// How to find the top eigenvalues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FisherMethod {
    /// The route predicted to be faster by a measured cost model (see
    /// [`MATRIX_FREE_RELATIVE_RATE`]), or the matrix-free one when the Gram would not fit.
    Auto,
    /// Gram, dense symmetric eigensolver.
    Dense,
    /// Gram, block Lanczos.
    Lanczos,
    /// Block Lanczos on the tangent/backward products.
    MatrixFree,
}

impl FisherMethod {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(FisherMethod::Auto),
            "dense" => Ok(FisherMethod::Dense),
            "lanczos" => Ok(FisherMethod::Lanczos),
            "matrix_free" => Ok(FisherMethod::MatrixFree),
            other => Err(Error::invalid(
                "method",
                format!("expected 'auto', 'dense', 'lanczos' or 'matrix_free', got {other:?}"),
            )),
        }
    }
}

/// What to compute: which Fisher of which loss, over which parameters, how many eigenvalues,
/// by which route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FisherSpec {
    pub loss: LossKind,
    pub kind: FisherKind,
    pub params: Params,
    pub k: usize,
    pub method: FisherMethod,
}

/// The relative tolerance of the Lanczos routes in precision T: each eigenvalue to within
/// tol·λ_max. float32 products carry rounding errors of about 1e-7 relative.
pub fn tolerance<T>() -> f64 {
    if std::mem::size_of::<T>() == 4 {
        1e-5
    } else {
        1e-10
    }
}

/// The factors M_x of the output curvature, for every example (module doc).
enum Factor {
    /// M = I (r = d_L).
    Identity,
    /// M = diag(√p) − p√pᵀ (r = d_L); p and √p stored d_L × n like z_L.
    Softmax { p: Vec<f64>, root: Vec<f64> },
    /// M = g (r = 1); g stored d_L × n.
    Gradient(Vec<f64>),
}

impl Factor {
    /// The factor for outputs f = α·z (z: d_L × n).
    fn new<T: Real>(
        spec: &FisherSpec,
        z: &[T],
        d_l: usize,
        n: usize,
        alpha: f64,
        targets: Option<Targets<'_, T>>,
    ) -> Result<Self> {
        let softmax = || -> Result<Vec<f64>> {
            let mut p = alloc::zeroed::<f64>("X", d_l * n)?;
            for x in 0..n {
                let top = (0..d_l)
                    .map(|a| alpha * z[a * n + x].to_f64())
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for a in 0..d_l {
                    let e = (alpha * z[a * n + x].to_f64() - top).exp();
                    p[a * n + x] = e;
                    total += e;
                }
                (0..d_l).for_each(|a| p[a * n + x] /= total);
            }
            Ok(p)
        };
        Ok(match (spec.kind, spec.loss, targets) {
            (FisherKind::True, LossKind::Mse, _) => Factor::Identity,
            (FisherKind::True, LossKind::CrossEntropy, _) => {
                let p = softmax()?;
                let root = p.iter().map(|v| v.sqrt()).collect();
                Factor::Softmax { p, root }
            }
            (FisherKind::Empirical, LossKind::CrossEntropy, Some(Targets::Labels(y))) => {
                let mut g = softmax()?;
                for (x, &label) in y[..n].iter().enumerate() {
                    g[label as usize * n + x] -= 1.0;
                }
                Factor::Gradient(g)
            }
            (FisherKind::Empirical, LossKind::Mse, Some(Targets::Values(y))) => {
                let mut g = alloc::zeroed::<f64>("X", d_l * n)?;
                for (i, v) in g.iter_mut().enumerate() {
                    *v = alpha * z[i].to_f64() - y[i].to_f64();
                }
                Factor::Gradient(g)
            }
            _ => unreachable!("the empirical Fisher's targets are validated to match the loss"),
        })
    }

    /// r: the columns of each M_x.
    fn rank(&self, d_l: usize) -> usize {
        match self {
            Factor::Gradient(_) => 1,
            _ => d_l,
        }
    }

    /// out (d_L × n) = c·M_x·u_x for every example x; u is r × n.
    fn apply<T: Real>(&self, u: &[f64], c: f64, d_l: usize, n: usize, out: &mut [T]) {
        match self {
            Factor::Identity => {
                for (o, &v) in out[..d_l * n].iter_mut().zip(u) {
                    *o = T::from_f64(c * v);
                }
            }
            Factor::Softmax { p, root } => {
                for x in 0..n {
                    let dot: f64 = (0..d_l).map(|a| root[a * n + x] * u[a * n + x]).sum();
                    for a in 0..d_l {
                        let i = a * n + x;
                        out[i] = T::from_f64(c * (root[i] * u[i] - p[i] * dot));
                    }
                }
            }
            Factor::Gradient(g) => {
                for (i, o) in out[..d_l * n].iter_mut().enumerate() {
                    *o = T::from_f64(c * g[i] * u[i % n]);
                }
            }
        }
    }

    /// out (r × n) = c·M_xᵀ·f_x for every example x; f is d_L × n.
    fn apply_transposed<T: Real>(&self, f: &[T], c: f64, d_l: usize, n: usize, out: &mut [f64]) {
        match self {
            Factor::Identity => {
                for (o, &v) in out.iter_mut().zip(&f[..d_l * n]) {
                    *o = c * v.to_f64();
                }
            }
            Factor::Softmax { p, root } => {
                for x in 0..n {
                    let dot: f64 = (0..d_l).map(|a| p[a * n + x] * f[a * n + x].to_f64()).sum();
                    for a in 0..d_l {
                        let i = a * n + x;
                        out[i] = c * root[i] * (f[i].to_f64() - dot);
                    }
                }
            }
            Factor::Gradient(g) => {
                out[..n].fill(0.0);
                for (i, &v) in f[..d_l * n].iter().enumerate() {
                    out[i % n] += c * g[i] * v.to_f64();
                }
            }
        }
    }

    /// M_x as an explicit d_L × r matrix.
    fn matrix(&self, x: usize, d_l: usize, n: usize) -> Mat<f64> {
        match self {
            Factor::Identity => Mat::identity(d_l, d_l),
            Factor::Softmax { p, root } => Mat::from_fn(d_l, d_l, |a, j| {
                let diagonal = if a == j { root[a * n + x] } else { 0.0 };
                diagonal - p[a * n + x] * root[j * n + x]
            }),
            Factor::Gradient(g) => Mat::from_fn(d_l, 1, |a, _| g[a * n + x]),
        }
    }
}

/// The matrix-free operator A·Aᵀ (dual: vectors r × n) or Aᵀ·A (primal: vectors of the
/// counted parameters), A = Mᵀ·J/√n.
struct MatrixFree<'a, T: Real> {
    net: &'a Network<T>,
    probe: &'a mut Probe<T>,
    x: &'a [T],
    factor: &'a Factor,
    /// α/√n: J carries α, and A carries 1/√n.
    c: f64,
    biases: bool,
    counted: usize,
    primal: bool,
    /// A parameter-sized vector (T): the pullback's output and the tangent's direction.
    grad: Vec<T>,
    /// r × n
    dual: Vec<f64>,
}

impl<T: Real> MatrixFree<'_, T> {
    /// probe.signal ← c·M·u, then grad ← Jᵀ-pullback of it.
    fn pull(&mut self, u: &[f64]) {
        let (d_l, n) = (self.net.dims[self.net.depth()], self.probe.n);
        let Probe {
            params,
            passes,
            bias_grad,
            ..
        } = &mut *self.probe;
        self.factor.apply(u, self.c, d_l, n, &mut passes.signal);
        let grad = Some((&mut self.grad[..], self.biases));
        self.net.pullback(params, self.x, n, passes, bias_grad, grad, None);
    }

    /// dual ← c·Mᵀ·(tangent along grad).
    fn push(&mut self) {
        let (d_l, n) = (self.net.dims[self.net.depth()], self.probe.n);
        let dir = Direction {
            params: Some(&self.grad),
            biases: self.biases,
            inputs: None,
        };
        self.net
            .tangent(&self.probe.params, self.x, n, &mut self.probe.passes, dir);
        self.factor
            .apply_transposed(&self.probe.passes.signal, self.c, d_l, n, &mut self.dual);
    }
}

impl<T: Real> SymmetricOperator for MatrixFree<'_, T> {
    fn size(&self) -> usize {
        if self.primal {
            self.counted
        } else {
            self.dual.len()
        }
    }

    fn apply(&mut self, v: MatRef<'_, f64>, mut out: MatMut<'_, f64>) -> Result<()> {
        for c in 0..v.ncols() {
            let column: Vec<f64> = v.col(c).iter().copied().collect();
            if self.primal {
                for (g, &value) in self.grad.iter_mut().zip(&column) {
                    *g = T::from_f64(value);
                }
                self.push();
                let u = std::mem::take(&mut self.dual);
                self.pull(&u);
                self.dual = u;
                for (i, g) in self.grad[..self.counted].iter().enumerate() {
                    out[(i, c)] = g.to_f64();
                }
            } else {
                self.pull(&column);
                self.push();
                for (i, &value) in self.dual.iter().enumerate() {
                    out[(i, c)] = value;
                }
            }
        }
        Ok(())
    }
}

/// Flops of the Gram route, counted from the layer widths: for [`prefers_matrix_free`].
fn gram_flops(dims: &[usize], n: usize, r: usize) -> f64 {
    let (n, d_l, r) = (n as f64, dims[dims.len() - 1] as f64, r as f64);
    let big = n * d_l;
    let layers: f64 = dims.windows(2).map(|w| (w[0] * w[1]) as f64).sum();
    let widths: f64 = dims[1..].iter().map(|&d| d as f64).sum();
    // Reverse sweep, the per-layer Grams B_jB_jᵀ, the (n·r)³ eigensolver.
    2.0 * big * layers + 2.0 * big * big * widths + 4.0 * (n * r).powi(3)
}

/// Flops of the matrix-free route over [`MATRIX_FREE_STEPS`] Lanczos steps.
fn matrix_free_flops(dims: &[usize], n: usize) -> f64 {
    let layers: f64 = dims.windows(2).map(|w| (w[0] * w[1]) as f64).sum();
    // One Lanczos step: a backward and a tangent pass, two products each per layer.
    8.0 * n as f64 * layers * MATRIX_FREE_STEPS
}

/// Lanczos steps the matrix-free route's cost model counts.
const MATRIX_FREE_STEPS: f64 = 30.0;

/// The matrix-free route's effective flop rate relative to the Gram route's, with the flops of
/// [`matrix_free_flops`] (MATRIX_FREE_STEPS steps) and [`gram_flops`]: the median over 16
/// shapes (tanh, cross-entropy, d_L = 10, widths 32 and 128, depths 2 and 8, n from 16 to 256;
/// one network, 2 threads) measured by benches/fisher_crossover.py was 0.90 (range 0.22–1.96;
/// the spread is mostly the number of Lanczos steps). With it the rule picked the faster route
/// on 15 of the 16 shapes: the Gram route for the smallest problems (n·d_L = 160 with width
/// 128: 2.1 ms against 3.9 ms), the matrix-free one elsewhere (up to 210× faster at n = 256,
/// where the Gram route's (n·d_L)³ eigensolver dominates). The miss costs 1 ms (width 32,
/// depth 8, n = 16: the Gram route, 2.4 ms, where matrix-free took 1.4 ms).
const MATRIX_FREE_RELATIVE_RATE: f64 = 0.9;

/// Whether `spec` takes the matrix-free route for a network of widths `dims` at n inputs.
pub fn uses_matrix_free<T>(spec: &FisherSpec, dims: &[usize], n: usize) -> bool {
    let r = match spec.kind {
        FisherKind::True => dims[dims.len() - 1],
        FisherKind::Empirical => 1,
    };
    match spec.method {
        FisherMethod::MatrixFree => true,
        FisherMethod::Auto => prefers_matrix_free::<T>(dims, n, r),
        FisherMethod::Dense | FisherMethod::Lanczos => false,
    }
}

/// Bytes one network's eigenvalues take beyond its [`Probe`], about: the Gram route's NTK
/// (f64 and T copies), G and the eigensolver's workspace; or the matrix-free route's
/// parameter-sized vector and Lanczos basis.
pub fn fisher_bytes<T>(spec: &FisherSpec, dims: &[usize], n: usize) -> u128 {
    let size = std::mem::size_of::<T>() as u128;
    let d_l = dims[dims.len() - 1] as u128;
    let r = if spec.kind == FisherKind::True { d_l } else { 1 };
    let (big, dual) = (n as u128 * d_l, n as u128 * r);
    let params: u128 = dims.windows(2).map(|w| (w[0] * w[1] + w[1]) as u128).sum();
    if uses_matrix_free::<T>(spec, dims, n) {
        let m = params.min(dual);
        let basis = super::lanczos::MAX_BASIS.max(32 * spec.k) as u128 + 2 * spec.k as u128;
        size * params + 8 * (dual + m * basis)
    } else {
        let widest = *dims.iter().max().unwrap_or(&0) as u128;
        (8 + size) * big * big + size * (n as u128).pow(2) + 2 * size * big * widest + 24 * dual * dual
    }
}

/// method="auto": whether the matrix-free route is predicted to be faster than forming the
/// Gram and solving it densely, or the Gram would not fit in memory.
fn prefers_matrix_free<T>(dims: &[usize], n: usize, r: usize) -> bool {
    let big = n as u128 * dims[dims.len() - 1] as u128;
    let gram_bytes = 8 * big * big + std::mem::size_of::<T>() as u128 * big * big;
    if alloc::check_fits("X", 2 * gram_bytes).is_err() {
        return true;
    }
    matrix_free_flops(dims, n) / MATRIX_FREE_RELATIVE_RATE < gram_flops(dims, n, r)
}

/// The top k eigenvalues (non-increasing) of the Fisher of `net` at the probe's inputs `x`,
/// after [`Probe::evaluate`] there. NaN when the outputs or the operator are not finite. k is
/// at most the number of parameters counted; eigenvalues past the rank n·r are 0.
pub fn top_eigenvalues_of<T: Real>(
    probe: &mut Probe<T>,
    net: &Network<T>,
    x: &[T],
    targets: Option<Targets<'_, T>>,
    alpha: f64,
    spec: &FisherSpec,
    cancel: &AtomicBool,
) -> Result<Vec<f64>> {
    let (d_l, n) = (net.dims[net.depth()], probe.n);
    let z = probe.output(net);
    if z.iter().any(|v| !v.is_finite()) {
        return Ok(vec![f64::NAN; spec.k]);
    }
    let factor = Factor::new(spec, z, d_l, n, alpha, targets)?;
    let r = factor.rank(d_l);
    let counted = spec.params.count(net);
    let matrix_free = uses_matrix_free::<T>(spec, &net.dims, n);
    let tol = tolerance::<T>();
    let mut values = if matrix_free {
        let dual = alloc::checked_len("X", &[r, n])?;
        let mut op = MatrixFree {
            net,
            probe,
            x,
            factor: &factor,
            c: alpha / (n as f64).sqrt(),
            biases: spec.params.biases(),
            counted,
            primal: counted < dual,
            grad: alloc::zeroed("weights", net.params())?,
            dual: alloc::zeroed("X", dual)?,
        };
        let size = op.size();
        top_eigenvalues("X", &mut op, spec.k.min(size), tol, cancel)?
    } else {
        let gram = gram(probe, net, x, alpha, &factor, spec.params)?;
        if spec.method == FisherMethod::Lanczos {
            let size = gram.nrows();
            top_eigenvalues("X", &mut Explicit(gram.as_ref()), spec.k.min(size), tol, cancel)?
        } else {
            dense_eigenvalues("X", gram.as_ref())?
        }
    };
    values.truncate(spec.k);
    // Past the rank (n·r, or the counted parameters) the spectrum is exactly zero.
    let fill = if values.iter().any(|v| v.is_nan()) {
        f64::NAN
    } else {
        0.0
    };
    values.resize(spec.k, fill);
    Ok(values)
}

/// The Gram G = MᵀΘM/n ((n·r)², example-major) of the evaluated network.
fn gram<T: Real>(
    probe: &Probe<T>,
    net: &Network<T>,
    x: &[T],
    alpha: f64,
    factor: &Factor,
    params: Params,
) -> Result<Mat<f64>> {
    let (d_l, n) = (net.dims[net.depth()], probe.n);
    let mut theta = probe.ntk(net, x, alpha, params.biases())?;
    let inv_n = 1.0 / n as f64;
    if let Factor::Identity = factor {
        theta *= faer::Scale(inv_n);
        return Ok(theta);
    }
    let r = factor.rank(d_l);
    let big = alloc::checked_len("X", &[n, r])?;
    let blocks: Vec<Mat<f64>> = (0..n).map(|x| factor.matrix(x, d_l, n)).collect();
    // G[(x, i), (x', j)] = Σ_ab M_x[a, i]·Θ[(x, a), (x', b)]·M_x'[b, j] / n.
    let mut g = alloc::mat_zeros::<f64>("X", big, big)?;
    for xp in 0..n {
        for xi in 0..n {
            let block = theta.as_ref().submatrix(xi * d_l, xp * d_l, d_l, d_l);
            let product = blocks[xi].transpose() * block * &blocks[xp];
            g.as_mut()
                .submatrix_mut(xi * r, xp * r, r, r)
                .copy_from(&product * faer::Scale(inv_n));
        }
    }
    Ok(g)
}
