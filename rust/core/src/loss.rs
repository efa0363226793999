//! The losses a step can minimise, with their output signal and accuracy.
//!
//! Outputs are the network's last pre-activation z_L (d_L × m, row-major, one column per
//! example); the network's output is f = α·z_L.
//!
//! - `mse`: ½‖f_i − y_i‖² per example (the default reduction sums them).
//! - `cross_entropy`: integer labels y_i ∈ {0, …, d_L − 1}, −log softmax(f_i)_{y_i} per example
//!   (the default reduction averages them), evaluated with the max shift
//!   log Σ_a exp f_a = max f + log Σ_a exp(f_a − max f) so that no logit overflows.
//!
//! Accuracy is the fraction of examples whose argmax_a f_{a,i} equals the label (or, for MSE,
//! argmax_a Y_{a,i} of a one-hot target). Ties go to the first index and NaN counts as the
//! largest value, as in NumPy's argmax. Losses are summed in f64 whatever the precision.

use crate::array::{shape_str, ArrayRef};
use crate::error::{Error, Result};
use crate::layout::{check_matrix, Layout};
use crate::scalar::Real;

/// Which loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    Mse,
    CrossEntropy,
}

/// How the per-example losses of a batch are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
}

/// A loss and its reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loss {
    pub kind: LossKind,
    pub reduction: Reduction,
}

impl Default for Loss {
    fn default() -> Self {
        Loss {
            kind: LossKind::Mse,
            reduction: Reduction::Sum,
        }
    }
}

impl Loss {
    /// `loss` is "mse" or "cross_entropy"; `reduction` "sum", "mean", or None for the loss's
    /// default (mse: sum, cross_entropy: mean).
    pub fn parse(loss: &str, reduction: Option<&str>) -> Result<Self> {
        let kind = match loss {
            "mse" => LossKind::Mse,
            "cross_entropy" => LossKind::CrossEntropy,
            other => {
                return Err(Error::invalid(
                    "loss",
                    format!("expected 'mse' or 'cross_entropy', got {other:?}"),
                ))
            }
        };
        let reduction = match reduction {
            None if kind == LossKind::Mse => Reduction::Sum,
            None => Reduction::Mean,
            Some("sum") => Reduction::Sum,
            Some("mean") => Reduction::Mean,
            Some(other) => {
                return Err(Error::invalid(
                    "reduction",
                    format!("expected None, 'sum' or 'mean', got {other:?}"),
                ))
            }
        };
        Ok(Loss { kind, reduction })
    }

    /// The factor applied to the summed per-example losses of `examples` examples.
    pub fn scale(&self, examples: usize) -> f64 {
        match self.reduction {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / examples as f64,
        }
    }
}

