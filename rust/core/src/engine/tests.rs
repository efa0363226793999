//! Engine tests against naive implementations of the same rules, plus the stop rules, the
//! schedule's invariances and the state. (The Python suite checks every option against the
//! NumPy reference.)

use super::*;
use crate::array::ArrayRef;
use crate::loss::Loss;
use crate::net::{Activation, Form, Parameterization};
use crate::optim::Manifold;
use crate::record::RecordSpec;
use crate::rng::{fill_normal, network_rng, Seeds};

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

/// One naive GD step of a single linear chain; returns the loss before the step.
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

/// Owned arrays of a test problem.
struct Data {
    dims: Vec<usize>,
    n: usize,
    weights: Vec<Vec<f64>>,
    shapes: Vec<[usize; 3]>,
    x: Vec<f64>,
    y: Vec<f64>,
    labels: Vec<i64>,
}

impl Data {
    fn new(dims: &[usize], batch: usize, n: usize, seed: u64) -> Self {
        let depth = dims.len() - 1;
        Data {
            dims: dims.to_vec(),
            n,
            weights: (0..depth)
                .map(|j| {
                    random(
                        batch * dims[j] * dims[j + 1],
                        seed + j as u64,
                        1.0 / (dims[j] as f64).sqrt(),
                    )
                })
                .collect(),
            shapes: (0..depth).map(|j| [batch, dims[j + 1], dims[j]]).collect(),
            x: random(dims[0] * n, seed + 100, 1.0),
            y: random(dims[depth] * n, seed + 101, 1.0),
            labels: (0..n as i64).map(|i| (i * 7 + 3) % dims[depth] as i64).collect(),
        }
    }

    fn problem(&self, labels: bool) -> Problem<'_, f64> {
        let d_l = self.dims[self.dims.len() - 1];
        Problem {
            weights: self
                .weights
                .iter()
                .zip(&self.shapes)
                .map(|(w, s)| ArrayRef { data: w, shape: s })
                .collect(),
            biases: Vec::new(),
            x: Some(ArrayRef {
                data: &self.x,
                shape: Box::leak(Box::new([self.dims[0], self.n])),
            }),
            y: if labels {
                TargetArray::Labels(ArrayRef {
                    data: &self.labels,
                    shape: Box::leak(Box::new([self.n])),
                })
            } else {
                TargetArray::Values(ArrayRef {
                    data: &self.y,
                    shape: Box::leak(Box::new([d_l, self.n])),
                })
            },
            eval: None,
            record_data: None,
        }
    }
}

fn run(problem: &Problem<'_, f64>, opts: &TrainOptions) -> TrainOutput<f64> {
    train(problem, opts, None, &AtomicBool::new(false)).unwrap()
}

