//! Thin wrappers over faer for row-major slices, and the sign-fixed QR used by Haar sampling
//! and Stiefel retractions.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::matmul::matmul;
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};

use crate::scalar::Real;
use crate::small_qr;

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

/// Reusable workspace for the thin, sign-fixed QR of tall `m × n` matrices (m ≥ n).
///
/// Allocated once per worker and reused for every matrix of the batch, so sampling a batch
/// allocates nothing per matrix.
pub struct SignFixedQr<T: Real> {
    m: usize,
    n: usize,
    coeff: Mat<T>,
    mem: MemBuffer,
    /// n scalars: Householder coefficients (small path) or the signs of R's diagonal.
    column_scratch: Vec<T>,
}

impl<T: Real> SignFixedQr<T> {
    pub fn new(m: usize, n: usize) -> Self {
        assert!(m >= n, "SignFixedQr needs a tall matrix");
        let block = recommended_block_size::<T>(m, n).max(1);
        let req = qr_in_place_scratch::<T>(m, n, block, Par::Seq, Default::default()).or(
            apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, block, n),
        );
        SignFixedQr {
            m,
            n,
            coeff: Mat::zeros(block, n),
            mem: MemBuffer::new(req),
            column_scratch: vec![T::from_f64(0.0); n],
        }
    }

    /// Overwrite the column-major `m × n` matrix `a` with Householder data and write the thin Q
    /// factor, with column i multiplied by sign(R_ii) (0 counts as +1), into column-major `q`.
    ///
    /// The sign fix makes Q = qf(G) Haar-distributed when G is Gaussian (Mezzadri 2007).
    pub fn orthonormalize(&mut self, a: &mut [T], q: &mut [T]) {
        let (m, n) = (self.m, self.n);
        if n <= small_qr::SMALL_QR_MAX_COLS {
            small_qr::sign_fixed_qr(a, m, n, &mut self.column_scratch, q);
            return;
        }
        let mut basis = MatMut::from_column_major_slice_mut(a, m, n);
        qr_in_place(
            basis.rb_mut(),
            self.coeff.as_mut(),
            Par::Seq,
            MemStack::new(&mut self.mem),
            Default::default(),
        );
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        let mut q_mat = MatMut::from_column_major_slice_mut(q, m, n);
        q_mat.fill(zero);
        for i in 0..n {
            q_mat[(i, i)] = one;
        }
        // The Householder basis is the strictly lower part with a unit diagonal; keep the
        // diagonal of R aside for the sign fix.
        // Signs go in the reused scratch so no allocation happens per matrix.
        for j in 0..n {
            self.column_scratch[j] = if basis[(j, j)] < zero { -one } else { one };
            for i in 0..j {
                basis[(i, j)] = zero;
            }
            basis[(j, j)] = one;
        }
        apply_block_householder_sequence_on_the_left_in_place_with_conj(
            basis.rb(),
            self.coeff.as_ref(),
            Conj::No,
            q_mat.rb_mut(),
            Par::Seq,
            MemStack::new(&mut self.mem),
        );
        for (j, &sign) in self.column_scratch.iter().enumerate() {
            if sign < zero {
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
