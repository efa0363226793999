//! Engine tests against a naive triple-loop implementation of the same rule.

use super::*;
use crate::rng::{fill_normal, network_rng};

/// Naive row-major matmul: (r × k)·(k × c).
fn matmul(a: &[f64], b: &[f64], r: usize, k: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[i * c + j] = (0..k).map(|p| a[i * k + p] * b[p * c + j]).sum();
        }
    }
    out
}

fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = a[i * c + j];
        }
    }
    out
}

/// One naive GD step of a single network; returns the loss before the step.
fn naive_step(ws: &mut [Vec<f64>], dims: &[usize], x: &[f64], y: &[f64], n: usize, alpha: f64, lr: f64) -> f64 {
    let depth = dims.len() - 1;
    let mut hs = vec![x.to_vec()];
    for j in 1..=depth {
        let h = matmul(&ws[j - 1], &hs[j - 1], dims[j], dims[j - 1], n);
        hs.push(h);
    }
    let e: Vec<f64> = hs[depth].iter().zip(y).map(|(h, y)| alpha * h - y).collect();
    let loss = 0.5 * e.iter().map(|v| v * v).sum::<f64>();
    let mut g: Vec<f64> = e.iter().map(|v| alpha * v).collect();
    let mut grads = vec![Vec::new(); depth];
    for j in (1..=depth).rev() {
        grads[j - 1] = matmul(&g, &transpose(&hs[j - 1], dims[j - 1], n), dims[j], n, dims[j - 1]);
        g = matmul(
            &transpose(&ws[j - 1], dims[j], dims[j - 1]),
            &g,
            dims[j - 1],
            dims[j],
            n,
        );
    }
    for (w, gr) in ws.iter_mut().zip(&grads) {
        for (a, b) in w.iter_mut().zip(gr) {
            *a -= lr * b;
        }
    }
    loss
}

fn random(len: usize, stream: u64, scale: f64) -> Vec<f64> {
    let mut v = vec![0.0; len];
    fill_normal(&mut network_rng(42, stream), &mut v, scale);
    v
}

fn options(steps: usize, lr: LearningRate) -> TrainOptions {
    TrainOptions {
        lr,
        steps,
        alpha: 0.7,
        tol: None,
        record_every: 1,
        threads: Some(2),
        record: Vec::new(),
        manifold: Manifold::Euclidean,
    }
}

