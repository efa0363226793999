//! Quantities recorded inside the training loop, each at its own interval, with no round trip
//! to Python.
//!
//! A quantity recorded every k steps has columns at steps 0, k, 2k, … ≤ steps: the values at
//! that iterate, before its update. After a network stops (tolerance or accuracy reached,
//! divergence, or the last step), the column holding its stopping step and every later column
//! hold its stopping state. A new quantity is one enum arm here (name, width, what it needs)
//! plus the one function that computes it (weight diagnostics in [`Diagnostics`], the rest in
//! the engine's step loop, which knows the losses and gradients).

use faer::MatRef;

use crate::alloc::{checked_len, zeroed};
use crate::error::{Error, Result};
use crate::metrics::kernels::{balancedness_into, chain_product, frobenius, SingularValues};
use crate::scalar::Real;

/// A recordable quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// The loss on the full training set (what `TrainResult.loss` holds).
    Loss,
    /// Accuracy on the full training set.
    Accuracy,
    /// The loss of the step's (mini-)batch.
    BatchLoss,
    /// Accuracy on the step's (mini-)batch.
    BatchAccuracy,
    /// Loss and accuracy on the evaluation data.
    TestLoss,
    TestAccuracy,
    /// ‖∂ℓ/∂W_j‖_F of the step's loss for every layer: width L.
    GradNorms,
    /// ‖W_j(t) − W_j(0)‖_F / ‖W_j(0)‖_F for every layer, W(0) the weights the call started
    /// from: width L.
    WeightChange,
    /// max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F (0 for a single layer).
    Balancedness,
    /// The L−1 per-layer gaps.
    BalancednessPerLayer,
    /// Singular values of α·W_{L:1}, non-increasing: width min(d_0, d_L).
    SingularValues,
}

/// Every recordable name, in the order of the enum.
pub const NAMES: [&str; 11] = [
    "loss",
    "accuracy",
    "batch_loss",
    "batch_accuracy",
    "test_loss",
    "test_accuracy",
    "grad_norms",
    "weight_change",
    "balancedness",
    "balancedness_per_layer",
    "singular_values",
];

const ALL: [Quantity; 11] = [
    Quantity::Loss,
    Quantity::Accuracy,
    Quantity::BatchLoss,
    Quantity::BatchAccuracy,
    Quantity::TestLoss,
    Quantity::TestAccuracy,
    Quantity::GradNorms,
    Quantity::WeightChange,
    Quantity::Balancedness,
    Quantity::BalancednessPerLayer,
    Quantity::SingularValues,
];

impl Quantity {
    pub fn parse(name: &str) -> Result<Self> {
        NAMES.iter().position(|&n| n == name).map(|i| ALL[i]).ok_or_else(|| {
            Error::invalid(
                "record",
                format!("unknown quantity {name:?}; expected some of {NAMES:?}"),
            )
        })
    }

    pub fn name(self) -> &'static str {
        NAMES[ALL.iter().position(|&q| q == self).expect("every quantity is listed")]
    }

    /// Entries per recorded column; 1 for scalars.
    pub fn width(self, dims: &[usize]) -> usize {
        let depth = dims.len() - 1;
        match self {
            Quantity::GradNorms | Quantity::WeightChange => depth,
            Quantity::BalancednessPerLayer => depth - 1,
            Quantity::SingularValues => dims[0].min(dims[depth]),
            _ => 1,
        }
    }

    /// Whether the recorded array has one value per column ((B, R)) rather than a row ((B, R, w)).
    pub fn is_scalar(self) -> bool {
        !matches!(
            self,
            Quantity::GradNorms | Quantity::WeightChange | Quantity::BalancednessPerLayer | Quantity::SingularValues
        )
    }

    /// Diagnostics of the end-to-end product: only defined for linear chains.
    pub fn needs_linear_chain(self) -> bool {
        matches!(
            self,
            Quantity::Balancedness | Quantity::BalancednessPerLayer | Quantity::SingularValues
        )
    }

    pub fn needs_eval_data(self) -> bool {
        matches!(self, Quantity::TestLoss | Quantity::TestAccuracy)
    }

    pub fn is_accuracy(self) -> bool {
        matches!(
            self,
            Quantity::Accuracy | Quantity::BatchAccuracy | Quantity::TestAccuracy
        )
    }
}

