//! Closed forms of E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[a, c], [c, b]]).
//!
//! - linear: E[uv] = c, E[1] = 1.
//! - relu: the arc-cosine kernel of degree 1 and 0 (Cho & Saul 2009): with ρ = c/√(ab) and
//!   θ = arccos ρ, E[φφ] = √(ab)(sin θ + (π − θ)ρ)/(2π) and E[φ'φ'] = (π − θ)/(2π). A zero
//!   variance makes u or v identically 0, and both expectations 0 (relu'(0) = 0, as in the
//!   networks).
//! - erf: Williams 1997: E[φφ] = (2/π) arcsin(2c/√((1 + 2a)(1 + 2b))) and
//!   E[φ'φ'] = (4/π)/√((1 + 2a)(1 + 2b) − 4c²), since φ'(z) = (2/√π)e^{−z²}.
//!
//! tanh has none; see `quadrature`.

use std::f64::consts::PI;

use crate::net::Activation;

/// Whether `expectations` has a closed form for this activation.
pub fn available(activation: Activation) -> bool {
    activation != Activation::Tanh
}

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]), or None for an activation without a closed form.
pub fn expectations(activation: Activation, a: f64, b: f64, c: f64) -> Option<(f64, f64)> {
    match activation {
        Activation::Linear => Some((c, 1.0)),
        Activation::Relu => Some(relu(a, b, c)),
        Activation::Erf => Some(erf(a, b, c)),
        Activation::Tanh => None,
    }
}

/// The correlation ρ = c/√(ab), and 0 when a variance is 0 (u or v is then identically 0 and ρ
/// does not matter). Values within 4ε of ±1 are taken as ±1.
///
/// Why: relu's derivative kernel (π − arccos ρ)/(2π) moves like √(1 − ρ), so one ulp below
/// ρ = 1 already shifts it by 2e-9, and the recursion's rounding moves an exact ρ = ±1 (e.g.
/// collinear inputs, which relu keeps collinear) by a few ulps; the snap costs no more than
/// that rounding. Both routes take ρ from here, so that they see the same value. On the
/// diagonal (c = a = b) √(a·a) = a exactly, so ρ = 1 exactly anyway.
pub fn correlation(a: f64, b: f64, c: f64) -> f64 {
    let scale = (a * b).sqrt();
    if scale == 0.0 {
        return 0.0;
    }
    let rho = c / scale;
    if rho.abs() >= 1.0 - 4.0 * f64::EPSILON {
        rho.signum()
    } else {
        rho
    }
}

fn relu(a: f64, b: f64, c: f64) -> (f64, f64) {
    let scale = (a * b).sqrt();
    if scale == 0.0 {
        return (0.0, 0.0);
    }
    let rho = correlation(a, b, c);
    let theta = rho.acos();
    // sin θ = √(1 − ρ²): one transcendental fewer per pair and layer.
    let sin = (1.0 - rho * rho).max(0.0).sqrt();
    (
        scale * (sin + (PI - theta) * rho) / (2.0 * PI),
        (PI - theta) / (2.0 * PI),
    )
}

fn erf(a: f64, b: f64, c: f64) -> (f64, f64) {
    let d = (1.0 + 2.0 * a) * (1.0 + 2.0 * b);
    // (1 + 2a)(1 + 2b) − 4c² written as 1 + 2a + 2b + 4(ab − c²): the direct difference loses
    // all digits at large variances and ρ → 1, this form only those of ab − c² (0 on the
    // diagonal, where c = a = b exactly).
    let det = 1.0 + 2.0 * (a + b) + 4.0 * (a * b - c * c);
    (
        2.0 / PI * (2.0 * c / d.sqrt()).clamp(-1.0, 1.0).asin(),
        4.0 / PI / det.max(1.0).sqrt(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // relu at ρ = 1: E[relu(u)²] = a/2, E[relu'(u)²] = 1/2; at ρ = −1 both are 0; at ρ = 0
        // E[relu(u)]E[relu(v)] = √(ab)/(2π), and 1/4.
        let (e, d) = relu(2.0, 2.0, 2.0);
        assert!((e - 1.0).abs() < 1e-15 && (d - 0.5).abs() < 1e-15, "{e} {d}");
        let (e, d) = relu(2.0, 2.0, -2.0);
        assert!(e.abs() < 1e-15 && d.abs() < 1e-15, "{e} {d}");
        let (e, d) = relu(1.0, 4.0, 0.0);
        assert!((e - 2.0 / (2.0 * PI)).abs() < 1e-15 && (d - 0.25).abs() < 1e-15);
        assert_eq!(relu(0.0, 3.0, 0.0), (0.0, 0.0));
        // erf with u ≡ 0: E[erf(0)erf(v)] = 0, E[erf'(0)erf'(v)] = (4/π)/√(1 + 2b).
        let (e, d) = erf(0.0, 1.5, 0.0);
        assert!(e.abs() < 1e-16 && (d - 4.0 / PI / 2.0).abs() < 1e-15);
        // E[erf(u)²] = (2/π) arcsin(2a/(1 + 2a)).
        let (e, _) = erf(0.5, 0.5, 0.5);
        assert!((e - 2.0 / PI * 0.5f64.asin()).abs() < 1e-15);
        assert_eq!(expectations(Activation::Linear, 1.0, 2.0, 0.3), Some((0.3, 1.0)));
        assert_eq!(expectations(Activation::Tanh, 1.0, 1.0, 0.0), None);
        for activation in [Activation::Linear, Activation::Relu, Activation::Erf, Activation::Tanh] {
            assert_eq!(available(activation), expectations(activation, 1.0, 1.0, 0.0).is_some());
        }
    }
}
