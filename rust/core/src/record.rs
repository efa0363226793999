//! Diagnostics recorded inside the training loop (`train(..., record=[...])`), every
//! `record_every` steps, with no round trip to Python.
//!
//! Each network writes one row of f64 per recorded column: the chosen quantities back to back
//! in the order requested. After training the rows are split into one (B, records, width)
//! array per quantity. The loss is always recorded by the engine itself and is not listed here.

use faer::MatRef;

use crate::array::Batched;
use crate::error::{Error, Result};
use crate::metrics::kernels::{balancedness_into, chain_product, SingularValues};
use crate::scalar::Real;

/// A diagnostic that can be recorded during training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F (0 for a single layer): width 1.
    Balancedness,
    /// The L−1 per-layer gaps.
    BalancednessPerLayer,
    /// Singular values of α·W_{L:1}, non-increasing: width min(d_0, d_L).
    SingularValues,
    /// ‖∂ℓ/∂W_j‖_F for every layer at the recorded iterate: width L.
    GradNorms,
}

/// The names `train(record=...)` accepts; "loss" is always recorded.
pub const NAMES: [&str; 5] = [
    "loss",
    "balancedness",
    "balancedness_per_layer",
    "singular_values",
    "grad_norms",
];

impl Quantity {
    /// Parse a name; `Ok(None)` for "loss", which the engine records anyway.
    pub fn parse(name: &str) -> Result<Option<Self>> {
        match name {
            "loss" => Ok(None),
            "balancedness" => Ok(Some(Quantity::Balancedness)),
            "balancedness_per_layer" => Ok(Some(Quantity::BalancednessPerLayer)),
            "singular_values" => Ok(Some(Quantity::SingularValues)),
            "grad_norms" => Ok(Some(Quantity::GradNorms)),
            other => Err(Error::invalid(
                "record",
                format!("unknown quantity {other:?}; expected some of {NAMES:?}"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Quantity::Balancedness => "balancedness",
            Quantity::BalancednessPerLayer => "balancedness_per_layer",
            Quantity::SingularValues => "singular_values",
            Quantity::GradNorms => "grad_norms",
        }
    }

    /// Entries per recorded column.
    pub fn width(self, dims: &[usize]) -> usize {
        let depth = dims.len() - 1;
        match self {
            Quantity::Balancedness => 1,
            Quantity::BalancednessPerLayer => depth - 1,
            Quantity::SingularValues => dims[0].min(dims[depth]),
            Quantity::GradNorms => depth,
        }
    }
}

/// Entries per recorded column for all `quantities`.
pub fn row_width(quantities: &[Quantity], dims: &[usize]) -> usize {
    quantities.iter().map(|q| q.width(dims)).sum()
}

/// Split the per-network rows (B × records × row_width) into one array per quantity, shaped
/// (B, records) for scalars and (B, records, width) otherwise.
pub fn split(
    quantities: &[Quantity],
    dims: &[usize],
    batch: usize,
    records: usize,
    rows: &[f64],
) -> Vec<(Quantity, Batched)> {
    let width = row_width(quantities, dims);
    let mut offset = 0;
    quantities
        .iter()
        .map(|&q| {
            let w = q.width(dims);
            let mut data = Vec::with_capacity(batch * records * w);
            for row in rows.chunks(width.max(1)).take(batch * records) {
                data.extend_from_slice(&row[offset..offset + w]);
            }
            offset += w;
            let shape = if q == Quantity::Balancedness {
                vec![batch, records]
            } else {
                vec![batch, records, w]
            };
            (q, Batched { data, shape })
        })
        .collect()
}

/// One network's recorder: workspaces for the weight-only diagnostics, allocated once.
pub struct Recorder<T: Real> {
    quantities: Vec<Quantity>,
    dims: Vec<usize>,
    alpha: f64,
    gaps: Vec<f64>,
    gram: Vec<T>,
    svd: SingularValues<T>,
}

impl<T: Real> Recorder<T> {
    pub fn new(quantities: &[Quantity], dims: &[usize], alpha: f64) -> Self {
        let depth = dims.len() - 1;
        let max_d = *dims.iter().max().unwrap();
        let wants_gram = quantities
            .iter()
            .any(|q| matches!(q, Quantity::Balancedness | Quantity::BalancednessPerLayer));
        Recorder {
            quantities: quantities.to_vec(),
            dims: dims.to_vec(),
            alpha,
            gaps: vec![0.0; depth.saturating_sub(1)],
            gram: vec![T::from_f64(0.0); if wants_gram { max_d * max_d } else { 0 }],
            svd: SingularValues::new(dims[depth], dims[0]),
        }
    }

    pub fn wants_grad_norms(&self) -> bool {
        self.quantities.contains(&Quantity::GradNorms)
    }

    pub fn wants_end_to_end(&self) -> bool {
        self.quantities.contains(&Quantity::SingularValues)
    }

    /// Write the weight-only diagnostics of `layers` into `row`. `end_to_end` is W_{L:1} when
    /// the caller already has it (the last activation when X = I); otherwise it is formed here.
    pub fn record_weights(&mut self, layers: &[MatRef<'_, T>], end_to_end: Option<MatRef<'_, T>>, row: &mut [f64]) {
        let mut offset = 0;
        let mut gaps_done = false;
        for &q in &self.quantities {
            let w = q.width(&self.dims);
            let out = &mut row[offset..offset + w];
            match q {
                Quantity::Balancedness | Quantity::BalancednessPerLayer => {
                    if !gaps_done {
                        balancedness_into(layers, &mut self.gram, &mut self.gaps);
                        gaps_done = true;
                    }
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
                    // An SVD that fails to converge on finite input is recorded as NaN rather
                    // than aborting the whole batch.
                    if self.svd.compute(product, self.alpha, out).is_err() {
                        out.fill(f64::NAN);
                    }
                }
                Quantity::GradNorms => {}
            }
            offset += w;
        }
    }

    /// The slot of `row` that holds the per-layer gradient norms, if recorded.
    pub fn grad_norms_slot<'r>(&self, row: &'r mut [f64]) -> Option<&'r mut [f64]> {
        let mut offset = 0;
        for &q in &self.quantities {
            let w = q.width(&self.dims);
            if q == Quantity::GradNorms {
                return Some(&mut row[offset..offset + w]);
            }
            offset += w;
        }
        None
    }
}
