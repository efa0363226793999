//! Mehler's expansion of E[φ(u)φ(v)] for smooth odd activations (linear, tanh, erf) at
//! moderate variance: the fast numerical route.
//!
//! With u = √a·z₁, v = √b·z₂ and corr(z₁, z₂) = ρ, Mehler's formula gives
//! E[φ(u)φ(v)] = Σ_k c_k(a) c_k(b) ρ^k, c_k(a) = E[φ(√a·z) h_k(z)] with h_k the orthonormal
//! (probabilists') Hermite polynomials, and likewise for φ' with coefficients d_k (the "dual
//! activation" of Daniely et al. 2016). For odd φ only odd c_k and even d_k are nonzero. The
//! coefficients depend on one input's variance only, so they are computed once per input and
//! layer (a one-dimensional Gauss–Hermite sum, the rule of `critical`), and a pair costs one
//! short polynomial in ρ² instead of the polar rule's thousands of activation values.
//!
//! The series converges slowest at |ρ| = 1, and more slowly the larger the variance (tanh and
//! erf of a large variance approach a step, whose coefficients decay like k^{−3/4}). By
//! Cauchy–Schwarz the truncation error after T terms is at most the product of the two inputs'
//! coefficient tails, so both are cut at the same T, that of the variance band (`BANDS`) of the
//! larger variance: then the error is at most that variance's squared tail, below ~5e-11 at
//! any ρ (tests). Larger variances (and relu, which is not smooth) go to the polar rule.

use std::f64::consts::{PI, SQRT_2};
use std::sync::OnceLock;

use crate::critical::gauss_hermite;
use crate::net::Activation;
use crate::vmath::VecMath;

/// (largest variance, terms k = 0..=terms, Gauss–Hermite points for the coefficients).
/// The terms make the squared tail of tanh's and erf's coefficients at the band's largest
/// variance ~1e-11 (measured against the polar rule and the erf closed form, tests); tanh's tail
/// is the longer (its poles at ±iπ/(2√a) bound the decay, erf is entire).
const BANDS: [(f64, usize, usize); 4] = [(0.25, 48, 160), (1.0, 120, 240), (2.0, 200, 320), (4.0, 360, 480)];

/// The largest variance served by the series; beyond it the polar rule is used.
pub const MAX_VARIANCE: f64 = BANDS[BANDS.len() - 1].0;

/// The coefficients of one input at one layer: c_1, c_3, … and d_0, d_2, … (the others vanish).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The band whose number of terms this holds.
    pub band: usize,
    odd_values: Vec<f64>,
    even_slopes: Vec<f64>,
}

/// The positive Gauss–Hermite nodes z and their doubled weights, for E over z ~ N(0, 1) of an
/// even integrand; one rule per band (even sizes, so there is no node at 0).
fn rules() -> &'static [(Vec<f64>, Vec<f64>)] {
    static RULES: OnceLock<Vec<(Vec<f64>, Vec<f64>)>> = OnceLock::new();
    RULES.get_or_init(|| {
        BANDS
            .iter()
            .map(|&(_, _, points)| {
                let (x, w) = gauss_hermite(points);
                // Keep the nodes whose weight has not underflowed: they carry no mass, and the
                // Hermite recurrence would only overflow there.
                x.iter()
                    .zip(&w)
                    .filter(|(&x, &w)| x > 0.0 && w > 0.0)
                    .map(|(&x, &w)| (SQRT_2 * x, 2.0 * w / PI.sqrt()))
                    .unzip()
            })
            .collect()
    })
}

/// Σ a_i b_i in four interleaved sums (vectorisable, and always in the same order).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0.0; 4];
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Whether the series applies to this activation (smooth and odd).
pub fn applies(activation: Activation) -> bool {
    activation != Activation::Relu
}

/// The band of a variance (an index into the bands, ordered by length), or None beyond
/// `MAX_VARIANCE`.
pub fn band(variance: f64) -> Option<usize> {
    // NaN matches no band (and goes on to give NaN through the polar rule).
    BANDS.iter().position(|&(max, _, _)| variance <= max)
}

