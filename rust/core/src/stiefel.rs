//! Riemannian gradient descent on the Stiefel manifold of scaled-orthogonal layers
//! (Sokol & Park 2020; SPEC §4).
//!
//! A layer W (d_out × d_in) lives on {W : WᵀW = s²I} when tall or square, {W : WWᵀ = s²I} when
//! wide, with its scale s fixed at the start (s = ‖W‖_F/√min(d_out, d_in)). One step:
//!
//! 1. project the Euclidean gradient G onto the tangent space at W:
//!    tall ξ = G − W·sym(WᵀG)/s², wide ξ = G − sym(GWᵀ)·W/s²;
//! 2. step Y = W − η ξ;
//! 3. retract with the sign-fixed QR: tall W ← s·qf(Y), wide W ← s·qf(Yᵀ)ᵀ, where qf(Y) is the
//!    thin Q factor with diag(R) > 0.

use faer::{Accum, Mat};

use crate::error::{Error, Result};
use crate::linalg::{gemm, row_major, row_major_mut, SignFixedQr};
use crate::scalar::Real;

/// The geometry gradient descent runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Manifold {
    /// Plain gradient descent, W ← W − η G.
    #[default]
    Euclidean,
    /// Riemannian GD on scaled-orthogonal layers with the QR retraction.
    Stiefel,
}

impl Manifold {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "euclidean" => Ok(Manifold::Euclidean),
            "stiefel" => Ok(Manifold::Stiefel),
            other => Err(Error::invalid(
                "manifold",
                format!("expected 'euclidean' or 'stiefel', got {other:?}"),
            )),
        }
    }
}

/// The scale s of a scaled-orthogonal row-major layer (d_out × d_in), or an error naming `arg`
/// when ‖WᵀW/s² − I‖_max (tall) or ‖WWᵀ/s² − I‖_max (wide) exceeds √ε of the precision.
pub fn orthogonal_scale<T: Real>(arg: &str, w: &[T], d_out: usize, d_in: usize) -> Result<f64> {
    let view = row_major(w, d_out, d_in);
    let k = d_out.min(d_in);
    let gram: Mat<T> = if d_out >= d_in {
        view.transpose() * view
    } else {
        view * view.transpose()
    };
    let s2 = (0..k).map(|i| gram[(i, i)].to_f64()).sum::<f64>() / k as f64;
    let tol = epsilon::<T>().sqrt();
    let mut worst = 0.0f64;
    for c in 0..k {
        for r in 0..k {
            let target = if r == c { 1.0 } else { 0.0 };
            worst = worst.max((gram[(r, c)].to_f64() / s2 - target).abs());
        }
    }
    // `worst` is NaN for non-finite weights: reject those too.
    let acceptable = s2 > 0.0 && s2.is_finite() && worst <= tol;
    if !acceptable {
        return Err(Error::invalid(
            arg,
            format!(
                "manifold='stiefel' needs scaled-orthogonal layers (WᵀW = s²I, or WWᵀ = s²I if wide), \
                 but ‖gram/s² − I‖_max = {worst:.3e} > {tol:.1e}; initialise with init.orthogonal"
            ),
        ));
    }
    Ok(s2.sqrt())
}

/// Machine epsilon of T, found through the trait's f64 conversion.
fn epsilon<T: Real>() -> f64 {
    if T::from_f64(1.0 + 1e-10).to_f64() == 1.0 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    }
}

/// Workspace for Stiefel steps of one layer shape; allocated once per network, so the step
/// loop does not allocate (apart from the QR's small sign buffer).
pub struct StiefelStep<T: Real> {
    rows: usize,
    cols: usize,
    scale: f64,
    /// sym(WᵀG) or sym(GWᵀ), k × k.
    sym: Vec<T>,
    /// W·S or S·W (row-major), then the column-major copy fed to the QR.
    buf: Vec<T>,
    q: Vec<T>,
    qr: SignFixedQr<T>,
}

impl<T: Real> StiefelStep<T> {
    pub fn new(rows: usize, cols: usize, scale: f64) -> Self {
        let k = rows.min(cols);
        let zero = T::from_f64(0.0);
        StiefelStep {
            rows,
            cols,
            scale,
            sym: vec![zero; k * k],
            buf: vec![zero; rows * cols],
            q: vec![zero; rows * cols],
            qr: SignFixedQr::new(rows.max(cols), k),
        }
    }

