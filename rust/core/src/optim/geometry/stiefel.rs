//! Riemannian optimisation on the Stiefel manifold of scaled-orthogonal layers (Sokol & Park
//! 2020; Riemannian momentum and Adam as geoopt's, Bécigneul & Ganea 2019).
//!
//! A layer W (d_out × d_in) lives on {W : WᵀW = s²I} when tall or square, {W : WWᵀ = s²I} when
//! wide. One step with rule `R` (gradient descent, momentum or Adam):
//!
//! The layer's [`Geometry`] (one step is [`super::step`]):
//!
//! 1. project the Euclidean gradient G onto the tangent space at W:
//!    tall ξ = G − W·sym(WᵀG)/s², wide ξ = G − sym(GWᵀ)·W/s²;
//! 2. let the rule turn ξ into a direction d (advancing its moments with ξ);
//! 3. retract Y = W − η·d with the sign-fixed QR: tall W ← s'·qf(Y), wide W ← s'·qf(Yᵀ)ᵀ, where
//!    qf(Y) is the thin Q factor with diag(R) > 0 and s' the layer's scale after the step (s
//!    itself unless the scale is trained). A step short next to s (‖η·d‖_F ≤ s/4; with Adam
//!    ‖η·d‖_F ≈ η·√(d_out·d_in), so this covers most training rates) takes qf by Cholesky QR
//!    (R = chol(YᵀY)ᵀ, Q = Y·R⁻¹: a Gram product, a k × k Cholesky and a triangular solve, all
//!    at matrix-product speed and without copies); a longer one by Householder QR. Both give
//!    the same Q in exact arithmetic, since R with a positive diagonal is unique;
//! 4. transport the rule's first moment to the new point by projecting it onto the new tangent
//!    space (the second moment is elementwise and stays).
//!
//! The step is taken in W's own coordinates, so η means what it means for a Euclidean layer.
//! (Sokol & Park's code steps the unit factor Q = W/s with the gradient s·G; for Adam that is
//! this rule with η replaced by η·s.)

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltRegularization};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, Mat, Par};

use super::Geometry;
use crate::alloc::{self, zeroed};
use crate::error::Result;
use crate::linalg::{gemm, row_major, row_major_mut, SignFixedQr};
use crate::scalar::Real;

/// (s², ‖gram/s² − I‖_max) of a layer, with s² the mean diagonal of the small Gram matrix.
pub fn orthogonality<T: Real>(w: &[T], d_out: usize, d_in: usize) -> (f64, f64) {
    let view = row_major(w, d_out, d_in);
    let k = d_out.min(d_in);
    let gram: Mat<T> = if d_out >= d_in {
        view.transpose() * view
    } else {
        view * view.transpose()
    };
    let s2 = (0..k).map(|i| gram[(i, i)].to_f64()).sum::<f64>() / k as f64;
    let mut worst = 0.0f64;
    for c in 0..k {
        for r in 0..k {
            let target = if r == c { 1.0 } else { 0.0 };
            let e = (gram[(r, c)].to_f64() / s2 - target).abs();
            worst = if e.is_nan() { f64::NAN } else { worst.max(e) };
        }
    }
    (s2, worst)
}

/// Workspace for Stiefel steps of one layer shape, allocated once per worker.
pub struct StiefelWork<T: Real> {
    rows: usize,
    cols: usize,
    /// sym(WᵀX) or sym(XWᵀ), k × k.
    sym: Vec<T>,
    /// W·S or S·W (row-major), then the column-major copy fed to the QR.
    buf: Vec<T>,
    q: Vec<T>,
    qr: SignFixedQr<T>,
    /// The k × k Gram matrix of Y (tall YᵀY, wide YYᵀ), then its Cholesky factor L = Rᵀ.
    gram: Mat<T>,
    cholesky_scratch: MemBuffer,
}

/// Cholesky QR is used for steps with ‖η·d‖_F ≤ s·this: then every singular value of
/// Y = W − η·d lies in [¾s, 5/4·s], so κ(Y) ≤ 5/3 and its loss of orthogonality, about
/// ε·κ(Y)², stays within a few ε (Householder QR's is ε whatever κ).
const CHOLESKY_QR_MAX_RELATIVE_STEP: f64 = 0.25;

