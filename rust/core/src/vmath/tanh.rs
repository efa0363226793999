//! tanh and its derivative sech² from one exponential, e^(−2|x|).

use super::exp::{exp_parts, ExpFloat};
use super::float::{div_pairs, fast_two_sum};

/// (tanh x, sech² x) for one f32 or f64, in that precision.
///
/// With u = e^(−2|x|) = 2^k·(1 + p): tanh|x| = (1 − u)/(1 + u) and sech² x = 4u/(1 + u)². u,
/// 1 − u and 1 + u are carried as exact pairs, so neither small |x| (where 1 − u cancels) nor
/// large |x| (where rounding 1 + u would cost a full ulp of the quotient) loses accuracy: only
/// the reduced exponential and the final quotients round. sech² keeps its relative accuracy
/// where 1 − tanh² x would cancel (it is 0 beyond |x| ≈ 19 in f64, 9 in f32) and underflows
/// gradually.
#[inline(always)]
pub(super) fn tanh_and_slope<T: ExpFloat>(x: T) -> (T, T) {
    let y = -T::TWO * x.abs();
    // Below ARG_MIN every output below is saturated (tanh = ±1, sech² = 0); NaN also lands
    // here and is put back at the end.
    let y = if y > T::ARG_MIN { y } else { T::ARG_MIN };
    let e = exp_parts(y, T::ZERO);
    // u = 2^k + 2^k·p as an exact pair (scaling by 2^k is exact while it matters: once 2^k·p
    // is subnormal the result is ±1 and the slope is formed separately), then 1 ∓ u as pairs.
    let two_k = e.scale_a * e.scale_b;
    let (u, u_lo) = fast_two_sum(two_k, two_k * e.p_hi);
    let u_lo = two_k.mul_add(e.p_lo, u_lo);
    let (num_hi, num_lo) = fast_two_sum(T::ONE, -u);
    let (den_hi, den_lo) = fast_two_sum(T::ONE, u);
    let (num_lo, den_lo) = (num_lo - u_lo, den_lo + u_lo);
    // One division serves both quotients (1/(1 + u)² = inv²).
    let inv = T::ONE / den_hi;
    let value = div_pairs(num_hi, num_lo, den_hi, den_lo, inv).copysign(x);
    // sech² = 4·(1 + p)/(1 + u)² · 2^k, with (1 + u)² = den² as a pair; scale last so a
    // subnormal slope is rounded once.
    let (one_p_hi, one_p_lo) = fast_two_sum(T::ONE, e.p_hi);
    let sq_hi = den_hi * den_hi;
    let sq_lo = den_hi.mul_add(den_hi, -sq_hi) + T::TWO * den_hi * den_lo;
    let slope = T::FOUR * div_pairs(one_p_hi, one_p_lo + e.p_lo, sq_hi, sq_lo, inv * inv) * e.scale_a * e.scale_b;
    if x.is_nan() {
        (x, x)
    } else {
        (value, slope)
    }
}
