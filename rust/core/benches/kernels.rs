//! Criterion benchmarks of the Rust kernels on one thread: a training step of each DESIGN.md
//! shape (scaled-down batch), Haar sampling, and the faer GEMM the engine builds on.
//! Run: `cargo bench -p deeplinear-core`. Throughput is reported in (nominal) flops.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deeplinear_core::array::ArrayRef;
use deeplinear_core::engine::{train, LearningRate, Problem, TargetArray, TrainOptions};
use deeplinear_core::haar::haar_orthogonal;
use deeplinear_core::init::orthogonal;
use deeplinear_core::linalg::{gemm, row_major, row_major_mut};
use deeplinear_core::rng::Seeds;
use faer::Accum;

fn train_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("train, 1 thread, X = I");
    group.sample_size(10);
    // (name, depth, width, networks): the DESIGN.md shapes with fewer networks per call.
    for &(name, depth, m, batch) in &[
        ("S1", 8, 16, 16),
        ("S2", 32, 64, 2),
        ("S3", 8, 256, 1),
        ("S4", 128, 32, 2),
    ] {
        let steps = 2;
        let dims = vec![m; depth + 1];
        let weights =
            orthogonal::<f64>(&dims, batch, &Seeds::Shared(0), 1.0, Some(1), &AtomicBool::new(false)).unwrap();
        let shape = [batch, m, m];
        let refs: Vec<ArrayRef<'_, f64>> = weights.iter().map(|w| ArrayRef { data: w, shape: &shape }).collect();
        let y: Vec<f64> = (0..m * m).map(|i| (i as f64 * 0.7).sin()).collect();
        let opts = TrainOptions {
            alpha: (m as f64).powf(-(depth as f64 - 1.0) / 2.0),
            threads: Some(1),
            ..TrainOptions::new(LearningRate::Shared(1e-4), steps)
        };
        let flops = (steps * batch * (3 * depth - 1)) as u64 * 2 * (m as u64).pow(3);
        group.throughput(Throughput::Elements(flops));
        group.bench_function(name, |b| {
            b.iter(|| {
                let problem = Problem {
                    weights: refs.clone(),
                    biases: Vec::new(),
                    x: None,
                    y: TargetArray::Values(ArrayRef {
                        data: &y,
                        shape: &[m, m],
                    }),
                    eval: None,
                    record_data: None,
                };
                black_box(train(&problem, &opts, None, &AtomicBool::new(false)).unwrap())
            })
        });
    }
    group.finish();
}

fn haar(c: &mut Criterion) {
    let mut group = c.benchmark_group("haar_orthogonal, 1 thread");
    for &(n, batch) in &[(16usize, 64usize), (64, 8), (256, 1)] {
        group.throughput(Throughput::Elements(
            (batch as f64 * 8.0 / 3.0 * (n as f64).powi(3)) as u64,
        ));
        group.bench_function(format!("n={n} x{batch}"), |b| {
            b.iter(|| {
                black_box(
                    haar_orthogonal::<f64>(n, n, batch, &Seeds::Shared(1), Some(1), &AtomicBool::new(false)).unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn small_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("faer gemm, row-major, 1 thread");
    for &m in &[16usize, 32, 64, 256] {
        let a: Vec<f64> = (0..m * m).map(|i| (i as f64 * 0.3).cos()).collect();
        let mut out = vec![0.0; m * m];
        group.throughput(Throughput::Elements(2 * (m as u64).pow(3)));
        group.bench_function(format!("m={m}"), |b| {
            b.iter(|| {
                gemm(
                    row_major_mut(&mut out, m, m),
                    Accum::Replace,
                    row_major(&a, m, m),
                    row_major(&a, m, m),
                    1.0,
                );
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, train_steps, haar, small_gemm);
criterion_main!(benches);
