//! What a training call is asked to do: its inputs and its options.

use crate::array::ArrayRef;
use crate::loss::{Loss, TargetArray};
use crate::net::Form;
use crate::optim::{GroupValues, LrSchedule, Manifold, Optimizer};
use crate::record::RecordSpec;
use crate::rng::Seeds;

/// The arrays of a call, borrowed: weights[j] is (B, d_{j+1}, d_j); `biases` is empty or one
/// entry per layer ((B, d_{j+1}) or None); X is (d_0, n) or (B, d_0, n), None for I_{d_0}.
#[derive(Clone, Debug)]
pub struct Problem<'a, T> {
    pub weights: Vec<ArrayRef<'a, T>>,
    pub biases: Vec<Option<ArrayRef<'a, T>>>,
    pub x: Option<ArrayRef<'a, T>>,
    pub y: TargetArray<'a, T>,
    /// Held-out data (X_test, Y_test), shaped like X and Y.
    pub eval: Option<(ArrayRef<'a, T>, TargetArray<'a, T>)>,
    /// The probe set of the diagnostics of the network function (X_probe shaped like X, and
    /// targets shaped like Y, needed by the empirical Fisher only).
    pub record_data: Option<(ArrayRef<'a, T>, Option<TargetArray<'a, T>>)>,
}

/// Hyper-parameters and options of a call. `TrainOptions::new` gives today's defaults:
/// full-batch gradient descent on the MSE of a linear chain, Euclidean, nothing recorded but
/// the loss.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The learning rate of every parameter group (see `optim::rates`).
    pub lr: GroupValues,
    /// The factor f(t) of every group's rate at the 0-based update count t.
    pub lr_schedule: LrSchedule,
    /// Weight decay λ per group (None: none): coupled (λ·p added to the gradient), or
    /// decoupled with AdamW.
    pub weight_decay: Option<GroupValues>,
    pub steps: usize,
    pub alpha: f64,
    /// Stop a network once its step loss is ≤ tol.
    pub tol: Option<f64>,
    /// Stop a network once its step accuracy is ≥ this (in (0, 1]).
    pub target_accuracy: Option<f64>,
    /// Interval of the loss record (and the default of every other quantity).
    pub record_every: usize,
    pub threads: Option<usize>,
    /// Quantities recorded besides the loss, each with its interval.
    pub record: Vec<RecordSpec>,
    pub form: Form,
    pub loss: Loss,
    pub optimizer: Optimizer,
    /// Empty: all Euclidean; one entry: every layer; else one per layer.
    pub manifold: Vec<Manifold>,
    /// Train a scalar scale of each manifold layer (W = s·Q).
    pub learn_scale: bool,
    /// ω of the penalty ω·‖QQᵀ − I‖²_F of each Oblique layer (QᵀQ when tall); 0: none.
    pub oblique_penalty: f64,
    /// None: full batch.
    pub batch_size: Option<usize>,
    /// The data streams of the mini-batch schedule; None with a state: the state's.
    pub data_seed: Option<Seeds>,
}

impl TrainOptions {
    pub fn new(lr: impl Into<GroupValues>, steps: usize) -> Self {
        TrainOptions {
            lr: lr.into(),
            lr_schedule: LrSchedule::Constant,
            weight_decay: None,
            steps,
            alpha: 1.0,
            tol: None,
            target_accuracy: None,
            record_every: 1,
            threads: None,
            record: Vec::new(),
            form: Form::default(),
            loss: Loss::default(),
            optimizer: Optimizer::Gd,
            manifold: Vec::new(),
            learn_scale: false,
            oblique_penalty: 0.0,
            batch_size: None,
            data_seed: None,
        }
    }
}
