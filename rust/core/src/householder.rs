//! Unblocked Householder kernels on the contiguous columns of small tall matrices: the thin,
//! sign-fixed QR with Q formed explicitly, and Q formed from reflectors drawn directly
//! (Stewart's method, for Haar sampling).
//!
//! Why: for n ≤ 64 faer's blocked QR spends most of its time in block-reflector bookkeeping
//! (measured: 10.8 µs of QR for a 16×16 matrix, 134 µs at 64×64). The textbook LAPACK
//! dgeqr2/dorg2r pair on contiguous columns is a few dot products and axpys per column and
//! vectorises well once compiled for the machine's vector width, which we select at run time.

use crate::scalar::Real;

/// Largest n (columns) for which the unblocked kernel beats faer's blocked QR.
pub const SMALL_QR_MAX_COLS: usize = 32;

/// Largest n for which the unblocked Q-from-reflectors kernel beats faer's blocked products
/// (haar_probe, one thread: 10 vs 15 µs at n = 32, 58 vs 43 µs at n = 64).
pub const SMALL_REFLECTORS_MAX_COLS: usize = 32;

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

/// Turn `col` = (α, x) into the reflector H = I − τ·v·vᵀ, v = (1, tail), with H·col = β·e_1:
/// overwrites `col` with (β, tail) and returns τ (0 when col is already β·e_1, so H = I).
#[inline(always)]
fn make_reflector<T: Real>(col: &mut [T]) -> T {
    let zero = T::from_f64(0.0);
    let alpha = col[0];
    let sigma = dot(&col[1..], &col[1..]);
    if sigma == zero {
        return zero;
    }
    let norm = (alpha * alpha + sigma).sqrt();
    // β takes the sign opposite to α so that α − β never cancels.
    let beta = if alpha >= zero { -norm } else { norm };
    let scale = T::from_f64(1.0) / (alpha - beta);
    for x in col[1..].iter_mut() {
        *x *= scale;
    }
    col[0] = beta;
    (beta - alpha) / beta
}

/// Q = H_0 ⋯ H_{n−1}·[I; 0], with column k negated where R_kk = a[k, k] < 0 (0 counts as +1).
/// Reflector k is (a[k, k+1..], tau[k]) as left by [`make_reflector`].
#[inline(always)]
fn form_signed_q<T: Real>(a: &[T], m: usize, n: usize, tau: &[T], q: &mut [T]) {
    let zero = T::from_f64(0.0);
    q.fill(zero);
    for j in 0..n {
        q[j * m + j] = T::from_f64(1.0);
    }
    // Backwards: column j < k is still e_j below row k, so only columns k.. are touched by H_k.
    for k in (0..n).rev() {
        let tail = &a[k * m + k + 1..(k + 1) * m];
        for j in k..n {
            reflect(tail, tau[k], &mut q[j * m + k..(j + 1) * m]);
        }
    }
    for k in 0..n {
        if a[k * m + k] < zero {
            for x in q[k * m..(k + 1) * m].iter_mut() {
                *x = -*x;
            }
        }
    }
}

/// Householder QR of `a`, then its signed thin Q.
#[inline(always)]
fn qr_then_q<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
    for k in 0..n {
        let (left, right) = a.split_at_mut((k + 1) * m);
        tau[k] = make_reflector(&mut left[k * m + k..]);
        let tail = &left[k * m + k + 1..];
        for j in 0..n - k - 1 {
            reflect(tail, tau[k], &mut right[j * m + k..(j + 1) * m]);
        }
    }
    form_signed_q(a, m, n, tau, q);
}

/// Reflector k from column k's entries k.. as they stand (no QR update of later columns),
/// then the signed Q.
#[inline(always)]
fn reflectors_then_q<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
    for k in 0..n {
        tau[k] = make_reflector(&mut a[k * m + k..(k + 1) * m]);
    }
    form_signed_q(a, m, n, tau, q);
}

/// Turn column k's entries k.. of the column-major `m × n` matrix `a` into reflector k, as in
/// [`signed_q_from_reflectors`], without forming Q: `tau` gets the n coefficients (H = I − τvvᵀ)
/// and a[k, k] the value β_k = R_kk. Linear in the size of `a`, so left to the compiler.
pub fn make_reflectors<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T]) {
    assert!(m >= n && a.len() == m * n && tau.len() >= n);
    for k in 0..n {
        tau[k] = make_reflector(&mut a[k * m + k..(k + 1) * m]);
    }
}

/// Defines `pub fn $name(a, m, n, tau, q)` running `$kernel` compiled for the widest vector
/// instructions the CPU reports (checked at run time, so one binary serves every x86-64).
macro_rules! runtime_simd {
    ($(#[$doc:meta])* $name:ident => $kernel:ident) => {
        $(#[$doc])*
        pub fn $name<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
            assert!(m >= n && a.len() == m * n && q.len() == m * n && tau.len() >= n);
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
                    $kernel(a, m, n, tau, q)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2<T: Real>(a: &mut [T], m: usize, n: usize, tau: &mut [T], q: &mut [T]) {
                    $kernel(a, m, n, tau, q)
                }
                // SAFETY: each variant is only called when the CPU reports the features it
                // was compiled for.
                if std::is_x86_feature_detected!("avx512f") {
                    return unsafe { avx512(a, m, n, tau, q) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    return unsafe { avx2(a, m, n, tau, q) };
                }
            }
            $kernel(a, m, n, tau, q)
        }
    };
}

runtime_simd! {
    /// Thin, sign-fixed QR of the column-major `m × n` matrix `a` (m ≥ n): writes Q
    /// (column-major, R's diagonal made non-negative) into `q` and overwrites `a`. `tau` needs
    /// `n` entries.
    sign_fixed_qr => qr_then_q
}

runtime_simd! {
    /// Stewart's Haar sampler: column k's entries k.. of the column-major `m × n` matrix `a`
    /// (m ≥ n) hold the k-th vector; each becomes a reflector H_k, and the signed thin
    /// Q = H_0 ⋯ H_{n−1}·[I; 0]·diag(sign R_kk) goes into `q`. Entries above the diagonal are
    /// neither read nor written.
    ///
    /// With i.i.d. N(0, 1) vectors this is exactly the law of the sign-fixed QR of an `m × n`
    /// Gaussian matrix: in Householder QR of such a matrix, column k's entries k.. after the
    /// first k reflections are fresh N(0, I) draws independent of the earlier reflectors, by
    /// rotation invariance (Stewart 1980; Mezzadri 2007). It skips the QR update (half the flops)
    /// and draws only mn − n(n−1)/2 normals.
    signed_q_from_reflectors => reflectors_then_q
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
