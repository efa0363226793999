//! The floating-point arithmetic the kernels are written in, for f32 and f64 alike, and the
//! exact-rounding building blocks (error-free sums, corrected quotients) they share.
//!
//! Only exactly rounded IEEE operations appear here (add, sub, mul, div, fused mul-add, sign
//! and bit manipulation), so a formula written against [`Float`] gives the same bits in every
//! SIMD lane, on every instruction set, and on the portable build (whose `mul_add` is a
//! correctly rounded library call where the CPU lacks FMA).

use std::ops::{Add, Div, Mul, Neg, Sub};

/// f32 or f64: each formula is written once and evaluated natively in either precision.
pub(super) trait Float:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const HALF: Self;
    const ONE: Self;
    const TWO: Self;
    const FOUR: Self;
    /// self·a + b with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn abs(self) -> Self;
    /// |self| with the sign of `sign`.
    fn copysign(self, sign: Self) -> Self;
    fn is_nan(self) -> bool;
}

macro_rules! impl_float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const HALF: Self = 0.5;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const FOUR: Self = 4.0;
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                <$t>::copysign(self, sign)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}

impl_float!(f32);
impl_float!(f64);

/// `c[0] + x·(c[1] + x·(…))`, unrolled at compile time for constant `c`.
#[inline(always)]
pub(super) fn horner<T: Float, const N: usize>(x: T, c: &[T; N]) -> T {
    let (last, rest) = c.split_last().expect("non-empty coefficient list");
    rest.iter().rev().fold(*last, |acc, &ci| acc.mul_add(x, ci))
}

/// (a + b, the rounding error of that sum) exactly, for |a| ≥ |b| or a = 0 (Dekker).
#[inline(always)]
pub(super) fn fast_two_sum<T: Float>(a: T, b: T) -> (T, T) {
    let sum = a + b;
    (sum, b - (sum - a))
}

/// (a + b, the rounding error of that sum) exactly, for any a and b (Knuth).
#[inline(always)]
pub(super) fn two_sum<T: Float>(a: T, b: T) -> (T, T) {
    let sum = a + b;
    let b_part = sum - a;
    (sum, (a - (sum - b_part)) + (b - b_part))
}

/// (n_hi + n_lo)/(d_hi + d_lo) within about half an ulp, given `inv` within a few ulp of
/// 1/d_hi, for |n_lo| ≤ |n_hi| or n_hi = 0 and |d_lo| ≪ |d_hi|: the numerator is renormalised,
/// then the first quotient's residual is formed exactly by fused multiply-adds and corrected
/// once. Taking the reciprocal as an argument lets callers share one division (the costliest
/// vector instruction here) between quotients.
#[inline(always)]
pub(super) fn div_pairs<T: Float>(n_hi: T, n_lo: T, d_hi: T, d_lo: T, inv: T) -> T {
    let (n_hi, n_lo) = fast_two_sum(n_hi, n_lo);
    let q = n_hi * inv;
    let residual = (-q).mul_add(d_hi, n_hi) + (-q).mul_add(d_lo, n_lo);
    residual.mul_add(inv, q)
}
