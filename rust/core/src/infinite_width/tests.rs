use super::*;

static NO_CANCEL: AtomicBool = AtomicBool::new(false);

fn inputs(d_0: usize, n: usize, seed: u64) -> Vec<f64> {
    // A small deterministic pseudo-random matrix (values in [−1, 1)).
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..d_0 * n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn form(activation: Activation, param: &str, sigma_w: f64, sigma_b: Option<f64>, alpha: f64) -> KernelForm {
    KernelForm::new(activation, param, sigma_w, sigma_b, alpha).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn run(
    dims: &[usize],
    x1: &[f64],
    x2: Option<&[f64]>,
    f: &KernelForm,
    which: Kernel,
    method: Method,
    threads: usize,
) -> Result<Vec<f64>> {
    let s1 = [dims[0], x1.len() / dims[0]];
    let s2 = x2.map(|x| [dims[0], x.len() / dims[0]]);
    let a1 = ArrayRef { data: x1, shape: &s1 };
    let a2 = x2.zip(s2.as_ref()).map(|(data, shape)| ArrayRef { data, shape });
    kernel(dims, a1, a2, f, which, method, Some(threads), &NO_CANCEL)
}

fn dot(x: &[f64], n: usize, i: usize, k: usize, d_0: usize) -> f64 {
    (0..d_0).map(|r| x[r * n + i] * x[r * n + k]).sum()
}

/// Linear networks of depth 1 and 2: the recursion written out by hand.
#[test]
fn linear_networks_by_hand() {
    let (d_0, n) = (3, 4);
    let x = inputs(d_0, n, 1);
    let (sw, sb, alpha) = (1.3, 0.4, 0.7);
    for (param, sigma_b) in [
        ("ntk", None),
        ("ntk", Some(sb)),
        ("standard", None),
        ("standard", Some(sb)),
    ] {
        let f = form(Activation::Linear, param, sw, sigma_b, alpha);
        let (sb2, beta) = sigma_b.map_or((0.0, 0.0), |s| (s * s, 1.0));
        let omega = |fan_in: usize| if param == "ntk" { sw * sw } else { fan_in as f64 };
        let dims1 = [d_0, 2];
        let dims2 = [d_0, 5, 2];
        let nngp1 = run(&dims1, &x, None, &f, Kernel::Nngp, Method::Auto, 1).unwrap();
        let ntk1 = run(&dims1, &x, None, &f, Kernel::Ntk, Method::Auto, 1).unwrap();
        let nngp2 = run(&dims2, &x, None, &f, Kernel::Nngp, Method::Auto, 1).unwrap();
        let ntk2 = run(&dims2, &x, None, &f, Kernel::Ntk, Method::Auto, 1).unwrap();
        for i in 0..n {
            for k in 0..n {
                let g = dot(&x, n, i, k, d_0) / d_0 as f64;
                let s1 = sw * sw * g + sb2;
                let t1 = omega(d_0) * g + beta;
                let s2 = sw * sw * s1 + sb2;
                let t2 = omega(5) * s1 + beta + sw * sw * t1;
                let a2 = alpha * alpha;
                for (got, want) in [
                    (nngp1[i * n + k], s1),
                    (ntk1[i * n + k], t1),
                    (nngp2[i * n + k], s2),
                    (ntk2[i * n + k], t2),
                ] {
                    assert!(
                        (got - a2 * want).abs() < 1e-14 * want.abs().max(1.0),
                        "{param} {sigma_b:?}: {got} vs {}",
                        a2 * want
                    );
                }
            }
        }
    }
}

/// relu with σ_w² = 2 and no biases keeps q = 2‖x‖²/d_0 at every layer, and its NTK diagonal is
/// L·q (each layer adds σ_w²E[φ²] = q and σ_w²E[φ'²] = 1 carries Θ over).
#[test]
fn relu_critical_diagonal() {
    let (d_0, n, depth) = (4, 3, 6);
    let x = inputs(d_0, n, 2);
    let mut dims = vec![d_0; depth];
    dims.push(1);
    let f = form(Activation::Relu, "ntk", 2f64.sqrt(), None, 1.0);
    for method in [Method::Auto, Method::Quadrature] {
        let nngp = run(&dims, &x, None, &f, Kernel::Nngp, method, 1).unwrap();
        let ntk = run(&dims, &x, None, &f, Kernel::Ntk, method, 1).unwrap();
        for i in 0..n {
            let q = 2.0 * dot(&x, n, i, i, d_0) / d_0 as f64;
            assert!((nngp[i * n + i] - q).abs() < 1e-13 * q, "{method:?}");
            assert!((ntk[i * n + i] - depth as f64 * q).abs() < 1e-12 * q, "{method:?}");
        }
    }
}

#[test]
fn quadrature_matches_closed_forms_through_the_recursion() {
    let (d_0, n) = (5, 6);
    let x = inputs(d_0, n, 3);
    let dims = [d_0, 7, 7, 7, 3];
    for activation in [Activation::Linear, Activation::Relu, Activation::Erf] {
        for param in ["ntk", "standard"] {
            for sigma_b in [None, Some(0.3)] {
                let f = form(activation, param, 1.4, sigma_b, 1.1);
                for which in [Kernel::Nngp, Kernel::Ntk] {
                    let exact = run(&dims, &x, None, &f, which, Method::ClosedForm, 1).unwrap();
                    let quad = run(&dims, &x, None, &f, which, Method::Quadrature, 1).unwrap();
                    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    for (q, e) in quad.iter().zip(&exact) {
                        assert!(
                            (q - e).abs() <= 1e-10 * scale,
                            "{activation:?} {param} {sigma_b:?} {which:?}: {q} vs {e}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn symmetric_exact_and_independent_of_threads_and_of_the_second_argument() {
    let (d_0, n) = (3, 9);
    let x = inputs(d_0, n, 4);
    let dims = [d_0, 4, 4, 2];
    for activation in [Activation::Tanh, Activation::Relu] {
        let f = form(activation, "ntk", 1.2, Some(0.1), 1.0);
        let one = run(&dims, &x, None, &f, Kernel::Ntk, Method::Auto, 1).unwrap();
        let three = run(&dims, &x, None, &f, Kernel::Ntk, Method::Auto, 3).unwrap();
        assert_eq!(one, three);
        for i in 0..n {
            for k in 0..n {
                assert_eq!(one[i * n + k], one[k * n + i]);
            }
        }
        let given = run(&dims, &x, Some(&x), &f, Kernel::Ntk, Method::Auto, 2).unwrap();
        for (a, b) in one.iter().zip(&given) {
            assert!((a - b).abs() < 1e-12 * a.abs().max(1.0));
        }
        // A rectangular block equals the corresponding block of the square kernel.
        let x2: Vec<f64> = (0..d_0).flat_map(|r| x[r * n + 2..r * n + 5].to_vec()).collect();
        let block = run(&dims, &x, Some(&x2), &f, Kernel::Ntk, Method::Auto, 2).unwrap();
        for i in 0..n {
            for k in 0..3 {
                let want = one[i * n + k + 2];
                assert!((block[i * 3 + k] - want).abs() < 1e-12 * want.abs().max(1.0));
            }
        }
    }
}

#[test]
fn zero_inputs_and_zero_variances() {
    // x = 0 without biases: every variance is 0; relu gives 0, erf's NTK keeps its slope term.
    let x = vec![0.0, 1.0, 0.0, 2.0];
    let dims = [2, 3, 3, 1];
    for activation in [Activation::Relu, Activation::Erf, Activation::Tanh, Activation::Linear] {
        for method in [Method::Auto, Method::Quadrature] {
            let f = form(activation, "ntk", 1.0, None, 1.0);
            let out = run(&dims, &x, None, &f, Kernel::Ntk, method, 1).unwrap();
            assert!(out.iter().all(|v| v.is_finite()), "{activation:?} {method:?}: {out:?}");
            assert_eq!(out[0], 0.0, "{activation:?}");
        }
    }
}

#[test]
fn bad_arguments() {
    let x = inputs(2, 3, 5);
    let f = form(Activation::Tanh, "ntk", 1.0, None, 1.0);
    let arg_of = |r: Result<Vec<f64>>| match r.unwrap_err() {
        Error::InvalidValue { arg, .. } | Error::Shape { arg, .. } => arg,
        other => panic!("{other:?}"),
    };
    assert_eq!(arg_of(run(&[2], &x, None, &f, Kernel::Ntk, Method::Auto, 1)), "dims");
    assert_eq!(
        arg_of(run(&[2, 0, 1], &x, None, &f, Kernel::Ntk, Method::Auto, 1)),
        "dims"
    );
    // The argument a shape error names, for inputs of the given shapes.
    let shape_error = |dims: &[usize], s1: &[usize], s2: Option<&[usize]>| {
        let x2 = inputs(3, 1, 6);
        let a1 = ArrayRef {
            data: &x[..s1.iter().product::<usize>()],
            shape: s1,
        };
        let a2 = s2.map(|shape| ArrayRef { data: &x2, shape });
        arg_of(kernel(dims, a1, a2, &f, Kernel::Ntk, Method::Auto, None, &NO_CANCEL))
    };
    assert_eq!(shape_error(&[3, 1], &[2, 3], None), "X");
    assert_eq!(shape_error(&[2, 1], &[2, 3], Some(&[3, 1])), "X2");
    assert_eq!(shape_error(&[2, 1], &[6], None), "X");
    assert_eq!(shape_error(&[2, 1], &[2, 0], None), "X");
    let mut bad = x.clone();
    bad[4] = f64::NAN;
    assert_eq!(arg_of(run(&[2, 1], &bad, None, &f, Kernel::Ntk, Method::Auto, 1)), "X");
    bad[4] = 1e200;
    assert_eq!(arg_of(run(&[2, 1], &bad, None, &f, Kernel::Ntk, Method::Auto, 1)), "X");
    assert_eq!(
        arg_of(run(&[2, 1], &x, Some(&bad), &f, Kernel::Ntk, Method::Auto, 1)),
        "X2"
    );
    assert_eq!(
        arg_of(run(&[2, 1], &x, None, &f, Kernel::Ntk, Method::ClosedForm, 1)),
        "method"
    );
    for (sw, sb, alpha, arg) in [
        (-1.0, None, 1.0, "sigma_w"),
        (f64::INFINITY, None, 1.0, "sigma_w"),
        (1.0, Some(-0.1), 1.0, "sigma_b"),
        (1.0, Some(f64::NAN), 1.0, "sigma_b"),
        (1.0, None, f64::NAN, "alpha"),
    ] {
        let err = KernelForm::new(Activation::Relu, "ntk", sw, sb, alpha).unwrap_err();
        assert!(
            matches!(err, Error::InvalidValue { arg: ref a, .. } if a == arg),
            "{err:?}"
        );
    }
    assert!(KernelForm::new(Activation::Relu, "mean_field", 1.0, None, 1.0).is_err());
    assert!(Kernel::parse("cntk").is_err() && Method::parse("exact").is_err());
    assert!(matches!(
        run(&[2, 1], &x, None, &f, Kernel::Ntk, Method::Auto, 0),
        Err(Error::InvalidValue { .. })
    ));
}

#[test]
fn cancellation_stops_the_call() {
    let x = inputs(2, 40, 7);
    let f = form(Activation::Tanh, "ntk", 1.0, None, 1.0);
    let a = ArrayRef {
        data: &x,
        shape: &[2, 40],
    };
    let cancel = AtomicBool::new(true);
    let out = kernel(&[2, 8, 1], a, None, &f, Kernel::Ntk, Method::Auto, Some(1), &cancel);
    assert_eq!(out, Err(Error::Cancelled));
}
