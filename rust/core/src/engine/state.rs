//! The optimiser state that chains calls: per-network step counts (the data schedule's
//! position and Adam's t), data streams, manifold scales and the rule's buffers.
//!
//! A call returns its state; passing it back to the next call continues the training exactly
//! where it stopped, so chained calls equal one long call bit for bit.

use crate::array::{shape_str, Array, ArrayRef};
use crate::error::{Error, Result};

/// The state after a call (owned; moved out to NumPy).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState<T> {
    /// The optimiser's name ("gd", "sgd", "adam").
    pub optimizer: &'static str,
    /// (B,) updates done so far by each network.
    pub steps: Vec<i64>,
    /// (B, 2): each network's data stream (seed, stream) of the mini-batch schedule.
    pub data_seeds: Vec<u64>,
    /// The schedule the state belongs to: mini-batch size (None: full batch) and examples n.
    pub batch_size: Option<usize>,
    pub n: usize,
    /// (B, L) scale s of each manifold layer (W = s·Q; NaN for Euclidean layers); None without
    /// any.
    pub scales: Option<Array<T>>,
    /// The rule's buffers, named "<slot>:weights[j]", "<slot>:biases[j]", "<slot>:scales".
    pub slots: Vec<(String, Array<T>)>,
}

/// A state passed back in, borrowed (never modified).
#[derive(Clone, Debug)]
pub struct StateRef<'a, T> {
    pub optimizer: &'a str,
    pub steps: &'a [i64],
    pub data_seeds: &'a [u64],
    pub batch_size: Option<usize>,
    pub n: usize,
    pub scales: Option<ArrayRef<'a, T>>,
    pub slots: Vec<ArrayRef<'a, T>>,
}

/// What the call expects of a state: each check's failure is an error naming `state`.
pub(super) struct Expected<'e> {
    pub optimizer: &'static str,
    pub batch: usize,
    pub batch_size: Option<usize>,
    pub n: usize,
    /// (B, L) when some layer is on a manifold.
    pub scales: Option<[usize; 2]>,
    /// Shape of every slot buffer, in order.
    pub slots: &'e [Vec<usize>],
}

fn mismatch(what: &str, expected: impl std::fmt::Display, got: impl std::fmt::Display) -> Error {
    Error::invalid(
        "state",
        format!("does not fit this call: {what} is {got} in the state but {expected} here"),
    )
}

impl<T> StateRef<'_, T> {
    pub(super) fn check(&self, want: &Expected<'_>) -> Result<()> {
        if self.optimizer != want.optimizer {
            return Err(mismatch(
                "the optimizer",
                format!("{:?}", want.optimizer),
                format!("{:?}", self.optimizer),
            ));
        }
        if self.steps.len() != want.batch || self.data_seeds.len() != 2 * want.batch {
            return Err(mismatch("the number of networks", want.batch, self.steps.len()));
        }
        if let Some(s) = self.steps.iter().find(|&&s| s < 0) {
            return Err(Error::invalid("state", format!("step counts must be >= 0, got {s}")));
        }
        if self.batch_size != want.batch_size {
            let show = |b: Option<usize>| b.map_or("None (full batch)".to_string(), |b| b.to_string());
            return Err(mismatch("batch_size", show(want.batch_size), show(self.batch_size)));
        }
        if self.n != want.n {
            return Err(mismatch("the number of training examples", want.n, self.n));
        }
        match (want.scales, self.scales) {
            (None, None) => {}
            (Some(shape), Some(s)) if s.shape == shape && s.data.len() == shape[0] * shape[1] => {}
            (want_scales, got) => {
                return Err(mismatch(
                    "the manifold scales",
                    want_scales.map_or("none (no manifold layer)".to_string(), |s| shape_str(&s)),
                    got.map_or("none".to_string(), |s| shape_str(s.shape)),
                ))
            }
        }
        if self.slots.len() != want.slots.len() {
            return Err(mismatch(
                "the number of optimiser buffers",
                want.slots.len(),
                self.slots.len(),
            ));
        }
        for (i, (got, shape)) in self.slots.iter().zip(want.slots).enumerate() {
            if got.shape != shape.as_slice() || got.data.len() != shape.iter().product::<usize>() {
                return Err(mismatch(
                    &format!("optimiser buffer {i}'s shape"),
                    shape_str(shape),
                    shape_str(got.shape),
                ));
            }
        }
        Ok(())
    }
}
