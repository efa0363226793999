use super::*;

fn parse(
    name: &str,
    momentum: Option<f64>,
    nesterov: bool,
    betas: Option<(f64, f64)>,
    eps: Option<f64>,
) -> Result<Optimizer> {
    Optimizer::parse(&OptimizerSpec {
        name: name.to_string(),
        momentum,
        nesterov,
        betas,
        eps,
        ..OptimizerSpec::default()
    })
}

#[test]
fn names_and_ranges_are_checked() {
    assert_eq!(parse("gd", None, false, None, None).unwrap(), Optimizer::Gd);
    assert_eq!(
        parse("sgd", Some(0.9), true, None, None).unwrap(),
        Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true
        }
    );
    assert_eq!(
        parse("adam", None, false, None, None).unwrap(),
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8
        }
    );
    let arg = |r: Result<Optimizer>| match r {
        Err(Error::InvalidValue { arg, .. }) => arg,
        other => panic!("{other:?}"),
    };
    assert_eq!(arg(parse("adam", Some(0.5), false, None, None)), "momentum");
    assert_eq!(arg(parse("gd", None, true, None, None)), "nesterov");
    assert_eq!(arg(parse("sgd", None, false, Some((0.9, 0.99)), None)), "betas");
    assert_eq!(arg(parse("gd", None, false, None, Some(1e-6))), "eps");
    assert_eq!(arg(parse("sgd", Some(1.0), false, None, None)), "momentum");
    assert_eq!(arg(parse("sgd", Some(-0.1), false, None, None)), "momentum");
    assert_eq!(arg(parse("sgd", None, true, None, None)), "nesterov");
    assert_eq!(arg(parse("adam", None, false, Some((0.9, 1.0)), None)), "betas");
    assert_eq!(arg(parse("adam", None, false, None, Some(0.0))), "eps");
    assert_eq!(arg(parse("adam", None, false, None, Some(f64::NAN))), "eps");
    assert_eq!(arg(parse("lbfgs", None, false, None, None)), "optimizer");
    assert_eq!(arg(parse("rmsprop", None, false, Some((0.9, 0.99)), None)), "betas");
    assert_eq!(arg(parse("adamw", Some(0.9), false, None, None)), "momentum");
    let rms = |decay: Option<f64>, centered: bool| {
        Optimizer::parse(&OptimizerSpec {
            name: "rmsprop".to_string(),
            decay,
            centered,
            momentum: Some(0.5),
            ..OptimizerSpec::default()
        })
    };
    assert_eq!(
        rms(None, true).unwrap(),
        Optimizer::RmsProp {
            decay: 0.99,
            eps: 1e-8,
            momentum: 0.5,
            centered: true
        }
    );
    assert_eq!(arg(rms(Some(1.0), false)), "decay");
    let decay_for_adam = Optimizer::parse(&OptimizerSpec {
        name: "adam".to_string(),
        decay: Some(0.9),
        ..OptimizerSpec::default()
    });
    assert_eq!(arg(decay_for_adam), "decay");
}

#[test]
fn rules_follow_their_formulas() {
    let g = [0.5, -2.0, 0.0, 3.0];
    let lr = 0.1;
    // Adam, three steps, against the textbook formula.
    let adam = Adam {
        beta1: 0.8,
        beta2: 0.9,
        eps: 1e-3,
    };
    let mut p = [1.0, 2.0, 3.0, 4.0];
    let mut slots = [0.0; 8];
    let (mut m, mut v, mut want) = ([0.0; 4], [0.0; 4], p);
    for t in 1..=3u64 {
        adam.apply(&mut p, &g, &mut slots, lr, t);
        for i in 0..4 {
            m[i] = 0.8 * m[i] + 0.2 * g[i];
            v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i];
            let m_hat = m[i] / (1.0 - 0.8f64.powi(t as i32));
            let v_hat = v[i] / (1.0 - 0.9f64.powi(t as i32));
            want[i] -= lr * m_hat / (v_hat.sqrt() + 1e-3);
        }
    }
    for i in 0..4 {
        assert!((p[i] - want[i]).abs() < 1e-14, "adam {i}");
        assert!((slots[i] - m[i]).abs() < 1e-15 && (slots[4 + i] - v[i]).abs() < 1e-15);
    }
    // Momentum and Nesterov, two steps.
    for nesterov in [false, true] {
        let rule = Momentum { beta: 0.5, nesterov };
        let mut p = [0.0; 4];
        let mut slots = [0.0; 4];
        rule.apply(&mut p, &g, &mut slots, lr, 1);
        rule.apply(&mut p, &g, &mut slots, lr, 2);
        for i in 0..4 {
            let (v1, v2) = (g[i], 0.5 * g[i] + g[i]);
            let want = if nesterov {
                -lr * (g[i] + 0.5 * v1) - lr * (g[i] + 0.5 * v2)
            } else {
                -lr * v1 - lr * v2
            };
            assert!((p[i] - want).abs() < 1e-15 && slots[i] == v2);
        }
    }
    // The Riemannian direction of plain GD is the gradient itself.
    let mut xi = g;
    Rule::<f64>::direction(&Gd, &mut xi, &mut [], 1);
    assert_eq!(xi, g);
}

#[test]
fn rmsprop_matches_a_hand_computed_step() {
    let g = [0.5, -2.0];
    let (lr, d, eps, mu) = (0.1, 0.9, 1e-3, 0.5);
    // Plain: v = 0.1·g², p = −η·g/(√v + ε).
    let plain = RmsProp::<f64, false, false> {
        decay: d,
        eps,
        momentum: 0.0,
    };
    let mut p = [0.0; 2];
    let mut slots = [0.0; 2];
    plain.apply(&mut p, &g, &mut slots, lr, 1);
    for i in 0..2 {
        let v = 0.1 * g[i] * g[i];
        assert!((slots[i] - v).abs() < 1e-15);
        assert!((p[i] + lr * g[i] / (v.sqrt() + eps)).abs() < 1e-15);
    }
    // Centered with momentum, two steps: v, ḡ, buf by hand.
    let rule = RmsProp::<f64, true, true> {
        decay: d,
        eps,
        momentum: mu,
    };
    let mut p = [1.0, 1.0];
    let mut slots = [0.0; 6];
    rule.apply(&mut p, &g, &mut slots, lr, 1);
    rule.apply(&mut p, &g, &mut slots, lr, 2);
    for i in 0..2 {
        let (mut v, mut a, mut buf, mut want) = (0.0, 0.0, 0.0, 1.0);
        for _ in 0..2 {
            v = d * v + (1.0 - d) * g[i] * g[i];
            a = d * a + (1.0 - d) * g[i];
            buf = mu * buf + g[i] / ((v - a * a).sqrt() + eps);
            want -= lr * buf;
        }
        assert!((p[i] - want).abs() < 1e-14, "{i}: {} vs {want}", p[i]);
        let got = [slots[i], slots[2 + i], slots[4 + i]];
        assert!(
            got.iter().zip([v, a, buf]).all(|(x, y)| (x - y).abs() < 1e-14),
            "{i}: {got:?}"
        );
    }
    // The first moment on a manifold is the momentum buffer.
    assert_eq!(rule.first_moment(&mut slots).unwrap().len(), 2);
    assert!(Rule::<f64>::first_moment(&plain, &mut [0.0; 2]).is_none());
}
