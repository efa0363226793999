//! Thin wrappers over faer for row-major slices, and the sign-fixed QR used by Haar sampling
//! and Stiefel retractions.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
use faer::reborrow::ReborrowMut;
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};

use crate::alloc;
use crate::error::Result;
use crate::householder;
use crate::scalar::Real;

/// View a row-major (C-order) slice as a `rows × cols` matrix.
#[inline]
pub fn row_major<T: Real>(data: &[T], rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef::from_row_major_slice(data, rows, cols)
}

/// Mutable view of a row-major (C-order) slice as a `rows × cols` matrix.
#[inline]
pub fn row_major_mut<T: Real>(data: &mut [T], rows: usize, cols: usize) -> MatMut<'_, T> {
    MatMut::from_row_major_slice_mut(data, rows, cols)
}

/// `dst = alpha·a·b` (`Accum::Replace`) or `dst += alpha·a·b` (`Accum::Add`), single-threaded.
///
/// Sequential on purpose: the engine parallelises across networks, and faer's own threading
/// on small products spends its time in barriers (measured in the research notes).
#[inline]
pub fn gemm<T: Real>(dst: MatMut<'_, T>, accum: Accum, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
    matmul(dst, accum, a, b, alpha, Par::Seq);
}

/// How the products of a pass run.
///
/// The engine trains one network per worker thread, so its products are `Plain` sequential
/// calls. The diagnostics of one large network (Fisher, Jacobian power iteration) split each
/// product's output into fixed blocks of [`BLOCK`] rows or columns: the blocks are the same
/// whatever the thread count, so results are bit-identical for any `threads`, and they run as
/// rayon tasks on the call's pool when there are fewer networks than threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Products {
    Plain,
    Blocked { parallel: bool },
}

/// Which dimension of a product's output [`Products::Blocked`] splits: both are independent
/// (each output row or column is computed from one row of `a` or one column of `b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Rows,
    Columns,
}

/// Rows or columns per block of a blocked product: wide enough for gemm-speed kernels.
pub const BLOCK: usize = 64;

impl Products {
    /// `dst = alpha·a·b` or `dst += alpha·a·b`, run as this mode says.
    pub fn gemm<T: Real>(
        self,
        dst: MatMut<'_, T>,
        accum: Accum,
        a: MatRef<'_, T>,
        b: MatRef<'_, T>,
        alpha: T,
        split: Split,
    ) {
        use rayon::prelude::*;
        let block = |i: usize, d: MatMut<'_, T>| match split {
            Split::Rows => {
                let rows = d.nrows();
                gemm(d, accum, a.subrows(i * BLOCK, rows), b, alpha)
            }
            Split::Columns => {
                let cols = d.ncols();
                gemm(d, accum, a, b.subcols(i * BLOCK, cols), alpha)
            }
        };
        match (self, split) {
            (Products::Plain, _) => gemm(dst, accum, a, b, alpha),
            (Products::Blocked { parallel: true }, Split::Rows) => {
                dst.par_row_chunks_mut(BLOCK).enumerate().for_each(|(i, d)| block(i, d))
            }
            (Products::Blocked { parallel: true }, Split::Columns) => {
                dst.par_col_chunks_mut(BLOCK).enumerate().for_each(|(i, d)| block(i, d))
            }
            (Products::Blocked { parallel: false }, Split::Rows) => {
                let mut dst = dst;
                for (i, r0) in (0..dst.nrows()).step_by(BLOCK).enumerate() {
                    let rows = BLOCK.min(dst.nrows() - r0);
                    block(i, dst.rb_mut().subrows_mut(r0, rows));
                }
            }
            (Products::Blocked { parallel: false }, Split::Columns) => {
                let mut dst = dst;
                for (i, c0) in (0..dst.ncols()).step_by(BLOCK).enumerate() {
                    let cols = BLOCK.min(dst.ncols() - c0);
                    block(i, dst.rb_mut().subcols_mut(c0, cols));
                }
            }
        }
    }
}

