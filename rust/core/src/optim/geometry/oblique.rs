//! The Oblique manifold: layers W = s·Q whose rows (each unit's incoming weights) all have the
//! norm s, i.e. every row of Q is on the unit sphere (Sokol & Park 2020's `LinearOblique`;
//! geoopt's `Sphere` applied row-wise).
//!
//! As for Stiefel layers, the step is taken in W's own coordinates, so η means what it means for
//! a Euclidean layer. One step with rule `R` (see [`super::step`]):
//!
//! 0. with a penalty ω > 0, add the gradient of ω·‖QQᵀ − I‖²_F (QᵀQ when tall) to G:
//!    G += (4ω/s²)·(WWᵀ/s² − I)·W, tall G += (4ω/s²)·W·(WᵀW/s² − I)
//!    (that is 4ω(QQᵀ − I)Q, the gradient in Q, times ∂Q/∂W = 1/s);
//! 1. project G row-wise onto the tangent space at W: ξ_i = g_i − (g_i·w_i/s²)·w_i;
//! 2. the rule turns ξ into a direction d (advancing its moments with ξ);
//! 3. the exponential map of each row's sphere: v_i = −η·d_i, θ_i = ‖v_i‖/s,
//!    q_i ← cos θ_i·q_i + sin θ_i·v_i/‖v_i‖ (q_i = w_i/s; unchanged when v_i = 0), then each row
//!    is divided by its norm (rounding hygiene) and W ← s'·Q with s' the scale after the step;
//! 4. the first moment is transported by re-projection onto the tangent space at the new W.
//!
//! With s = 1 these are the textbook formulas on the unit sphere.

use faer::Accum;

use super::Geometry;
use crate::alloc::zeroed;
use crate::error::{Error, Result};
use crate::linalg::{gemm, row_major, row_major_mut};
use crate::scalar::Real;

/// (s², max_i |‖w_i‖²/s² − 1|) of a row-major layer, s² the mean squared row norm.
pub fn row_spread<T: Real>(w: &[T], d_out: usize, d_in: usize) -> (f64, f64) {
    let norms: Vec<f64> = w
        .chunks(d_in)
        .take(d_out)
        .map(|row| row.iter().map(|&v| v.to_f64() * v.to_f64()).sum())
        .collect();
    let s2 = norms.iter().sum::<f64>() / d_out as f64;
    let worst = norms.iter().fold(0.0f64, |worst, &n| {
        let e = (n / s2 - 1.0).abs();
        if e.is_nan() || worst.is_nan() {
            f64::NAN
        } else {
            worst.max(e)
        }
    });
    (s2, worst)
}

/// Workspace for Oblique steps of one layer shape, allocated once per worker.
pub struct ObliqueWork<T: Real> {
    rows: usize,
    cols: usize,
    /// ω of the non-orthogonality penalty (0: none).
    penalty: f64,
    /// The k × k Gram matrix of the penalty.
    gram: Vec<T>,
}

impl<T: Real> ObliqueWork<T> {
    pub fn new(rows: usize, cols: usize, penalty: f64) -> Result<Self> {
        let k = rows.min(cols);
        Ok(ObliqueWork {
            rows,
            cols,
            penalty,
            gram: zeroed("weights", if penalty > 0.0 { k * k } else { 0 })?,
        })
    }

    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Whether a layer d_out × d_in can hold the manifold: each row on a sphere S^{d_in − 1}
    /// with more than two points, so d_in ≥ 2. Errors name the `layer` (e.g. `weights[0]`).
    pub fn check_shape(layer: &str, d_in: usize) -> Result<()> {
        if d_in < 2 {
            return Err(Error::invalid(
                layer,
                format!(
                    "manifold='oblique' needs at least 2 inputs per unit: it keeps each row (a \
                     unit's incoming weights) on a sphere, and this layer has d_in = {d_in}"
                ),
            ));
        }
        Ok(())
    }
}

/// Σ a_i·b_i in f64.
fn dot<T: Real>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x.to_f64() * y.to_f64()).sum()
}

impl<T: Real> Geometry<T> for ObliqueWork<T> {
    fn project(&mut self, w: &[T], x: &mut [T], scale: T) {
        let inv_s2 = 1.0 / (scale.to_f64() * scale.to_f64());
        for (w_row, x_row) in w.chunks(self.cols).zip(x.chunks_mut(self.cols)) {
            let c = T::from_f64(dot(x_row, w_row) * inv_s2);
            for (xi, &wi) in x_row.iter_mut().zip(w_row) {
                *xi -= c * wi;
            }
        }
    }

