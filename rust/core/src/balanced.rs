//! Arora et al.'s balanced initialisation (Procedure 1, docs/science.md, Initialisation schemes).
//!
//! From an end-to-end matrix A (d_L × d_0) with thin SVD A = U Σ Vᵀ, k = min(d_0, d_L):
//! W_1 = Σ^{1/L} Vᵀ, W_j = Σ^{1/L} for 1 < j < L, W_L = U Σ^{1/L}, each zero-padded to its shape.
//! Then W_{L:1} = A and W_{j+1}ᵀW_{j+1} = W_jW_jᵀ (0-balanced). With `randomize`, a Haar
//! O_j ∈ O(d_j) is put between layers j and j+1 (W_j ← O_j W_j, W_{j+1} ← W_{j+1} O_jᵀ), which
//! keeps both properties and makes the hidden layers rotation-invariant in distribution.

use faer::diag::Diag;
use faer::dyn_stack::MemStack;
use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
use faer::{Accum, MatRef, Par};
use rand::rngs::ChaCha8Rng;

use crate::alloc;
use crate::error::{Error, Result};
use crate::haar::HaarSampler;
use crate::linalg::{gemm, row_major, row_major_mut};
use crate::scalar::Real;

/// Check that every hidden width is at least min(d_0, d_L), which Procedure 1 needs.
pub fn check_balanced_dims(dims: &[usize]) -> Result<()> {
    let depth = dims.len() - 1;
    let k = dims[0].min(dims[depth]);
    if let Some(j) = (1..depth).find(|&j| dims[j] < k) {
        return Err(Error::invalid(
            "dims",
            format!(
                "balanced initialisation needs every hidden width >= min(d_0, d_L) = {k}, \
                 got dims[{j}] = {} in {dims:?}",
                dims[j]
            ),
        ));
    }
    Ok(())
}

/// Bytes of f64 scratch [`balanced_factors`] needs for one network, about: the factors, a few
/// copies of the end-to-end matrix and its SVD, and a Haar rotation of the widest hidden layer
/// with its sampler.
pub fn scratch_bytes(dims: &[usize]) -> u128 {
    let wide = |a: usize, b: usize| a as u128 * b as u128;
    let layers: u128 = dims.windows(2).map(|w| wide(w[0], w[1])).sum();
    let widest = dims.windows(2).map(|w| wide(w[0], w[1])).max().unwrap_or(0);
    let (d_x, d_y) = (dims[0], dims[dims.len() - 1]);
    let hidden = dims[1..dims.len() - 1].iter().map(|&m| wide(m, m)).max().unwrap_or(0);
    8 * (layers + widest + 6 * wide(d_x, d_y) + 4 * hidden)
}

/// `f` of every value, into a fallibly allocated f64 buffer.
fn mapped<S: Copy>(values: &[S], f: impl Fn(S) -> f64) -> Result<Vec<f64>> {
    let mut out = alloc::zeroed::<f64>("dims", values.len())?;
    for (o, &v) in out.iter_mut().zip(values) {
        *o = f(v);
    }
    Ok(out)
}

