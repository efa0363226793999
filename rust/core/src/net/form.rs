//! The vocabulary of network forms: the hidden-layer activation φ, the per-layer weight scale
//! s_j (parameterisation), and the form they make together with the biases.
//!
//! z_j = s_j W_j h_{j−1} + b_j, h_j = φ(z_j) for hidden layers, f = α z_L (no activation on the
//! output). The linear chain is the form with φ = identity, s_j = 1 and no biases.

use crate::error::{Error, Result};
use crate::scalar::Real;

/// The hidden-layer nonlinearity φ (the output layer has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Tanh,
    Relu,
    Erf,
}

impl Activation {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "linear" => Ok(Activation::Linear),
            "tanh" => Ok(Activation::Tanh),
            "relu" => Ok(Activation::Relu),
            "erf" => Ok(Activation::Erf),
            other => Err(Error::invalid(
                "activation",
                format!("expected one of 'linear', 'tanh', 'relu', 'erf', got {other:?}"),
            )),
        }
    }

    /// φ(z) in f64 (used by the diagnostics).
    #[inline]
    pub fn value(self, z: f64) -> f64 {
        self.value_and_slope(z).0
    }

    /// φ'(z) in f64; relu'(0) = 0.
    #[inline]
    pub fn derivative(self, z: f64) -> f64 {
        self.value_and_slope(z).1
    }

    /// φ(z) and φ'(z) of one scalar (the diagnostics' per-entry path).
    #[inline(always)]
    pub fn value_and_slope<T: Real>(self, z: T) -> (T, T) {
        let one = T::from_f64(1.0);
        let zero = T::from_f64(0.0);
        match self {
            Activation::Linear => (z, one),
            Activation::Tanh => {
                let h = z.tanh();
                (h, one - h * h)
            }
            Activation::Relu => {
                if z > zero {
                    (z, one)
                } else {
                    (zero, zero)
                }
            }
            Activation::Erf => (
                z.erf(),
                T::from_f64(std::f64::consts::FRAC_2_SQRT_PI) * (-(z * z)).exp(),
            ),
        }
    }

    /// values ← φ(values), slopes ← φ'(values) for a whole layer. The transcendental
    /// activations go through the slice kernels of `crate::vmath` (one call per layer, never
    /// per entry), so vectorised kernels apply without touching the engine.
    pub fn apply_with_slopes<T: Real>(self, values: &mut [T], slopes: &mut [T]) {
        match self {
            Activation::Linear => slopes.fill(T::from_f64(1.0)),
            Activation::Tanh => T::tanh_with_slope(values, slopes),
            Activation::Erf => T::erf_with_slope(values, slopes),
            Activation::Relu => {
                let (zero, one) = (T::from_f64(0.0), T::from_f64(1.0));
                for (v, s) in values.iter_mut().zip(slopes) {
                    if *v > zero {
                        *s = one;
                    } else {
                        (*v, *s) = (zero, zero);
                    }
                }
            }
        }
    }

    /// values ← φ(values) for a whole layer (evaluation passes need no slopes).
    pub fn apply<T: Real>(self, values: &mut [T]) {
        match self {
            Activation::Linear => {}
            Activation::Tanh => T::tanh_in_place(values),
            Activation::Erf => T::erf_in_place(values),
            Activation::Relu => {
                let zero = T::from_f64(0.0);
                for v in values.iter_mut() {
                    // NaN maps to 0, as in `apply_with_slopes`.
                    *v = if *v > zero { *v } else { zero };
                }
            }
        }
    }
}

/// Per-layer weight scale s_j.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Parameterization {
    /// s_j = 1: the weights carry their own scale.
    Standard,
    /// s_j = σ_w/√d_{j−1}: unit-variance weights, scale applied in the forward pass.
    Ntk { sigma_w: f64 },
}

impl Parameterization {
    /// "standard" or "ntk" (with a finite `sigma_w`, ignored for "standard").
    pub fn parse(name: &str, sigma_w: f64) -> Result<Self> {
        if !sigma_w.is_finite() {
            return Err(Error::invalid("sigma_w", format!("must be finite, got {sigma_w}")));
        }
        match name {
            "standard" => Ok(Parameterization::Standard),
            "ntk" => Ok(Parameterization::Ntk { sigma_w }),
            other => Err(Error::invalid(
                "parameterization",
                format!("expected 'standard' or 'ntk', got {other:?}"),
            )),
        }
    }

    /// The layer scale s_j for a layer with `d_in` inputs.
    #[inline]
    pub fn scale(self, d_in: usize) -> f64 {
        match self {
            Parameterization::Standard => 1.0,
            Parameterization::Ntk { sigma_w } => sigma_w / (d_in as f64).sqrt(),
        }
    }
}

/// What network is trained, besides its weights: activation and parameterisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Form {
    pub activation: Activation,
    pub parameterization: Parameterization,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            activation: Activation::Linear,
            parameterization: Parameterization::Standard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_activations_match_the_scalar_definitions() {
        let z: Vec<f64> = (-20..=20).map(|i| i as f64 * 0.31).chain([0.0, -0.0]).collect();
        for act in [Activation::Linear, Activation::Tanh, Activation::Relu, Activation::Erf] {
            let mut values = z.clone();
            let mut slopes = vec![0.0; z.len()];
            act.apply_with_slopes(&mut values, &mut slopes);
            let mut plain = z.clone();
            act.apply(&mut plain);
            for (k, &zk) in z.iter().enumerate() {
                let (v, s) = act.value_and_slope(zk);
                assert!(
                    (values[k] - v).abs() <= 1e-15 && (slopes[k] - s).abs() <= 1e-15,
                    "{act:?} {zk}"
                );
                assert_eq!(plain[k], values[k], "{act:?} {zk}");
            }
        }
    }
}
