//! The top eigenvalues of a symmetric positive semi-definite operator known only through
//! products: block Lanczos with full reorthogonalisation, or a dense eigensolver when the
//! operator is small.
//!
//! Block Lanczos (Golub & Underwood 1977) with block size k finds eigenvalues of multiplicity up
//! to k, which single-vector Lanczos misses: the Fisher of an orthogonally initialised linear
//! network is Θ ⊗ I-like, every eigenvalue repeated d_L times. Full reorthogonalisation (twice,
//! Kahan's "twice is enough") keeps the basis orthonormal to rounding, so no spurious copies
//! appear; its cost, O(m·s·k) per block, is small next to one product with the operators here.
//!
//! Stopping rule: every one of the top k Ritz values θ_i has a residual ‖A y_i − θ_i y_i‖ ≤
//! tol·θ_1. For a symmetric operator each such θ_i is then within tol·θ_1 of an eigenvalue
//! (Weyl), and in practice far closer (the error is about residual²/gap).

use std::sync::atomic::{AtomicBool, Ordering};

use faer::diag::Diag;
use faer::dyn_stack::MemStack;
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::rngs::ChaCha8Rng;

use crate::alloc;
use crate::error::{Error, Result};
use crate::linalg::gemm;
use crate::rng::{fill_normal, network_rng};

/// A symmetric linear operator on R^size.
pub trait SymmetricOperator {
    fn size(&self) -> usize;
    /// out = A·v for every column of v (size × b).
    fn apply(&mut self, v: MatRef<'_, f64>, out: MatMut<'_, f64>) -> Result<()>;
}

/// An explicit symmetric matrix as an operator.
pub struct Explicit<'a>(pub MatRef<'a, f64>);

impl SymmetricOperator for Explicit<'_> {
    fn size(&self) -> usize {
        self.0.nrows()
    }

    fn apply(&mut self, v: MatRef<'_, f64>, out: MatMut<'_, f64>) -> Result<()> {
        gemm(out, Accum::Replace, self.0, v, 1.0);
        Ok(())
    }
}

/// Operators up to this size (or 8k, for the top k) are formed column by column and solved
/// densely: a few dozen products, where Lanczos would need about as many and could not
/// converge before exhausting the space.
const DENSE_MAX: usize = 64;

/// The Krylov basis grows to at most this many vectors (or 32 per requested eigenvalue)
/// before Lanczos gives up with `NoConvergence`. The top eigenvalues of the Fisher and NTK
/// Grams converge in a few dozen steps: their spectra have large outliers.
pub const MAX_BASIS: usize = 400;

/// The eigenvalues of the symmetric matrix `a`, non-increasing; all NaN if `a` has a
/// non-finite entry. `arg` names the argument that sized `a`, for `OutOfMemory`.
pub fn dense_eigenvalues(arg: &str, a: MatRef<'_, f64>) -> Result<Vec<f64>> {
    let m = a.nrows();
    if !super::kernels::all_finite(a) {
        return Ok(vec![f64::NAN; m]);
    }
    let mut s = Diag::<f64>::zeros(m);
    let req = self_adjoint_evd_scratch::<f64>(m, ComputeEigenvectors::No, Par::Seq, Default::default());
    self_adjoint_evd(
        a,
        s.as_mut(),
        None,
        Par::Seq,
        MemStack::new(&mut alloc::mem_buffer(arg, req)?),
        Default::default(),
    )
    .map_err(|_| Error::NoConvergence {
        what: format!("the symmetric eigensolver on a {m}x{m} matrix"),
    })?;
    let mut values: Vec<f64> = s.column_vector().iter().copied().collect();
    values.sort_by(|a, b| b.total_cmp(a));
    Ok(values)
}

