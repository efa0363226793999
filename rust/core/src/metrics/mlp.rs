//! Per-sample derivatives of MLPs (SPEC §1 "Nonlinear MLP"): z_j = s_j W_j h_{j−1} + b_j,
//! h_j = φ(z_j) for hidden layers, f = α z_L.

use faer::{Accum, Mat, MatRef};

use crate::alloc;
use crate::error::Result;
use crate::linalg::gemm;
use crate::metrics::kernels::try_to_owned;
use crate::scalar::Real;

pub use crate::net::form::{Activation, Parameterization};

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
}

/// One network's forward pass over all n inputs: the input of each layer and φ'(z) of each
/// hidden layer.
struct Forward<T> {
    /// h_0 = X, …, h_{L−1}; each d_j × n.
    inputs: Vec<Mat<T>>,
    /// φ'(z_j) for j = 1…L−1; each d_j × n.
    slopes: Vec<Mat<T>>,
}

/// Buffers sized by the examples (these and the ones below) are `OutOfMemory` naming "X".
fn forward<T: Real>(
    layers: &[MatRef<'_, T>],
    biases: Option<&[&[T]]>,
    x: MatRef<'_, T>,
    form: &NetForm,
) -> Result<Forward<T>> {
    let depth = layers.len();
    let n = x.ncols();
    let mut inputs = vec![try_to_owned("X", x)?];
    let mut slopes = Vec::with_capacity(depth - 1);
    for (j, w) in layers[..depth - 1].iter().enumerate() {
        let s = T::from_f64(form.parameterization.scale(w.ncols()));
        let mut z = alloc::mat_zeros("X", w.nrows(), n)?;
        gemm(z.as_mut(), Accum::Replace, *w, inputs[j].as_ref(), s);
        if let Some(b) = biases {
            for c in 0..n {
                for r in 0..w.nrows() {
                    z[(r, c)] += b[j][r];
                }
            }
        }
        let mut slope = alloc::mat_zeros("X", w.nrows(), n)?;
        for c in 0..n {
            for r in 0..w.nrows() {
                slope[(r, c)] = T::from_f64(form.activation.derivative(z[(r, c)].to_f64()));
                // z becomes h = φ(z) in place.
                z[(r, c)] = T::from_f64(form.activation.value(z[(r, c)].to_f64()));
            }
        }
        slopes.push(slope);
        inputs.push(z);
    }
    Ok(Forward { inputs, slopes })
}

/// Reverse-mode sweep: calls `visit(j, h_{j−1}, B_j)` for j = L…1, where B_j = ∂f/∂z_j stacked
/// over inputs ((n·d_L) × d_j, row x·d_L + a), then returns the input–output Jacobians stacked
/// the same way ((n·d_L) × d_0).
///
/// All n inputs go through each layer in one product, so the cost is n·d_L·Σ_j d_j d_{j−1}.
fn reverse_sweep<T: Real>(
    layers: &[MatRef<'_, T>],
    biases: Option<&[&[T]]>,
    x: MatRef<'_, T>,
    form: &NetForm,
    mut visit: impl FnMut(usize, MatRef<'_, T>, MatRef<'_, T>),
) -> Result<Mat<T>> {
    let depth = layers.len();
    let n = x.ncols();
    let d_l = layers[depth - 1].nrows();
    let fwd = forward(layers, biases, x, form)?;
    let alpha = T::from_f64(form.alpha);
    let rows = alloc::checked_len("X", &[n, d_l])?;
    let mut stack = alloc::mat_zeros::<T>("X", rows, d_l)?;
    for s in 0..n {
        for a in 0..d_l {
            stack[(s * d_l + a, a)] = alpha;
        }
    }
    for j in (0..depth).rev() {
        let w = layers[j];
        visit(j, fwd.inputs[j].as_ref(), stack.as_ref());
        let s = T::from_f64(form.parameterization.scale(w.ncols()));
        let mut next = alloc::mat_zeros::<T>("X", rows, w.ncols())?;
        gemm(next.as_mut(), Accum::Replace, stack.as_ref(), w, s);
        if j > 0 {
            let slope = &fwd.slopes[j - 1];
            for c in 0..w.ncols() {
                for s in 0..n {
                    let d = slope[(c, s)];
                    for a in 0..d_l {
                        next[(s * d_l + a, c)] *= d;
                    }
                }
            }
        }
        stack = next;
    }
    Ok(stack)
}

/// Input–output Jacobians ∂f(x)/∂x for every column x of `x`, stacked ((n·d_L) × d_0).
pub fn input_jacobians<T: Real>(
    layers: &[MatRef<'_, T>],
    biases: Option<&[&[T]]>,
    x: MatRef<'_, T>,
    form: &NetForm,
) -> Result<Mat<T>> {
    reverse_sweep(layers, biases, x, form, |_, _, _| {})
}

/// Empirical NTK Θ = J_θJ_θᵀ ((n·d_L)², example-major) by per-sample Jacobians with respect to
/// the pre-activations: layer j contributes (s_j²·h_{j−1}(x)ᵀh_{j−1}(x') + [biases]) ·
/// B_j(x)B_j(x')ᵀ, so the (n·d_L) × #params Jacobian is never formed.
pub fn ntk<T: Real>(
    layers: &[MatRef<'_, T>],
    biases: Option<&[&[T]]>,
    x: MatRef<'_, T>,
    form: &NetForm,
) -> Result<Mat<f64>> {
    let n = x.ncols();
    let d_l = layers[layers.len() - 1].nrows();
    let big = alloc::checked_len("X", &[n, d_l])?;
    let one = T::from_f64(1.0);
    let bias_term = if biases.is_some() { 1.0 } else { 0.0 };
    let mut theta = alloc::mat_zeros::<f64>("X", big, big)?;
    let mut gram = alloc::mat_zeros::<T>("X", big, big)?;
    let mut k = alloc::mat_zeros::<T>("X", n, n)?;
    reverse_sweep(layers, biases, x, form, |j, h, stack| {
        let s = form.parameterization.scale(layers[j].ncols());
        gemm(k.as_mut(), Accum::Replace, h.transpose(), h, one);
        gemm(gram.as_mut(), Accum::Replace, stack, stack.transpose(), one);
        for xp in 0..n {
            for x in 0..n {
                let factor = s * s * k[(x, xp)].to_f64() + bias_term;
                for b in 0..d_l {
                    for a in 0..d_l {
                        let (r, c) = (x * d_l + a, xp * d_l + b);
                        theta[(r, c)] += factor * gram[(r, c)].to_f64();
                    }
                }
            }
        }
    })?;
    Ok(theta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_derivative_matches_finite_difference() {
        for &z in &[-2.0, -0.3, 0.0, 0.7, 1.9] {
            for act in [Activation::Tanh, Activation::Erf, Activation::Linear] {
                let h = 1e-6;
                let fd = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
                assert!((fd - act.derivative(z)).abs() < 1e-8, "{act:?} at {z}");
            }
        }
        assert!((libm::erf(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
    }
}
