//! The exponential core shared by tanh and erf: e^y for `ARG_MIN` ≤ y ≤ 0, split so that
//! callers can form e^y, e^y − 1 and scaled multiples of e^y without extra rounding.

use super::float::{fast_two_sum, horner, two_sum, Float};

/// What the exponential needs to know about a precision: its reduction constants, the
/// polynomial S, and how to build powers of two from the rounded quotient's bits.
pub(super) trait ExpFloat: Float {
    /// 1.5·2^(mantissa bits): adding it to |v| < 2^(mantissa bits − 1) rounds v to an integer
    /// kept in the low mantissa bits.
    const ROUND_MAGIC: Self;
    const LOG2_E: Self;
    /// ln 2 = LN2_HI + LN2_LO, split so that k·LN2_HI is exact for every k the domain allows.
    const LN2_HI: Self;
    const LN2_LO: Self;
    /// The domain's lower end: below it every result the callers form has underflowed to 0
    /// or saturated, so they clamp their arguments to it.
    const ARG_MIN: Self;
    /// S(r) with e^r − 1 − r − r²/2 = r³·S(r) on |r| ≤ ln2/2.
    fn expm1_cubic_factor(r: Self) -> Self;
    /// (2^−⌊n/2⌋, 2^−⌈n/2⌉) for the n = −k held in the low bits of `t` = y·log₂e + ROUND_MAGIC.
    fn scale_factors(t: Self) -> (Self, Self);
}

/// S for f64 (a near-minimax fit, relative error of the sum 1.5e-18; `tools/fit_vmath.py
/// expm1 9` regenerates it).
const EXPM1_S_F64: [f64; 10] = [
    0.166_666_666_666_666_77,
    0.041_666_666_666_666_58,
    0.008_333_333_333_322_165,
    0.001_388_888_888_894_259_6,
    0.000_198_412_698_849_246_67,
    2.480_158_719_835_373e-5,
    2.755_724_531_555_438_3e-6,
    2.755_738_694_641_812e-7,
    2.510_867_794_222_061e-8,
    2.087_893_583_559_626_7e-9,
];

/// S for f32 (relative error of the sum 3.9e-10, 0.006 f32 ulp; `tools/fit_vmath.py expm1 4`,
/// rounded to f32 by the literals).
const EXPM1_S_F32: [f32; 5] = [
    0.166_666_66,
    0.041_666_48,
    0.008_333_419,
    0.001_393_324_6,
    0.000_198_241_2,
];

impl ExpFloat for f64 {
    const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    /// 0.693147180… with 32 significant bits (the trailing zeros visible in its bits): k·LN2_HI
    /// is exact for |k| < 2²¹.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    /// n ≤ 1097 above it, so both halves of n are below 1023 and the factors normal numbers.
    const ARG_MIN: f64 = -760.0;
    #[inline(always)]
    fn expm1_cubic_factor(r: f64) -> f64 {
        horner(r, &EXPM1_S_F64)
    }
    #[inline(always)]
    fn scale_factors(t: f64) -> (f64, f64) {
        let n = Self::ROUND_MAGIC.to_bits().wrapping_sub(t.to_bits());
        let n_a = n >> 1;
        let n_b = n - n_a;
        (f64::from_bits((1023 - n_a) << 52), f64::from_bits((1023 - n_b) << 52))
    }
}

impl ExpFloat for f32 {
    const ROUND_MAGIC: f32 = 12_582_912.0;
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    /// 0.693145751953125 with 15 significant bits: k·LN2_HI is exact for |k| < 2⁹.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = 1.428_606_8e-6;
    /// n ≤ 159 above it, so both halves of n are below 127 and the factors normal numbers;
    /// e^−110 is far below f32's smallest subnormal (2⁻¹⁴⁹ ≈ e^−103.3).
    const ARG_MIN: f32 = -110.0;
    #[inline(always)]
    fn expm1_cubic_factor(r: f32) -> f32 {
        horner(r, &EXPM1_S_F32)
    }
    #[inline(always)]
    fn scale_factors(t: f32) -> (f32, f32) {
        let n = Self::ROUND_MAGIC.to_bits().wrapping_sub(t.to_bits());
        let n_a = n >> 1;
        let n_b = n - n_a;
        (f32::from_bits((127 - n_a) << 23), f32::from_bits((127 - n_b) << 23))
    }
}

/// e^(y + y_lo) = 2^k·(1 + p_hi + p_lo) with 2^k = `scale_a`·`scale_b`.
#[derive(Clone, Copy)]
pub(super) struct ExpParts<T> {
    /// 2^−⌊n/2⌋ and 2^−⌈n/2⌉ with n = −k: each factor is a normal number for every k the
    /// domain allows, so a result that lands in the subnormal range is rounded once, by the
    /// last product.
    pub scale_a: T,
    pub scale_b: T,
    /// e^r − 1 for the reduced argument |r| ≤ ln2/2 as an unevaluated sum p_hi + p_lo
    /// (|p_lo| ≤ ulp(p_hi)/2), relative error about 2⁻⁵⁶ in f64 and 2⁻²⁷ in f32: callers that form 1 − e^y or
    /// 1 + e^y keep the bits that rounding p to one float would lose.
    pub p_hi: T,
    pub p_lo: T,
}

/// Reduce and evaluate e^(y + y_lo) for `ARG_MIN` ≤ y ≤ 0 (callers clamp; below it the
/// results they form underflow to 0 anyway) and a correction |y_lo| ≤ ulp(y).
///
/// Branch-free and built only from correctly rounded IEEE operations (add, mul, fused
/// mul-add) and integer bit operations, so the result is the same in every SIMD lane and on
/// every machine.
#[inline(always)]
pub(super) fn exp_parts<T: ExpFloat>(y: T, y_lo: T) -> ExpParts<T> {
    // k = round(y/ln2) ≤ 0, as a float and as the integer n = −k in the low bits of `t`.
    let t = y.mul_add(T::LOG2_E, T::ROUND_MAGIC);
    let k = t - T::ROUND_MAGIC;
    // Cody–Waite: y − k·LN2_HI is exact (Sterbenz); the rest of r is kept as a pair, since
    // rounding r to one float alone would cost a quarter of an ulp of the result.
    let (r, r_lo) = two_sum((-k).mul_add(T::LN2_HI, y), (-k).mul_add(T::LN2_LO, y_lo));
    // e^(r + r_lo) − 1 = p(r) + r_lo·(1 + p(r)) to first order, with
    // p(r) = r + r²·(½ + r·S(r)); the tail is under r/5, so r + tail splits exactly.
    let tail = (r * r) * r.mul_add(T::expm1_cubic_factor(r), T::HALF);
    let (p_hi, p_lo) = fast_two_sum(r, tail);
    let p_lo = r_lo.mul_add(p_hi, r_lo + p_lo);
    let (scale_a, scale_b) = T::scale_factors(t);
    ExpParts {
        scale_a,
        scale_b,
        p_hi,
        p_lo,
    }
}