/// The targets of m examples: values (d_L × m, row-major) for MSE, labels (m) for cross-entropy.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, T> {
    Values(&'a [T]),
    Labels(&'a [i64]),
}

/// Targets of a data set: values (d_L, n) for MSE, integer class labels (n,) for
/// cross-entropy; either shared by the batch or stacked per network.
#[derive(Clone, Copy, Debug)]
pub enum TargetArray<'a, T> {
    Values(ArrayRef<'a, T>),
    Labels(ArrayRef<'a, i64>),
}

/// A validated [`TargetArray`]'s data (shared by the batch or stacked).
#[derive(Clone, Copy)]
pub enum TargetSlice<'a, T> {
    Values(&'a [T]),
    Labels(&'a [i64]),
}

/// Check the targets `y` (named `arg`) of a data set of `n` examples for `loss`: MSE values
/// (d_L, n) or (batch, d_L, n); cross-entropy labels (n,) or (batch, n) in [0, d_L). Returns
/// their data and whether they are shared by the batch.
pub fn check_targets<'a, T>(
    arg: &str,
    y: TargetArray<'a, T>,
    loss: LossKind,
    layout: &Layout,
    n: usize,
) -> Result<(TargetSlice<'a, T>, bool)> {
    let (batch, d_l) = (layout.batch, layout.dims[layout.depth()]);
    match (loss, y) {
        (LossKind::Mse, TargetArray::Values(y)) => {
            let (shared, _, cols) = check_matrix(arg, y, batch, Some(d_l), None)?;
            if cols != n {
                return Err(Error::shape(arg, format!("{n} columns, as X"), shape_str(y.shape)));
            }
            Ok((TargetSlice::Values(y.data), shared))
        }
        (LossKind::CrossEntropy, TargetArray::Labels(y)) => {
            let shared = match *y.shape {
                [c] if c == n => true,
                [b, c] if b == batch && c == n => false,
                _ => {
                    return Err(Error::shape(
                        arg,
                        format!("integer labels ({n},) or ({batch}, {n}), one per column of X"),
                        shape_str(y.shape),
                    ))
                }
            };
            if let Some(&bad) = y.data.iter().find(|&&v| v < 0 || v as u64 >= d_l as u64) {
                return Err(Error::invalid(
                    arg,
                    format!("class labels must be in [0, {d_l}) (d_L = {d_l} outputs), got {bad}"),
                ));
            }
            Ok((TargetSlice::Labels(y.data), shared))
        }
        (LossKind::Mse, TargetArray::Labels(_)) => Err(Error::invalid(
            arg,
            "loss='mse' needs float targets (d_L, n), got integer labels",
        )),
        (LossKind::CrossEntropy, TargetArray::Values(_)) => Err(Error::invalid(
            arg,
            "loss='cross_entropy' needs integer class labels (n,), got float targets",
        )),
    }
}

/// Per-example sums over a set of examples: the unscaled loss and the number classified right.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub loss: f64,
    pub correct: usize,
}

/// Index of the largest of `len` values `value(a)`, NumPy's way (first maximum; NaN wins).
#[inline]
fn argmax<T: Real>(len: usize, value: impl Fn(usize) -> T) -> usize {
    let mut best = 0;
    let mut top = value(0);
    if top.to_f64().is_nan() {
        return 0;
    }
    for a in 1..len {
        let v = value(a);
        if v.to_f64().is_nan() {
            return a;
        }
        if v > top {
            (best, top) = (a, v);
        }
    }
    best
}

/// Evaluate outputs `z` (d_L × m, so m = z.len() / d_L) against `targets`: the summed per-example losses and, when
/// `count_correct`, the number of examples classified right. With `signal = Some((g, c))`
/// also writes g = ∂ℓ/∂z_L for the loss c·Σ_i ℓ_i (c: the reduction's factor times α, so that
/// the chain rule through f = α z_L is included).
pub fn evaluate<T: Real>(
    kind: LossKind,
    z: &[T],
    d_l: usize,
    targets: Targets<'_, T>,
    alpha: T,
    signal: Option<(&mut [T], T)>,
    count_correct: bool,
) -> Tally {
    let m = z.len() / d_l;
    let mut tally = Tally::default();
    match (kind, targets) {
        (LossKind::Mse, Targets::Values(y)) => {
            let z = &z[..d_l * m];
            let y = &y[..d_l * m];
            let mut sum = 0.0;
            match signal {
                Some((g, c)) => {
                    for ((g, &h), &y) in g[..d_l * m].iter_mut().zip(z).zip(y) {
                        let e = alpha * h - y;
                        sum += e.to_f64() * e.to_f64();
                        *g = c * e;
                    }
                }
                None => {
                    for (&h, &y) in z.iter().zip(y) {
                        let e = (alpha * h - y).to_f64();
                        sum += e * e;
                    }
                }
            }
            tally.loss = 0.5 * sum;
            if count_correct {
                tally.correct = (0..m)
                    .filter(|&i| argmax(d_l, |a| alpha * z[a * m + i]) == argmax(d_l, |a| y[a * m + i]))
                    .count();
            }
        }
        (LossKind::CrossEntropy, Targets::Labels(labels)) => {
            let mut g = signal;
            for (i, &label) in labels[..m].iter().enumerate() {
                let f = |a: usize| (alpha * z[a * m + i]).to_f64();
                // NaN-propagating max (f64::max would skip a NaN logit).
                let top = (0..d_l)
                    .map(f)
                    .fold(f64::NEG_INFINITY, |t, v| if v > t || v.is_nan() { v } else { t });
                let total: f64 = (0..d_l).map(|a| (f(a) - top).exp()).sum();
                let label = label as usize;
                tally.loss += top + total.ln() - f(label);
                if let Some((g, c)) = g.as_mut() {
                    for a in 0..d_l {
                        let p = (f(a) - top).exp() / total;
                        let target = if a == label { 1.0 } else { 0.0 };
                        g[a * m + i] = *c * T::from_f64(p - target);
                    }
                }
                if count_correct && argmax(d_l, |a| alpha * z[a * m + i]) == label {
                    tally.correct += 1;
                }
            }
        }
        _ => unreachable!("targets are validated to match the loss"),
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ce(z: &[f64], d_l: usize, labels: &[i64], alpha: f64) -> (Tally, Vec<f64>) {
        let m = labels.len();
        let mut g = vec![0.0; d_l * m];
        let t = evaluate(
            LossKind::CrossEntropy,
            z,
            d_l,
            Targets::Labels(labels),
            alpha,
            Some((&mut g, alpha)),
            true,
        );
        (t, g)
    }

    #[test]
    fn cross_entropy_gradient_matches_central_differences() {
        let (d_l, m) = (4, 3);
        let z: Vec<f64> = (0..d_l * m).map(|k| ((k * 37 % 11) as f64 - 5.0) * 0.3).collect();
        let labels = [2, 0, 3];
        let (t, g) = ce(&z, d_l, &labels, 1.7);
        for k in 0..z.len() {
            let h = 1e-6;
            let mut up = z.clone();
            up[k] += h;
            let mut down = z.clone();
            down[k] -= h;
            let fd = (ce(&up, d_l, &labels, 1.7).0.loss - ce(&down, d_l, &labels, 1.7).0.loss) / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-7, "entry {k}: {fd} vs {}", g[k]);
        }
        assert!(t.loss > 0.0 && t.correct <= m);
    }

    #[test]
    fn huge_logits_stay_finite() {
        let z = [1e4, -1e4, 3.0, 1e4 - 1.0, -1e4, 0.0];
        let (t, g) = ce(&z, 3, &[1, 2], 1.0);
        assert!(t.loss.is_finite() && g.iter().all(|v| v.is_finite()));
        // Column 0: logits (1e4, 3, −1e4), label 1: 1e4 − 3. Column 1: (−1e4, 1e4 − 1, 0),
        // label 2: 1e4 − 1. The other terms of the log-sum-exp are below f64's resolution.
        assert_eq!(t.loss, (1e4 - 3.0) + (1e4 - 1.0));
    }

    #[test]
    fn argmax_follows_numpy() {
        let v = [1.0, 3.0, 3.0, f64::NAN, 5.0];
        assert_eq!(argmax(3, |a| v[a]), 1);
        assert_eq!(argmax(5, |a| v[a]), 3);
    }
}