/// Write the balanced factors of the row-major `a` (d_L × d_0) into `layers` (layer j row-major
/// d_{j+1} × d_j). With `rotations`, Haar rotations are drawn from it, layer by layer.
///
/// Computed in f64 whatever `T` (one SVD per network, negligible next to training), so that
/// float32 factors are the correctly rounded f64 ones.
pub fn balanced_factors<T: Real>(
    a: &[T],
    dims: &[usize],
    rotations: Option<&mut ChaCha8Rng>,
    layers: &mut [&mut [T]],
) -> Result<()> {
    let depth = dims.len() - 1;
    let (d_x, d_y) = (dims[0], dims[depth]);
    let k = d_x.min(d_y);
    // Sizes were checked by the caller; only the allocations can still fail.
    let a64 = mapped(a, |v| v.to_f64())?;
    let mut ws = dims
        .windows(2)
        .map(|w| alloc::zeroed::<f64>("dims", w[0] * w[1]))
        .collect::<Result<Vec<_>>>()?;
    if depth == 1 {
        // W_1 = U Σ Vᵀ = A exactly; no SVD round trip.
        ws[0].copy_from_slice(&a64);
    } else {
        // Factor A/c with c = max|A_ij| (no overflow or underflow inside the SVD for any finite
        // A), then put c^{1/L} back into each factor.
        let c = a64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let unit = mapped(&a64, |v| if c > 0.0 { v / c } else { v })?;
        let am = row_major(&unit, d_y, d_x);
        let mut s = Diag::<f64>::zeros(k);
        let mut u = alloc::mat_zeros::<f64>("dims", d_y, k)?;
        let mut v = alloc::mat_zeros::<f64>("dims", d_x, k)?;
        let thin = ComputeSvdVectors::Thin;
        // Sequential: networks already run in parallel, and a fixed order keeps results
        // independent of the thread count.
        let req = svd_scratch::<f64>(d_y, d_x, thin, thin, Par::Seq, Default::default());
        let mut mem = alloc::mem_buffer("dims", req)?;
        svd(
            am,
            s.as_mut(),
            Some(u.as_mut()),
            Some(v.as_mut()),
            Par::Seq,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|_| Error::invalid("product", "the SVD of the end-to-end matrix did not converge"))?;
        let c_root = if c > 0.0 { c.powf(1.0 / depth as f64) } else { 0.0 };
        let root: Vec<f64> = s
            .column_vector()
            .iter()
            .map(|&x| c_root * x.max(0.0).powf(1.0 / depth as f64))
            .collect();
        // W_1 = Σ^{1/L} Vᵀ in the top k rows.
        for r in 0..k {
            for c in 0..d_x {
                ws[0][r * d_x + c] = root[r] * v[(c, r)];
            }
        }
        // Middle layers: Σ^{1/L} in the top-left k × k block.
        for (j, w) in ws.iter_mut().enumerate().take(depth - 1).skip(1) {
            let cols = dims[j];
            for (r, &x) in root.iter().enumerate() {
                w[r * cols + r] = x;
            }
        }
        // W_L = U Σ^{1/L} in the first k columns.
        let cols = dims[depth - 1];
        for r in 0..d_y {
            for (c, &x) in root.iter().enumerate() {
                ws[depth - 1][r * cols + c] = u[(r, c)] * x;
            }
        }
    }
    if let Some(rng) = rotations {
        // With the capacity of the largest layer, refilling it below never reallocates.
        let mut scratch = alloc::with_capacity::<f64>("dims", ws.iter().map(Vec::len).max().unwrap_or(0))?;
        for j in 1..depth {
            let m = dims[j];
            let mut o = alloc::zeroed::<f64>("dims", m * m)?;
            HaarSampler::<f64>::try_new("dims", m, m)?.sample_into(rng, 1.0, &mut o);
            let om = row_major(&o, m, m);
            // W_j ← O_j W_j (layer index j−1, shape d_j × d_{j−1}).
            let (rows, cols) = (dims[j], dims[j - 1]);
            scratch.clear();
            scratch.extend_from_slice(&ws[j - 1]);
            gemm(
                row_major_mut(&mut ws[j - 1], rows, cols),
                Accum::Replace,
                om,
                row_major(&scratch, rows, cols),
                1.0,
            );
            // W_{j+1} ← W_{j+1} O_jᵀ (shape d_{j+1} × d_j).
            let (rows, cols) = (dims[j + 1], dims[j]);
            scratch.clear();
            scratch.extend_from_slice(&ws[j]);
            gemm(
                row_major_mut(&mut ws[j], rows, cols),
                Accum::Replace,
                row_major(&scratch, rows, cols),
                om.transpose(),
                1.0,
            );
        }
    }
    for (out, w) in layers.iter_mut().zip(&ws) {
        for (o, &x) in out.iter_mut().zip(w) {
            *o = T::from_f64(x);
        }
    }
    Ok(())
}

/// Balancedness max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F of one network (row-major layers), in f64.
pub fn balancedness<T: Real>(layers: &[&[T]], dims: &[usize]) -> f64 {
    let depth = dims.len() - 1;
    let to64 = |w: &[T]| -> Vec<f64> { w.iter().map(|v| v.to_f64()).collect() };
    let mut worst: f64 = 0.0;
    for j in 1..depth {
        let lower = to64(layers[j - 1]);
        let upper = to64(layers[j]);
        let lo = MatRef::from_row_major_slice(&lower, dims[j], dims[j - 1]);
        let up = MatRef::from_row_major_slice(&upper, dims[j + 1], dims[j]);
        let gap = up.transpose() * up - lo * lo.transpose();
        worst = worst.max(gap.norm_l2());
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{fill_normal, network_rng};
    use faer::Mat;

    fn product(layers: &[Vec<f64>], dims: &[usize]) -> Mat<f64> {
        let mut p = Mat::<f64>::identity(dims[0], dims[0]);
        for (j, w) in layers.iter().enumerate() {
            p = MatRef::from_row_major_slice(w, dims[j + 1], dims[j]) * &p;
        }
        p
    }

    #[test]
    fn product_is_a_and_layers_are_balanced() {
        for dims in [
            vec![3, 5, 4, 2],
            vec![4, 4],
            vec![2, 6, 6, 6, 7],
            vec![5, 3, 3, 1],
            vec![1, 1, 1],
        ] {
            for randomize in [false, true] {
                let depth = dims.len() - 1;
                let mut rng = network_rng(5, 0);
                let mut a = vec![0.0; dims[0] * dims[depth]];
                fill_normal(&mut rng, &mut a, 1.3);
                let mut ws: Vec<Vec<f64>> = dims.windows(2).map(|w| vec![0.0; w[0] * w[1]]).collect();
                {
                    let mut outs: Vec<&mut [f64]> = ws.iter_mut().map(|w| w.as_mut_slice()).collect();
                    balanced_factors(&a, &dims, randomize.then_some(&mut rng), &mut outs).unwrap();
                }
                let p = product(&ws, &dims);
                for r in 0..dims[depth] {
                    for c in 0..dims[0] {
                        assert!((p[(r, c)] - a[r * dims[0] + c]).abs() < 1e-12, "{dims:?}");
                    }
                }
                let refs: Vec<&[f64]> = ws.iter().map(|w| w.as_slice()).collect();
                assert!(balancedness(&refs, &dims) < 1e-12, "{dims:?} randomize={randomize}");
            }
        }
    }

    #[test]
    fn narrow_hidden_layer_is_rejected() {
        let err = check_balanced_dims(&[4, 5, 2, 3]).unwrap_err();
        assert!(
            matches!(err, Error::InvalidValue { ref arg, ref message } if arg == "dims" && message.contains(">= min(d_0, d_L) = 3"))
        );
        assert!(check_balanced_dims(&[4, 3, 3, 3]).is_ok());
    }
}
