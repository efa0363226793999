//! The exponential core shared by tanh and erf: e^y for −760 ≤ y ≤ 0, split so that callers
//! can form e^y, e^y − 1 and scaled multiples of e^y without extra rounding.

use super::{fast_two_sum, horner, two_sum};

/// 1.5·2⁵²: adding it to |v| < 2⁵¹ rounds v to an integer kept in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
/// ln 2 = LN2_HI + LN2_LO, split so that k·LN2_HI is exact for |k| < 2¹¹: LN2_HI (0.693147180…)
/// has 32 significant bits, the trailing zeros visible in its bits.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// e^r − 1 − r − r²/2 = r³·S(r) on |r| ≤ ln2/2: S's coefficients (a near-minimax fit, relative
/// error of the sum 1.5e-18; `tools/fit_vmath.py expm1 9` regenerates them).
const EXPM1_S: [f64; 10] = [
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

/// e^(y + y_lo) = 2^k·(1 + p_hi + p_lo) with 2^k = `scale_a`·`scale_b`.
#[derive(Clone, Copy)]
pub(super) struct ExpParts {
    /// 2^−⌊n/2⌋ and 2^−⌈n/2⌉ with n = −k: each factor is a normal number for every k the
    /// domain allows, so a result that lands in the subnormal range is rounded once, by the
    /// last product.
    pub scale_a: f64,
    pub scale_b: f64,
    /// e^r − 1 for the reduced argument |r| ≤ ln2/2 as an unevaluated sum p_hi + p_lo
    /// (|p_lo| ≤ ulp(p_hi)/2), relative error about 2⁻⁵⁶: callers that form 1 − e^y or
    /// 1 + e^y keep the bits that rounding p to one f64 would lose.
    pub p_hi: f64,
    pub p_lo: f64,
}

/// Reduce and evaluate e^(y + y_lo) for −760 ≤ y ≤ 0 (callers clamp; below −760 the results
/// they form underflow to 0 anyway) and a correction |y_lo| ≤ ulp(y).
///
/// Branch-free and built only from correctly rounded IEEE operations (add, mul, fused
/// mul-add) and integer bit operations, so the result is the same in every SIMD lane and on
/// every machine.
#[inline(always)]
pub(super) fn exp_parts(y: f64, y_lo: f64) -> ExpParts {
    // k = round(y/ln2) ≤ 0, as a float and as the integer n = −k in the low bits of `t`.
    let t = y.mul_add(std::f64::consts::LOG2_E, ROUND_MAGIC);
    let k = t - ROUND_MAGIC;
    let n = ROUND_MAGIC.to_bits().wrapping_sub(t.to_bits());
    // Cody–Waite: y − k·LN2_HI is exact (Sterbenz); the rest of r is kept as a pair, since
    // rounding r to one f64 alone would cost a quarter of an ulp of the result.
    let (r, r_lo) = two_sum((-k).mul_add(LN2_HI, y), (-k).mul_add(LN2_LO, y_lo));
    // e^(r + r_lo) − 1 = p(r) + r_lo·(1 + p(r)) to first order, with
    // p(r) = r + r²·(½ + r·S(r)); the tail is under r/5, so r + tail splits exactly.
    let tail = (r * r) * r.mul_add(horner(r, &EXPM1_S), 0.5);
    let (p_hi, p_lo) = fast_two_sum(r, tail);
    let p_lo = r_lo.mul_add(p_hi, r_lo + p_lo);
    // n ≤ 1097 here, so both halves are below 1023 and the factors are normal numbers.
    let n_a = n >> 1;
    let n_b = n - n_a;
    ExpParts {
        scale_a: f64::from_bits((1023 - n_a) << 52),
        scale_b: f64::from_bits((1023 - n_b) << 52),
        p_hi,
        p_lo,
    }
}