/// The top k eigenvalues of `op` (non-increasing), each to within `tol`·λ_max (see the module
/// doc); all NaN if the operator produces a non-finite value. `k ≤ op.size()`. Raising `cancel`
/// stops it with `Error::Cancelled`. `arg` names what sized the operator, for `OutOfMemory`.
pub fn top_eigenvalues(
    arg: &str,
    op: &mut dyn SymmetricOperator,
    k: usize,
    tol: f64,
    cancel: &AtomicBool,
) -> Result<Vec<f64>> {
    let m = op.size();
    assert!((1..=m).contains(&k), "k is validated against the operator size");
    if m <= DENSE_MAX.max(8 * k) {
        let mut eye = alloc::mat_zeros::<f64>(arg, m, m)?;
        (0..m).for_each(|i| eye[(i, i)] = 1.0);
        let mut a = alloc::mat_zeros::<f64>(arg, m, m)?;
        op.apply(eye.as_ref(), a.as_mut())?;
        // The formed operator is symmetric only to rounding.
        for j in 0..m {
            for i in j + 1..m {
                let mean = 0.5 * (a[(i, j)] + a[(j, i)]);
                (a[(i, j)], a[(j, i)]) = (mean, mean);
            }
        }
        let mut values = dense_eigenvalues(arg, a.as_ref())?;
        values.truncate(k);
        return Ok(values);
    }
    BlockLanczos::new(arg, m, k)?.run(op, tol, cancel)
}

struct BlockLanczos {
    m: usize,
    b: usize,
    /// The basis, one block of b columns per step.
    q: Mat<f64>,
    /// The projection of the operator: H[.., block j] = Qᵀ·A·Q_j as computed, and the
    /// triangular factor of the next block below it (block upper Hessenberg).
    h: Mat<f64>,
    rng: ChaCha8Rng,
}

impl BlockLanczos {
    fn new(arg: &str, m: usize, b: usize) -> Result<Self> {
        let cap = (m - b).min(MAX_BASIS.max(32 * b));
        let cap = cap - cap % b;
        Ok(BlockLanczos {
            m,
            b,
            q: alloc::mat_zeros(arg, m, cap)?,
            h: alloc::mat_zeros(arg, cap + b, cap)?,
            rng: network_rng(0x5eed, 0),
        })
    }

