//! Per-network kernels behind the diagnostics: chain products, singular values, balancedness,
//! the linear-network NTK. Inputs are faer views; results are f64 (reported like losses).

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
use faer::{Accum, Mat, MatMut, MatRef, Par};

use crate::error::{Error, Result};
use crate::linalg::gemm;
use crate::scalar::Real;

/// Whether every entry of `a` is finite.
pub fn all_finite<T: Real>(a: MatRef<'_, T>) -> bool {
    (0..a.ncols()).all(|j| (0..a.nrows()).all(|i| Real::is_finite(a[(i, j)])))
}

/// Frobenius norm, accumulated in f64.
pub fn frobenius<T: Real>(a: MatRef<'_, T>) -> f64 {
    let mut sum = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = a[(i, j)].to_f64();
            sum += v * v;
        }
    }
    sum.sqrt()
}

/// The product `layers[last] ⋯ layers[0]` (the first layer acts first).
///
/// Multiplies from the cheaper end: right to left costs d_last_out·Σ… when the output side is
/// narrow (e.g. Hu et al.'s d_y = 10 ≪ d_x = 1024), left to right otherwise.
pub fn chain_product<T: Real>(layers: &[MatRef<'_, T>]) -> Mat<T> {
    let one = T::from_f64(1.0);
    let (first, last) = (layers[0], layers[layers.len() - 1]);
    if last.nrows() < first.ncols() {
        let mut p = last.to_owned();
        for w in layers[..layers.len() - 1].iter().rev() {
            let mut next = Mat::zeros(p.nrows(), w.ncols());
            gemm(next.as_mut(), Accum::Replace, p.as_ref(), *w, one);
            p = next;
        }
        p
    } else {
        let mut p = first.to_owned();
        for w in &layers[1..] {
            let mut next = Mat::zeros(w.nrows(), p.ncols());
            gemm(next.as_mut(), Accum::Replace, *w, p.as_ref(), one);
            p = next;
        }
        p
    }
}

/// Reusable workspace for the singular values of `m × n` matrices (no vectors).
pub struct SingularValues<T: Real> {
    m: usize,
    n: usize,
    s: Diag<T>,
    mem: MemBuffer,
    scaled: Mat<T>,
}

impl<T: Real> SingularValues<T> {
    pub fn new(m: usize, n: usize) -> Self {
        let req = svd_scratch::<T>(
            m,
            n,
            ComputeSvdVectors::No,
            ComputeSvdVectors::No,
            Par::Seq,
            Default::default(),
        );
        SingularValues {
            m,
            n,
            s: Diag::zeros(m.min(n)),
            mem: MemBuffer::new(req),
            scaled: Mat::zeros(m, n),
        }
    }

    /// Write the singular values of `a`, times `|scale|`, in non-increasing order into `out`
    /// (length min(m, n)). A non-finite matrix (a diverged network) gives NaNs, not an error.
    pub fn compute(&mut self, a: MatRef<'_, T>, scale: f64, out: &mut [f64]) -> Result<()> {
        debug_assert_eq!((a.nrows(), a.ncols()), (self.m, self.n));
        if !all_finite(a) {
            out.fill(f64::NAN);
            return Ok(());
        }
        // Scale by a power of two (exact) so the largest entry is in [0.5, 1): faer's SVD
        // overflows on entries near the top of the range (e.g. a diverging network's 1e290).
        let max = (0..a.ncols())
            .flat_map(|j| (0..a.nrows()).map(move |i| (i, j)))
            .fold(0.0f64, |m, (i, j)| m.max(a[(i, j)].to_f64().abs()));
        if max == 0.0 {
            out.fill(0.0);
            return Ok(());
        }
        let factor = 2f64.powi(max.log2().floor() as i32 + 1);
        let inv = T::from_f64(1.0 / factor);
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                self.scaled[(i, j)] = a[(i, j)] * inv;
            }
        }
        // Sequential on purpose: callers parallelise across networks.
        svd(
            self.scaled.as_ref(),
            self.s.as_mut(),
            None,
            None,
            Par::Seq,
            MemStack::new(&mut self.mem),
            Default::default(),
        )
        .map_err(|_| Error::NoConvergence {
            what: format!("SVD of a {}x{} matrix", self.m, self.n),
        })?;
        for (o, s) in out.iter_mut().zip(self.s.column_vector().iter()) {
            *o = s.to_f64() * factor * scale.abs();
        }
        Ok(())
    }
}

