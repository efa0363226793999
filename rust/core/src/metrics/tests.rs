//! Core checks of the diagnostics; the NumPy cross-checks live in tests/test_metrics.py.

use super::*;
use crate::linalg::Products;
use crate::rng::{fill_normal, network_rng};

fn random_layers(dims: &[usize], batch: usize, seed: u64) -> Vec<Vec<f64>> {
    dims.windows(2)
        .enumerate()
        .map(|(j, w)| {
            let mut v = vec![0.0; batch * w[0] * w[1]];
            fill_normal(&mut network_rng(seed, j as u64), &mut v, 1.0 / (w[0] as f64).sqrt());
            v
        })
        .collect()
}

fn refs<'a>(layers: &'a [Vec<f64>], shapes: &'a [[usize; 3]]) -> Vec<ArrayRef<'a, f64>> {
    layers
        .iter()
        .zip(shapes)
        .map(|(d, s)| ArrayRef { data: d, shape: s })
        .collect()
}

fn shapes(dims: &[usize], batch: usize) -> Vec<[usize; 3]> {
    dims.windows(2).map(|w| [batch, w[1], w[0]]).collect()
}

#[test]
fn general_ntk_path_matches_linear_closed_form() {
    let dims = [3, 5, 4, 2];
    let layers = random_layers(&dims, 1, 7);
    let shp = shapes(&dims, 1);
    let w = refs(&layers, &shp);
    let layout = check_weights("weights", &w).unwrap();
    let mut xv = vec![0.0; 3 * 4];
    fill_normal(&mut network_rng(9, 0), &mut xv, 1.0);
    let x = row_major(&xv, 3, 4);
    let views = layout.layers(&w, 0);
    let closed = kernels::linear_ntk(&views, x, 0.7).unwrap();
    let form = NetForm::linear(0.7);
    let net = form.network::<f64>(&dims, false, Products::Blocked { parallel: false });
    let mut probe = Probe::new(&net, 4).unwrap();
    probe::gather_params(&net, &w, None, 0, &mut probe.params);
    probe.forward(&net, &xv);
    let general = probe.swept_ntk(&net, &xv, 0.7, true).unwrap();
    for r in 0..closed.nrows() {
        for c in 0..closed.ncols() {
            assert!((closed[(r, c)] - general[(r, c)]).abs() < 1e-12, "({r}, {c})");
        }
    }
}

#[test]
fn balancedness_matches_naive_and_vanishes_on_identity() {
    let dims = [2, 3, 3, 4];
    let layers = random_layers(&dims, 1, 3);
    let shp = shapes(&dims, 1);
    let w = refs(&layers, &shp);
    let layout = check_weights("weights", &w).unwrap();
    let views = layout.layers(&w, 0);
    let mut out = vec![0.0; 2];
    kernels::balancedness_into(&views, &mut [0.0; 16], &mut out);
    for j in 0..2 {
        let gap = views[j + 1].transpose() * views[j + 1] - views[j] * views[j].transpose();
        assert!((out[j] - gap.norm_l2()).abs() < 1e-12);
    }
    let eye: Vec<f64> = (0..9).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
    let (layers, shp) = (vec![eye.clone(), eye.clone(), eye], vec![[1, 3, 3]; 3]);
    let got = balancedness(&refs(&layers, &shp), Some(1), &AtomicBool::new(false)).unwrap();
    assert_eq!(got.data, vec![0.0, 0.0]);
}

#[test]
fn singular_values_of_a_scaled_diagonal_chain() {
    // W_1 = diag(1, 2, 3) (3x3), W_2 = [I_2 0] (2x3): product = diag(1, 2) padded.
    let w1 = vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0];
    let w2 = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let (layers, shp) = (vec![w1, w2], vec![[1, 3, 3], [1, 2, 3]]);
    let got = singular_values(&refs(&layers, &shp), -2.0, None, &AtomicBool::new(false)).unwrap();
    assert_eq!(got.shape, vec![1, 2]);
    assert!((got.data[0] - 4.0).abs() < 1e-14 && (got.data[1] - 2.0).abs() < 1e-14);
}

#[test]
fn block_lanczos_agrees_with_the_dense_eigensolver_and_finds_multiplicities() {
    let never = AtomicBool::new(false);
    let big = 200;
    let mut g = vec![0.0; big * 20];
    fill_normal(&mut network_rng(1, 0), &mut g, 1.0);
    let g = row_major(&g, big, 20);
    let theta = g * g.transpose();
    let dense = lanczos::dense_eigenvalues("X", theta.as_ref()).unwrap();
    for k in [1, 3] {
        let top = lanczos::top_eigenvalues("X", &mut lanczos::Explicit(theta.as_ref()), k, 1e-10, &never).unwrap();
        for i in 0..k {
            assert!(
                (dense[i] - top[i]).abs() < 1e-9 * dense[0],
                "k={k}: {dense:?} vs {top:?}"
            );
        }
    }
    // diag(5, 5, 5, 2, 1, …) in a random basis: single-vector Lanczos sees 5 once; a block of
    // 3 finds all three copies.
    let m = 120;
    let mut q = vec![0.0; m * m];
    fill_normal(&mut network_rng(2, 0), &mut q, 1.0);
    let (q, _) = {
        let a = row_major(&q, m, m).to_owned();
        let qr = a.qr();
        (qr.compute_Q(), ())
    };
    let d = faer::Mat::from_fn(m, m, |i, j| {
        if i != j {
            0.0
        } else if i < 3 {
            5.0
        } else {
            2.0 / (1.0 + i as f64)
        }
    });
    let a = &q * d * q.transpose();
    let top = lanczos::top_eigenvalues("X", &mut lanczos::Explicit(a.as_ref()), 3, 1e-10, &never).unwrap();
    assert!(top.iter().all(|v| (v - 5.0).abs() < 1e-8), "{top:?}");
    // The zero operator converges at once to zeros.
    let zero = faer::Mat::<f64>::zeros(m, m);
    let top = lanczos::top_eigenvalues("X", &mut lanczos::Explicit(zero.as_ref()), 2, 1e-10, &never).unwrap();
    assert_eq!(top, vec![0.0, 0.0]);
}

