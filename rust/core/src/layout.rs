//! The validated layout of a batch of networks, and the one validator of per-layer weight lists.

use faer::MatRef;

use crate::array::{shape_str, ArrayRef};
use crate::error::{Error, Result};
use crate::linalg::row_major;
use crate::scalar::Real;

/// A batch of `batch` networks with layer widths `dims` = [d_0, …, d_L]; layer j of every
/// network is a row-major (d_{j+1} × d_j) matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub batch: usize,
    /// [d_0, …, d_L]
    pub dims: Vec<usize>,
}

impl Layout {
    pub fn depth(&self) -> usize {
        self.dims.len() - 1
    }

    /// Entries of each layer, d_{j+1}·d_j.
    pub fn layer_sizes(&self) -> Vec<usize> {
        self.dims.windows(2).map(|w| w[0] * w[1]).collect()
    }

    /// Views of network b's layers.
    pub fn layers<'a, T: Real>(&self, weights: &[ArrayRef<'a, T>], b: usize) -> Vec<MatRef<'a, T>> {
        weights
            .iter()
            .enumerate()
            .map(|(j, w)| {
                let (d_out, d_in) = (self.dims[j + 1], self.dims[j]);
                let size = d_out * d_in;
                row_major(&w.data[b * size..(b + 1) * size], d_out, d_in)
            })
            .collect()
    }
}

/// Where each layer starts in a network's contiguous block: 0, d_1·d_0, … (L + 1 entries).
pub fn layer_offsets(dims: &[usize]) -> Vec<usize> {
    let mut offsets = vec![0];
    for w in dims.windows(2) {
        offsets.push(offsets.last().unwrap() + w[0] * w[1]);
    }
    offsets
}

/// Check a list of batched layers named `arg` (e.g. "weights", "w0"): 3-D, non-empty,
/// C-contiguous, one batch size, chaining widths.
pub fn check_weights<T>(arg: &str, weights: &[ArrayRef<'_, T>]) -> Result<Layout> {
    if weights.is_empty() {
        return Err(Error::invalid(arg, "needs at least one layer, got an empty list"));
    }
    let mut dims = Vec::with_capacity(weights.len() + 1);
    let mut batch = 0;
    for (j, w) in weights.iter().enumerate() {
        let name = format!("{arg}[{j}]");
        let [b, d_out, d_in] = match w.shape {
            &[b, d_out, d_in] => [b, d_out, d_in],
            _ => return Err(Error::shape(name, "(batch, d_out, d_in)", shape_str(w.shape))),
        };
        if b == 0 || d_out == 0 || d_in == 0 {
            return Err(Error::invalid(
                name,
                format!("has an empty dimension: shape {}", shape_str(w.shape)),
            ));
        }
        if Some(w.data.len()) != b.checked_mul(d_out).and_then(|v| v.checked_mul(d_in)) {
            return Err(Error::shape(
                name,
                "a C-contiguous array",
                format!("{} elements", w.data.len()),
            ));
        }
        if j == 0 {
            batch = b;
            dims.push(d_in);
        } else if b != batch {
            return Err(Error::shape(
                name,
                format!("batch size {batch} (as {arg}[0])"),
                shape_str(w.shape),
            ));
        } else if d_in != dims[j] {
            return Err(Error::shape(
                name,
                format!(
                    "(batch, d_out, {}) to chain with {arg}[{}] of shape {}",
                    dims[j],
                    j - 1,
                    shape_str(weights[j - 1].shape)
                ),
                shape_str(w.shape),
            ));
        }
        dims.push(d_out);
    }
    Ok(Layout { batch, dims })
}

/// Check a per-network or shared matrix argument `arg`: (rows, cols) shared by the batch or
/// (batch, rows, cols) stacked, with `rows`/`cols` fixed when given and no empty dimension.
/// Returns (shared, rows, cols).
pub fn check_matrix<T>(
    arg: &str,
    a: ArrayRef<'_, T>,
    batch: usize,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<(bool, usize, usize)> {
    let want = || {
        let r = rows.map_or("rows".to_string(), |v| v.to_string());
        let c = cols.map_or("n".to_string(), |v| v.to_string());
        format!("({r}, {c}) or ({batch}, {r}, {c})")
    };
    let (shared, r, c) = match *a.shape {
        [r, c] => (true, r, c),
        [b, r, c] if b == batch => (false, r, c),
        [_, _, _] => {
            return Err(Error::shape(
                arg,
                format!("{}: batch size {batch} as the weights", want()),
                shape_str(a.shape),
            ))
        }
        _ => return Err(Error::shape(arg, want(), shape_str(a.shape))),
    };
    if rows.is_some_and(|v| v != r) || cols.is_some_and(|v| v != c) {
        return Err(Error::shape(arg, want(), shape_str(a.shape)));
    }
    if r == 0 || c == 0 {
        return Err(Error::invalid(
            arg,
            format!("has an empty dimension: shape {}", shape_str(a.shape)),
        ));
    }
    let count = if shared { 1 } else { batch };
    if Some(a.data.len()) != count.checked_mul(r).and_then(|v| v.checked_mul(c)) {
        return Err(Error::shape(
            arg,
            "a C-contiguous array",
            format!("{} elements", a.data.len()),
        ));
    }
    Ok((shared, r, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_must_chain_and_share_a_batch() {
        let data = vec![0.0f64; 2 * 3 * 4 + 2 * 5 * 3];
        let (a, b) = data.split_at(24);
        let ok = check_weights(
            "w",
            &[
                ArrayRef {
                    data: a,
                    shape: &[2, 3, 4],
                },
                ArrayRef {
                    data: b,
                    shape: &[2, 5, 3],
                },
            ],
        )
        .unwrap();
        assert_eq!(
            ok,
            Layout {
                batch: 2,
                dims: vec![4, 3, 5]
            }
        );
        let broken = check_weights(
            "w",
            &[
                ArrayRef {
                    data: a,
                    shape: &[2, 3, 4],
                },
                ArrayRef {
                    data: b,
                    shape: &[2, 3, 5],
                },
            ],
        );
        assert!(matches!(broken, Err(Error::Shape { ref arg, .. }) if arg == "w[1]"));
        assert!(check_weights::<f64>("w", &[]).is_err());
    }

    #[test]
    fn matrices_are_shared_or_stacked() {
        let data = vec![0.0f64; 12];
        assert_eq!(
            check_matrix(
                "X",
                ArrayRef {
                    data: &data,
                    shape: &[3, 4]
                },
                7,
                Some(3),
                None
            )
            .unwrap(),
            (true, 3, 4)
        );
        assert_eq!(
            check_matrix(
                "X",
                ArrayRef {
                    data: &data,
                    shape: &[2, 3, 2]
                },
                2,
                Some(3),
                None
            )
            .unwrap(),
            (false, 3, 2)
        );
        assert!(check_matrix(
            "X",
            ArrayRef {
                data: &data,
                shape: &[3, 2, 2]
            },
            2,
            None,
            None
        )
        .is_err());
        assert!(check_matrix(
            "X",
            ArrayRef {
                data: &data,
                shape: &[4, 3]
            },
            2,
            Some(3),
            None
        )
        .is_err());
    }
}
