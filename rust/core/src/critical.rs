//! Critical (edge-of-chaos) initialisation of tanh networks (docs/science.md, Initialisation schemes; Poole et al. 2016,
//! Pennington et al. 2017, Sokol & Park 2020).
//!
//! For a target pre-activation variance q*, with h ~ N(0, 1):
//! σ_w = E[sech⁴(√q* h)]^{−1/2} (χ = σ_w² E[φ'(√q* h)²] = 1) and
//! σ_b = √(q* − σ_w² E[tanh²(√q* h)]) (q* is the fixed point of the variance map).
//! The expectations are Gauss–Hermite sums.

use crate::error::{Error, Result};

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and off-diagonal `e`
/// (e[i] couples i and i+1): implicit QL with Wilkinson shifts, eigenvalues only (O(n²)).
fn tridiagonal_eigenvalues(mut d: Vec<f64>, mut e: Vec<f64>) -> Vec<f64> {
    let n = d.len();
    e.resize(n, 0.0);
    for l in 0..n {
        for _ in 0..100 {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut deflated = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if !deflated {
                d[l] -= p;
                e[l] = g;
                e[m] = 0.0;
            }
        }
    }
    d
}

/// Gauss–Hermite nodes x_i and weights w_i for ∫ e^{−x²} f(x) dx ≈ Σ w_i f(x_i), n ≥ 1 points.
///
/// Golub–Welsch on the half-size problem: the squared nonzero nodes of H_n are the nodes of
/// generalised Laguerre L_m^{(∓1/2)} (n = 2m or 2m + 1), the eigenvalues of its m × m Jacobi
/// matrix (diagonal 2k + α + 1, off-diagonal √(k(k + α))); a quarter of the work of the n × n
/// Hermite matrix. Each node is then polished by Newton's method on the orthonormal Hermite
/// recurrence, which also gives the weight 2/(√(2n) h_{n−1}(x_i))². The recurrence reaches
/// e^{x²/2} at the outer nodes, which overflows beyond ~600 points, so it is rescaled past
/// 1e150; the scale only enters the weight, which then underflows to 0 as it should.
pub fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    let pim4 = std::f64::consts::PI.powf(-0.25);
    let nf = n as f64;
    let m = n / 2;
    let alpha = if n.is_multiple_of(2) { -0.5 } else { 0.5 };
    let diag = (0..m).map(|k| 2.0 * k as f64 + alpha + 1.0).collect();
    let off = (1..m).map(|k| (k as f64 * (k as f64 + alpha)).sqrt()).collect();
    let mut x: Vec<f64> = tridiagonal_eigenvalues(diag, off)
        .into_iter()
        .map(|v| v.max(0.0).sqrt())
        .collect();
    x.sort_by(|a, b| b.total_cmp(a));
    // Layout: positive nodes descending, 0 for odd n, then their mirror images.
    x.resize(n, 0.0);
    let mut w = vec![0.0; n];
    // Nodes are symmetric: solve the non-negative half, mirror the rest.
    for i in 0..n.div_ceil(2) {
        let mut z = if 2 * i + 1 == n { 0.0 } else { x[i] };
        // The weight is below e^{−z²}, which underflows f64 past z ≈ 27.3: keep the node, skip
        // the (then pointless) O(n) polish.
        if z > 27.5 {
            x[n - 1 - i] = -z;
            continue;
        }
        let mut pp = 1.0;
        let mut rescaled = 0;
        for _ in 0..8 {
            let mut p1 = pim4;
            let mut p2 = 0.0;
            rescaled = 0;
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                let jf = j as f64;
                p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
                if p1.abs() > 1e150 {
                    p1 *= 1e-150;
                    p2 *= 1e-150;
                    rescaled += 1;
                }
            }
            pp = (2.0 * nf).sqrt() * p2;
            let step = p1 / pp;
            z -= step;
            if step.abs() <= 1e-15 * z.abs().max(1.0) {
                break;
            }
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp) * 1e-300f64.powi(rescaled);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

