//! Quantities recorded inside the training loop, each at its own interval, with no round trip
//! to Python.
//!
//! A quantity recorded every k steps has columns at steps 0, k, 2k, … ≤ steps: the values at
//! that iterate, before its update. After a network stops (tolerance or accuracy reached,
//! divergence, or the last step), the column holding its stopping step and every later column
//! hold its stopping state. A new quantity is one enum arm here (name, width, what it needs)
//! plus the one function that computes it (weight diagnostics in [`Diagnostics`], the rest in
//! the engine's step loop, which knows the losses and gradients).

use std::sync::atomic::AtomicBool;

use faer::{Mat, MatRef};

use crate::alloc::{checked_len, zeroed};
use crate::error::{Error, Result};
use crate::linalg::Products;
use crate::loss::{LossKind, Targets};
use crate::metrics::fisher::{self, FisherKind, FisherMethod, FisherSpec};
use crate::metrics::kernels::{balancedness_into, chain_product, frobenius, frobenius_distance, SingularValues};
use crate::metrics::power::{self, PowerIteration, PowerWork};
use crate::metrics::probe::{Params, Probe};
use crate::net::Network;
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
    /// λ_max of the true Fisher of the call's loss (the GGN for cross-entropy) over every
    /// trained parameter, at the inputs of `record_data`.
    FisherMaxEigenvalue,
    /// The same over the weights only (the biases held fixed).
    FisherMaxEigenvalueWeights,
    /// λ_max of the empirical Fisher at `record_data`'s inputs and targets.
    EmpiricalFisherMaxEigenvalue,
    /// ‖Θ(t) − Θ(0)‖_F / ‖Θ(0)‖_F, Θ the empirical NTK (weights and biases) at `record_data`'s
    /// inputs and Θ(0) at the parameters the call started from.
    NtkRelativeChange,
    /// max over `record_data`'s inputs of σ_max(∂f(x)/∂x), by power iteration.
    JacobianMaxSingularValue,
}

/// Every recordable name, in the order of the enum.
pub const NAMES: [&str; 16] = [
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
    "fisher_max_eigenvalue",
    "fisher_max_eigenvalue_weights",
    "empirical_fisher_max_eigenvalue",
    "ntk_relative_change",
    "jacobian_max_singular_value",
];

const ALL: [Quantity; 16] = [
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
    Quantity::FisherMaxEigenvalue,
    Quantity::FisherMaxEigenvalueWeights,
    Quantity::EmpiricalFisherMaxEigenvalue,
    Quantity::NtkRelativeChange,
    Quantity::JacobianMaxSingularValue,
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

    /// Diagnostics of the network function at the probe inputs of `record_data`.
    pub fn needs_record_data(self) -> bool {
        matches!(
            self,
            Quantity::FisherMaxEigenvalue
                | Quantity::FisherMaxEigenvalueWeights
                | Quantity::EmpiricalFisherMaxEigenvalue
                | Quantity::NtkRelativeChange
                | Quantity::JacobianMaxSingularValue
        )
    }

    /// Whether it also needs `record_data`'s targets.
    pub fn needs_record_targets(self) -> bool {
        self == Quantity::EmpiricalFisherMaxEigenvalue
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
    probe: Option<ProbeDiagnostics<T>>,
}

/// The probe set's data for one network: inputs (d_0 × n) and, when given, targets.
#[derive(Clone, Copy)]
pub struct ProbeData<'a, T> {
    pub x: &'a [T],
    pub targets: Option<Targets<'a, T>>,
}

/// Workspaces of the diagnostics at the probe inputs, for one worker: the network in the form
/// the metric functions evaluate it (blocked products, run in order), so a recorded value is
/// the metric function's at the same parameters.
struct ProbeDiagnostics<T: Real> {
    net: Network<T>,
    probe: Probe<T>,
    loss: LossKind,
    alpha: f64,
    power: Option<(PowerWork<T>, Vec<f64>)>,
    /// Θ(0) of the network being trained, taken at its first iterate.
    ntk0: Option<Mat<f64>>,
}

impl<T: Real> ProbeDiagnostics<T> {
    /// Workspaces for `n` probe inputs; a buffer that cannot be allocated is `OutOfMemory`
    /// naming "record_data", the argument that sized it.
    fn new(specs: &[RecordSpec], net: &Network<T>, n: usize, loss: LossKind, alpha: f64) -> Result<Self> {
        Self::allocate(specs, net, n, loss, alpha).map_err(|err| match err {
            Error::OutOfMemory { bytes, .. } => Error::OutOfMemory {
                arg: "record_data".to_string(),
                bytes,
            },
            other => other,
        })
    }

