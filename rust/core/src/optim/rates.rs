//! Learning rates and weight decays per parameter group, and learning-rate schedules as data.
//!
//! A parameter belongs to one group: `Manifold` (the orthonormal factor of a Stiefel or Oblique
//! layer), `Output` (the last layer's weights when that layer is Euclidean), `Base` (every other
//! Euclidean weight), `Biases` or `Scales` (learned manifold scales). A learning rate of a group
//! left unset takes the base rate (PyTorch's parameter-group defaults). The schedule's factor
//! f(t) of the 0-based update count t multiplies every group's rate; it is evaluated in f64 at
//! each network's own step count, so chained calls continue it bit for bit.

use crate::error::{Error, Result};

/// One value for all networks or one per network.
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    Shared(f64),
    PerNetwork(Vec<f64>),
}

impl LearningRate {
    /// The value of network `b`.
    pub fn of(&self, b: usize) -> f64 {
        match self {
            LearningRate::Shared(v) => *v,
            LearningRate::PerNetwork(v) => v[b],
        }
    }

    /// Every value finite and ≥ 0, and (per network) one per network; errors name `arg`.
    pub fn check(&self, arg: &str, batch: usize) -> Result<()> {
        let values: &[f64] = match self {
            LearningRate::Shared(v) => std::slice::from_ref(v),
            LearningRate::PerNetwork(v) => {
                if v.len() != batch {
                    return Err(Error::shape(
                        arg,
                        format!("a scalar or ({batch},)"),
                        format!("({},)", v.len()),
                    ));
                }
                v
            }
        };
        match values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            Some(v) => Err(Error::invalid(arg, format!("must be finite and non-negative, got {v}"))),
            None => Ok(()),
        }
    }
}

/// The parameter groups, in the order of [`GroupValues::group`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Base,
    Manifold,
    Output,
    Biases,
    Scales,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Base,
        Group::Manifold,
        Group::Output,
        Group::Biases,
        Group::Scales,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Base => "base",
            Group::Manifold => "manifold",
            Group::Output => "output",
            Group::Biases => "biases",
            Group::Scales => "scales",
        }
    }
}

/// A value per parameter group (learning rates, or weight decays): `base`, and each other
/// group either given or None (a learning rate then takes `base`; a decay, see [`Decays`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupValues {
    pub base: LearningRate,
    pub manifold: Option<LearningRate>,
    pub output: Option<LearningRate>,
    pub biases: Option<LearningRate>,
    pub scales: Option<LearningRate>,
}

impl From<LearningRate> for GroupValues {
    fn from(base: LearningRate) -> Self {
        GroupValues {
            base,
            manifold: None,
            output: None,
            biases: None,
            scales: None,
        }
    }
}

impl GroupValues {
    /// The value given for group `g` (None: not given; `Base` is always given).
    pub fn group(&self, g: Group) -> Option<&LearningRate> {
        match g {
            Group::Base => Some(&self.base),
            Group::Manifold => self.manifold.as_ref(),
            Group::Output => self.output.as_ref(),
            Group::Biases => self.biases.as_ref(),
            Group::Scales => self.scales.as_ref(),
        }
    }

    /// Check every value given (finite, ≥ 0, one per network) and that each group named exists
    /// in the network (`present(g)`); errors name `arg.group`, e.g. `lr.manifold`.
    pub fn check(&self, arg: &str, batch: usize, present: impl Fn(Group) -> Option<&'static str>) -> Result<()> {
        for g in Group::ALL {
            if let Some(v) = self.group(g) {
                let name = if g == Group::Base {
                    arg.to_string()
                } else {
                    format!("{arg}.{}", g.name())
                };
                v.check(&name, batch)?;
                if g != Group::Base {
                    if let Some(why) = present(g) {
                        return Err(Error::invalid(name, why));
                    }
                }
            }
        }
        Ok(())
    }

    /// Network b's learning rate of every group, unset groups taking the base rate.
    pub fn rates_of(&self, b: usize) -> [f64; 5] {
        let base = self.base.of(b);
        Group::ALL.map(|g| self.group(g).map_or(base, |v| v.of(b)))
    }

    /// Network b's weight decay of every group: the base decay applies to the Euclidean weights
    /// (base and output groups); biases and scales are decayed only when named; the orthonormal
    /// factor of a manifold layer never.
    pub fn decays_of(&self, b: usize) -> [f64; 5] {
        let base = self.base.of(b);
        Group::ALL.map(|g| match g {
            Group::Base => base,
            Group::Output => self.output.as_ref().map_or(base, |v| v.of(b)),
            Group::Manifold => 0.0,
            Group::Biases | Group::Scales => self.group(g).map_or(0.0, |v| v.of(b)),
        })
    }
}

/// A learning-rate schedule: the factor f(t) of the 0-based update count t.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum LrSchedule {
    /// f(t) = 1.
    #[default]
    Constant,
    /// f(t) = factor^⌊t / every⌋.
    StepDecay { every: f64, factor: f64 },
    /// f(t) = rate^(t / every) (optax `exponential_decay`, staircase=False).
    ExponentialDecay { rate: f64, every: f64 },
    /// optax `warmup_cosine_decay_schedule(0, 1, warmup_steps, decay_steps, final)`: linear
    /// warm-up from 0 to 1 over `warmup` steps, then a half cosine from 1 to `final` reached at
    /// `decay` steps (counted from 0, warm-up included), then `final`.
    WarmupCosine { decay: f64, warmup: f64, final_value: f64 },
}

