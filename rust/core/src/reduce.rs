//! Exact data reduction for the linear chain (docs/science.md, Networks).
//!
//! With n > d_0 examples, the thin QR Xᵀ = QR (Q: n × d_0 with orthonormal columns) gives
//! X = RᵀQᵀ, so for any end-to-end matrix M: ‖MX − Y‖² = ‖MXQ − YQ‖² + ‖Y(I − QQᵀ)‖².
//! Training on X' = XQ = Rᵀ (d_0 × d_0) and Y' = YQ therefore follows exactly the same weights
//! (same gradients), and the loss differs by the constant ½‖Y(I − QQᵀ)‖², which the engine adds
//! back. Step cost no longer grows with n.

use faer::{Accum, MatRef};
use rayon::prelude::*;

use crate::alloc;
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

/// A fallibly allocated f64 copy of `values` (the sizes come from the user's X and Y).
fn to_f64<T: Real>(values: &[T]) -> Result<Vec<f64>> {
    let mut out = alloc::zeroed::<f64>("X", values.len())?;
    for (o, v) in out.iter_mut().zip(values) {
        *o = v.to_f64();
    }
    Ok(out)
}

/// Bytes of f64 scratch one [`reduce_one`] call needs, about: copies of X and Y, Q (n × d_x) and
/// the QR workspace, the residual of Y.
fn scratch_bytes(d_x: usize, d_y: usize, n: usize) -> u128 {
    8 * n as u128 * (4 * d_x as u128 + 2 * d_y as u128)
}

/// One (X, Y) pair, reduced in f64 (whatever T) so the offset is accurate for float32 data too.
/// Returns (X', Y', offset).
fn reduce_one<T: Real>(x: &[T], y: &[T], d_x: usize, d_y: usize, n: usize) -> Result<(Vec<T>, Vec<T>, f64)> {
    let x64 = to_f64(x)?;
    let y64 = to_f64(y)?;
    // Row-major X (d_x × n) read column-major is Xᵀ (n × d_x): factor it in place.
    let mut a = to_f64(x)?;
    let mut q = alloc::zeroed::<f64>("X", n * d_x)?;
    SignFixedQr::<f64>::try_new("X", n, d_x)?.orthonormalize(&mut a, &mut q);
    let qm = MatRef::from_column_major_slice(&q, n, d_x);
    let mut xr = alloc::zeroed::<f64>("X", d_x * d_x)?;
    gemm(
        row_major_mut(&mut xr, d_x, d_x),
        Accum::Replace,
        row_major(&x64, d_x, n),
        qm,
        1.0,
    );
    let mut yr = alloc::zeroed::<f64>("Y", d_y * d_x)?;
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
    Ok((cast(&xr)?, cast(&yr)?, offset))
}

/// `values` converted to T, fallibly allocated.
fn cast<T: Real>(values: &[f64]) -> Result<Vec<T>> {
    let mut out = alloc::zeroed::<T>("X", values.len())?;
    for (o, &v) in out.iter_mut().zip(values) {
        *o = T::from_f64(v);
    }
    Ok(out)
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
    let workers = parallel::resolve_threads(threads)?.min(count) as u128;
    let outputs = alloc::bytes_of::<T>(count) * (d_x as u128 + d_y as u128) * d_x as u128;
    alloc::check_fits("X", workers * scratch_bytes(d_x, d_y, n) + outputs)?;
    let mut pieces: Vec<(Vec<T>, Vec<T>, f64)> = if count == 1 {
        vec![reduce_one(&x[..x_size], &y[..y_size], d_x, d_y, n)?]
    } else {
        parallel::pool(threads)?.install(|| {
            (0..count)
                .into_par_iter()
                .map(|b| {
                    let xb = of_network(x, x_shared, x_size, b);
                    let yb = of_network(y, y_shared, y_size, b);
                    reduce_one(xb, yb, d_x, d_y, n)
                })
                .collect::<Result<_>>()
        })?
    };
    let offsets = if shared {
        vec![pieces[0].2; batch]
    } else {
        pieces.iter().map(|p| p.2).collect()
    };
    // With a shared X only X' is shared; Y' depends on each network's Y.
    let x_out = if x_shared {
        std::mem::take(&mut pieces[0].0)
    } else {
        concat(pieces.iter().map(|p| &p.0[..]), count * d_x * d_x)?
    };
    let y_out = concat(pieces.iter().map(|p| &p.1[..]), count * d_y * d_x)?;
    Ok(Reduced {
        x: x_out,
        x_shared,
        y: y_out,
        y_shared: shared,
        offsets,
    })
}

/// The pieces one after another (`len` values in all), fallibly allocated.
fn concat<'a, T: Real>(pieces: impl Iterator<Item = &'a [T]>, len: usize) -> Result<Vec<T>> {
    let mut out = alloc::with_capacity::<T>("X", len)?;
    pieces.for_each(|p| out.extend_from_slice(p));
    Ok(out)
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
