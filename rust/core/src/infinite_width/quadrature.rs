//! E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for any activation, by a product Gauss rule in polar
//! coordinates.
//!
//! Write (u, v) = (√a·r cos ψ, √b·r cos(ψ − β)) with (r cos ψ, r sin ψ) standard normal and
//! cos β = ρ = c/√(ab) (the Cholesky factor of the 2×2 covariance, rotated). Then
//! E[F] = (1/2π)∫₀^{2π}dψ ∫₀^∞ r e^{−r²/2} F dr: a Gauss rule for the weight r e^{−r²/2} in r
//! and Gauss–Legendre in ψ, on arcs cut where u = 0 or v = 0.
//!
//! Why not the tensor Gauss–Hermite rule over the Cholesky coordinates: relu is not smooth on
//! the lines u = 0 and v = 0 (and relu' jumps there), and tanh or erf of a large variance
//! nearly are, so that rule converges slowly. Measured against the closed forms, 128 × 128
//! Gauss–Hermite nodes still leave errors of 4e-4 (relu) and 1e-3 (relu') at a = b = 1, and
//! 2e-4 for erf at a = 20. Those lines are rays from the origin, so in polar coordinates they
//! are arc ends: along each ray relu is linear in r, and the rule is exact for it at any size.
//! For tanh and erf the error falls geometrically with the rule size, faster the smaller the
//! variance, so the size is chosen from max(a, b) (`LEVELS`).
//!
//! Odd activations (linear, tanh, erf) give the same integrand at (r, ψ) and (r, ψ + π), so
//! only the half circle ψ ∈ [π/2, 3π/2] is evaluated; relu also needs the mirrored nodes.
//!
//! A pair costs thousands of activation values, so smooth activations at moderate variance
//! take Mehler's series instead (`series`); this rule serves relu and larger variances.

use std::f64::consts::PI;
use std::sync::OnceLock;

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::{Mat, Par};

use super::closed_form;
use crate::net::Activation;
use crate::vmath::VecMath;

/// A quadrature rule: nodes and weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

/// Gauss–Legendre rule on [−1, 1] with n ≥ 1 points (Newton on the Legendre recurrence, from
/// the usual cosine guesses).
pub fn gauss_legendre(n: usize) -> Rule {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut x = (PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut slope = 1.0;
        for _ in 0..100 {
            // P_n(x) and P_{n−1}(x) by the three-term recurrence.
            let (mut p, mut prev) = (1.0, 0.0);
            for k in 1..=n {
                let kf = k as f64;
                (p, prev) = (((2.0 * kf - 1.0) * x * p - (kf - 1.0) * prev) / kf, p);
            }
            slope = nf * (x * p - prev) / (x * x - 1.0);
            let step = p / slope;
            x -= step;
            if step.abs() <= 1e-16 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * slope * slope);
        (nodes[i], nodes[n - 1 - i]) = (x, -x);
        (weights[i], weights[n - 1 - i]) = (w, w);
    }
    if n % 2 == 1 {
        nodes[n / 2] = 0.0;
    }
    Rule { nodes, weights }
}

/// Gauss rule with n points for the weight r e^{−r²/2} on [0, ∞); the weights sum to 1.
///
/// No classical family has this weight, so its three-term recurrence comes from the discretised
/// Stieltjes procedure (Gautschi 1982): the inner products of the orthonormal polynomials are
/// sums over a 600-point Gauss–Legendre rule on [0, 10] (the weight beyond r = 10 is below
/// e^{−50}), and the nodes and weights are then Golub–Welsch's eigen-decomposition of the
/// Jacobi matrix.
pub fn radial(n: usize) -> Rule {
    const RADIUS: f64 = 10.0;
    const POINTS: usize = 600;
    let gl = gauss_legendre(POINTS);
    let r: Vec<f64> = gl.nodes.iter().map(|&x| 0.5 * RADIUS * (x + 1.0)).collect();
    let w: Vec<f64> = gl
        .weights
        .iter()
        .zip(&r)
        .map(|(&g, &x)| 0.5 * RADIUS * g * x * (-0.5 * x * x).exp())
        .collect();
    let dot = |f: &dyn Fn(usize) -> f64| (0..POINTS).map(|i| w[i] * f(i)).sum::<f64>();
    let mass = dot(&|_| 1.0);
    let mut p = vec![mass.sqrt().recip(); POINTS];
    let mut prev = vec![0.0; POINTS];
    let (mut diag, mut off) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut b_prev = 0.0;
    for _ in 0..n {
        let a = dot(&|i| r[i] * p[i] * p[i]);
        let q: Vec<f64> = (0..POINTS).map(|i| (r[i] - a) * p[i] - b_prev * prev[i]).collect();
        let b = dot(&|i| q[i] * q[i]).sqrt();
        diag.push(a);
        off.push(b);
        prev = std::mem::replace(&mut p, q.iter().map(|v| v / b).collect());
        b_prev = b;
    }
    golub_welsch(&diag, &off[..n - 1], mass)
}