impl LrSchedule {
    /// The schedule `kind` with its parameters (as the Python `LrSchedule` value carries
    /// them), validated; errors name `lr_schedule`.
    pub fn parse(kind: &str, params: &[f64]) -> Result<Self> {
        let arg = "lr_schedule";
        let want = |n: usize| {
            if params.len() == n {
                Ok(())
            } else {
                Err(Error::invalid(
                    arg,
                    format!("{kind:?} takes {n} parameters, got {}", params.len()),
                ))
            }
        };
        if let Some(v) = params.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid(arg, format!("parameters must be finite, got {v}")));
        }
        let positive = |name: &str, v: f64| {
            if v > 0.0 {
                Ok(v)
            } else {
                Err(Error::invalid(arg, format!("{name} must be > 0, got {v}")))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v >= 0.0 {
                Ok(v)
            } else {
                Err(Error::invalid(arg, format!("{name} must be ≥ 0, got {v}")))
            }
        };
        match kind {
            "constant" => want(0).map(|_| LrSchedule::Constant),
            "step_decay" => {
                want(2)?;
                Ok(LrSchedule::StepDecay {
                    every: positive("every", params[0])?,
                    factor: non_negative("factor", params[1])?,
                })
            }
            "exponential_decay" => {
                want(2)?;
                Ok(LrSchedule::ExponentialDecay {
                    rate: non_negative("rate", params[0])?,
                    every: positive("every", params[1])?,
                })
            }
            "warmup_cosine" => {
                want(3)?;
                let decay = positive("decay_steps", params[0])?;
                let warmup = non_negative("warmup_steps", params[1])?;
                if warmup > decay {
                    return Err(Error::invalid(
                        arg,
                        format!("warmup_steps ({warmup}) must not exceed decay_steps ({decay})"),
                    ));
                }
                Ok(LrSchedule::WarmupCosine {
                    decay,
                    warmup,
                    final_value: non_negative("final", params[2])?,
                })
            }
            other => Err(Error::invalid(
                arg,
                format!("expected 'constant', 'step_decay', 'exponential_decay' or 'warmup_cosine', got {other:?}"),
            )),
        }
    }

    /// f(t).
    pub fn factor(&self, t: u64) -> f64 {
        let t = t as f64;
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::StepDecay { every, factor } => factor.powf((t / every).floor()),
            LrSchedule::ExponentialDecay { rate, every } => rate.powf(t / every),
            LrSchedule::WarmupCosine {
                decay,
                warmup,
                final_value,
            } => {
                if t < warmup {
                    t / warmup
                } else if decay == warmup {
                    final_value
                } else {
                    let p = (t - warmup).min(decay - warmup) / (decay - warmup);
                    final_value + (1.0 - final_value) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_factors_follow_their_formulas() {
        assert_eq!(LrSchedule::Constant.factor(17), 1.0);
        let step = LrSchedule::parse("step_decay", &[3.0, 0.5]).unwrap();
        let got: Vec<f64> = (0..7).map(|t| step.factor(t)).collect();
        assert_eq!(got, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
        let exp = LrSchedule::parse("exponential_decay", &[0.5, 2.0]).unwrap();
        assert_eq!(exp.factor(0), 1.0);
        assert!((exp.factor(1) - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(exp.factor(4), 0.25);
        let cos = LrSchedule::parse("warmup_cosine", &[10.0, 2.0, 0.1]).unwrap();
        assert_eq!(cos.factor(0), 0.0);
        assert_eq!(cos.factor(1), 0.5);
        assert_eq!(cos.factor(2), 1.0);
        // Half way through the decay: final + (1 − final)/2.
        assert!((cos.factor(6) - 0.55).abs() < 1e-15);
        assert!((cos.factor(10) - 0.1).abs() < 1e-15);
        assert!((cos.factor(1000) - 0.1).abs() < 1e-15);
        // Warm-up as long as the horizon: final from then on (optax).
        let flat = LrSchedule::parse("warmup_cosine", &[4.0, 4.0, 0.3]).unwrap();
        assert_eq!(flat.factor(2), 0.5);
        assert_eq!(flat.factor(4), 0.3);
    }

    #[test]
    fn bad_schedules_are_refused() {
        for (kind, params) in [
            ("warmup_cosine", &[3.0, 5.0, 0.0][..]),
            ("step_decay", &[0.0, 0.5]),
            ("step_decay", &[1.0]),
            ("exponential_decay", &[-0.5, 1.0]),
            ("exponential_decay", &[f64::NAN, 1.0]),
            ("cosine", &[]),
        ] {
            let err = LrSchedule::parse(kind, params).unwrap_err();
            assert!(
                matches!(err, Error::InvalidValue { ref arg, .. } if arg == "lr_schedule"),
                "{kind}"
            );
        }
    }

    #[test]
    fn groups_resolve_to_base_or_zero() {
        let values = GroupValues {
            manifold: Some(LearningRate::Shared(0.5)),
            biases: Some(LearningRate::PerNetwork(vec![0.1, 0.2])),
            ..GroupValues::from(LearningRate::Shared(2.0))
        };
        assert_eq!(values.rates_of(1), [2.0, 0.5, 2.0, 0.2, 2.0]);
        assert_eq!(values.decays_of(0), [2.0, 0.0, 2.0, 0.1, 0.0]);
        let err = values.check("lr", 2, |g| (g == Group::Manifold).then_some("no manifold layer"));
        assert!(matches!(err, Err(Error::InvalidValue { ref arg, .. }) if arg == "lr.manifold"));
        let err = values.check("lr", 3, |_| None);
        assert!(matches!(err, Err(Error::Shape { ref arg, .. }) if arg == "lr.biases"));
    }
}
