//! Probe: single-network-per-thread engine throughput on the DESIGN.md shapes.
//! Usage: cargo run --release --example train_probe -- [S1|S2|S3|S4] [threads] [steps]
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use deeplinear_core::array::ArrayRef;
use deeplinear_core::engine::{train, LearningRate, Problem, TargetArray, TrainOptions};
use deeplinear_core::init::gaussian;
use deeplinear_core::rng::Seeds;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("S2", |s| s.as_str());
    let threads: usize = args.get(2).map_or(1, |s| s.parse().unwrap());
    let (depth, m, batch, default_steps) = match name {
        "S1" => (8, 16, 256, 40),
        "S2" => (32, 64, 64, 4),
        "S3" => (8, 256, 4, 4),
        "S4" => (128, 32, 64, 4),
        // "D<depth>M<width>": any square shape, batch 64.
        custom => {
            let (d, m) = custom[1..].split_once('M').expect("D<depth>M<width>");
            (d.parse().unwrap(), m.parse().unwrap(), 64, 4)
        }
    };
    let steps: usize = args.get(3).map_or(default_steps, |s| s.parse().unwrap());
    let dims = vec![m; depth + 1];
    let weights = gaussian::<f64>(
        &dims,
        batch,
        &Seeds::Shared(0),
        1.0,
        Some(threads),
        &AtomicBool::new(false),
    )
    .unwrap();
    let shape = [batch, m, m];
    let refs: Vec<ArrayRef<'_, f64>> = weights.iter().map(|w| ArrayRef { data: w, shape: &shape }).collect();
    let mut x = vec![0.0; m * m];
    for i in 0..m {
        x[i * m + i] = 1.0;
    }
    let y: Vec<f64> = (0..m * m).map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.5).collect();
    let opts = TrainOptions {
        alpha: (m as f64).powf(-(depth as f64) / 2.0),
        threads: Some(threads),
        ..TrainOptions::new(LearningRate::Shared(1e-4), steps)
    };
    let flops = (steps * batch * (3 * depth - 1)) as f64 * 2.0 * (m as f64).powi(3);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let problem = Problem {
            weights: refs.clone(),
            biases: Vec::new(),
            // X = I passed explicitly, as the benchmarks' NumPy and JAX peers multiply by it.
            x: Some(ArrayRef {
                data: &x,
                shape: &[m, m],
            }),
            y: TargetArray::Values(ArrayRef {
                data: &y,
                shape: &[m, m],
            }),
            eval: None,
            record_data: None,
        };
        let out = train(&problem, &opts, None, &AtomicBool::new(false)).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        assert!(out.final_loss.iter().all(|l| l.is_finite()));
    }
    println!(
        "{name} threads={threads}: {:.1} GFLOP/s (best of 3, {:.3}s)",
        flops / best / 1e9,
        best
    );
}