#[test]
fn matches_naive_backprop_on_odd_shapes() {
    let cases: &[&[usize]] = &[&[1, 1], &[3, 2], &[2, 5], &[4, 1, 3], &[1, 6, 6, 1], &[5, 3, 7, 2, 4]];
    for dims in cases {
        let (batch, n, steps) = (3, 4, 5);
        let depth = dims.len() - 1;
        let layers: Vec<Vec<f64>> = (0..depth)
            .map(|j| random(batch * dims[j] * dims[j + 1], j as u64, 0.5))
            .collect();
        let x = random(dims[0] * n, 100, 1.0);
        let y = random(batch * dims[depth] * n, 101, 1.0);
        let shapes: Vec<[usize; 3]> = (0..depth).map(|j| [batch, dims[j + 1], dims[j]]).collect();
        let refs: Vec<ArrayRef<'_, f64>> = layers
            .iter()
            .zip(&shapes)
            .map(|(d, s)| ArrayRef { data: d, shape: s })
            .collect();
        let lrs = vec![0.01, 0.02, 0.0];
        let out = train(
            &refs,
            Some(ArrayRef {
                data: &x,
                shape: &[dims[0], n],
            }),
            ArrayRef {
                data: &y,
                shape: &[batch, dims[depth], n],
            },
            &options(steps, LearningRate::PerNetwork(lrs.clone())),
            &AtomicBool::new(false),
        )
        .unwrap();
        for b in 0..batch {
            let mut ws: Vec<Vec<f64>> = (0..depth)
                .map(|j| {
                    let size = dims[j] * dims[j + 1];
                    layers[j][b * size..(b + 1) * size].to_vec()
                })
                .collect();
            let yb = &y[b * dims[depth] * n..(b + 1) * dims[depth] * n];
            for t in 0..steps {
                let loss = naive_step(&mut ws, dims, &x, yb, n, 0.7, lrs[b]);
                let got = out.loss[b * out.records + t];
                assert!(
                    (got - loss).abs() <= 1e-12 * loss.max(1.0),
                    "loss at t={t} for dims {dims:?}"
                );
            }
            for j in 0..depth {
                let size = dims[j] * dims[j + 1];
                for (got, want) in out.weights[j][b * size..(b + 1) * size].iter().zip(&ws[j]) {
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "weights differ for dims {dims:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn divergence_freezes_only_the_diverging_network() {
    let dims = [4, 4, 4];
    let (batch, n) = (2, 4);
    let layers: Vec<Vec<f64>> = (0..2).map(|j| random(batch * 16, j, 1.0)).collect();
    let x = random(16, 7, 1.0);
    let y = random(16, 8, 1.0);
    let shape = [batch, 4, 4];
    let refs: Vec<ArrayRef<'_, f64>> = layers.iter().map(|d| ArrayRef { data: d, shape: &shape }).collect();
    let out = train(
        &refs,
        Some(ArrayRef {
            data: &x,
            shape: &[4, n],
        }),
        ArrayRef {
            data: &y,
            shape: &[4, n],
        },
        &TrainOptions {
            lr: LearningRate::PerNetwork(vec![1e-3, 10.0]),
            steps: 200,
            alpha: 1.0,
            tol: None,
            record_every: 10,
            threads: Some(1),
            record: Vec::new(),
            manifold: Manifold::Euclidean,
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(out.diverged, vec![false, true]);
    assert!(out.final_loss[0].is_finite() && out.final_loss[0] < out.loss[0]);
    assert!(!out.loss[out.records..].last().unwrap().is_finite());
    let _ = dims;
}

#[test]
fn tol_freezes_and_reports_the_step() {
    // A single 1×1 layer w on x = 1, y = 0: loss_t = ½ w_t², w_{t+1} = (1 − η) w_t.
    let w = [1.0];
    let out = train(
        &[ArrayRef {
            data: &w,
            shape: &[1, 1, 1],
        }],
        Some(ArrayRef {
            data: &[1.0],
            shape: &[1, 1],
        }),
        ArrayRef {
            data: &[0.0],
            shape: &[1, 1],
        },
        &TrainOptions {
            lr: LearningRate::Shared(0.5),
            steps: 50,
            alpha: 1.0,
            tol: Some(1e-3),
            record_every: 1,
            threads: None,
            record: Vec::new(),
            manifold: Manifold::Euclidean,
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    // ½·0.25^t ≤ 1e-3 first at t = 5 (½·4^-5 ≈ 4.9e-4).
    assert_eq!(out.steps_to_tol, vec![5]);
    assert!((out.weights[0][0] - 0.5f64.powi(5)).abs() < 1e-15);
    assert!(out.loss[5..].iter().all(|&l| l == out.loss[5]));
}

#[test]
fn shape_errors_name_the_argument() {
    let w0 = vec![0.0; 6];
    let w1 = vec![0.0; 4];
    let x = vec![0.0; 6];
    let cancel = AtomicBool::new(false);
    let opts = options(1, LearningRate::Shared(0.1));
    let err = train(
        &[
            ArrayRef {
                data: &w0,
                shape: &[1, 2, 3],
            },
            ArrayRef {
                data: &w1,
                shape: &[1, 1, 4],
            },
        ],
        Some(ArrayRef {
            data: &x,
            shape: &[3, 2],
        }),
        ArrayRef {
            data: &x[..2],
            shape: &[1, 2],
        },
        &opts,
        &cancel,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Shape { ref arg, .. } if arg == "weights[1]"),
        "{err}"
    );
    let err = train(
        &[ArrayRef {
            data: &w0,
            shape: &[1, 2, 3],
        }],
        Some(ArrayRef {
            data: &x,
            shape: &[2, 3],
        }),
        ArrayRef {
            data: &x,
            shape: &[2, 3],
        },
        &opts,
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Shape { ref arg, .. } if arg == "X"), "{err}");
    let bad_lr = options(1, LearningRate::Shared(f64::NAN));
    let err = train(
        &[ArrayRef {
            data: &w0,
            shape: &[1, 2, 3],
        }],
        Some(ArrayRef {
            data: &x,
            shape: &[3, 2],
        }),
        ArrayRef {
            data: &w1,
            shape: &[2, 2],
        },
        &bad_lr,
        &cancel,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { ref arg, .. } if arg == "lr"),
        "{err}"
    );
}

#[test]
fn cancel_stops_the_call() {
    let w = [1.0];
    let cancel = AtomicBool::new(true);
    let err = train(
        &[ArrayRef {
            data: &w,
            shape: &[1, 1, 1],
        }],
        Some(ArrayRef {
            data: &[1.0],
            shape: &[1, 1],
        }),
        ArrayRef {
            data: &[0.0],
            shape: &[1, 1],
        },
        &options(1000, LearningRate::Shared(0.1)),
        &cancel,
    )
    .unwrap_err();
    assert_eq!(err, Error::Cancelled);
}