    fn retract(&mut self, w: &mut [T], d: &[T], lr: T, scale: T, new_scale: T) {
        let (s, new_s, lr) = (scale.to_f64(), new_scale.to_f64(), lr.to_f64());
        for (w_row, d_row) in w.chunks_mut(self.cols).zip(d.chunks(self.cols)) {
            // v = −η·d; the new row is s'·(a·w + b·v)/‖a·w + b·v‖ with a = cos θ/s and
            // b = sin θ/‖v‖ (a = 1/s, b = 0 when v = 0).
            let v_norm = lr * dot(d_row, d_row).sqrt();
            let (a, b) = if v_norm > 0.0 {
                let theta = v_norm / s;
                (theta.cos() / s, -lr * theta.sin() / v_norm)
            } else {
                (1.0 / s, 0.0)
            };
            let point = |wi: T, di: T| a * wi.to_f64() + b * di.to_f64();
            let norm: f64 = w_row
                .iter()
                .zip(d_row)
                .map(|(&wi, &di)| point(wi, di).powi(2))
                .sum::<f64>()
                .sqrt();
            let factor = new_s / norm;
            for (wi, &di) in w_row.iter_mut().zip(d_row) {
                *wi = T::from_f64(factor * point(*wi, di));
            }
        }
    }

    fn add_penalty(&mut self, w: &[T], g: &mut [T], scale: T) {
        if self.penalty <= 0.0 {
            return;
        }
        let (rows, cols) = (self.rows, self.cols);
        let k = rows.min(cols);
        let tall = rows > cols;
        let s2 = scale.to_f64() * scale.to_f64();
        let wv = row_major(w, rows, cols);
        let mut a = row_major_mut(&mut self.gram, k, k);
        let inv_s2 = T::from_f64(1.0 / s2);
        if tall {
            gemm(a.as_mut(), Accum::Replace, wv.transpose(), wv, inv_s2);
        } else {
            gemm(a.as_mut(), Accum::Replace, wv, wv.transpose(), inv_s2);
        }
        for i in 0..k {
            a[(i, i)] -= T::from_f64(1.0);
        }
        let c = T::from_f64(4.0 * self.penalty / s2);
        let m = row_major(&self.gram, k, k);
        let gm = row_major_mut(g, rows, cols);
        if tall {
            gemm(gm, Accum::Add, wv, m, c);
        } else {
            gemm(gm, Accum::Add, m, wv, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::geometry::step;
    use crate::optim::{Adam, Gd, Momentum, RmsProp, Rule};
    use crate::rng::{fill_normal, network_rng};

    /// A random layer whose rows all have norm s.
    fn on_manifold(rows: usize, cols: usize, s: f64, seed: u64) -> Vec<f64> {
        let mut w = vec![0.0; rows * cols];
        fill_normal(&mut network_rng(seed, 0), &mut w, 1.0);
        for row in w.chunks_mut(cols) {
            let n = dot(row, row).sqrt();
            row.iter_mut().for_each(|v| *v *= s / n);
        }
        w
    }

    fn check_rule<R: Rule<f64>>(rule: &R, penalty: f64) {
        for &(rows, cols) in &[(5, 5), (7, 3), (3, 7), (1, 4), (4, 2)] {
            let s = 1.7;
            let mut w = on_manifold(rows, cols, s, 3);
            let mut work = ObliqueWork::new(rows, cols, penalty).unwrap();
            let mut slots = vec![0.0; R::SLOTS * rows * cols];
            for t in 1..=20 {
                let mut g = vec![0.0; rows * cols];
                fill_normal(&mut network_rng(4, t), &mut g, 1.0);
                step(&mut work, rule, &mut w, &mut g, &mut slots, 0.05, t, s, s);
                let (s2, worst) = row_spread(&w, rows, cols);
                assert!(
                    worst < 1e-14 && (s2.sqrt() - s).abs() < 1e-13,
                    "{rows}x{cols}: rows off the sphere"
                );
                if let Some(m) = rule.first_moment(&mut slots) {
                    for (m_row, w_row) in m.chunks(cols).zip(w.chunks(cols)) {
                        assert!(dot(m_row, w_row).abs() < 1e-12, "{rows}x{cols}: moment not tangent");
                    }
                }
            }
        }
    }

    #[test]
    fn rows_stay_unit_norm_with_every_rule() {
        check_rule(&Gd, 0.0);
        check_rule(&Gd, 0.3);
        check_rule(
            &Momentum {
                beta: 0.9,
                nesterov: true,
            },
            0.0,
        );
        check_rule(
            &Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            0.1,
        );
        check_rule(
            &RmsProp::<f64, true, true> {
                decay: 0.9,
                eps: 1e-8,
                momentum: 0.5,
            },
            0.0,
        );
    }

    #[test]
    fn the_projection_is_orthogonal_to_each_row_and_idempotent() {
        for &(rows, cols) in &[(4, 6), (6, 4), (1, 2), (3, 3)] {
            let s = 0.7;
            let w = on_manifold(rows, cols, s, 5);
            let mut x = vec![0.0; rows * cols];
            fill_normal(&mut network_rng(6, 0), &mut x, 1.0);
            let original = x.clone();
            let mut work = ObliqueWork::new(rows, cols, 0.0).unwrap();
            work.project(&w, &mut x, s);
            for (i, (x_row, w_row)) in x.chunks(cols).zip(w.chunks(cols)).enumerate() {
                assert!(dot(x_row, w_row).abs() < 1e-14, "{rows}x{cols} row {i} not tangent");
                // x − P(x) is along w_i: the part removed is (x·w_i/s²)·w_i.
                let c = dot(&original[i * cols..(i + 1) * cols], w_row) / (s * s);
                for k in 0..cols {
                    let removed = original[i * cols + k] - x_row[k];
                    assert!((removed - c * w_row[k]).abs() < 1e-14);
                }
            }
            let once = x.clone();
            work.project(&w, &mut x, s);
            let gap = x.iter().zip(&once).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(gap < 1e-15, "{rows}x{cols}: projecting twice moved it by {gap}");
        }
    }

    #[test]
    fn the_step_is_the_geodesic_of_each_row() {
        // One row (1, 0) on the circle of radius s = 2, gradient (0, 1) (already tangent):
        // GD moves it along the circle by the arc η·‖g‖, i.e. the angle η/s.
        let (s, lr) = (2.0, 0.3);
        let mut w = vec![2.0, 0.0, 0.0, 2.0];
        let mut g = vec![0.0, 1.0, -3.0, 5.0];
        let mut work = ObliqueWork::<f64>::new(2, 2, 0.0).unwrap();
        step(&mut work, &Gd, &mut w, &mut g, &mut [], lr, 1, s, s);
        let angle = lr / s;
        assert!((w[0] - s * angle.cos()).abs() < 1e-15);
        assert!((w[1] - -s * angle.sin()).abs() < 1e-15);
        // Row 2: (0, 2) with g = (−3, 5): tangent part (−3, 0), arc 3η, angle 3η/s, towards +x.
        let angle = 3.0 * lr / s;
        assert!((w[2] - s * angle.sin()).abs() < 1e-15);
        assert!((w[3] - s * angle.cos()).abs() < 1e-15);
        // A new scale rescales the rows.
        let mut w = vec![2.0, 0.0];
        work = ObliqueWork::new(1, 2, 0.0).unwrap();
        step(&mut work, &Gd, &mut w, &mut [0.0, 0.0], &mut [], lr, 1, s, 3.0);
        assert_eq!(w, [3.0, 0.0]);
    }

    #[test]
    fn the_penalty_gradient_matches_central_differences() {
        for &(rows, cols) in &[(3, 5), (5, 3), (4, 4)] {
            let s = 1.3;
            let omega = 0.7;
            let w = on_manifold(rows, cols, s, 9);
            let penalty = |w: &[f64]| {
                let q: Vec<f64> = w.iter().map(|v| v / s).collect();
                let k = rows.min(cols);
                let mut total = 0.0;
                for a in 0..k {
                    for b in 0..k {
                        let gram: f64 = if rows > cols {
                            (0..rows).map(|r| q[r * cols + a] * q[r * cols + b]).sum()
                        } else {
                            (0..cols).map(|c| q[a * cols + c] * q[b * cols + c]).sum()
                        };
                        let target = if a == b { 1.0 } else { 0.0 };
                        total += (gram - target).powi(2);
                    }
                }
                omega * total
            };
            let mut g = vec![0.0; rows * cols];
            ObliqueWork::new(rows, cols, omega).unwrap().add_penalty(&w, &mut g, s);
            let h = 1e-6;
            for i in 0..rows * cols {
                let (mut up, mut down) = (w.clone(), w.clone());
                up[i] += h;
                down[i] -= h;
                let numeric = (penalty(&up) - penalty(&down)) / (2.0 * h);
                assert!(
                    (numeric - g[i]).abs() < 1e-7,
                    "{rows}x{cols} [{i}]: {numeric} vs {}",
                    g[i]
                );
            }
        }
    }
}