/// One-off singular values of `a` times `|scale|`.
pub fn singular_values_of<T: Real>(a: MatRef<'_, T>, scale: f64) -> Result<Vec<f64>> {
    let mut out = vec![0.0; a.nrows().min(a.ncols())];
    SingularValues::new(a.nrows(), a.ncols()).compute(a, scale, &mut out)?;
    Ok(out)
}

/// Per-layer balancedness δ_j = ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F, j = 1…L−1 (Arora et al. Def. 1),
/// written into `out` (length L−1). `scratch` must hold at least max_j d_j² entries.
///
/// The gap is symmetric, so only its lower triangle is formed: half the flops of two full
/// Gram products, which matters when it is recorded every training step.
pub fn balancedness_into<T: Real>(layers: &[MatRef<'_, T>], scratch: &mut [T], out: &mut [f64]) {
    let one = T::from_f64(1.0);
    for (j, pair) in layers.windows(2).enumerate() {
        let (w, next) = (pair[0], pair[1]);
        let d = w.nrows();
        let mut gap = MatMut::from_column_major_slice_mut(&mut scratch[..d * d], d, d);
        triangular::matmul(
            gap.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            next.transpose(),
            BlockStructure::Rectangular,
            next,
            BlockStructure::Rectangular,
            one,
            Par::Seq,
        );
        triangular::matmul(
            gap.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            w,
            BlockStructure::Rectangular,
            w.transpose(),
            BlockStructure::Rectangular,
            -one,
            Par::Seq,
        );
        let mut sum = 0.0;
        for c in 0..d {
            let v = gap[(c, c)].to_f64();
            sum += v * v;
            for r in c + 1..d {
                let v = gap[(r, c)].to_f64();
                sum += 2.0 * v * v;
            }
        }
        out[j] = sum.sqrt();
    }
}

/// Empirical NTK of a deep linear network f(x) = α W_L⋯W_1 x over the columns of `x`, by the
/// closed form Θ = α² Σ_j (H_{j−1}ᵀH_{j−1}) ⊗ (S_{j+1}S_{j+1}ᵀ) with H_{j−1} = W_{j−1:1}X and
/// S_{j+1} = W_{L:j+1}: O(L) products, no per-parameter Jacobian. Rows and columns are
/// example-major: index x·d_L + a.
pub fn linear_ntk<T: Real>(layers: &[MatRef<'_, T>], x: MatRef<'_, T>, alpha: f64) -> Mat<f64> {
    let one = T::from_f64(1.0);
    let depth = layers.len();
    let (n, d_l) = (x.ncols(), layers[depth - 1].nrows());
    // Inputs of every layer: h_0 = X, h_j = W_j h_{j−1}.
    let mut inputs: Vec<Mat<T>> = vec![x.to_owned()];
    for w in &layers[..depth - 1] {
        let prev = inputs.last().unwrap();
        let mut h = Mat::zeros(w.nrows(), n);
        gemm(h.as_mut(), Accum::Replace, *w, prev.as_ref(), one);
        inputs.push(h);
    }
    let mut theta = Mat::<f64>::zeros(n * d_l, n * d_l);
    let mut suffix = Mat::<T>::identity(d_l, d_l);
    let a2 = alpha * alpha;
    for j in (0..depth).rev() {
        let h = inputs[j].as_ref();
        let mut k = Mat::<T>::zeros(n, n);
        gemm(k.as_mut(), Accum::Replace, h.transpose(), h, one);
        let mut m = Mat::<T>::zeros(d_l, d_l);
        gemm(m.as_mut(), Accum::Replace, suffix.as_ref(), suffix.transpose(), one);
        kron_add(theta.as_mut(), k.as_ref(), m.as_ref(), a2);
        let w = layers[j];
        let mut next = Mat::zeros(d_l, w.ncols());
        gemm(next.as_mut(), Accum::Replace, suffix.as_ref(), w, one);
        suffix = next;
    }
    theta
}

/// theta += scale · (k ⊗ m), with (x, a) ↦ x·d + a.
fn kron_add<T: Real>(mut theta: MatMut<'_, f64>, k: MatRef<'_, T>, m: MatRef<'_, T>, scale: f64) {
    let d = m.nrows();
    for xp in 0..k.ncols() {
        for x in 0..k.nrows() {
            let kv = scale * k[(x, xp)].to_f64();
            for b in 0..d {
                for a in 0..d {
                    theta[(x * d + a, xp * d + b)] += kv * m[(a, b)].to_f64();
                }
            }
        }
    }
}
