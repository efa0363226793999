//! Optimisers: the update rules (gradient descent, heavy-ball momentum, Adam, AdamW, RMSProp),
//! each an init/update pair with its own state as in optax, the per-layer geometry they run in
//! (`geometry`: Euclidean, Stiefel, Oblique), and the learning rates per parameter group with
//! their schedule (`rates`).
//!
//! A rule sees one parameter tensor at a time with its slice of the optimiser state (`SLOTS`
//! buffers of the tensor's size, back to back). The engine picks the rule once per call and runs
//! generic code for it, so there is no per-element dispatch; the geometry is a small per-layer
//! enum matched once per layer and step. Adding a rule means: its file here, one variant with
//! its arms in [`Optimizer`] (name, slots, parse) and one dispatch arm in `engine::train`.

mod adam;
mod adamw;
mod gd;
pub mod geometry;
mod momentum;
pub mod rates;
mod rmsprop;

pub use adam::Adam;
pub use adamw::AdamW;
pub use gd::Gd;
pub use geometry::Manifold;
pub use momentum::Momentum;
pub use rates::{Group, GroupValues, LearningRate, LrSchedule};
pub use rmsprop::RmsProp;

use crate::error::{Error, Result};
use crate::scalar::Real;

/// An update rule. `t` is the 1-based number of this update (Adam's bias correction).
pub trait Rule<T: Real>: Sync {
    /// State buffers per parameter entry: 0 (GD), 1 (momentum), 2 (Adam).
    const SLOTS: usize;
    /// Whether p ← p − η·G is the whole Euclidean update, so that the engine may apply a
    /// weight gradient straight from its factors without forming it.
    const PLAIN: bool;
    /// Whether weight decay is decoupled (AdamW: p ← p − η·λ·p before the step) rather than
    /// coupled (λ·p added to the gradient).
    const DECOUPLED_DECAY: bool = false;

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
    /// Adam with decoupled weight decay (PyTorch's AdamW).
    AdamW { beta1: f64, beta2: f64, eps: f64 },
    /// RMSProp (PyTorch's convention), see [`RmsProp`].
    RmsProp {
        decay: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
    },
}

/// Default Adam hyper-parameters (Kingma & Ba).
pub const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
pub const ADAM_EPS: f64 = 1e-8;
/// Default RMSProp decay (PyTorch's `alpha`).
pub const RMSPROP_DECAY: f64 = 0.99;

/// An optimiser as a call names it: its name and the hyper-parameters given (None: not given).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerSpec {
    pub name: String,
    pub momentum: Option<f64>,
    pub nesterov: bool,
    pub betas: Option<(f64, f64)>,
    pub eps: Option<f64>,
    pub decay: Option<f64>,
    pub centered: bool,
}

impl Optimizer {
    pub const NAMES: [&'static str; 5] = ["gd", "sgd", "adam", "adamw", "rmsprop"];

    /// The optimiser `spec` names, its hyper-parameters validated; a hyper-parameter given to
    /// an optimiser that has none such is refused, naming it.
    pub fn parse(spec: &OptimizerSpec) -> Result<Self> {
        let name = spec.name.as_str();
        if !Self::NAMES.contains(&name) {
            return Err(Error::invalid(
                "optimizer",
                format!("expected one of {:?}, got {name:?}", Self::NAMES),
            ));
        }
        let given = [
            ("momentum", spec.momentum.is_some(), &["sgd", "rmsprop"][..]),
            ("nesterov", spec.nesterov, &["sgd"]),
            ("betas", spec.betas.is_some(), &["adam", "adamw"]),
            ("eps", spec.eps.is_some(), &["adam", "adamw", "rmsprop"]),
            ("decay", spec.decay.is_some(), &["rmsprop"]),
            ("centered", spec.centered, &["rmsprop"]),
        ];
        for (arg, is_given, takers) in given {
            if is_given && !takers.contains(&name) {
                let only = takers.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(" or ");
                return Err(Error::invalid(
                    arg,
                    format!("is an option of optimizer={only} only, got optimizer={name:?}"),
                ));
            }
        }
        let unit = |arg: &str, v: f64| {
            if v.is_finite() && (0.0..1.0).contains(&v) {
                Ok(v)
            } else {
                Err(Error::invalid(arg, format!("must be in [0, 1), got {v}")))
            }
        };
        let eps = || {
            let eps = spec.eps.unwrap_or(ADAM_EPS);
            if eps.is_finite() && eps > 0.0 {
                Ok(eps)
            } else {
                Err(Error::invalid("eps", format!("must be finite and > 0, got {eps}")))
            }
        };
        let momentum = unit("momentum", spec.momentum.unwrap_or(0.0))?;
        Ok(match name {
            "gd" => Optimizer::Gd,
            "sgd" => {
                if spec.nesterov && momentum == 0.0 {
                    return Err(Error::invalid("nesterov", "needs a momentum above 0"));
                }
                Optimizer::Sgd {
                    momentum,
                    nesterov: spec.nesterov,
                }
            }
            "adam" | "adamw" => {
                let (b1, b2) = spec.betas.unwrap_or(ADAM_BETAS);
                let (beta1, beta2, eps) = (unit("betas", b1)?, unit("betas", b2)?, eps()?);
                if name == "adam" {
                    Optimizer::Adam { beta1, beta2, eps }
                } else {
                    Optimizer::AdamW { beta1, beta2, eps }
                }
            }
            _ => Optimizer::RmsProp {
                decay: unit("decay", spec.decay.unwrap_or(RMSPROP_DECAY))?,
                eps: eps()?,
                momentum,
                centered: spec.centered,
            },
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Gd => "gd",
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
            Optimizer::AdamW { .. } => "adamw",
            Optimizer::RmsProp { .. } => "rmsprop",
        }
    }

    /// Names of the state buffers, in slot order.
    pub fn slot_names(&self) -> &'static [&'static str] {
        match *self {
            Optimizer::Gd => &[],
            Optimizer::Sgd { .. } => &["momentum"],
            Optimizer::Adam { .. } | Optimizer::AdamW { .. } => &["exp_avg", "exp_avg_sq"],
            Optimizer::RmsProp { momentum, centered, .. } => match (centered, momentum > 0.0) {
                (false, false) => &["square_avg"],
                (true, false) => &["square_avg", "grad_avg"],
                (false, true) => &["square_avg", "momentum"],
                (true, true) => &["square_avg", "grad_avg", "momentum"],
            },
        }
    }

    /// Whether the rule decouples weight decay from the gradient.
    pub fn decoupled_decay(&self) -> bool {
        matches!(self, Optimizer::AdamW { .. })
    }
}

#[cfg(test)]
mod tests;
