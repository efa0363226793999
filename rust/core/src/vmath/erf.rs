//! erf and its derivative (2/√π)·e^(−x²), sharing one exponential.

use super::exp::exp_parts;
use super::horner;

/// erf x = x + x·Q(x²) for |x| < 1 (near-minimax, relative error 1.1e-17 with these rounded
/// coefficients; `tools/fit_vmath.py erf1 12 1`).
const ERF_SMALL_Q: [f64; 13] = [
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

/// erfc x = e^(−x²)·G(t) with t = (x − K)/(x + K) for 1 ≤ x ≤ 6. The map to t absorbs erfc's
/// 1/x tail, so a short polynomial suffices (Schonfelder 1978 uses the same map). Error of the
/// resulting erf 1e-17 relative (`tools/fit_vmath.py erf2 11 1 3`).
const ERFC_K: f64 = 3.0;
const ERFC_G: [f64; 12] = [
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

/// 2/√π = HI + LO to 2⁻¹⁰⁶.
const FRAC_2_SQRT_PI_HI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
const FRAC_2_SQRT_PI_LO: f64 = 1.533_545_961_316_588e-17;

/// Above this erfc x < 2.2e-17, under half an ulp of 1, so erf x rounds to ±1.
const ERF_SATURATES: f64 = 6.0;
/// Above this (2/√π)·e^(−x²) rounds to 0 (it is 3e-325 at 27.35).
const SLOPE_UNDERFLOWS: f64 = 27.5;

/// (erf x, (2/√π)·e^(−x²)) for one f64. Both branches are evaluated and one is selected, so the
/// code vectorises without per-lane branches.
#[inline(always)]
pub(super) fn erf_and_slope(x: f64) -> (f64, f64) {
    let a = x.abs();
    // e^(−x²) with x² = hi + lo exactly (the error of a rounded x² would be amplified x²-fold).
    let a_exp = if a < SLOPE_UNDERFLOWS { a } else { SLOPE_UNDERFLOWS };
    let hi = a_exp * a_exp;
    let lo = a_exp.mul_add(a_exp, -hi);
    let e = exp_parts(-hi, -lo);
    // (2/√π)·(1 + p) with 2/√π and p as pairs: the small terms and the rounded product
    // C·p (under 0.41·C) first, then C, then the exact (or final) scaling by 2^k.
    let small_terms = FRAC_2_SQRT_PI_HI.mul_add(e.p_lo, FRAC_2_SQRT_PI_LO * (1.0 + e.p_hi));
    let c_times_e = FRAC_2_SQRT_PI_HI.mul_add(e.p_hi, small_terms) + FRAC_2_SQRT_PI_HI;
    let slope = c_times_e * e.scale_a * e.scale_b;

    // |x| < 1: erf x = x + x·Q(x²), one rounding after the polynomial.
    let small = x.mul_add(horner(x * x, &ERF_SMALL_Q), x);

    // |x| ≥ 1: erf x = ±(1 − e^(−x²)·G(t)); for |x| ≤ 6 the scale factors multiply exactly.
    let exp_neg_x2 = (e.p_hi + e.p_lo).mul_add(e.scale_a * e.scale_b, e.scale_a * e.scale_b);
    let a_tail = if a < ERF_SATURATES { a } else { ERF_SATURATES };
    let t = (a_tail - ERFC_K) / (a_tail + ERFC_K);
    let large = exp_neg_x2.mul_add(-horner(t, &ERFC_G), 1.0).copysign(x);

    if x.is_nan() {
        (x, x)
    } else if a < 1.0 {
        (small, slope)
    } else {
        (large, slope)
    }
}