/// Reusable workspace for thin, sign-fixed orthonormal factors of tall `m × n` matrices
/// (m ≥ n): the QR of a given matrix, or Stewart's product of given reflectors.
///
/// Allocated once per worker and reused for every matrix of the batch, so a batch allocates
/// nothing per matrix.
pub struct SignFixedQr<T: Real> {
    m: usize,
    n: usize,
    /// faer's block reflector factors: one `block × block` upper triangle per column block.
    coeff: Mat<T>,
    mem: MemBuffer,
    /// Householder coefficients (LAPACK convention, unblocked paths and Stewart's method).
    tau: Vec<T>,
    /// sign(R_kk), with 0 counted as +1.
    signs: Vec<T>,
}

impl<T: Real> SignFixedQr<T> {
    /// Workspace for `m × n` matrices; panics if it cannot be allocated (see [`Self::try_new`]).
    pub fn new(m: usize, n: usize) -> Self {
        Self::try_new("matrix", m, n).expect("QR workspace allocation")
    }

    /// Workspace for `m × n` matrices, or `OutOfMemory` naming `arg` (the argument that sized
    /// the matrices).
    pub fn try_new(arg: &str, m: usize, n: usize) -> Result<Self> {
        assert!(m >= n, "SignFixedQr needs a tall matrix");
        let block = recommended_block_size::<T>(m, n).max(1);
        let req = qr_in_place_scratch::<T>(m, n, block, Par::Seq, Default::default()).or(
            apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, block, n),
        );
        Ok(SignFixedQr {
            m,
            n,
            coeff: alloc::mat_zeros(arg, block, n)?,
            mem: alloc::mem_buffer(arg, req)?,
            tau: alloc::zeroed(arg, n)?,
            signs: alloc::zeroed(arg, n)?,
        })
    }

    /// Overwrite the column-major `m × n` matrix `a` with Householder data and write the thin Q
    /// factor, with column i multiplied by sign(R_ii) (0 counts as +1), into column-major `q`.
    ///
    /// The sign fix makes Q = qf(G) Haar-distributed when G is Gaussian (Mezzadri 2007).
    pub fn orthonormalize(&mut self, a: &mut [T], q: &mut [T]) {
        let (m, n) = (self.m, self.n);
        if n <= householder::SMALL_QR_MAX_COLS {
            householder::sign_fixed_qr(a, m, n, &mut self.tau, q);
            return;
        }
        qr_in_place(
            MatMut::from_column_major_slice_mut(a, m, n),
            self.coeff.as_mut(),
            Par::Seq,
            MemStack::new(&mut self.mem),
            Default::default(),
        );
        self.take_signs_and_unit_basis(a);
        self.apply_signed(a, q);
    }

    /// Stewart's method: column k's entries k.. of the column-major `a` hold the k-th reflector's
    /// vector (see [`householder::signed_q_from_reflectors`]); writes the signed thin
    /// Q = H_0 ⋯ H_{n−1}·[I; 0]·diag(sign R_kk) into `q` and overwrites `a`.
    pub fn q_from_reflectors(&mut self, a: &mut [T], q: &mut [T]) {
        let (m, n) = (self.m, self.n);
        if n <= householder::SMALL_REFLECTORS_MAX_COLS {
            householder::signed_q_from_reflectors(a, m, n, &mut self.tau, q);
            return;
        }
        // Wider: form Q blockwise, where faer's compact-WY products run at gemm speed. faer
        // writes a reflector as I − v·vᵀ/τ_f (τ_f = 1/τ, ∞ for H = I) and a block of them as
        // I − V·T⁻¹·Vᵀ with T = τ_f on the diagonal and v_iᵀv_j above it (the UT transform).
        householder::make_reflectors(a, m, n, &mut self.tau);
        self.take_signs_and_unit_basis(a);
        let basis = MatRef::from_column_major_slice(a, m, n);
        let block = self.coeff.nrows();
        let zero = T::from_f64(0.0);
        for j0 in (0..n).step_by(block) {
            let width = block.min(n - j0);
            let v = basis.get(j0.., j0..j0 + width);
            let mut t = self.coeff.as_mut().get_mut(..width, j0..j0 + width);
            triangular::matmul(
                t.rb_mut(),
                BlockStructure::StrictTriangularUpper,
                Accum::Replace,
                v.transpose(),
                BlockStructure::Rectangular,
                v,
                BlockStructure::Rectangular,
                T::from_f64(1.0),
                Par::Seq,
            );
            for k in 0..width {
                let tau = self.tau[j0 + k];
                t[(k, k)] = if tau == zero {
                    T::from_f64(f64::INFINITY)
                } else {
                    T::from_f64(1.0) / tau
                };
            }
        }
        self.apply_signed(a, q);
    }

    /// Keep the signs of R's diagonal (on the diagonal of `a`) and turn `a` into faer's basis:
    /// the reflectors below a unit diagonal, zeros above it.
    fn take_signs_and_unit_basis(&mut self, a: &mut [T]) {
        let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
        let mut basis = MatMut::from_column_major_slice_mut(a, self.m, self.n);
        for j in 0..self.n {
            self.signs[j] = if basis[(j, j)] < zero { -one } else { one };
            for i in 0..j {
                basis[(i, j)] = zero;
            }
            basis[(j, j)] = one;
        }
    }

    /// Q = (product of the blocks in `coeff` over the basis in `a`)·[I; 0]·diag(signs) into `q`.
    fn apply_signed(&mut self, a: &[T], q: &mut [T]) {
        let (m, n) = (self.m, self.n);
        let mut q_mat = MatMut::from_column_major_slice_mut(q, m, n);
        q_mat.fill(T::from_f64(0.0));
        for i in 0..n {
            q_mat[(i, i)] = T::from_f64(1.0);
        }
        apply_block_householder_sequence_on_the_left_in_place_with_conj(
            MatRef::from_column_major_slice(a, m, n),
            self.coeff.as_ref(),
            Conj::No,
            q_mat.rb_mut(),
            Par::Seq,
            MemStack::new(&mut self.mem),
        );
        for (j, &sign) in self.signs.iter().enumerate() {
            if sign < T::from_f64(0.0) {
                for x in q_mat.rb_mut().col_mut(j).iter_mut() {
                    *x = -*x;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column_major(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let mut v = vec![0.0; rows * cols];
        for j in 0..cols {
            for i in 0..rows {
                v[i + j * rows] = f(i, j);
            }
        }
        v
    }

    #[test]
    fn qr_reconstructs_and_has_positive_r_diagonal() {
        for &(m, n) in &[(1, 1), (3, 3), (7, 4), (40, 40), (65, 17)] {
            let g = column_major(m, n, |i, j| {
                ((i * 7 + j * 13) % 11) as f64 - 5.0 + 0.1 * (i as f64) * (j as f64 + 1.0).sin()
            });
            let mut a = g.clone();
            let mut q = vec![0.0; m * n];
            SignFixedQr::<f64>::new(m, n).orthonormalize(&mut a, &mut q);
            let qm = MatRef::from_column_major_slice(&q, m, n);
            let gm = MatRef::from_column_major_slice(&g, m, n);
            // R = QᵀG must be upper triangular with a non-negative diagonal, and QᵀQ = I.
            let r = qm.transpose() * gm;
            let qtq = qm.transpose() * qm;
            let tol = 1e-12 * (m as f64) * 50.0;
            for i in 0..n {
                assert!(r[(i, i)] >= -tol, "R_ii negative at {i} for {m}x{n}");
                for j in 0..i {
                    assert!(r[(i, j)].abs() < tol, "R not triangular for {m}x{n}");
                }
                for j in 0..n {
                    let expect = if i == j { 1.0 } else { 0.0 };
                    assert!((qtq[(i, j)] - expect).abs() < 1e-13 * m as f64, "QᵀQ != I for {m}x{n}");
                }
            }
            let back = qm * r;
            for i in 0..m {
                for j in 0..n {
                    assert!((back[(i, j)] - gm[(i, j)]).abs() < tol, "QR != G for {m}x{n}");
                }
            }
        }
    }

    /// Stewart's Q straight from the definition: dense m × m reflectors H_k = I − 2vvᵀ/vᵀv with
    /// v = x − βe_k, β = −sign(x_k)‖x‖, multiplied out, then column k times sign(β).
    fn naive_q_from_reflectors(a: &[f64], m: usize, n: usize) -> Vec<f64> {
        let mut q = column_major(m, n, |i, j| if i == j { 1.0 } else { 0.0 });
        for k in (0..n).rev() {
            let x = &a[k * m + k..(k + 1) * m];
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            let beta = if x[0] >= 0.0 { -norm } else { norm };
            let mut v = x.to_vec();
            v[0] -= beta;
            let vv: f64 = v.iter().map(|t| t * t).sum();
            for j in 0..n {
                let col = &mut q[j * m + k..(j + 1) * m];
                let w = 2.0 * v.iter().zip(col.iter()).map(|(p, c)| p * c).sum::<f64>() / vv;
                col.iter_mut().zip(&v).for_each(|(c, p)| *c -= w * p);
            }
            if beta < 0.0 {
                q[k * m..(k + 1) * m].iter_mut().for_each(|c| *c = -*c);
            }
        }
        q
    }

    #[test]
    fn q_from_reflectors_matches_the_dense_product_on_both_paths() {
        // Widths on either side of the unblocked/blocked cutoff, square and tall.
        for &(m, n) in &[
            (1, 1),
            (2, 1),
            (5, 5),
            (17, 9),
            (32, 32),
            (33, 33),
            (64, 20),
            (70, 70),
            (130, 65),
        ] {
            let g = column_major(m, n, |i, j| {
                ((i * 31 + j * 17) % 23) as f64 / 7.0 - 1.5 + 0.01 * i as f64
            });
            let want = naive_q_from_reflectors(&g, m, n);
            let (mut a, mut q) = (g.clone(), vec![0.0; m * n]);
            SignFixedQr::<f64>::new(m, n).q_from_reflectors(&mut a, &mut q);
            for (i, (x, y)) in q.iter().zip(&want).enumerate() {
                assert!((x - y).abs() < 1e-13 * m as f64, "{m}x{n}: entry {i}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn sign_fix_flips_negative_pivots() {
        // G = -I has R = -I from an unsigned QR; the sign fix must return Q = -I, R = +I.
        let n = 4;
        let mut a = column_major(n, n, |i, j| if i == j { -1.0 } else { 0.0 });
        let mut q = vec![0.0; n * n];
        SignFixedQr::<f64>::new(n, n).orthonormalize(&mut a, &mut q);
        let qm = MatRef::from_column_major_slice(&q, n, n);
        for i in 0..n {
            for j in 0..n {
                let expect = if i == j { -1.0 } else { 0.0 };
                assert!((qm[(i, j)] - expect).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn gemm_row_major_matches_naive() {
        let (m, k, n) = (3, 5, 2);
        let a: Vec<f64> = (0..m * k).map(|x| x as f64 * 0.5 - 1.0).collect();
        let b: Vec<f64> = (0..k * n).map(|x| (x as f64).cos()).collect();
        let mut c = vec![1.0; m * n];
        gemm(
            row_major_mut(&mut c, m, n),
            Accum::Add,
            row_major(&a, m, k),
            row_major(&b, k, n),
            2.0,
        );
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert!((c[i * n + j] - (1.0 + 2.0 * dot)).abs() < 1e-13);
            }
        }
    }
}
