//! erf and its derivative (2/√π)·e^(−x²), sharing one exponential.

use super::exp::{exp_parts, ExpFloat};
use super::float::horner;

/// What erf needs to know about a precision: its polynomials and where its branches end.
pub(super) trait ErfFloat: ExpFloat {
    /// 2/√π = HI + LO to about twice the precision.
    const FRAC_2_SQRT_PI_HI: Self;
    const FRAC_2_SQRT_PI_LO: Self;
    /// The centre K of the map t = (x − K)/(x + K) of the erfc branch.
    const ERFC_K: Self;
    /// Above this, erfc x is under half an ulp of 1, so erf x rounds to ±1.
    const ERF_SATURATES: Self;
    /// Above this (2/√π)·e^(−x²) rounds to 0; its square is at most −`ARG_MIN`.
    const SLOPE_UNDERFLOWS: Self;
    /// Q(x²) with erf x = x + x·Q(x²) on |x| < 1.
    fn erf_small_factor(x2: Self) -> Self;
    /// G(t) with erfc x = e^(−x²)·G(t) on 1 ≤ x ≤ `ERF_SATURATES`.
    fn erfc_factor(t: Self) -> Self;
}

/// f64 Q: near-minimax, relative error 1.1e-17 with these rounded coefficients
/// (`tools/fit_vmath.py erf1 12 1`).
const ERF_SMALL_Q_F64: [f64; 13] = [
    0.128_379_167_095_512_6,
    -0.376_126_389_031_837_5,
    0.112_837_916_709_548_57,
    -0.026_866_170_645_072_893,
    0.005_223_977_624_780_849,
    -0.000_854_832_697_874_118_9,
    0.000_120_553_310_368_627_1,
    -1.492_559_350_600_707e-5,
    1.646_097_280_294_586_5e-6,
    -1.635_002_507_471_024e-7,
    1.465_787_885_853_982_4e-8,
    -1.136_566_221_212_845_6e-9,
    5.945_255_506_213_436e-11,
];

/// f64 G on 1 ≤ x ≤ 6 with K = 3. The map to t absorbs erfc's 1/x tail, so a short polynomial
/// suffices (Schonfelder 1978 uses the same map). Error of the resulting erf 1e-17 relative
/// (`tools/fit_vmath.py erf2 11 1 3`).
const ERFC_G_F64: [f64; 12] = [
    0.179_001_151_181_351_46,
    -0.326_233_560_046_000_7,
    0.245_603_801_663_987_9,
    -0.150_115_936_311_056_52,
    0.071_665_850_755_407_55,
    -0.024_392_322_323_892_518,
    0.004_270_382_970_089_762,
    0.000_713_272_496_772_826_8,
    -0.000_580_883_859_975_069_4,
    7.667_288_582_389_691e-5,
    0.000_103_164_314_107_310_49,
    1.527_373_291_298_033_7e-5,
];

/// f32 Q: relative error 1.2e-9 (0.02 f32 ulp) before rounding the coefficients to f32
/// (`tools/fit_vmath.py erf1 6 1`).
const ERF_SMALL_Q_F32: [f32; 7] = [
    0.128_379_17,
    -0.376_126_26,
    0.112_835_854,
    -0.026_853_811,
    0.005_188_327_3,
    -0.000_801_018_9,
    7.853_847e-5,
];

/// f32 G with K = 1.5, fitted on 1 ≤ x ≤ 6 (used up to 4): error of the resulting erf 1.6e-9
/// relative before rounding the coefficients to f32 (`tools/fit_vmath.py erf2 4 1 1.5`).
const ERFC_G_F32: [f32; 5] = [0.321_585_42, -0.490_869_02, 0.194_484_65, -0.009_279_54, -0.018_298_024];

impl ErfFloat for f64 {
    const FRAC_2_SQRT_PI_HI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
    const FRAC_2_SQRT_PI_LO: f64 = 1.533_545_961_316_588e-17;
    const ERFC_K: f64 = 3.0;
    /// erfc 6 = 2.2e-17.
    const ERF_SATURATES: f64 = 6.0;
    /// (2/√π)·e^(−x²) is 3e-325 at 27.35.
    const SLOPE_UNDERFLOWS: f64 = 27.5;
    #[inline(always)]
    fn erf_small_factor(x2: f64) -> f64 {
        horner(x2, &ERF_SMALL_Q_F64)
    }
    #[inline(always)]
    fn erfc_factor(t: f64) -> f64 {
        horner(t, &ERFC_G_F64)
    }
}

impl ErfFloat for f32 {
    const FRAC_2_SQRT_PI_HI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
    const FRAC_2_SQRT_PI_LO: f32 = -5.863_538_3e-8;
    const ERFC_K: f32 = 1.5;
    /// erfc 4 = 1.5e-8 < 2⁻²⁵.
    const ERF_SATURATES: f32 = 4.0;
    /// (2/√π)·e^(−x²) is 2.7e-46 at 10.25, under half of 2⁻¹⁴⁹; 10.25² = 105.06 ≤ 110.
    const SLOPE_UNDERFLOWS: f32 = 10.25;
    #[inline(always)]
    fn erf_small_factor(x2: f32) -> f32 {
        horner(x2, &ERF_SMALL_Q_F32)
    }
    #[inline(always)]
    fn erfc_factor(t: f32) -> f32 {
        horner(t, &ERFC_G_F32)
    }
}

/// (erf x, (2/√π)·e^(−x²)) for one f32 or f64, in that precision. Both branches are evaluated
/// and one is selected, so the code vectorises without per-lane branches.
#[inline(always)]
pub(super) fn erf_and_slope<T: ErfFloat>(x: T) -> (T, T) {
    let a = x.abs();
    // e^(−x²) with x² = hi + lo exactly (the error of a rounded x² would be amplified x²-fold).
    let a_exp = if a < T::SLOPE_UNDERFLOWS {
        a
    } else {
        T::SLOPE_UNDERFLOWS
    };
    let hi = a_exp * a_exp;
    let lo = a_exp.mul_add(a_exp, -hi);
    let e = exp_parts(-hi, -lo);
    // (2/√π)·(1 + p) with 2/√π and p as pairs: the small terms and the rounded product
    // C·p (under 0.41·C) first, then C, then the exact (or final) scaling by 2^k.
    let small_terms = T::FRAC_2_SQRT_PI_HI.mul_add(e.p_lo, T::FRAC_2_SQRT_PI_LO * (T::ONE + e.p_hi));
    let c_times_e = T::FRAC_2_SQRT_PI_HI.mul_add(e.p_hi, small_terms) + T::FRAC_2_SQRT_PI_HI;
    let slope = c_times_e * e.scale_a * e.scale_b;

    // |x| < 1: erf x = x + x·Q(x²), one rounding after the polynomial.
    let small = x.mul_add(T::erf_small_factor(x * x), x);

    // |x| ≥ 1: erf x = ±(1 − e^(−x²)·G(t)); up to ERF_SATURATES the scale factors multiply
    // exactly.
    let exp_neg_x2 = (e.p_hi + e.p_lo).mul_add(e.scale_a * e.scale_b, e.scale_a * e.scale_b);
    let a_tail = if a < T::ERF_SATURATES { a } else { T::ERF_SATURATES };
    let t = (a_tail - T::ERFC_K) / (a_tail + T::ERFC_K);
    let large = exp_neg_x2.mul_add(-T::erfc_factor(t), T::ONE).copysign(x);

    if x.is_nan() {
        (x, x)
    } else if a < T::ONE {
        (small, slope)
    } else {
        (large, slope)
    }
}