#[test]
fn gradient_descent_matches_naive_backprop_on_odd_shapes() {
    let cases: &[&[usize]] = &[&[1, 1], &[3, 2], &[2, 5], &[4, 1, 3], &[1, 6, 6, 1], &[5, 3, 7, 2, 4]];
    for dims in cases {
        let (batch, n, steps) = (3, 4, 5);
        let depth = dims.len() - 1;
        let data = Data::new(dims, batch, n, 7);
        let lrs = vec![0.01, 0.02, 0.0];
        let opts = TrainOptions {
            alpha: 0.7,
            threads: Some(2),
            ..TrainOptions::new(LearningRate::PerNetwork(lrs.clone()), steps)
        };
        let out = run(&data.problem(false), &opts);
        for (b, &lr) in lrs.iter().enumerate() {
            let mut ws: Vec<Vec<f64>> = (0..depth)
                .map(|j| {
                    let size = dims[j] * dims[j + 1];
                    data.weights[j][b * size..(b + 1) * size].to_vec()
                })
                .collect();
            for t in 0..steps {
                let loss = naive_step(&mut ws, dims, &data.x, &data.y, n, 0.7, lr);
                let got = out.loss.data[b * (steps + 1) + t];
                assert!(
                    (got - loss).abs() <= 1e-12 * loss.max(1.0),
                    "loss at t={t} for {dims:?}"
                );
            }
            for j in 0..depth {
                let size = dims[j] * dims[j + 1];
                for (got, want) in out.weights[j].data[b * size..(b + 1) * size].iter().zip(&ws[j]) {
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "weights for {dims:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn divergence_freezes_only_the_diverging_network() {
    let data = Data::new(&[4, 4, 4], 2, 4, 1);
    let opts = TrainOptions {
        record_every: 10,
        threads: Some(1),
        ..TrainOptions::new(LearningRate::PerNetwork(vec![1e-3, 10.0]), 200)
    };
    let out = run(&data.problem(false), &opts);
    assert_eq!(out.diverged, vec![false, true]);
    assert!(out.final_loss[0].is_finite() && out.final_loss[0] < out.loss.data[0]);
    assert!(!out.loss.data.last().unwrap().is_finite());
}

#[test]
fn tol_freezes_and_reports_the_step() {
    // A single 1×1 layer w on x = 1, y = 0: loss_t = ½ w_t², w_{t+1} = (1 − η) w_t.
    let w = [1.0];
    let problem = Problem {
        weights: vec![ArrayRef {
            data: &w,
            shape: &[1, 1, 1],
        }],
        biases: Vec::new(),
        x: Some(ArrayRef {
            data: &[1.0],
            shape: &[1, 1],
        }),
        y: TargetArray::Values(ArrayRef {
            data: &[0.0],
            shape: &[1, 1],
        }),
        eval: None,
        record_data: None,
    };
    let opts = TrainOptions {
        tol: Some(1e-3),
        ..TrainOptions::new(LearningRate::Shared(0.5), 50)
    };
    let out = run(&problem, &opts);
    // ½·0.25^t ≤ 1e-3 first at t = 5 (½·4^-5 ≈ 4.9e-4).
    assert_eq!(out.steps_to_tol, vec![5]);
    assert_eq!(out.state.steps, vec![5]);
    assert!((out.weights[0].data[0] - 0.5f64.powi(5)).abs() < 1e-15);
    assert!(out.loss.data[5..].iter().all(|&l| l == out.loss.data[5]));
}

#[test]
fn errors_name_the_argument() {
    let data = Data::new(&[3, 2, 2], 1, 2, 3);
    let arg =
        |opts: &TrainOptions, labels: bool| match train(&data.problem(labels), opts, None, &AtomicBool::new(false)) {
            Err(Error::InvalidValue { arg, .. }) | Err(Error::Shape { arg, .. }) => arg,
            other => panic!("{other:?}"),
        };
    let base = TrainOptions::new(LearningRate::Shared(0.1), 1);
    assert_eq!(
        arg(
            &TrainOptions {
                lr: LearningRate::Shared(f64::NAN).into(),
                ..base.clone()
            },
            false
        ),
        "lr"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                batch_size: Some(3),
                ..base.clone()
            },
            false
        ),
        "batch_size"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                batch_size: Some(0),
                ..base.clone()
            },
            false
        ),
        "batch_size"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                batch_size: Some(1),
                ..base.clone()
            },
            false
        ),
        "data_seed"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                target_accuracy: Some(0.0),
                ..base.clone()
            },
            false
        ),
        "target_accuracy"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                target_accuracy: Some(1.5),
                ..base.clone()
            },
            false
        ),
        "target_accuracy"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                manifold: vec![Manifold::Stiefel; 3],
                ..base.clone()
            },
            false
        ),
        "manifold"
    );
    assert_eq!(
        arg(
            &TrainOptions {
                learn_scale: true,
                ..base.clone()
            },
            false
        ),
        "learn_scale"
    );
    let ce = Loss::parse("cross_entropy", None).unwrap();
    assert_eq!(
        arg(
            &TrainOptions {
                loss: ce,
                ..base.clone()
            },
            false
        ),
        "Y"
    );
    let mut out_of_range = Data::new(&[3, 2, 2], 1, 2, 3);
    out_of_range.labels = vec![0, 2]; // d_L = 2 classes
    let err = train(
        &out_of_range.problem(true),
        &TrainOptions {
            loss: ce,
            ..base.clone()
        },
        None,
        &AtomicBool::new(false),
    );
    assert!(
        matches!(err, Err(Error::InvalidValue { ref arg, .. }) if arg == "Y"),
        "{err:?}"
    );
    let record = |q| vec![RecordSpec { quantity: q, every: 1 }];
    assert_eq!(
        arg(
            &TrainOptions {
                record: record(Quantity::TestLoss),
                ..base.clone()
            },
            false
        ),
        "record"
    );
    let tanh = Form {
        activation: Activation::Tanh,
        parameterization: Parameterization::Standard,
    };
    let linear_only = TrainOptions {
        record: record(Quantity::Balancedness),
        form: tanh,
        ..base.clone()
    };
    assert_eq!(arg(&linear_only, false), "record");
    // d_L = 1 and cross-entropy.
    let scalar = Data::new(&[3, 1], 1, 2, 3);
    let err = train(
        &scalar.problem(true),
        &TrainOptions { loss: ce, ..base },
        None,
        &AtomicBool::new(false),
    );
    assert!(
        matches!(err, Err(Error::InvalidValue { ref arg, .. }) if arg == "loss"),
        "{err:?}"
    );
}

