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
//!    itself unless the scale is trained);
//! 4. transport the rule's first moment to the new point by projecting it onto the new tangent
//!    space (the second moment is elementwise and stays).
//!
//! The step is taken in W's own coordinates, so η means what it means for a Euclidean layer.
//! (Sokol & Park's code steps the unit factor Q = W/s with the gradient s·G; for Adam that is
//! this rule with η replaced by η·s.)

use faer::{Accum, Mat};

use super::Geometry;
use crate::alloc::zeroed;
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
}

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
        })
    }

    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// w ← scale·qf(w) (tall), scale·qf(wᵀ)ᵀ (wide): the sign-fixed QR of a point off the
    /// manifold.
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
    fn retract(&mut self, w: &mut [T], d: &[T], lr: T, _scale: T, new_scale: T) {
        for (wi, &di) in w.iter_mut().zip(d) {
            *wi -= lr * di;
        }
        self.orthonormalize(w, new_scale);
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