impl<T: Real> StiefelWork<T> {
    pub fn new(rows: usize, cols: usize) -> Result<Self> {
        let k = rows.min(cols);
        Ok(StiefelWork {
            rows,
            cols,
            sym: zeroed("weights", k * k)?,
            buf: zeroed("weights", rows * cols)?,
            q: zeroed("weights", rows * cols)?,
            qr: SignFixedQr::new(rows.max(cols), k),
            gram: alloc::mat_zeros("weights", k, k)?,
            cholesky_scratch: alloc::mem_buffer(
                "weights",
                cholesky_in_place_scratch::<T>(k, Par::Seq, Default::default()),
            )?,
        })
    }

    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// w ← scale·qf(w) (tall), scale·qf(wᵀ)ᵀ (wide) by Cholesky QR; false, with w unchanged,
    /// if the Gram matrix is not numerically positive definite.
    ///
    /// Tall: YᵀY = L·Lᵀ, so R = Lᵀ and Q = Y·L⁻ᵀ, i.e. Qᵀ = L⁻¹·Yᵀ, where Yᵀ is the row-major
    /// w read column-major. Wide: the same on Yᵀ gives W ← qf(Yᵀ)ᵀ = L⁻¹·Y with YYᵀ = L·Lᵀ.
    fn cholesky_orthonormalize(&mut self, w: &mut [T], scale: T) -> bool {
        let (rows, cols) = (self.rows, self.cols);
        let tall = rows >= cols;
        let one = T::from_f64(1.0);
        {
            let y = row_major(w, rows, cols);
            let (lhs, rhs) = if tall { (y.transpose(), y) } else { (y, y.transpose()) };
            // Only the lower triangle is read by the Cholesky factorisation: half the flops.
            triangular::matmul(
                self.gram.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                lhs,
                BlockStructure::Rectangular,
                rhs,
                BlockStructure::Rectangular,
                one,
                Par::Seq,
            );
        }
        let regularization = LltRegularization {
            dynamic_regularization_delta: T::from_f64(0.0),
            dynamic_regularization_epsilon: T::from_f64(0.0),
        };
        let factored = cholesky_in_place(
            self.gram.as_mut(),
            regularization,
            Par::Seq,
            MemStack::new(&mut self.cholesky_scratch),
            Default::default(),
        );
        if factored.is_err() {
            return false;
        }
        let y = row_major_mut(w, rows, cols);
        let rhs = if tall { y.transpose_mut() } else { y };
        solve_lower_triangular_in_place(self.gram.as_ref(), rhs, Par::Seq);
        w.iter_mut().for_each(|wi| *wi = scale * *wi);
        true
    }

    /// w ← scale·qf(w) (tall), scale·qf(wᵀ)ᵀ (wide): the sign-fixed QR of a point off the
    /// manifold, by Householder reflections.
    fn orthonormalize(&mut self, w: &mut [T], scale: T) {
        let (rows, cols) = (self.rows, self.cols);
        if rows >= cols {
            // The QR works on column-major data: copy Y (row-major) transposed.
            for r in 0..rows {
                for col in 0..cols {
                    self.buf[col * rows + r] = w[r * cols + col];
                }
            }
            self.qr.orthonormalize(&mut self.buf, &mut self.q);
            for r in 0..rows {
                for col in 0..cols {
                    w[r * cols + col] = scale * self.q[col * rows + r];
                }
            }
        } else {
            // Row-major Y is column-major Yᵀ (cols × rows, tall): retract it directly; the
            // column-major Q of Yᵀ is row-major qf(Yᵀ)ᵀ.
            self.qr.orthonormalize(w, &mut self.q);
            for (wi, &qi) in w.iter_mut().zip(&self.q) {
                *wi = scale * qi;
            }
        }
    }
}

