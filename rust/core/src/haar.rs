//! Haar-distributed orthogonal matrices (docs/science.md, Haar sampling) by Stewart's product of random Householder
//! reflectors, which has exactly the law of the sign-fixed QR of a Gaussian matrix.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::rngs::ChaCha8Rng;
use rayon::prelude::*;

use crate::alloc;
use crate::error::{Error, Result};
use crate::linalg::SignFixedQr;
use crate::parallel;
use crate::rng::{fill_normal, network_rng, Seeds};
use crate::scalar::Real;

/// Scratch for sampling many `rows × cols` Haar matrices on one thread.
pub struct HaarSampler<T: Real> {
    rows: usize,
    cols: usize,
    /// Column-major m × n (m = max, n = min): the reflectors, drawn on and below the diagonal.
    reflectors: Vec<T>,
    qr: SignFixedQr<T>,
    q: Vec<T>,
}

impl<T: Real> HaarSampler<T> {
    /// Scratch for `rows × cols` matrices; panics if it cannot be allocated (see
    /// [`Self::try_new`]).
    pub fn new(rows: usize, cols: usize) -> Self {
        Self::try_new("rows", rows, cols).expect("Haar sampler allocation")
    }

    /// Scratch for `rows × cols` matrices, or `OutOfMemory` naming `arg`.
    pub fn try_new(arg: &str, rows: usize, cols: usize) -> Result<Self> {
        let (m, n) = (rows.max(cols), rows.min(cols));
        let len = alloc::checked_len(arg, &[m, n])?;
        Ok(HaarSampler {
            rows,
            cols,
            reflectors: alloc::zeroed(arg, len)?,
            qr: SignFixedQr::try_new(arg, m, n)?,
            q: alloc::zeroed(arg, len)?,
        })
    }

    /// Bytes of the scratch of one `rows × cols` sampler, about: the reflectors, Q and faer's
    /// QR workspace, each at most `rows·cols` values.
    pub fn scratch_bytes(rows: usize, cols: usize) -> u128 {
        3 * alloc::bytes_of::<T>(rows.saturating_mul(cols))
    }

    /// Draw one matrix from `rng` into the row-major `out` (rows × cols), scaled by `scale`.
    /// Tall shapes get orthonormal columns, wide shapes orthonormal rows.
    pub fn sample_into(&mut self, rng: &mut ChaCha8Rng, scale: T, out: &mut [T]) {
        let (rows, cols) = (self.rows, self.cols);
        let (m, n) = (rows.max(cols), rows.min(cols));
        // Reflector k needs m − k fresh normals (column k, rows k..), drawn column by column.
        for k in 0..n {
            fill_normal(rng, &mut self.reflectors[k * m + k..(k + 1) * m], T::from_f64(1.0));
        }
        self.qr.q_from_reflectors(&mut self.reflectors, &mut self.q);
        if rows >= cols {
            // Column-major Q (rows × cols) → row-major output.
            for i in 0..rows {
                for j in 0..cols {
                    out[i * cols + j] = self.q[i + j * m] * scale;
                }
            }
        } else {
            // Wide: the output is Qᵀ, and a column-major Q read row-major is exactly Qᵀ.
            for (o, &v) in out.iter_mut().zip(&self.q) {
                *o = v * scale;
            }
        }
    }
}