    /// One Riemannian step of the row-major layer `w` with Euclidean gradient `g`.
    pub fn step(&mut self, w: &mut [T], g: &[T], lr: f64) {
        let (rows, cols) = (self.rows, self.cols);
        let k = rows.min(cols);
        let tall = rows >= cols;
        let one = T::from_f64(1.0);
        let half = T::from_f64(0.5);
        {
            let wv = row_major(w, rows, cols);
            let gv = row_major(g, rows, cols);
            let mut a = row_major_mut(&mut self.sym, k, k);
            if tall {
                gemm(a.as_mut(), Accum::Replace, wv.transpose(), gv, one);
            } else {
                gemm(a.as_mut(), Accum::Replace, gv, wv.transpose(), one);
            }
            for c in 0..k {
                for r in c..k {
                    let v = half * (a[(r, c)] + a[(c, r)]);
                    a[(r, c)] = v;
                    a[(c, r)] = v;
                }
            }
            let s = row_major(&self.sym, k, k);
            let mut ws = row_major_mut(&mut self.buf, rows, cols);
            if tall {
                gemm(ws.as_mut(), Accum::Replace, wv, s, one);
            } else {
                gemm(ws.as_mut(), Accum::Replace, s, wv, one);
            }
        }
        // Y = W − η(G − W·S/s²) = W − ηG + (η/s²)·W·S.
        let eta = T::from_f64(lr);
        let c = T::from_f64(lr / (self.scale * self.scale));
        for ((wi, &gi), &bi) in w.iter_mut().zip(g).zip(&self.buf) {
            *wi = *wi - eta * gi + c * bi;
        }
        let s = T::from_f64(self.scale);
        if tall {
            // The QR works on column-major data: copy Y (row-major) transposed.
            for r in 0..rows {
                for col in 0..cols {
                    self.buf[col * rows + r] = w[r * cols + col];
                }
            }
            self.qr.orthonormalize(&mut self.buf, &mut self.q);
            for r in 0..rows {
                for col in 0..cols {
                    w[r * cols + col] = s * self.q[col * rows + r];
                }
            }
        } else {
            // Row-major Y is column-major Yᵀ (cols × rows, tall): retract it directly; the
            // column-major Q of Yᵀ is row-major qf(Yᵀ)ᵀ.
            self.qr.orthonormalize(w, &mut self.q);
            for (wi, &qi) in w.iter_mut().zip(&self.q) {
                *wi = s * qi;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{fill_normal, network_rng};

    fn orthogonality_error(w: &[f64], rows: usize, cols: usize, s: f64) -> f64 {
        let v = row_major(w, rows, cols);
        let gram: Mat<f64> = if rows >= cols {
            v.transpose() * v
        } else {
            v * v.transpose()
        };
        let k = rows.min(cols);
        let mut worst = 0.0f64;
        for r in 0..k {
            for c in 0..k {
                let t = if r == c { 1.0 } else { 0.0 };
                worst = worst.max((gram[(r, c)] / (s * s) - t).abs());
            }
        }
        worst
    }

    #[test]
    fn steps_stay_on_the_manifold_and_follow_the_projected_gradient() {
        for &(rows, cols) in &[(5, 5), (7, 3), (3, 7), (1, 4), (4, 1), (1, 1)] {
            let k = rows.min(cols);
            let mut g0 = vec![0.0; rows.max(cols) * k];
            fill_normal(&mut network_rng(1, 0), &mut g0, 1.0);
            // A scaled orthogonal start: s·qf of a Gaussian.
            let s = 2.5;
            let mut q = vec![0.0; rows * cols];
            SignFixedQr::<f64>::new(rows.max(cols), k).orthonormalize(&mut g0, &mut q);
            let mut w: Vec<f64> = if rows >= cols {
                (0..rows * cols).map(|i| s * q[(i % cols) * rows + i / cols]).collect()
            } else {
                q.iter().map(|v| s * v).collect()
            };
            assert!(orthogonality_error(&w, rows, cols, s) < 1e-13);
            let scale = orthogonal_scale("w", &w, rows, cols).unwrap();
            assert!((scale - s).abs() < 1e-12);
            let mut stepper = StiefelStep::new(rows, cols, scale);
            let mut g = vec![0.0; rows * cols];
            for t in 0..20 {
                fill_normal(&mut network_rng(2, t), &mut g, 1.0);
                let before = w.clone();
                stepper.step(&mut w, &g, 1e-3);
                assert!(orthogonality_error(&w, rows, cols, s) < 1e-12, "{rows}x{cols}");
                // First-order agreement with the projected step (the retraction is second order).
                let wv = row_major(&before, rows, cols);
                let gv = row_major(&g, rows, cols);
                let xi: Mat<f64> = if rows >= cols {
                    let a = wv.transpose() * gv;
                    let sym = (&a + a.transpose()) * faer::Scale(0.5);
                    gv - wv * sym * faer::Scale(1.0 / (s * s))
                } else {
                    let a = gv * wv.transpose();
                    let sym = (&a + a.transpose()) * faer::Scale(0.5);
                    gv - sym * wv * faer::Scale(1.0 / (s * s))
                };
                let mut err = 0.0f64;
                for r in 0..rows {
                    for c in 0..cols {
                        err = err.max((w[r * cols + c] - (before[r * cols + c] - 1e-3 * xi[(r, c)])).abs());
                    }
                }
                assert!(err < 1e-5, "{rows}x{cols}: {err}");
            }
        }
    }

    #[test]
    fn non_orthogonal_layers_are_rejected() {
        let w = vec![1.0, 0.0, 0.0, 2.0];
        let err = orthogonal_scale("weights[3]", &w, 2, 2).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "weights[3]"));
        assert!(orthogonal_scale("w", &[0.0f64; 4], 2, 2).is_err());
    }
}