impl<T: Real> Geometry<T> for StiefelWork<T> {
    /// x ← the projection of x onto the tangent space at w (scale s): tall x − w·sym(wᵀx)/s²,
    /// wide x − sym(xwᵀ)·w/s².
    fn project(&mut self, w: &[T], x: &mut [T], scale: T) {
        let (rows, cols) = (self.rows, self.cols);
        let k = rows.min(cols);
        let tall = rows >= cols;
        let one = T::from_f64(1.0);
        let half = T::from_f64(0.5);
        let wv = row_major(w, rows, cols);
        {
            let xv = row_major(x, rows, cols);
            let mut a = row_major_mut(&mut self.sym, k, k);
            if tall {
                gemm(a.as_mut(), Accum::Replace, wv.transpose(), xv, one);
            } else {
                gemm(a.as_mut(), Accum::Replace, xv, wv.transpose(), one);
            }
            for c in 0..k {
                for r in c..k {
                    let v = half * (a[(r, c)] + a[(c, r)]);
                    a[(r, c)] = v;
                    a[(c, r)] = v;
                }
            }
        }
        let s = row_major(&self.sym, k, k);
        let inv_s2 = -(one / (scale * scale));
        let xm = row_major_mut(x, rows, cols);
        if tall {
            gemm(xm, Accum::Add, wv, s, inv_s2);
        } else {
            gemm(xm, Accum::Add, s, wv, inv_s2);
        }
    }

