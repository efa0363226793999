//! σ_max of the input–output Jacobian ∂f(x)/∂x at every probe input by power iteration on
//! JᵀJ, all inputs at once: each step is one tangent pass (J·V, the columns of V one direction
//! per input) and one backward pass (Jᵀ·(J·V)), never forming a Jacobian.
//!
//! The estimate σ = ‖J v‖ (v a unit vector) is the square root of a Rayleigh quotient of JᵀJ:
//! it never exceeds σ_max and, for power iteration on a positive semi-definite matrix, grows
//! monotonically towards it, the error shrinking by (σ_2/σ_1)² per step. An input's estimate
//! has converged once a step changes it by at most tol relative (its remaining error is then
//! about tol/(1 − (σ_2/σ_1)²)).

use std::sync::atomic::{AtomicBool, Ordering};

use super::probe::Probe;
use crate::error::{Error, Result};
use crate::net::{Direction, Network};
use crate::rng::{fill_normal, network_rng};
use crate::scalar::Real;

/// When to stop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerIteration {
    /// At most this many steps.
    pub iterations: usize,
    /// Stop once no input's estimate changes by more than this, relative.
    pub tol: f64,
}

/// The iteration cap when none is given.
pub const DEFAULT_ITERATIONS: usize = 1000;

/// The default tolerance (as the Python API's).
pub const DEFAULT_TOL: f64 = 1e-10;

impl PowerIteration {
    /// Validated settings: `iterations` ≥ 1 (None: [`DEFAULT_ITERATIONS`]), `tol` finite and
    /// ≥ 0.
    pub fn new(iterations: Option<usize>, tol: f64) -> Result<Self> {
        if iterations == Some(0) {
            return Err(Error::invalid("iterations", "must be at least 1, got 0"));
        }
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(Error::invalid(
                "tol",
                format!("must be finite and non-negative, got {tol}"),
            ));
        }
        Ok(PowerIteration {
            iterations: iterations.unwrap_or(DEFAULT_ITERATIONS),
            tol,
        })
    }

    /// The tolerance in precision T: below a few ulps the estimate only jitters, so a smaller
    /// tolerance is raised to 4ε.
    fn tol_in<T>(&self) -> f64 {
        let eps = if std::mem::size_of::<T>() == 4 {
            f32::EPSILON as f64
        } else {
            f64::EPSILON
        };
        self.tol.max(4.0 * eps)
    }
}

/// The iteration's settings and buffers for `n` inputs of width d_0.
pub struct PowerWork<T> {
    settings: PowerIteration,
    v: Vec<T>,
    u: Vec<T>,
    previous: Vec<f64>,
}

impl<T: Real> PowerWork<T> {
    pub fn new(settings: PowerIteration, d_0: usize, n: usize) -> Result<Self> {
        let len = crate::alloc::checked_len("X", &[d_0, n])?;
        Ok(PowerWork {
            settings,
            v: crate::alloc::zeroed("X", len)?,
            u: crate::alloc::zeroed("X", len)?,
            previous: crate::alloc::zeroed("X", n)?,
        })
    }
}

/// σ_max(∂f(x)/∂x) for every column x of `x` into `out` (n), after [`Probe::evaluate`] at `x`.
/// Returns how many inputs had not converged within the cap (their entry is then the last
/// estimate, a lower bound). Non-finite outputs give NaN.
pub fn max_singular_values<T: Real>(
    probe: &mut Probe<T>,
    net: &Network<T>,
    x: &[T],
    alpha: f64,
    work: &mut PowerWork<T>,
    out: &mut [f64],
    cancel: &AtomicBool,
) -> Result<usize> {
    let (d_0, d_l, n) = (net.dims[0], net.dims[net.depth()], probe.n);
    if probe.output(net).iter().any(|v| !v.is_finite()) {
        out.fill(f64::NAN);
        return Ok(0);
    }
    let settings = work.settings;
    let tol = settings.tol_in::<T>();
    // A fixed pseudo-random start, one unit vector per input.
    fill_normal(&mut network_rng(0x5eed, 1), &mut work.v, T::from_f64(1.0));
    normalize_columns(&mut work.v, d_0, n);
    let a2 = T::from_f64(alpha * alpha);
    let mut unconverged = n;
    for step in 0..settings.iterations {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let dir = Direction {
            params: None,
            biases: false,
            inputs: Some(&work.v),
        };
        net.tangent(&probe.params, x, n, &mut probe.passes, dir);
        // J v = α·ż_L; the backward signal of ½‖J v‖² is α·(J v) = α²·ż_L.
        let z_dot = &mut probe.passes.signal[..d_l * n];
        for (e, o) in out.iter_mut().enumerate() {
            let sum: f64 = (0..d_l).map(|a| z_dot[a * n + e].to_f64().powi(2)).sum();
            *o = alpha.abs() * sum.sqrt();
        }
        z_dot.iter_mut().for_each(|v| *v *= a2);
        let Probe {
            params,
            passes,
            bias_grad,
            ..
        } = &mut *probe;
        net.pullback(params, x, n, passes, bias_grad, None, Some(&mut work.u));
        unconverged = out
            .iter()
            .zip(&work.previous)
            .filter(|&(&s, &p)| !(step > 0 && (s - p).abs() <= tol * s || s == 0.0 || s.is_nan()))
            .count();
        if unconverged == 0 {
            break;
        }
        work.previous.copy_from_slice(out);
        std::mem::swap(&mut work.v, &mut work.u);
        normalize_columns(&mut work.v, d_0, n);
    }
    Ok(unconverged)
}

/// Scale every column of the d × n row-major `v` to unit norm (a zero column stays zero).
fn normalize_columns<T: Real>(v: &mut [T], d: usize, n: usize) {
    for e in 0..n {
        let norm = (0..d).map(|r| v[r * n + e].to_f64().powi(2)).sum::<f64>().sqrt();
        if norm > 0.0 {
            let inv = T::from_f64(1.0 / norm);
            (0..d).for_each(|r| v[r * n + e] *= inv);
        }
    }
}
