//! Per-network kernels behind the diagnostics: chain products, singular values, balancedness,
//! the linear-network NTK. Inputs are faer views; results are f64 (reported like losses).

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
use faer::{Accum, Mat, MatMut, MatRef, Par};

use crate::alloc;
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

/// ‖a − b‖_F of two equally shaped matrices, accumulated in f64 in the order of [`frobenius`]
/// (the difference taken in T), without forming a − b.
pub fn frobenius_distance<T: Real>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let mut sum = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = (a[(i, j)] - b[(i, j)]).to_f64();
            sum += v * v;
        }
    }
    sum.sqrt()
}

/// The product `layers[last] ⋯ layers[0]` (the first layer acts first); panics if it cannot be
/// allocated (see [`try_chain_product`]).
pub fn chain_product<T: Real>(layers: &[MatRef<'_, T>]) -> Mat<T> {
    try_chain_product("weights", layers).expect("chain product allocation")
}

/// An owned, fallibly allocated copy of `a`.
pub fn try_to_owned<T: Real>(arg: &str, a: MatRef<'_, T>) -> Result<Mat<T>> {
    let mut out = alloc::mat_zeros(arg, a.nrows(), a.ncols())?;
    out.copy_from(a);
    Ok(out)
}

/// The product `layers[last] ⋯ layers[0]`, or `OutOfMemory` naming `arg`.
///
/// Multiplies from the cheaper end: right to left costs d_last_out·Σ… when the output side is
/// narrow (e.g. Hu et al.'s d_y = 10 ≪ d_x = 1024), left to right otherwise. Every intermediate
/// is then at most max_j d_j × max(d_0, d_L): see [`chain_bytes`].
pub fn try_chain_product<T: Real>(arg: &str, layers: &[MatRef<'_, T>]) -> Result<Mat<T>> {
    let one = T::from_f64(1.0);
    let (first, last) = (layers[0], layers[layers.len() - 1]);
    if last.nrows() < first.ncols() {
        let mut p = try_to_owned(arg, last)?;
        for w in layers[..layers.len() - 1].iter().rev() {
            let mut next = alloc::mat_zeros(arg, p.nrows(), w.ncols())?;
            gemm(next.as_mut(), Accum::Replace, p.as_ref(), *w, one);
            p = next;
        }
        Ok(p)
    } else {
        let mut p = try_to_owned(arg, first)?;
        for w in &layers[1..] {
            let mut next = alloc::mat_zeros(arg, w.nrows(), p.ncols())?;
            gemm(next.as_mut(), Accum::Replace, *w, p.as_ref(), one);
            p = next;
        }
        Ok(p)
    }
}

/// Bytes [`try_chain_product`] holds at once for a chain of widths `dims` (two intermediates of
/// at most max_j d_j × max(d_0, d_L) values of `T`).
pub fn chain_bytes<T>(dims: &[usize]) -> u128 {
    let widest = *dims.iter().max().unwrap_or(&0) as u128;
    let side = dims[0].max(dims[dims.len() - 1]) as u128;
    2 * widest * side * std::mem::size_of::<T>() as u128
}

/// Bytes a [`SingularValues`] workspace for `m × n` matrices takes, about: the scaled copy and
/// faer's bidiagonalisation workspace, each at most m·n values, and the singular values.
pub fn svd_bytes<T>(m: usize, n: usize) -> u128 {
    (2 * m as u128 * n as u128 + m.min(n) as u128) * std::mem::size_of::<T>() as u128
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
    /// Workspace for `m × n` matrices; panics if it cannot be allocated (see [`Self::try_new`]).
    pub fn new(m: usize, n: usize) -> Self {
        Self::try_new("weights", m, n).expect("SVD workspace allocation")
    }

    /// Workspace for `m × n` matrices, or `OutOfMemory` naming `arg`.
    pub fn try_new(arg: &str, m: usize, n: usize) -> Result<Self> {
        // The matrix first: faer's workspace size is only computed for one that fits.
        let scaled = alloc::mat_zeros(arg, m, n)?;
        let req = svd_scratch::<T>(
            m,
            n,
            ComputeSvdVectors::No,
            ComputeSvdVectors::No,
            Par::Seq,
            Default::default(),
        );
        Ok(SingularValues {
            m,
            n,
            s: Diag::zeros(m.min(n)),
            mem: alloc::mem_buffer(arg, req)?,
            scaled,
        })
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
pub fn singular_values_of<T: Real>(arg: &str, a: MatRef<'_, T>, scale: f64) -> Result<Vec<f64>> {
    let mut out = alloc::zeroed(arg, a.nrows().min(a.ncols()))?;
    SingularValues::try_new(arg, a.nrows(), a.ncols())?.compute(a, scale, &mut out)?;
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
/// example-major: index x·d_L + a. Buffers sized by the examples are `OutOfMemory` naming "X".
pub fn linear_ntk<T: Real>(layers: &[MatRef<'_, T>], x: MatRef<'_, T>, alpha: f64) -> Result<Mat<f64>> {
    let one = T::from_f64(1.0);
    let depth = layers.len();
    let (n, d_l) = (x.ncols(), layers[depth - 1].nrows());
    // Inputs of every layer: h_0 = X, h_j = W_j h_{j−1}.
    let mut inputs: Vec<Mat<T>> = vec![try_to_owned("X", x)?];
    for w in &layers[..depth - 1] {
        let prev = inputs.last().unwrap();
        let mut h = alloc::mat_zeros("X", w.nrows(), n)?;
        gemm(h.as_mut(), Accum::Replace, *w, prev.as_ref(), one);
        inputs.push(h);
    }
    let big = alloc::checked_len("X", &[n, d_l])?;
    let mut theta = alloc::mat_zeros::<f64>("X", big, big)?;
    let mut suffix = alloc::mat_zeros::<T>("weights", d_l, d_l)?;
    (0..d_l).for_each(|i| suffix[(i, i)] = one);
    let a2 = alpha * alpha;
    let mut k = alloc::mat_zeros::<T>("X", n, n)?;
    for j in (0..depth).rev() {
        let h = inputs[j].as_ref();
        gemm(k.as_mut(), Accum::Replace, h.transpose(), h, one);
        let mut m = alloc::mat_zeros::<T>("weights", d_l, d_l)?;
        gemm(m.as_mut(), Accum::Replace, suffix.as_ref(), suffix.transpose(), one);
        kron_add(theta.as_mut(), k.as_ref(), m.as_ref(), a2);
        let w = layers[j];
        let mut next = alloc::mat_zeros("weights", d_l, w.ncols())?;
        gemm(next.as_mut(), Accum::Replace, suffix.as_ref(), w, one);
        suffix = next;
    }
    Ok(theta)
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