    fn run(mut self, op: &mut dyn SymmetricOperator, tol: f64, cancel: &AtomicBool) -> Result<Vec<f64>> {
        let (m, b) = (self.m, self.b);
        let cap = self.q.ncols();
        // A fixed pseudo-random start block: deterministic, and almost surely not orthogonal
        // to the top eigenvectors (a constant vector can be, e.g. for centred data).
        let mut w = Mat::<f64>::zeros(m, b);
        for c in 0..b {
            let mut column = vec![0.0; m];
            fill_normal(&mut self.rng, &mut column, 1.0);
            (0..m).for_each(|i| w[(i, c)] = column[i]);
        }
        self.extend_basis(0, w.as_ref(), 0.0);
        let mut step = 0;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let (s0, s1) = (step * b, (step + 1) * b);
            op.apply(self.q.as_ref().subcols(s0, b), w.as_mut())?;
            if !super::kernels::all_finite(w.as_ref()) {
                return Ok(vec![f64::NAN; b]);
            }
            // Full reorthogonalisation against the whole basis, twice; the coefficients are
            // the operator's projection. What remains of w is the residual block: A·Q = Q·H + W.
            for _ in 0..2 {
                let basis = self.q.as_ref().subcols(0, s1);
                let mut c = Mat::<f64>::zeros(s1, b);
                gemm(c.as_mut(), Accum::Replace, basis.transpose(), w.as_ref(), 1.0);
                gemm(w.as_mut(), Accum::Add, basis, c.as_ref(), -1.0);
                let mut block = self.h.as_mut().submatrix_mut(0, s0, s1, b);
                for j in 0..b {
                    for i in 0..s1 {
                        block[(i, j)] += c[(i, j)];
                    }
                }
            }
            let last = s1 + b > cap;
            // Ritz values and their residuals; checked every step while the basis is small,
            // then every fourth (the small eigenproblem grows as s³).
            if last || s1 <= 128 || step % 4 == 3 {
                let (values, residuals) = self.ritz(s1, w.as_ref())?;
                let top = values[0].abs();
                if residuals.iter().all(|&res| res <= tol * top) {
                    return Ok(values);
                }
                if last {
                    return Err(Error::NoConvergence {
                        what: format!("block Lanczos (block size {b}) on an operator of size {m} within {cap} vectors"),
                    });
                }
            }
            let scale = self.h.as_ref().submatrix(0, 0, s1, s1).norm_max();
            let r = self.extend_basis(s1, w.as_ref(), 1e-12 * scale);
            self.h.as_mut().submatrix_mut(s1, s0, b, b).copy_from(r.as_ref());
            step += 1;
        }
    }

    /// The top b Ritz values of the basis' first s columns, non-increasing, and the norms of
    /// their residuals A·z − θ·z = W·y[last block] (z = Q·y, W the residual block).
    fn ritz(&self, s: usize, w: MatRef<'_, f64>) -> Result<(Vec<f64>, Vec<f64>)> {
        let b = self.b;
        let h = self.h.as_ref();
        let sym = Mat::from_fn(s, s, |i, j| 0.5 * (h[(i, j)] + h[(j, i)]));
        let mut values = Diag::<f64>::zeros(s);
        let mut vectors = Mat::<f64>::zeros(s, s);
        let req = self_adjoint_evd_scratch::<f64>(s, ComputeEigenvectors::Yes, Par::Seq, Default::default());
        self_adjoint_evd(
            sym.as_ref(),
            values.as_mut(),
            Some(vectors.as_mut()),
            Par::Seq,
            MemStack::new(&mut alloc::mem_buffer("k", req)?),
            Default::default(),
        )
        .map_err(|_| Error::NoConvergence {
            what: format!("the symmetric eigensolver on a {s}x{s} Lanczos projection"),
        })?;
        let values = values.column_vector();
        let mut order: Vec<usize> = (0..s).collect();
        order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
        let top = order[..b].iter().map(|&i| values[i]).collect();
        let residuals = order[..b]
            .iter()
            .map(|&i| (w * vectors.as_ref().col(i).subrows(s - b, b)).norm_l2())
            .collect();
        Ok((top, residuals))
    }

    /// Orthonormalise the columns of `w` (already orthogonal to the basis' first `s` columns)
    /// among themselves by modified Gram–Schmidt, twice, into basis columns s..s+b; returns R
    /// with w = Q_new·R. A column whose remainder is at most `threshold` (the Krylov space is
    /// exhausted in its direction) is replaced by a random unit vector orthogonal to every
    /// basis column before it, with R_cc = 0.
    fn extend_basis(&mut self, s: usize, w: MatRef<'_, f64>, threshold: f64) -> Mat<f64> {
        let (m, b) = (self.m, self.b);
        let mut r = Mat::<f64>::zeros(b, b);
        for c in 0..b {
            let mut v: Vec<f64> = (0..m).map(|i| w[(i, c)]).collect();
            for _ in 0..2 {
                for i in 0..c {
                    let dot = self.project_out(&mut v, s + i);
                    r[(i, c)] += dot;
                }
            }
            let mut norm = norm2(&v);
            if norm > threshold {
                r[(c, c)] = norm;
            } else {
                // A random direction: its part outside a basis of at most m − 1 columns is
                // almost surely far from zero.
                loop {
                    fill_normal(&mut self.rng, &mut v, 1.0);
                    let before = norm2(&v);
                    for _ in 0..2 {
                        for j in 0..s + c {
                            self.project_out(&mut v, j);
                        }
                    }
                    norm = norm2(&v);
                    if norm > 1e-6 * before {
                        break;
                    }
                }
            }
            for (i, value) in v.iter().enumerate() {
                self.q[(i, s + c)] = value / norm;
            }
        }
        r
    }

    /// v ← v − (q_j·v)·q_j for basis column j; returns the coefficient.
    fn project_out(&self, v: &mut [f64], j: usize) -> f64 {
        let q = self.q.as_ref().col(j);
        let dot: f64 = (0..self.m).map(|i| q[i] * v[i]).sum();
        for (i, x) in v.iter_mut().enumerate() {
            *x -= dot * q[i];
        }
        dot
    }
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}
