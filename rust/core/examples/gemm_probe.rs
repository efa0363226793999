//! Probe: single-thread faer GEMM throughput for row- vs column-major operands.
use faer::{Accum, Mat, Par};
use std::time::Instant;

fn main() {
    for &m in &[16usize, 32, 64, 256] {
        let reps = (2e9 / (2.0 * (m as f64).powi(3))) as usize;
        let a = Mat::<f64>::from_fn(m, m, |i, j| (i + j) as f64 * 1e-3);
        let b = a.clone();
        let mut c = Mat::<f64>::zeros(m, m);
        let t = Instant::now();
        for _ in 0..reps {
            faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, Par::Seq);
        }
        let col = 2.0 * (m as f64).powi(3) * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
        let t = Instant::now();
        for _ in 0..reps {
            faer::linalg::matmul::matmul(
                c.as_mut().transpose_mut(),
                Accum::Replace,
                a.as_ref().transpose(),
                b.as_ref().transpose(),
                1.0,
                Par::Seq,
            );
        }
        let row = 2.0 * (m as f64).powi(3) * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
        let t = Instant::now();
        for _ in 0..reps {
            faer::linalg::matmul::matmul(
                c.as_mut(),
                Accum::Add,
                a.as_ref(),
                b.as_ref().transpose(),
                1.0,
                Par::Seq,
            );
        }
        let mixed = 2.0 * (m as f64).powi(3) * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
        println!("m={m:4}  col-major {col:6.1}  row-major {row:6.1}  A·Bᵀ accumulate {mixed:6.1} GFLOP/s");
    }
}
