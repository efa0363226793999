//! Optimisers: the update rules (gradient descent, heavy-ball momentum, Adam), each an
//! init/update pair with its own state as in optax, and the per-layer geometry they run in
//! (Euclidean, or the Stiefel manifold of scaled-orthogonal matrices).
//!
//! A rule sees one parameter tensor at a time with its slice of the optimiser state (`SLOTS`
//! buffers of the tensor's size, back to back). The engine picks the rule once per call and runs
//! generic code for it, so there is no per-element dispatch; the geometry is a small per-layer
//! enum matched once per layer and step.

mod adam;
mod gd;
mod momentum;
pub mod stiefel;

pub use adam::Adam;
pub use gd::Gd;
pub use momentum::Momentum;

use crate::error::{Error, Result};
use crate::scalar::Real;

/// An update rule. `t` is the 1-based number of this update (Adam's bias correction).
pub trait Rule<T: Real>: Sync {
    /// State buffers per parameter entry: 0 (GD), 1 (momentum), 2 (Adam).
    const SLOTS: usize;
    /// Whether p ← p − η·G is the whole Euclidean update, so that the engine may apply a
    /// weight gradient straight from its factors without forming it.
    const PLAIN: bool;

    /// Euclidean step of one tensor: p ← p − lr·d(g), with the state `slots`
    /// (SLOTS × p.len()) advanced.
    fn apply(&self, p: &mut [T], g: &[T], slots: &mut [T], lr: T, t: u64);

    /// The direction of a Riemannian step: advance the state with the projected gradient `xi`
    /// and overwrite `xi` with the direction d (the point then moves to retract(p − lr·d)).
    fn direction(&self, xi: &mut [T], slots: &mut [T], t: u64);

    /// The first moment within `slots` (transported to the new tangent space after a
    /// retraction), if the rule keeps one.
    fn first_moment<'s>(&self, slots: &'s mut [T]) -> Option<&'s mut [T]>;
}

/// The optimiser of a call, with its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// W ← W − ηG.
    Gd,
    /// Heavy ball (PyTorch's convention): v ← βv + G, W ← W − ηv; Nesterov: W ← W − η(G + βv).
    Sgd { momentum: f64, nesterov: bool },
    /// Adam (Kingma & Ba): bias-corrected moments, W ← W − η·m̂/(√v̂ + ε).
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

/// Default Adam hyper-parameters (Kingma & Ba).
pub const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
pub const ADAM_EPS: f64 = 1e-8;

impl Optimizer {
    /// The optimiser `name` ("gd", "sgd" or "adam") with the hyper-parameters given; each of
    /// `momentum`/`nesterov` (sgd) and `betas`/`eps` (adam) is refused with another optimiser.
    pub fn parse(
        name: &str,
        momentum: Option<f64>,
        nesterov: bool,
        betas: Option<(f64, f64)>,
        eps: Option<f64>,
    ) -> Result<Self> {
        let refuse = |arg: &str, only: &str| {
            Err(Error::invalid(
                arg,
                format!("is an option of optimizer={only:?} only, got optimizer={name:?}"),
            ))
        };
        let unit = |arg: &str, v: f64| {
            if v.is_finite() && (0.0..1.0).contains(&v) {
                Ok(v)
            } else {
                Err(Error::invalid(arg, format!("must be in [0, 1), got {v}")))
            }
        };
        if name != "sgd" {
            if momentum.is_some() {
                return refuse("momentum", "sgd");
            }
            if nesterov {
                return refuse("nesterov", "sgd");
            }
        }
        if name != "adam" {
            if betas.is_some() {
                return refuse("betas", "adam");
            }
            if eps.is_some() {
                return refuse("eps", "adam");
            }
        }
        match name {
            "gd" => Ok(Optimizer::Gd),
            "sgd" => {
                let momentum = unit("momentum", momentum.unwrap_or(0.0))?;
                if nesterov && momentum == 0.0 {
                    return Err(Error::invalid("nesterov", "needs a momentum above 0"));
                }
                Ok(Optimizer::Sgd { momentum, nesterov })
            }
            "adam" => {
                let (b1, b2) = betas.unwrap_or(ADAM_BETAS);
                let eps = eps.unwrap_or(ADAM_EPS);
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(Error::invalid("eps", format!("must be finite and > 0, got {eps}")));
                }
                Ok(Optimizer::Adam {
                    beta1: unit("betas", b1)?,
                    beta2: unit("betas", b2)?,
                    eps,
                })
            }
            other => Err(Error::invalid(
                "optimizer",
                format!("expected 'gd', 'sgd' or 'adam', got {other:?}"),
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Gd => "gd",
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
        }
    }

    /// Names of the state buffers, in slot order.
    pub fn slot_names(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Gd => &[],
            Optimizer::Sgd { .. } => &["momentum"],
            Optimizer::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }
}

/// The geometry a layer's weights are trained in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Manifold {
    #[default]
    Euclidean,
    /// Scaled-orthogonal matrices (WᵀW = s²I, or WWᵀ = s²I if wide), Riemannian steps with the
    /// QR retraction (`stiefel`).
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

#[cfg(test)]
mod tests;
