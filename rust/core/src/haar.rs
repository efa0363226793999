//! Haar-distributed orthogonal matrices (SPEC §3) by Stewart's product of random Householder
//! reflectors, which has exactly the law of the sign-fixed QR of a Gaussian matrix.

use rand::rngs::ChaCha8Rng;
use rayon::prelude::*;

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
    pub fn new(rows: usize, cols: usize) -> Self {
        let (m, n) = (rows.max(cols), rows.min(cols));
        let zero = T::from_f64(0.0);
        HaarSampler {
            rows,
            cols,
            reflectors: vec![zero; m * n],
            qr: SignFixedQr::new(m, n),
            q: vec![zero; m * n],
        }
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
/// (batch × rows × cols). Matrix b uses the stream `seeds.stream_of(b)`.
pub fn haar_orthogonal<T: Real>(
    rows: usize,
    cols: usize,
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
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
    let mut out = vec![T::from_f64(0.0); batch * rows * cols];
    let pool = parallel::pool(threads)?;
    pool.install(|| {
        out.par_chunks_mut(rows * cols).enumerate().for_each_init(
            || HaarSampler::new(rows, cols),
            |sampler, (b, matrix)| {
                let (seed, stream) = seeds.stream_of(b);
                sampler.sample_into(&mut network_rng(seed, stream), T::from_f64(1.0), matrix);
            },
        );
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let q = haar_orthogonal::<f64>(r, c, 3, &Seeds::Shared(7), Some(1)).unwrap();
            for b in 0..3 {
                let m = &q[b * r * c..(b + 1) * r * c];
                assert!(max_orthogonality_error(m, r, c) < 1e-13, "not orthonormal: {r}x{c}");
            }
        }
    }

    #[test]
    fn same_seed_same_output_for_any_thread_count() {
        let one = haar_orthogonal::<f64>(8, 8, 17, &Seeds::Shared(3), Some(1)).unwrap();
        let two = haar_orthogonal::<f64>(8, 8, 17, &Seeds::Shared(3), Some(2)).unwrap();
        let other = haar_orthogonal::<f64>(8, 8, 17, &Seeds::Shared(4), Some(2)).unwrap();
        assert_eq!(one, two);
        assert_ne!(one, other);
    }

    #[test]
    fn a_network_stream_does_not_depend_on_the_batch() {
        let batched = haar_orthogonal::<f64>(5, 3, 4, &Seeds::Shared(11), Some(2)).unwrap();
        let alone = haar_orthogonal::<f64>(5, 3, 1, &Seeds::PerNetwork(vec![11]), Some(1)).unwrap();
        assert_eq!(&batched[..15], &alone[..]);
    }

    #[test]
    fn mean_trace_is_zero_with_sign_fix() {
        // E[Tr Q] = 0 for Haar; an unsigned QR gives about -1.8 at n = 10 (SPEC §3).
        let (n, batch) = (10, 4000);
        let q = haar_orthogonal::<f64>(n, n, batch, &Seeds::Shared(1), None).unwrap();
        let traces: Vec<f64> = (0..batch)
            .map(|b| (0..n).map(|i| q[b * n * n + i * n + i]).sum())
            .collect();
        let mean = traces.iter().sum::<f64>() / batch as f64;
        // Var[Tr Q] = 1, so the standard error is 1/sqrt(batch); allow 5 standard errors.
        assert!(mean.abs() < 5.0 / (batch as f64).sqrt(), "mean trace {mean}");
    }

    #[test]
    fn zero_sizes_are_errors() {
        assert!(matches!(
            haar_orthogonal::<f64>(0, 3, 1, &Seeds::Shared(0), None),
            Err(Error::InvalidValue { .. })
        ));
        assert!(matches!(
            haar_orthogonal::<f32>(3, 0, 1, &Seeds::Shared(0), None),
            Err(Error::InvalidValue { .. })
        ));
        assert!(matches!(
            haar_orthogonal::<f32>(3, 3, 2, &Seeds::PerNetwork(vec![1]), None),
            Err(Error::Shape { .. })
        ));
    }
}