/// Nodes and weights of the Gauss rule whose Jacobi matrix has diagonal `diag` and
/// off-diagonal `off`, for a weight of total mass `mass`.
fn golub_welsch(diag: &[f64], off: &[f64], mass: f64) -> Rule {
    let n = diag.len();
    let jacobi = Mat::from_fn(n, n, |i, j| match i.abs_diff(j) {
        0 => diag[i],
        1 => off[i.min(j)],
        _ => 0.0,
    });
    let mut values = Diag::<f64>::zeros(n);
    let mut vectors = Mat::<f64>::zeros(n, n);
    let req = self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, Par::Seq, Default::default());
    self_adjoint_evd(
        jacobi.as_ref(),
        values.as_mut(),
        Some(vectors.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(req)),
        Default::default(),
    )
    .expect("the symmetric eigensolver converges on a small tridiagonal matrix");
    Rule {
        nodes: values.column_vector().iter().copied().collect(),
        weights: (0..n).map(|k| mass * vectors[(0, k)] * vectors[(0, k)]).collect(),
    }
}

/// Rule sizes (radial and per arc) by the largest variance max(a, b) they serve. Each keeps the
/// absolute error of E[tanh tanh], E[tanh' tanh'], E[erf erf] and E[erf' erf'] below 3e-11 over
/// −1 ≤ ρ ≤ 1 up to its variance (measured against a 256-point rule and the erf closed form);
/// beyond 1024 the largest rule's error grows (4e-9 at 4096).
const LEVELS: [(f64, usize); 7] = [
    (0.25, 16),
    (1.0, 24),
    (4.0, 32),
    (16.0, 48),
    (64.0, 64),
    (256.0, 96),
    (f64::INFINITY, 128),
];

struct Level {
    max_variance: f64,
    radial: Rule,
    angular: Rule,
}

/// The rules of every level, built once per process (a few milliseconds).
fn levels() -> &'static [Level] {
    static LEVEL_RULES: OnceLock<Vec<Level>> = OnceLock::new();
    LEVEL_RULES.get_or_init(|| {
        LEVELS
            .iter()
            .map(|&(max_variance, size)| Level {
                max_variance,
                radial: radial(size),
                angular: gauss_legendre(size),
            })
            .collect()
    })
}

/// Per-thread buffers of node values (reused from pair to pair).
#[derive(Default)]
pub struct Scratch {
    u: Vec<f64>,
    v: Vec<f64>,
    du: Vec<f64>,
    dv: Vec<f64>,
    weight: Vec<f64>,
}

/// φ and φ' of every entry of `values` (values ← φ, slopes ← φ'), through the slice-wise
/// activations where there are any.
fn activate(activation: Activation, values: &mut [f64], slopes: &mut [f64]) {
    match activation {
        Activation::Tanh => f64::tanh_with_slope(values, slopes),
        Activation::Erf => f64::erf_with_slope(values, slopes),
        Activation::Linear | Activation::Relu => {
            for (v, s) in values.iter_mut().zip(slopes) {
                (*v, *s) = activation.value_and_slope(*v);
            }
        }
    }
}

/// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for (u, v) ~ N(0, [[a, c], [c, b]]), a, b ≥ 0.
pub fn expectations(activation: Activation, a: f64, b: f64, c: f64, scratch: &mut Scratch) -> (f64, f64) {
    let (a, b) = (a.max(0.0), b.max(0.0));
    let (sa, sb) = (a.sqrt(), b.sqrt());
    let beta = closed_form::correlation(a, b, c).acos();
    let variance = a.max(b);
    let level = levels()
        .iter()
        .find(|l| variance <= l.max_variance)
        .unwrap_or(&levels()[LEVELS.len() - 1]);
    let odd = activation != Activation::Relu;
    let (radial, angular) = (&level.radial, &level.angular);
    let per_half = 2 * angular.nodes.len() * radial.nodes.len();
    let size = if odd { per_half } else { 2 * per_half };
    let s = scratch;
    for buf in [&mut s.u, &mut s.v, &mut s.du, &mut s.dv, &mut s.weight] {
        buf.resize(size, 0.0);
    }
    // The half circle, as two arcs between the rays u = 0 (ψ = π/2, 3π/2) and v = 0
    // (ψ = β + π/2); it carries half of the probability, the mirrored half the rest.
    let half_mass = if odd { 1.0 / PI } else { 0.5 / PI };
    let mut k = 0;
    for (start, length) in [(0.5 * PI, beta), (0.5 * PI + beta, PI - beta)] {
        for (&x, &wa) in angular.nodes.iter().zip(&angular.weights) {
            let psi = start + 0.5 * length * (x + 1.0);
            let (cu, cv) = (sa * psi.cos(), sb * (psi - beta).cos());
            let wa = 0.5 * length * wa * half_mass;
            for (&r, &wr) in radial.nodes.iter().zip(&radial.weights) {
                (s.u[k], s.v[k], s.weight[k]) = (cu * r, cv * r, wa * wr);
                k += 1;
            }
        }
    }
    if !odd {
        for i in 0..per_half {
            (s.u[per_half + i], s.v[per_half + i], s.weight[per_half + i]) = (-s.u[i], -s.v[i], s.weight[i]);
        }
    }
    activate(activation, &mut s.u, &mut s.du);
    activate(activation, &mut s.v, &mut s.dv);
    let (mut values, mut slopes) = (0.0, 0.0);
    for i in 0..size {
        values += s.weight[i] * s.u[i] * s.v[i];
        slopes += s.weight[i] * s.du[i] * s.dv[i];
    }
    (values, slopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for n in [1, 2, 7, 24, 128] {
            let rule = gauss_legendre(n);
            for k in 0..n {
                // ∫_{−1}^{1} x^{2k} dx = 2/(2k + 1), exact for 2k ≤ 2n − 1.
                let got: f64 = rule
                    .nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(x, w)| w * x.powi(2 * k as i32))
                    .sum();
                let want = 2.0 / (2 * k + 1) as f64;
                assert!((got - want).abs() < 1e-13, "n = {n}, k = {k}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn radial_rule_integrates_moments() {
        // ∫₀^∞ r^k · r e^{−r²/2} dr = 2^{k/2} Γ(k/2 + 1).
        let gamma_half = |m: usize| -> f64 {
            // Γ(m/2) for m ≥ 1.
            let mut g = if m.is_multiple_of(2) { 1.0 } else { PI.sqrt() };
            let mut x = if m.is_multiple_of(2) { 1.0 } else { 0.5 };
            while x < m as f64 / 2.0 - 1e-9 {
                g *= x;
                x += 1.0;
            }
            g
        };
        for n in [1, 3, 16, 128] {
            let rule = radial(n);
            assert!(rule.nodes.iter().all(|&r| r > 0.0));
            for k in 0..(2 * n).min(12) {
                let got: f64 = rule
                    .nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(r, w)| w * r.powi(k as i32))
                    .sum();
                let want = 2f64.powf(k as f64 / 2.0) * gamma_half(k + 2);
                assert!((got - want).abs() < 1e-12 * want, "n = {n}, k = {k}: {got} vs {want}");
            }
        }
    }

    /// The quadrature against the closed forms, including zero variances and ρ = ±1.
    #[test]
    fn matches_closed_forms() {
        let mut scratch = Scratch::default();
        let rhos = [-1.0, -0.999, -0.5, 0.0, 0.3, 0.9, 0.99999, 1.0];
        for activation in [Activation::Linear, Activation::Relu, Activation::Erf] {
            for &(a, b) in &[
                (1.0, 1.0),
                (0.05, 0.3),
                (2.0, 0.5),
                (30.0, 10.0),
                (300.0, 500.0),
                (0.0, 2.0),
                (0.0, 0.0),
            ] {
                for &rho in &rhos {
                    let c = rho * f64::sqrt(a * b);
                    let want = closed_form::expectations(activation, a, b, c).unwrap();
                    let got = expectations(activation, a, b, c, &mut scratch);
                    let scale = if activation == Activation::Erf {
                        1.0
                    } else {
                        f64::sqrt(a * b).max(1.0)
                    };
                    let err = (got.0 - want.0).abs().max((got.1 - want.1).abs()) / scale;
                    assert!(err < 1e-11, "{activation:?} a={a} b={b} ρ={rho}: {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn tanh_converges_with_the_rule_size() {
        // Each level against the largest rule (as a reference) at its own largest variance.
        let mut scratch = Scratch::default();
        for &(q, _) in &LEVELS[..5] {
            for rho in [-0.7, 0.2, 0.999] {
                let (a, b) = (q, q / 3.0);
                let c = rho * f64::sqrt(a * b);
                let got = expectations(Activation::Tanh, a, b, c, &mut scratch);
                let fine = reference(Activation::Tanh, a, b, c, 160);
                assert!(
                    (got.0 - fine.0).abs() < 1e-10 && (got.1 - fine.1).abs() < 1e-10,
                    "q={q} ρ={rho}"
                );
            }
        }
    }

    /// The same polar rule with `size` points per dimension, full circle, no level choice.
    fn reference(activation: Activation, a: f64, b: f64, c: f64, size: usize) -> (f64, f64) {
        let (radial, angular) = (radial(size), gauss_legendre(size));
        let rho = c / (a * b).sqrt();
        let beta = (1.0 - rho * rho).max(0.0).sqrt().atan2(rho);
        let mut sums = (0.0, 0.0);
        for (start, length) in [
            (0.0, 0.5 * PI),
            (0.5 * PI, beta),
            (0.5 * PI + beta, PI - beta),
            (1.5 * PI, 0.5 * PI),
        ] {
            for (&x, &wa) in angular.nodes.iter().zip(&angular.weights) {
                let psi = start + 0.5 * length * (x + 1.0);
                for (&r, &wr) in radial.nodes.iter().zip(&radial.weights) {
                    let w = 0.5 * length * wa * wr / (2.0 * PI);
                    let (fu, du) = activation.value_and_slope(a.sqrt() * r * psi.cos());
                    let (fv, dv) = activation.value_and_slope(b.sqrt() * r * (psi - beta).cos());
                    sums.0 += w * fu * fv;
                    sums.1 += w * du * dv;
                }
            }
        }
        sums
    }
}