    /// w ← new_scale·qf(w − lr·d) (tall), new_scale·qf((w − lr·d)ᵀ)ᵀ (wide).
    fn retract(&mut self, w: &mut [T], d: &[T], lr: T, scale: T, new_scale: T) {
        let mut step_sq = 0.0f64;
        for (wi, &di) in w.iter_mut().zip(d) {
            let delta = lr * di;
            step_sq += delta.to_f64() * delta.to_f64();
            *wi -= delta;
        }
        if !step_sq.is_finite() {
            // A diverged step: QR would not propagate its NaN (faer's blocked QR and the 1 × 1
            // case return finite, meaningless factors), so the layer is marked non-finite.
            w.fill(T::from_f64(f64::NAN));
            return;
        }
        let short = step_sq.sqrt() <= CHOLESKY_QR_MAX_RELATIVE_STEP * scale.to_f64().abs();
        if !(short && self.cholesky_orthonormalize(w, new_scale)) {
            self.orthonormalize(w, new_scale);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::optim::geometry::{step, Manifold};
    use crate::optim::{Adam, Gd, Momentum, Rule};
    use crate::rng::{fill_normal, network_rng};

    fn orthonormal(rows: usize, cols: usize, s: f64, seed: u64) -> Vec<f64> {
        let k = rows.min(cols);
        let mut g0 = vec![0.0; rows.max(cols) * k];
        fill_normal(&mut network_rng(seed, 0), &mut g0, 1.0);
        let mut q = vec![0.0; rows * cols];
        SignFixedQr::<f64>::new(rows.max(cols), k).orthonormalize(&mut g0, &mut q);
        if rows >= cols {
            (0..rows * cols).map(|i| s * q[(i % cols) * rows + i / cols]).collect()
        } else {
            q.iter().map(|v| s * v).collect()
        }
    }

    fn projected(w: &[f64], g: &[f64], rows: usize, cols: usize, s: f64) -> Mat<f64> {
        let wv = row_major(w, rows, cols);
        let gv = row_major(g, rows, cols);
        if rows >= cols {
            let a = wv.transpose() * gv;
            let sym = (&a + a.transpose()) * faer::Scale(0.5);
            gv - wv * sym * faer::Scale(1.0 / (s * s))
        } else {
            let a = gv * wv.transpose();
            let sym = (&a + a.transpose()) * faer::Scale(0.5);
            gv - sym * wv * faer::Scale(1.0 / (s * s))
        }
    }

    fn check_rule<R: Rule<f64>>(rule: &R) {
        for &(rows, cols) in &[(5, 5), (7, 3), (3, 7), (1, 4), (4, 1), (1, 1)] {
            let s = 2.5;
            let mut w = orthonormal(rows, cols, s, 1);
            let (s2, err) = orthogonality(&w, rows, cols);
            assert!(err < 1e-13 && (s2.sqrt() - s).abs() < 1e-12);
            let mut work = StiefelWork::new(rows, cols).unwrap();
            let mut slots = vec![0.0; R::SLOTS * rows * cols];
            for t in 1..=20 {
                let mut g = vec![0.0; rows * cols];
                fill_normal(&mut network_rng(2, t), &mut g, 1.0);
                let xi = projected(&w, &g, rows, cols, s);
                let before = w.clone();
                step(&mut work, rule, &mut w, &mut g, &mut slots, 1e-3, t, s, s);
                let (s2, err) = orthogonality(&w, rows, cols);
                assert!(err < 1e-12 && (s2.sqrt() - s).abs() < 1e-11, "{rows}x{cols}");
                if let Some(m) = rule.first_moment(&mut slots) {
                    // The first moment is tangent at the new point: its projection is itself.
                    let again = projected(&w, m, rows, cols, s);
                    let gap = (0..rows * cols)
                        .map(|i| (again[(i / cols, i % cols)] - m[i]).abs())
                        .fold(0.0, f64::max);
                    assert!(gap < 1e-12, "{rows}x{cols}: moment not tangent ({gap})");
                }
                if R::SLOTS == 0 {
                    // First-order agreement with the projected step (the retraction is second
                    // order).
                    let err = (0..rows * cols)
                        .map(|i| (w[i] - (before[i] - 1e-3 * xi[(i / cols, i % cols)])).abs())
                        .fold(0.0, f64::max);
                    assert!(err < 1e-5, "{rows}x{cols}: {err}");
                }
            }
        }
    }

    #[test]
    fn steps_stay_on_the_manifold_with_every_rule() {
        check_rule(&Gd);
        check_rule(&Momentum {
            beta: 0.9,
            nesterov: false,
        });
        check_rule(&Momentum {
            beta: 0.9,
            nesterov: true,
        });
        check_rule(&Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        });
    }

    /// Y = W − d with W on the manifold (scale s) and ‖d‖_F = rel·s, in both layouts.
    fn off_the_manifold(rows: usize, cols: usize, s: f64, rel: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let w = orthonormal(rows, cols, s, seed);
        let mut d = vec![0.0; rows * cols];
        fill_normal(&mut network_rng(seed, 1), &mut d, 1.0);
        let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
        d.iter_mut().for_each(|v| *v *= rel * s / norm);
        (w, d)
    }

    const SHAPES: [(usize, usize); 9] = [
        (5, 5),
        (7, 3),
        (3, 7),
        (1, 4),
        (4, 1),
        (1, 1),
        (64, 64),
        (40, 24),
        (24, 40),
    ];

    #[test]
    fn cholesky_and_householder_qr_give_the_same_retraction() {
        for &(rows, cols) in &SHAPES {
            for rel in [1e-3, 0.1, 0.99 * CHOLESKY_QR_MAX_RELATIVE_STEP] {
                let (w, d) = off_the_manifold(rows, cols, 1.7, rel, 3);
                let y: Vec<f64> = w.iter().zip(&d).map(|(a, b)| a - b).collect();
                let mut work = StiefelWork::new(rows, cols).unwrap();
                let mut by_householder = y.clone();
                work.orthonormalize(&mut by_householder, 0.9);
                let mut by_cholesky = y.clone();
                assert!(work.cholesky_orthonormalize(&mut by_cholesky, 0.9));
                let gap = by_cholesky
                    .iter()
                    .zip(&by_householder)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                let k = rows.min(cols) as f64;
                assert!(gap < 1e-14 * k.max(8.0), "{rows}x{cols}, step {rel}: {gap}");
                let (s2, err) = orthogonality(&by_cholesky, rows, cols);
                assert!(
                    err < 1e-14 * k.max(8.0) && (s2.sqrt() - 0.9).abs() < 1e-14,
                    "{rows}x{cols}"
                );
                // retract() takes this path for such steps, and gives the same bits.
                let mut retracted = w.clone();
                work.retract(&mut retracted, &d, 1.0, 1.7, 0.9);
                assert!(
                    retracted == by_cholesky,
                    "{rows}x{cols}, step {rel}: not the Cholesky path"
                );
            }
        }
    }

    #[test]
    fn float32_cholesky_retractions_stay_orthogonal_to_float32_rounding() {
        for &(rows, cols) in &SHAPES {
            let (w, d) = off_the_manifold(rows, cols, 1.0, CHOLESKY_QR_MAX_RELATIVE_STEP, 5);
            let mut w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
            let d32: Vec<f32> = d.iter().map(|&v| v as f32).collect();
            let mut work = StiefelWork::<f32>::new(rows, cols).unwrap();
            for _ in 0..50 {
                work.retract(&mut w32, &d32, 1.0, 1.0, 1.0);
            }
            let (s2, err) = orthogonality(&w32, rows, cols);
            let k = rows.min(cols) as f64;
            let tol = 8.0 * f32::EPSILON as f64 * k.max(8.0);
            assert!(err < tol && (s2 - 1.0).abs() < tol, "{rows}x{cols}: {err}");
        }
    }

    #[test]
    fn long_steps_are_retracted_by_householder_qr_and_stay_on_the_manifold() {
        for &(rows, cols) in &SHAPES {
            // ‖d‖ = 3s: Y may be far from orthogonal (even rank-deficient in exact arithmetic).
            let (w, d) = off_the_manifold(rows, cols, 1.3, 3.0, 7);
            let mut work = StiefelWork::new(rows, cols).unwrap();
            let mut retracted = w.clone();
            work.retract(&mut retracted, &d, 1.0, 1.3, 1.3);
            let mut expected: Vec<f64> = w.iter().zip(&d).map(|(a, b)| a - b).collect();
            work.orthonormalize(&mut expected, 1.3);
            assert!(retracted == expected, "{rows}x{cols}: not the Householder path");
            let (s2, err) = orthogonality(&retracted, rows, cols);
            assert!(err < 1e-13 && (s2.sqrt() - 1.3).abs() < 1e-12, "{rows}x{cols}: {err}");
        }
    }

    #[test]
    fn a_non_finite_step_gives_nan_weights_without_panicking() {
        for &(rows, cols) in &SHAPES {
            let (w, mut d) = off_the_manifold(rows, cols, 1.0, 1e-3, 9);
            d[0] = f64::NAN;
            let mut work = StiefelWork::new(rows, cols).unwrap();
            let mut retracted = w.clone();
            work.retract(&mut retracted, &d, 1.0, 1.0, 1.0);
            assert!(retracted.iter().all(|v| v.is_nan()), "{rows}x{cols}");
            // The workspace serves the next (finite) step as if fresh.
            let (w, d) = off_the_manifold(rows, cols, 1.0, 1e-3, 10);
            let mut again = w.clone();
            work.retract(&mut again, &d, 1.0, 1.0, 1.0);
            let mut fresh = w.clone();
            StiefelWork::new(rows, cols)
                .unwrap()
                .retract(&mut fresh, &d, 1.0, 1.0, 1.0);
            assert!(again == fresh, "{rows}x{cols}: the workspace kept state");
        }
    }

    #[test]
    fn non_orthogonal_layers_are_rejected() {
        let w = vec![1.0, 0.0, 0.0, 2.0];
        let stiefel = Manifold::Stiefel;
        let err = stiefel.scale_of("weights[3]", &w, 2, 2).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "weights[3]"));
        assert!(stiefel.scale_of("w", &[0.0f64; 4], 2, 2).is_err());
        assert!(stiefel.scale_of("w", &[f64::NAN, 0.0, 0.0, 1.0], 2, 2).is_err());
        // Rows of one norm are Oblique but not orthogonal.
        let rows = [1.0, 0.0, 0.6, 0.8];
        assert!(stiefel.scale_of("w", &rows, 2, 2).is_err());
        assert_eq!(Manifold::Oblique.scale_of("w", &rows, 2, 2).unwrap(), 1.0);
        assert!(Manifold::Oblique.scale_of("w", &w, 2, 2).is_err());
    }
}