/// Sample `batch` Haar matrices of shape `rows × cols` into the row-major `out`
/// (batch × rows × cols). Matrix b uses the stream `seeds.stream_of(b)`. Setting `cancel` stops
/// the call with `Error::Cancelled`.
///
/// The memory the call needs (the output and one sampler per worker) is checked before anything
/// is allocated: a matrix too large for this machine is `OutOfMemory` naming `rows`, a batch
/// too large names `batch`.
pub fn haar_orthogonal<T: Real>(
    rows: usize,
    cols: usize,
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<T>> {
    if rows == 0 {
        return Err(Error::invalid("rows", "must be at least 1, got 0"));
    }
    if cols == 0 {
        return Err(Error::invalid("cols", "must be at least 1, got 0"));
    }
    if batch == 0 {
        return Err(Error::invalid("batch", "must be at least 1, got 0"));
    }
    seeds.check(batch)?;
    let size_arg = if rows >= cols { "rows" } else { "cols" };
    let matrix = alloc::checked_len(size_arg, &[rows, cols])?;
    let sampler = HaarSampler::<T>::scratch_bytes(rows, cols);
    alloc::check_fits(size_arg, alloc::bytes_of::<T>(matrix) + sampler)?;
    let workers = parallel::resolve_threads(threads)?.min(batch) as u128;
    let total = alloc::checked_len("batch", &[batch, matrix])?;
    alloc::check_fits("batch", alloc::bytes_of::<T>(total) + workers * sampler)?;
    let mut out = alloc::zeroed("batch", total)?;
    parallel::pool(threads)?.install(|| {
        out.par_chunks_mut(matrix).enumerate().try_for_each_init(
            || HaarSampler::try_new(size_arg, rows, cols),
            |sampler, (b, q)| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let sampler = sampler.as_mut().map_err(|e| e.clone())?;
                let (seed, stream) = seeds.stream_of(b);
                sampler.sample_into(&mut network_rng(seed, stream), T::from_f64(1.0), q);
                Ok(())
            },
        )
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    static GO: AtomicBool = AtomicBool::new(false);

    fn max_orthogonality_error(q: &[f64], rows: usize, cols: usize) -> f64 {
        // Tall: QᵀQ = I (cols × cols). Wide: QQᵀ = I (rows × rows).
        let (k, inner, tall) = if rows >= cols {
            (cols, rows, true)
        } else {
            (rows, cols, false)
        };
        let at = |a: usize, b: usize| if tall { q[a * cols + b] } else { q[b * cols + a] };
        let mut worst: f64 = 0.0;
        for i in 0..k {
            for j in 0..k {
                let dot: f64 = (0..inner).map(|p| at(p, i) * at(p, j)).sum();
                let expect = if i == j { 1.0 } else { 0.0 };
                worst = worst.max((dot - expect).abs());
            }
        }
        worst
    }

    #[test]
    fn samples_are_orthonormal_for_all_shapes() {
        for &(r, c) in &[(1, 1), (1, 5), (5, 1), (6, 6), (9, 4), (4, 9), (33, 33)] {
            let q = haar_orthogonal::<f64>(r, c, 3, &Seeds::Shared(7), Some(1), &GO).unwrap();
            for b in 0..3 {
                let m = &q[b * r * c..(b + 1) * r * c];
                assert!(max_orthogonality_error(m, r, c) < 1e-13, "not orthonormal: {r}x{c}");
            }
        }
    }

    #[test]
    fn same_seed_same_output_for_any_thread_count() {
        let one = haar_orthogonal::<f64>(8, 8, 17, &Seeds::Shared(3), Some(1), &GO).unwrap();
        let two = haar_orthogonal::<f64>(8, 8, 17, &Seeds::Shared(3), Some(2), &GO).unwrap();
        let other = haar_orthogonal::<f64>(8, 8, 17, &Seeds::Shared(4), Some(2), &GO).unwrap();
        assert_eq!(one, two);
        assert_ne!(one, other);
    }

    #[test]
    fn a_network_stream_does_not_depend_on_the_batch() {
        let batched = haar_orthogonal::<f64>(5, 3, 4, &Seeds::Shared(11), Some(2), &GO).unwrap();
        let alone = haar_orthogonal::<f64>(5, 3, 1, &Seeds::PerNetwork(vec![11]), Some(1), &GO).unwrap();
        assert_eq!(&batched[..15], &alone[..]);
    }

    #[test]
    fn mean_trace_is_zero_with_sign_fix() {
        // E[Tr Q] = 0 for Haar; an unsigned QR gives about -1.8 at n = 10 (docs/science.md, Haar sampling).
        let (n, batch) = (10, 4000);
        let q = haar_orthogonal::<f64>(n, n, batch, &Seeds::Shared(1), None, &GO).unwrap();
        let traces: Vec<f64> = (0..batch)
            .map(|b| (0..n).map(|i| q[b * n * n + i * n + i]).sum())
            .collect();
        let mean = traces.iter().sum::<f64>() / batch as f64;
        // Var[Tr Q] = 1, so the standard error is 1/sqrt(batch); allow 5 standard errors.
        assert!(mean.abs() < 5.0 / (batch as f64).sqrt(), "mean trace {mean}");
    }

    fn is_out_of_memory<T>(result: Result<T>, want: &str) -> bool {
        matches!(result, Err(Error::OutOfMemory { ref arg, .. }) if arg == want)
    }

    #[test]
    fn impossible_sizes_are_out_of_memory_naming_the_argument() {
        let seeds = Seeds::Shared(0);
        // The cases: one 10⁶ × 10⁶ matrix (8 TB), and 10¹² small ones.
        assert!(is_out_of_memory(
            haar_orthogonal::<f64>(1_000_000, 1_000_000, 1, &seeds, Some(1), &GO),
            "rows"
        ));
        assert!(is_out_of_memory(
            haar_orthogonal::<f32>(64, 64, 1_000_000_000_000, &seeds, Some(1), &GO),
            "batch"
        ));
        assert!(is_out_of_memory(
            haar_orthogonal::<f64>(3, 1 << 62, 1, &seeds, None, &GO),
            "cols"
        ));
        // Sizes whose product overflows usize.
        let err = haar_orthogonal::<f64>(usize::MAX / 2, 3, 1, &seeds, None, &GO).unwrap_err();
        assert_eq!(
            err,
            Error::OutOfMemory {
                arg: "rows".into(),
                bytes: None
            }
        );
        assert!(is_out_of_memory(
            haar_orthogonal::<f64>(4, 4, usize::MAX, &seeds, None, &GO),
            "batch"
        ));
        assert!(is_out_of_memory(
            HaarSampler::<f64>::try_new("dims", 1 << 40, 1 << 40),
            "dims"
        ));
    }

    #[test]
    fn a_raised_cancel_flag_stops_the_call() {
        let stop = AtomicBool::new(true);
        let err = haar_orthogonal::<f64>(4, 4, 8, &Seeds::Shared(0), Some(2), &stop).unwrap_err();
        assert_eq!(err, Error::Cancelled);
    }

    #[test]
    fn zero_sizes_are_errors() {
        assert!(matches!(
            haar_orthogonal::<f64>(0, 3, 1, &Seeds::Shared(0), None, &GO),
            Err(Error::InvalidValue { .. })
        ));
        assert!(matches!(
            haar_orthogonal::<f32>(3, 0, 1, &Seeds::Shared(0), None, &GO),
            Err(Error::InvalidValue { .. })
        ));
        assert!(matches!(
            haar_orthogonal::<f32>(3, 3, 2, &Seeds::PerNetwork(vec![1]), None, &GO),
            Err(Error::Shape { .. })
        ));
    }
}