/// E[f(h)] for h ~ N(0, 1) with the Gauss–Hermite rule (x, w).
fn gaussian_expectation(rule: &(Vec<f64>, Vec<f64>), f: impl Fn(f64) -> f64) -> f64 {
    let (x, w) = rule;
    let sum: f64 = x
        .iter()
        .zip(w)
        .map(|(&x, &w)| w * f(std::f64::consts::SQRT_2 * x))
        .sum();
    sum / std::f64::consts::PI.sqrt()
}

/// Largest rule tried. sech⁴(√q h) has poles at distance π/(2√q) from the real axis, so the
/// rule needs O(q) nodes for large q*: 4096 nodes reach 1e-13 up to q* ≈ 10 (q* = 8 needs
/// 2048 to converge and 4096 to confirm it).
const MAX_NODES: usize = 4096;
const REL_TOL: f64 = 1e-13;

/// (σ_w, σ_b) of the critical tanh network with pre-activation variance q* (docs/science.md, Initialisation schemes).
///
/// The Gauss–Hermite rule doubles from 64 nodes until two successive rules agree to 1e-13
/// (relative) on both expectations; an error if 4096 nodes are not enough (q* beyond ~10).
pub fn critical_sigmas(q_star: f64) -> Result<(f64, f64)> {
    if !q_star.is_finite() || q_star <= 0.0 {
        return Err(Error::invalid(
            "q_star",
            format!("must be finite and positive, got {q_star}"),
        ));
    }
    let sq = q_star.sqrt();
    let moments = |n: usize| {
        let rule = gauss_hermite(n);
        let sech4 = gaussian_expectation(&rule, |h| {
            let c = (sq * h).cosh();
            1.0 / (c * c * c * c)
        });
        let tanh2 = gaussian_expectation(&rule, |h| {
            let t = (sq * h).tanh();
            t * t
        });
        (sech4, tanh2)
    };
    let mut n = 64;
    let mut prev = moments(n);
    loop {
        n *= 2;
        let next = moments(n);
        let close = |a: f64, b: f64| (a - b).abs() <= REL_TOL * b.abs();
        if close(prev.0, next.0) && close(prev.1, next.1) {
            prev = next;
            break;
        }
        if n >= MAX_NODES {
            return Err(Error::invalid(
                "q_star",
                format!("{q_star} is too large for the quadrature (it converges up to about 10)"),
            ));
        }
        prev = next;
    }
    let (sech4, tanh2) = prev;
    let sigma_w = sech4.powf(-0.5);
    // q* − σ_w² E[tanh²] is positive for tanh (checked over 1e-6 ≤ q* ≤ 10 in the tests);
    // clamp a rounding-level negative value at 0.
    let sigma_b2 = q_star - sigma_w * sigma_w * tanh2;
    Ok((sigma_w, sigma_b2.max(0.0).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_hermite_integrates_polynomials_exactly() {
        // E[h^{2k}] = (2k−1)!! for h ~ N(0, 1); exact for 2k ≤ 2n − 1.
        for n in [12, 13] {
            let rule = gauss_hermite(n);
            for (k, want) in [(0, 1.0), (1, 1.0), (2, 3.0), (3, 15.0), (5, 945.0), (8, 2027025.0)] {
                let got = gaussian_expectation(&rule, |h| h.powi(2 * k));
                assert!(
                    (got - want).abs() <= 1e-12 * want,
                    "E[h^{}] = {got}, want {want}",
                    2 * k
                );
            }
            let odd = gaussian_expectation(&rule, |h| h.powi(7));
            assert!(odd.abs() < 1e-12);
        }
    }

    #[test]
    fn sokol_park_values() {
        // Sokol & Park's code default: q* = 1/64 → σ_w = 1.0151637852088928, σ_b = 0.0021566949867938977.
        let (w, b) = critical_sigmas(1.0 / 64.0).unwrap();
        assert!((w - 1.0151637852088928).abs() < 1e-12, "{w}");
        assert!((b - 0.0021566949867938977).abs() < 1e-12, "{b}");
        let (w, b) = critical_sigmas(8.0).unwrap();
        assert!(
            (w - 2.32870729).abs() < 1e-7 && (b - 2.008880379).abs() < 1e-7,
            "{w} {b}"
        );
    }

    #[test]
    fn bad_q_star() {
        for q in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e3] {
            assert!(matches!(critical_sigmas(q), Err(Error::InvalidValue { ref arg, .. }) if arg == "q_star"));
        }
    }
}