#[test]
fn cancel_stops_the_call() {
    let data = Data::new(&[2, 2], 1, 2, 0);
    let err = train(
        &data.problem(false),
        &TrainOptions::new(LearningRate::Shared(0.1), 1000),
        None,
        &AtomicBool::new(true),
    )
    .unwrap_err();
    assert_eq!(err, Error::Cancelled);
}

/// Options of a mini-batch, cross-entropy, Adam run of a tanh network.
fn minibatch_options(steps: usize, seeds: Seeds, threads: usize) -> TrainOptions {
    TrainOptions {
        threads: Some(threads),
        form: Form {
            activation: Activation::Tanh,
            parameterization: Parameterization::Standard,
        },
        loss: Loss::parse("cross_entropy", None).unwrap(),
        optimizer: Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        batch_size: Some(3),
        data_seed: Some(seeds),
        record: vec![RecordSpec {
            quantity: Quantity::BatchLoss,
            every: 1,
        }],
        ..TrainOptions::new(LearningRate::Shared(0.01), steps)
    }
}

#[test]
fn minibatch_results_do_not_depend_on_threads_batching_or_chaining() {
    let data = Data::new(&[4, 5, 3], 3, 7, 11);
    let problem = data.problem(true);
    let one = run(&problem, &minibatch_options(9, Seeds::Shared(5), 1));
    let three = run(&problem, &minibatch_options(9, Seeds::Shared(5), 3));
    assert_eq!(one, three);
    // With one seed per network, network 1 trained alone with its seed equals network 1 of the
    // batch.
    let batch = run(&problem, &minibatch_options(9, Seeds::PerNetwork(vec![5, 6, 7]), 2));
    let shapes: Vec<[usize; 3]> = (0..2).map(|j| [1, data.dims[j + 1], data.dims[j]]).collect();
    let size = |j: usize| data.dims[j] * data.dims[j + 1];
    let single = Problem {
        weights: (0..2)
            .map(|j| ArrayRef {
                data: &data.weights[j][size(j)..2 * size(j)],
                shape: &shapes[j],
            })
            .collect(),
        ..problem.clone()
    };
    let alone = run(&single, &minibatch_options(9, Seeds::PerNetwork(vec![6]), 1));
    for j in 0..2 {
        assert_eq!(alone.weights[j].data[..], batch.weights[j].data[size(j)..2 * size(j)]);
    }
    // Chained: 4 + 5 steps with the state passed on equal 9 steps.
    let head = run(&problem, &minibatch_options(4, Seeds::Shared(5), 2));
    let state = &head.state;
    let slots: Vec<ArrayRef<'_, f64>> = state
        .slots
        .iter()
        .map(|(_, a)| ArrayRef {
            data: &a.data,
            shape: &a.shape,
        })
        .collect();
    let state_ref = StateRef {
        optimizer: state.optimizer,
        steps: &state.steps,
        data_seeds: &state.data_seeds,
        batch_size: state.batch_size,
        n: state.n,
        scales: None,
        slots,
    };
    let resumed = Problem {
        weights: head
            .weights
            .iter()
            .map(|a| ArrayRef {
                data: &a.data,
                shape: &a.shape,
            })
            .collect(),
        ..problem.clone()
    };
    let mut tail_opts = minibatch_options(5, Seeds::Shared(5), 2);
    tail_opts.data_seed = None;
    let tail = train(&resumed, &tail_opts, Some(&state_ref), &AtomicBool::new(false)).unwrap();
    assert_eq!(tail.weights, one.weights);
    assert_eq!(tail.state.slots, one.state.slots);
    assert_eq!(tail.state.steps, vec![9; 3]);
    let batch_losses = &one.records[0].1.data;
    for b in 0..3 {
        assert_eq!(
            tail.records[0].1.data[b * 6..(b + 1) * 6],
            batch_losses[b * 10 + 4..(b + 1) * 10]
        );
    }
}

