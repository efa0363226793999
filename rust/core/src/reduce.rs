//! Exact data reduction for the linear chain (SPEC §1).
//!
//! With n > d_0 examples, the thin QR Xᵀ = QR (Q: n × d_0 with orthonormal columns) gives
//! X = RᵀQᵀ, so for any end-to-end matrix M: ‖MX − Y‖² = ‖MXQ − YQ‖² + ‖Y(I − QQᵀ)‖².
//! Training on X' = XQ = Rᵀ (d_0 × d_0) and Y' = YQ therefore follows exactly the same weights
//! (same gradients), and the loss differs by the constant ½‖Y(I − QQᵀ)‖², which the engine adds
//! back. Step cost no longer grows with n.

use faer::{Accum, MatRef};
use rayon::prelude::*;

use crate::array::of_network;
use crate::error::Result;
use crate::linalg::{gemm, row_major, row_major_mut, SignFixedQr};
use crate::parallel;
use crate::scalar::Real;

/// The reduced problem: X' (d_0 × d_0) and Y' (d_L × d_0), shared or one per network, and the
/// per-network constant ½‖Y(I − QQᵀ)‖².
pub struct Reduced<T> {
    pub x: Vec<T>,
    pub x_shared: bool,
    pub y: Vec<T>,
    pub y_shared: bool,
    pub offsets: Vec<f64>,
}

/// One (X, Y) pair, reduced in f64 (whatever T) so the offset is accurate for float32 data too.
/// Returns (X', Y', offset).
fn reduce_one<T: Real>(x: &[T], y: &[T], d_x: usize, d_y: usize, n: usize) -> (Vec<T>, Vec<T>, f64) {
    let x64: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
    let y64: Vec<f64> = y.iter().map(|v| v.to_f64()).collect();
    // Row-major X (d_x × n) read column-major is Xᵀ (n × d_x): factor it in place.
    let mut a = x64.clone();
    let mut q = vec![0.0; n * d_x];
    SignFixedQr::<f64>::new(n, d_x).orthonormalize(&mut a, &mut q);
    let qm = MatRef::from_column_major_slice(&q, n, d_x);
    let mut xr = vec![0.0; d_x * d_x];
    gemm(
        row_major_mut(&mut xr, d_x, d_x),
        Accum::Replace,
        row_major(&x64, d_x, n),
        qm,
        1.0,
    );
    let mut yr = vec![0.0; d_y * d_x];
    gemm(
        row_major_mut(&mut yr, d_y, d_x),
        Accum::Replace,
        row_major(&y64, d_y, n),
        qm,
        1.0,
    );
    // Residual Y − Y'Qᵀ computed directly (not ‖Y‖² − ‖Y'‖², which cancels badly).
    let mut resid = y64;
    gemm(
        row_major_mut(&mut resid, d_y, n),
        Accum::Add,
        row_major(&yr, d_y, d_x),
        qm.transpose(),
        -1.0,
    );
    let offset = 0.5 * resid.iter().map(|v| v * v).sum::<f64>();
    let cast = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect::<Vec<T>>();
    (cast(xr), cast(yr), offset)
}

/// Reduce a batch's data (X: (d_x, n) if `x_shared` else (batch, d_x, n); Y likewise).
/// Each network's result depends only on its own data, so it is the same for any thread count.
#[allow(clippy::too_many_arguments)]
pub fn reduce<T: Real>(
    x: &[T],
    x_shared: bool,
    y: &[T],
    y_shared: bool,
    batch: usize,
    d_x: usize,
    d_y: usize,
    n: usize,
    threads: Option<usize>,
) -> Result<Reduced<T>> {
    let shared = x_shared && y_shared;
    let count = if shared { 1 } else { batch };
    let (x_size, y_size) = (d_x * n, d_y * n);
    let pieces: Vec<(Vec<T>, Vec<T>, f64)> = if count == 1 {
        vec![reduce_one(&x[..x_size], &y[..y_size], d_x, d_y, n)]
    } else {
        parallel::pool(threads)?.install(|| {
            (0..count)
                .into_par_iter()
                .map(|b| {
                    let xb = of_network(x, x_shared, x_size, b);
                    let yb = of_network(y, y_shared, y_size, b);
                    reduce_one(xb, yb, d_x, d_y, n)
                })
                .collect()
        })
    };
    let offsets = if shared {
        vec![pieces[0].2; batch]
    } else {
        pieces.iter().map(|p| p.2).collect()
    };
    // With a shared X only X' is shared; Y' depends on each network's Y.
    let x_out: Vec<T> = if x_shared {
        pieces[0].0.clone()
    } else {
        pieces.iter().flat_map(|p| p.0.iter().copied()).collect()
    };
    let y_out: Vec<T> = pieces.iter().flat_map(|p| p.1.iter().copied()).collect();
    Ok(Reduced {
        x: x_out,
        x_shared,
        y: y_out,
        y_shared: shared,
        offsets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{fill_normal, network_rng};

    #[test]
    fn reduced_loss_plus_offset_is_the_loss() {
        let (d_x, d_y, n) = (3, 2, 7);
        let mut rng = network_rng(1, 0);
        let mut x = vec![0.0; d_x * n];
        let mut y = vec![0.0; d_y * n];
        let mut m = vec![0.0; d_y * d_x];
        fill_normal(&mut rng, &mut x, 1.0);
        fill_normal(&mut rng, &mut y, 1.0);
        fill_normal(&mut rng, &mut m, 1.0);
        let r = reduce(&x, true, &y, true, 2, d_x, d_y, n, Some(1)).unwrap();
        let loss = |xm: &[f64], ym: &[f64], cols: usize| {
            let mut e = ym.to_vec();
            gemm(
                row_major_mut(&mut e, d_y, cols),
                Accum::Add,
                row_major(&m, d_y, d_x),
                row_major(xm, d_x, cols),
                -1.0,
            );
            0.5 * e.iter().map(|v| v * v).sum::<f64>()
        };
        let full = loss(&x, &y, n);
        let reduced = loss(&r.x, &r.y, d_x) + r.offsets[0];
        assert!((full - reduced).abs() < 1e-12 * full, "{full} vs {reduced}");
        assert_eq!(r.offsets, vec![r.offsets[0]; 2]);
    }
}