#[test]
fn bad_arguments_name_themselves() {
    let cancel = AtomicBool::new(false);
    let layers = random_layers(&[2, 3, 2], 2, 0);
    let shp = shapes(&[2, 3, 2], 2);
    let w = refs(&layers, &shp);
    let err = partial_product_singular_values(&w, 1, 2, None, &cancel).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "j"));
    let err = partial_product_singular_values(&w, 1, 0, None, &cancel).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "i"));
    let phi = vec![0.0; 6];
    let err = deficiency_margin(
        &w,
        ArrayRef {
            data: &phi,
            shape: &[3, 2],
        },
        1.0,
        None,
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Shape { ref arg, .. } if arg == "Phi"));
    let err = singular_values(&w, f64::NAN, None, &cancel).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "alpha"));
}

#[test]
fn impossible_products_and_grams_are_out_of_memory_not_aborts() {
    let never = AtomicBool::new(false);
    // A 10⁶-wide input and output through a width-1 bottleneck: 16 MB of weights whose
    // end-to-end product is 10⁶ × 10⁶ (8 TB).
    let wide = 1_000_000;
    let (first, last) = (vec![0.5; wide], vec![0.5; wide]);
    let shapes = [[1, 1, wide], [1, wide, 1]];
    let w = refs_of(&[&first, &last], &shapes);
    let oom = |r: Result<Batched>, want: &str| matches!(r, Err(Error::OutOfMemory { ref arg, .. }) if arg == want);
    assert!(oom(singular_values(&w, 1.0, Some(1), &never), "weights"));
    let phi = vec![0.0; 4];
    let phi_shape = [2, 2];
    let small = [vec![1.0; 2], vec![1.0; 2]];
    let small_shapes = [[1, 1, 2], [1, 2, 1]];
    assert!(deficiency_margin(
        &refs_of(&[&small[0], &small[1]], &small_shapes),
        ArrayRef {
            data: &phi,
            shape: &phi_shape
        },
        1.0,
        None,
        &never
    )
    .is_ok());
    // n = 10⁶ examples give a 10⁶ × 10⁶ NTK Gram per network (and 8 TB of output).
    let one = [vec![1.0]];
    let one_shape = [[1, 1, 1]];
    let x = vec![1.0; wide];
    let x_shape = [1, wide];
    let xs = ArrayRef {
        data: &x,
        shape: &x_shape,
    };
    let w = refs_of(&[&one[0]], &one_shape);
    let linear = NetForm::linear(1.0);
    assert!(oom(ntk(&w, xs, &linear, None, None, &never), "X"));
    let spec = FisherSpec {
        loss: LossKind::Mse,
        kind: FisherKind::True,
        params: Params::All,
        k: 1,
        method: FisherMethod::Dense,
    };
    assert!(oom(
        fisher_eigenvalues(&w, xs, &linear, None, &spec, None, None, &never),
        "X"
    ));
    // The matrix-free route needs no Gram: f = w·x with w = x = 1 has F = Σ x²/n = 1.
    for method in [FisherMethod::MatrixFree, FisherMethod::Auto] {
        let spec = FisherSpec { method, ..spec };
        let got = fisher_eigenvalues(&w, xs, &linear, None, &spec, None, Some(1), &never).unwrap();
        assert!((got.data[0] - 1.0).abs() < 1e-12, "{method:?}: {:?}", got.data);
    }
    assert!(oom(
        ntk_relative_change(&w, &w, xs, &linear, None, None, None, &never),
        "X"
    ));
    let tanh = NetForm {
        activation: Activation::Tanh,
        ..linear
    };
    assert!(oom(ntk(&w, xs, &tanh, None, None, &never), "X"));
    // The Jacobian of that network is small: one singular value per example.
    let jac = jacobian_singular_values(&w, xs, &tanh, None, Some(1), &never).unwrap();
    assert_eq!(jac.shape, vec![1, wide, 1]);
}

fn refs_of<'a>(layers: &[&'a Vec<f64>], shapes: &'a [[usize; 3]]) -> Vec<ArrayRef<'a, f64>> {
    layers
        .iter()
        .zip(shapes)
        .map(|(d, s)| ArrayRef { data: d, shape: s })
        .collect()
}
