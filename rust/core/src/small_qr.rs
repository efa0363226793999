//! Unblocked Householder QR for small tall matrices, with the thin Q formed explicitly.
//!
//! Why: for n ≤ 64 faer's blocked QR spends most of its time in block-reflector bookkeeping
//! (measured: 10.8 µs of QR for a 16×16 matrix, 134 µs at 64×64). The textbook LAPACK
//! dgeqr2/dorg2r pair on contiguous columns is a few dot products and axpys per column and
//! vectorises well once compiled for the machine's vector width, which we select at run time.

use crate::scalar::Real;

/// Largest n (columns) for which the unblocked kernel beats faer's blocked QR.
pub const SMALL_QR_MAX_COLS: usize = 32;

#[inline(always)]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    // Eight independent partial sums let the compiler keep them in vector registers (a single
    // accumulator would serialise on floating-point add latency).
    let zero = T::from_f64(0.0);
    let mut acc = [zero; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len());
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += *x * *y;
    }
    sum
}

/// Apply H = I − τ·v·vᵀ, with v = (1, tail), to the vector `c` (same length as v).
#[inline(always)]
fn reflect<T: Real>(tail: &[T], tau: T, c: &mut [T]) {
    let (head, rest) = c.split_first_mut().expect("non-empty column");
    let w = tau * (*head + dot(tail, rest));
    *head -= w;
    for (x, v) in rest.iter_mut().zip(tail) {
        *x -= w * *v;
    }
}

#[inline(always)]
fn qr_and_q<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
    let zero = T::from_f64(0.0);
    let one = T::from_f64(1.0);
    // Factor: column k of `a` becomes (R_kk, Householder tail); R's upper part is not needed.
    for k in 0..n {
        let (left, right) = a.split_at_mut((k + 1) * m);
        let col = &mut left[k * m + k..];
        let alpha = col[0];
        let sigma = dot(&col[1..], &col[1..]);
        if sigma == zero {
            tau[k] = zero; // already upper triangular in this column: H = I, R_kk = alpha
            continue;
        }
        let norm = (alpha * alpha + sigma).sqrt();
        let beta = if alpha >= zero { -norm } else { norm };
        tau[k] = (beta - alpha) / beta;
        let scale = one / (alpha - beta);
        for x in col[1..].iter_mut() {
            *x *= scale;
        }
        col[0] = beta;
        let tail = &col[1..];
        for j in 0..n - k - 1 {
            reflect(tail, tau[k], &mut right[j * m + k..(j + 1) * m]);
        }
    }
    // Form Q = H_0 ⋯ H_{n−1}·[I; 0] backwards; column j < k is still e_j below row k, so only
    // columns k.. are touched by H_k.
    q.fill(zero);
    for j in 0..n {
        q[j * m + j] = one;
    }
    for k in (0..n).rev() {
        let tail = &a[k * m + k + 1..(k + 1) * m];
        for j in k..n {
            reflect(tail, tau[k], &mut q[j * m + k..(j + 1) * m]);
        }
    }
    // Sign fix: make R's diagonal non-negative (0 counts as +1).
    for k in 0..n {
        if a[k * m + k] < zero {
            for x in q[k * m..(k + 1) * m].iter_mut() {
                *x = -*x;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn qr_and_q_avx512<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
    qr_and_q(a, m, n, tau, q)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn qr_and_q_avx2<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
    qr_and_q(a, m, n, tau, q)
}

/// Thin, sign-fixed QR of the column-major `m × n` matrix `a` (m ≥ n): writes Q (column-major,
/// R's diagonal made non-negative) into `q` and overwrites `a`. `tau` needs `n` entries.
pub fn sign_fixed_qr<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
    assert!(m >= n && a.len() == m * n && q.len() == m * n && tau.len() >= n);
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: each variant is only called when the CPU reports the features it was
        // compiled for.
        if std::is_x86_feature_detected!("avx512f") {
            return unsafe { qr_and_q_avx512(a, m, n, tau, q) };
        }
        if std::is_x86_feature_detected!("avx2") {
            return unsafe { qr_and_q_avx2(a, m, n, tau, q) };
        }
    }
    qr_and_q(a, m, n, tau, q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{fill_normal, network_rng};

    #[test]
    fn agrees_with_faer_on_random_tall_matrices() {
        // Both compute the unique QR with a non-negative R diagonal, so Q must agree to rounding.
        for &(m, n) in &[(1, 1), (2, 1), (5, 5), (17, 9), (32, 32), (64, 20)] {
            let mut g = vec![0.0f64; m * n];
            fill_normal(&mut network_rng(5, (m * 100 + n) as u64), &mut g, 1.0);
            let mut a = g.clone();
            let (mut q_small, mut tau) = (vec![0.0; m * n], vec![0.0; n]);
            sign_fixed_qr(&mut a, m, n, &mut tau, &mut q_small);
            let qr = faer::MatRef::from_column_major_slice(&g, m, n).qr();
            let (q_faer, r) = (qr.compute_thin_Q(), qr.thin_R());
            for j in 0..n {
                let sign = if r[(j, j)] < 0.0 { -1.0 } else { 1.0 };
                for i in 0..m {
                    let diff = (q_small[i + j * m] - sign * q_faer[(i, j)]).abs();
                    assert!(diff < 1e-12 * m as f64, "{m}x{n}: Q differs by {diff} at ({i}, {j})");
                }
            }
        }
    }
}