    fn allocate(specs: &[RecordSpec], net: &Network<T>, n: usize, loss: LossKind, alpha: f64) -> Result<Self> {
        let wants = |q: Quantity| specs.iter().any(|s| s.quantity == q);
        let net = Network {
            products: Products::Blocked { parallel: false },
            ..net.clone()
        };
        let power = if wants(Quantity::JacobianMaxSingularValue) {
            let settings = PowerIteration::new(None, power::DEFAULT_TOL)?;
            Some((PowerWork::new(settings, net.dims[0], n)?, zeroed("X", n)?))
        } else {
            None
        };
        Ok(ProbeDiagnostics {
            probe: Probe::new(&net, n)?,
            power,
            net,
            loss,
            alpha,
            ntk0: None,
        })
    }

    /// Quantity `q` of the network with parameters `params` at the probe data into `out[0]`;
    /// `start`: the call's first iterate (Θ(0) is taken there). A diagnostic that fails (no
    /// convergence, no memory) is NaN rather than stopping the network.
    fn record(
        &mut self,
        q: Quantity,
        params: &[T],
        data: ProbeData<'_, T>,
        start: bool,
        cancel: &AtomicBool,
        out: &mut [f64],
    ) {
        self.probe.evaluate(&self.net, params, data.x);
        let value = match q {
            Quantity::FisherMaxEigenvalue => self.fisher(FisherKind::True, Params::All, data, cancel),
            Quantity::FisherMaxEigenvalueWeights => self.fisher(FisherKind::True, Params::Weights, data, cancel),
            Quantity::EmpiricalFisherMaxEigenvalue => self.fisher(FisherKind::Empirical, Params::All, data, cancel),
            Quantity::NtkRelativeChange => self.ntk_change(data.x, start),
            Quantity::JacobianMaxSingularValue => {
                let (work, sigma) = self.power.as_mut().expect("allocated when recorded");
                power::max_singular_values(&mut self.probe, &self.net, data.x, self.alpha, work, sigma, cancel)
                    .map(|_| nan_max(sigma))
            }
            other => unreachable!("{other:?} is not a probe diagnostic"),
        };
        out[0] = value.unwrap_or(f64::NAN);
    }

    fn fisher(&mut self, kind: FisherKind, params: Params, data: ProbeData<'_, T>, cancel: &AtomicBool) -> Result<f64> {
        let spec = FisherSpec {
            loss: self.loss,
            kind,
            params,
            k: 1,
            method: FisherMethod::Auto,
        };
        let (x, y) = (data.x, data.targets);
        Ok(fisher::top_eigenvalues_of(&mut self.probe, &self.net, x, y, self.alpha, &spec, cancel)?[0])
    }

    fn ntk_change(&mut self, x: &[T], start: bool) -> Result<f64> {
        let theta = self.probe.ntk(&self.net, x, self.alpha, true)?;
        if start {
            self.ntk0 = Some(theta);
            let theta0 = self.ntk0.as_ref().expect("just set").as_ref();
            return Ok(frobenius_distance(theta0, theta0) / frobenius(theta0));
        }
        let theta0 = self
            .ntk0
            .as_ref()
            .expect("every quantity is recorded at the first iterate");
        Ok(frobenius_distance(theta.as_ref(), theta0.as_ref()) / frobenius(theta0.as_ref()))
    }
}

/// The largest value, NaN if any is NaN (f64::max would skip it); 0 for none.
fn nan_max(values: &[f64]) -> f64 {
    values.iter().fold(
        0.0,
        |m: f64, &v| if v.is_nan() || m.is_nan() { f64::NAN } else { m.max(v) },
    )
}

impl<T: Real> Diagnostics<T> {
    /// Workspaces for `specs`; `probe` is the call's network, the number of probe inputs and
    /// the loss, when `record_data` is given.
    pub fn new(
        specs: &[RecordSpec],
        dims: &[usize],
        alpha: f64,
        probe: Option<(&Network<T>, usize, LossKind)>,
    ) -> Result<Self> {
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
            probe: probe
                .map(|(net, n, loss)| ProbeDiagnostics::new(specs, net, n, loss, alpha))
                .transpose()?,
        })
    }

    /// Write probe diagnostic `q` (width 1) of the parameters `params` at `data` into `out`.
    pub fn probe(
        &mut self,
        q: Quantity,
        params: &[T],
        data: ProbeData<'_, T>,
        start: bool,
        cancel: &AtomicBool,
        out: &mut [f64],
    ) {
        let probe = self.probe.as_mut().expect("allocated when record_data is given");
        probe.record(q, params, data, start, cancel, out);
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
                    out[0] = nan_max(&self.gaps);
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