/// The coefficients of φ(√a·z) and φ'(√a·z), as many as `band` holds (a's own band or a
/// longer one).
pub fn series(activation: Activation, a: f64, band: usize) -> Series {
    debug_assert!(applies(activation) && self::band(a).is_some_and(|own| own <= band));
    let a = a.max(0.0);
    let terms = BANDS[band].1;
    let (z, w) = &rules()[band];
    let mut values: Vec<f64> = z.iter().map(|&z| a.sqrt() * z).collect();
    let mut slopes = vec![0.0; z.len()];
    match activation {
        Activation::Tanh => f64::tanh_with_slope(&mut values, &mut slopes),
        Activation::Erf => f64::erf_with_slope(&mut values, &mut slopes),
        _ => {
            for (v, s) in values.iter_mut().zip(&mut slopes) {
                (*v, *s) = activation.value_and_slope(*v);
            }
        }
    }
    // Weighted once, so each coefficient is a plain dot product with h_k. φ·h_k (k odd) and
    // φ'·h_k (k even) are even in z, so the positive nodes with doubled weights suffice.
    for ((v, s), &w) in values.iter_mut().zip(&mut slopes).zip(w) {
        *v *= w;
        *s *= w;
    }
    let mut out = Series {
        band,
        odd_values: Vec::with_capacity(terms / 2 + 1),
        even_slopes: Vec::with_capacity(terms / 2 + 1),
    };
    // h_0 = 1, h_{k+1} = (z h_k − √k h_{k−1})/√(k+1): orthonormal under N(0, 1), stable upwards.
    let mut prev = vec![0.0; z.len()];
    let mut h = vec![1.0; z.len()];
    for k in 0..=terms {
        if k % 2 == 1 {
            out.odd_values.push(dot(&values, &h));
        } else {
            out.even_slopes.push(dot(&slopes, &h));
        }
        let (kf, next) = (k as f64, (k as f64 + 1.0).sqrt().recip());
        for ((p, h), &z) in prev.iter_mut().zip(h.iter_mut()).zip(z) {
            let new = (z * *h - kf.sqrt() * *p) * next;
            (*p, *h) = (*h, new);
        }
    }
    out
}

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) from both inputs' coefficients (of one band) and the
/// correlation ρ.
pub fn expectations(sa: &Series, sb: &Series, rho: f64) -> (f64, f64) {
    let t = rho * rho;
    let (mut values, mut slopes, mut power) = (0.0, 0.0, 1.0);
    let odd = sa.odd_values.iter().zip(&sb.odd_values);
    let even = sa.even_slopes.iter().zip(&sb.even_slopes);
    for ((va, vb), (da, db)) in odd.zip(even) {
        values += va * vb * power;
        slopes += da * db * power;
        power *= t;
    }
    (rho * values, slopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infinite_width::{closed_form, quadrature};

    /// The series against the erf closed form and the polar rule (tanh), at the top of every
    /// band and across bands, for ρ from −1 to 1.
    #[test]
    fn matches_closed_form_and_polar_rule() {
        let mut scratch = quadrature::Scratch::default();
        let variances = [0.0, 0.1, 0.25, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0];
        for activation in [Activation::Erf, Activation::Tanh, Activation::Linear] {
            for &a in &variances {
                for &b in &variances {
                    let common = band(a).max(band(b)).unwrap();
                    let (sa, sb) = (series(activation, a, common), series(activation, b, common));
                    for rho in [-1.0, -0.99, -0.4, 0.0, 0.5, 0.9, 0.999, 1.0] {
                        let c = rho * (a * b).sqrt();
                        let got = expectations(&sa, &sb, closed_form::correlation(a, b, c));
                        let want = match closed_form::expectations(activation, a, b, c) {
                            Some(e) => e,
                            None => quadrature::expectations(activation, a, b, c, &mut scratch),
                        };
                        let err = (got.0 - want.0).abs().max((got.1 - want.1).abs());
                        assert!(err < 5e-11, "{activation:?} a={a} b={b} ρ={rho}: {got:?} vs {want:?}");
                    }
                }
            }
        }
        assert_eq!(band(4.01), None);
        assert_eq!(band(-1e-300), Some(0));
        assert_eq!(band(f64::NAN), None);
    }
}