/// A quantity and its recording interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordSpec {
    pub quantity: Quantity,
    pub every: usize,
}

impl RecordSpec {
    /// Recorded columns over `steps` steps: steps 0, every, 2·every, … ≤ steps.
    pub fn columns(&self, steps: usize) -> usize {
        steps / self.every + 1
    }

    /// Whether step t (counted within the call) is recorded, and into which column.
    #[inline]
    pub fn column_at(&self, t: usize) -> Option<usize> {
        t.is_multiple_of(self.every).then_some(t / self.every)
    }

    /// The column that holds the stopping state of a network stopping at step t: t's own
    /// column on a recording step (already written), else the next one (written at the stop).
    pub fn stop_column(&self, t: usize) -> usize {
        t.div_ceil(self.every)
    }
}

/// Workspaces for the weight diagnostics of one worker, allocated once per call.
pub struct Diagnostics<T: Real> {
    alpha: f64,
    gaps: Vec<f64>,
    gram: Vec<T>,
    svd: Option<SingularValues<T>>,
}

impl<T: Real> Diagnostics<T> {
    pub fn new(specs: &[RecordSpec], dims: &[usize], alpha: f64) -> Result<Self> {
        let depth = dims.len() - 1;
        let max_d = *dims.iter().max().unwrap();
        let wants = |q: Quantity| specs.iter().any(|s| s.quantity == q);
        let gram = wants(Quantity::Balancedness) || wants(Quantity::BalancednessPerLayer);
        Ok(Diagnostics {
            alpha,
            gaps: vec![0.0; depth.saturating_sub(1)],
            gram: zeroed(
                "weights",
                if gram {
                    checked_len("weights", &[max_d, max_d])?
                } else {
                    0
                },
            )?,
            svd: wants(Quantity::SingularValues).then(|| SingularValues::new(dims[depth], dims[0])),
        })
    }

    /// Write quantity `q` of the layers into `out` (its width). `end_to_end` is W_{L:1} when
    /// the caller has it (X = I), `initial` the layers the call started from.
    pub fn weights(
        &mut self,
        q: Quantity,
        layers: &[MatRef<'_, T>],
        end_to_end: Option<MatRef<'_, T>>,
        initial: &[MatRef<'_, T>],
        out: &mut [f64],
    ) {
        match q {
            Quantity::Balancedness | Quantity::BalancednessPerLayer => {
                balancedness_into(layers, &mut self.gram, &mut self.gaps);
                if q == Quantity::Balancedness {
                    // NaN-propagating max, 0 for a single layer.
                    out[0] = self.gaps.iter().fold(
                        0.0,
                        |m: f64, &g| if g.is_nan() || m.is_nan() { f64::NAN } else { m.max(g) },
                    );
                } else {
                    out.copy_from_slice(&self.gaps);
                }
            }
            Quantity::SingularValues => {
                let owned;
                let product = match end_to_end {
                    Some(p) => p,
                    None => {
                        owned = chain_product(layers);
                        owned.as_ref()
                    }
                };
                let svd = self.svd.as_mut().expect("allocated when singular values are recorded");
                // An SVD that fails to converge on finite input is recorded as NaN rather than
                // aborting the whole batch.
                if svd.compute(product, self.alpha, out).is_err() {
                    out.fill(f64::NAN);
                }
            }
            Quantity::WeightChange => {
                for (j, o) in out.iter_mut().enumerate() {
                    let (now, start) = (layers[j], initial[j]);
                    let mut diff = 0.0;
                    for c in 0..now.ncols() {
                        for r in 0..now.nrows() {
                            let d = (now[(r, c)] - start[(r, c)]).to_f64();
                            diff += d * d;
                        }
                    }
                    *o = diff.sqrt() / frobenius(start);
                }
            }
            other => unreachable!("{other:?} is not a weight diagnostic"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_columns_follow_the_interval() {
        for name in NAMES {
            assert_eq!(Quantity::parse(name).unwrap().name(), name);
        }
        assert!(Quantity::parse("energy").is_err());
        let spec = RecordSpec {
            quantity: Quantity::Loss,
            every: 3,
        };
        assert_eq!(spec.columns(10), 4);
        assert_eq!(spec.column_at(6), Some(2));
        assert_eq!(spec.column_at(7), None);
        assert_eq!((spec.stop_column(6), spec.stop_column(7)), (2, 3));
    }
}