#[test]
fn a_worker_reused_from_an_earlier_call_gives_the_same_bits() {
    // Workers are kept by the pool and reused without zeroing. A call whose networks diverge
    // (on other data, Adam at an absurd rate) leaves non-finite and stale values in every buffer
    // of the spares it hands back; the next calls of the same shapes must not see any of them.
    let data = Data::new(&[4, 5, 3], 3, 7, 11);
    let problem = data.problem(true);
    let opts = minibatch_options(9, Seeds::Shared(5), 2);
    let before = run(&problem, &opts);
    assert!(before.final_loss.iter().all(|l| l.is_finite()));
    let other = Data::new(&[4, 5, 3], 3, 7, 12);
    let mut poison = minibatch_options(9, Seeds::Shared(6), 2);
    poison.lr = LearningRate::Shared(1e308).into();
    for _ in 0..3 {
        let wild = run(&other.problem(true), &poison);
        assert!(wild.diverged.iter().all(|&d| d));
        assert_eq!(run(&problem, &opts), before);
    }
    // The same with a smaller call in the larger call's buffers, and the other way round.
    let wide = Data::new(&[4, 9, 3], 3, 7, 13);
    let wide_before = run(&wide.problem(true), &opts);
    for _ in 0..2 {
        assert_eq!(run(&problem, &opts), before);
        assert_eq!(run(&wide.problem(true), &opts), wide_before);
    }
}

#[test]
fn a_state_that_does_not_fit_is_refused() {
    let data = Data::new(&[4, 5, 3], 2, 7, 11);
    let problem = data.problem(true);
    let head = run(&problem, &minibatch_options(2, Seeds::Shared(5), 1));
    let state = &head.state;
    let slots: Vec<ArrayRef<'_, f64>> = state
        .slots
        .iter()
        .map(|(_, a)| ArrayRef {
            data: &a.data,
            shape: &a.shape,
        })
        .collect();
    let good = StateRef {
        optimizer: state.optimizer,
        steps: &state.steps,
        data_seeds: &state.data_seeds,
        batch_size: state.batch_size,
        n: state.n,
        scales: None,
        slots,
    };
    let refused = |s: &StateRef<'_, f64>, opts: &TrainOptions| matches!(train(&problem, opts, Some(s), &AtomicBool::new(false)), Err(Error::InvalidValue { ref arg, .. }) if arg == "state");
    let mut opts = minibatch_options(2, Seeds::Shared(5), 1);
    opts.data_seed = None;
    assert!(train(&problem, &opts, Some(&good), &AtomicBool::new(false)).is_ok());
    assert!(refused(
        &StateRef {
            optimizer: "sgd",
            ..good.clone()
        },
        &opts
    ));
    assert!(refused(
        &StateRef {
            batch_size: Some(2),
            ..good.clone()
        },
        &opts
    ));
    assert!(refused(
        &StateRef {
            slots: good.slots[1..].to_vec(),
            ..good.clone()
        },
        &opts
    ));
    assert!(refused(
        &StateRef {
            steps: &[-1, 0],
            ..good.clone()
        },
        &opts
    ));
}
