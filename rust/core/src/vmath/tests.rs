//! Checks against the scalar libm functions (the high-precision accuracy tests, against
//! mpmath, are in `tests/test_vmath.py`), special values, and position independence.

use super::VecMath;

/// Distance in units in the last place between two finite f64 of the same sign.
fn ulps(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    let ulp = f64::from_bits(a.abs().max(b.abs()).to_bits() & 0x7ff0_0000_0000_0000) * f64::EPSILON;
    (a - b).abs() / ulp.max(f64::from_bits(1))
}

/// A dense grid: uniform over [−8, 8], then log-spaced magnitudes from 1e-310 to 1e300.
fn grid() -> Vec<f64> {
    let mut xs: Vec<f64> = (-80_000..=80_000).map(|i| i as f64 * 1e-4).collect();
    for e in -3100..=3000 {
        let m = 10f64.powf(e as f64 / 10.0);
        xs.extend([m, -m, m * 1.37, -m * 1.37]);
    }
    xs
}

fn tanh_pair(xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut v, mut s) = (xs.to_vec(), vec![0.0; xs.len()]);
    f64::tanh_with_slope(&mut v, &mut s);
    (v, s)
}

fn erf_pair(xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut v, mut s) = (xs.to_vec(), vec![0.0; xs.len()]);
    f64::erf_with_slope(&mut v, &mut s);
    (v, s)
}

#[test]
fn tanh_agrees_with_libm() {
    let xs = grid();
    let (v, s) = tanh_pair(&xs);
    let mut worst = (0.0, 0.0);
    for (i, &x) in xs.iter().enumerate() {
        worst.0 = f64::max(worst.0, ulps(v[i], x.tanh()));
        // sech² against 1/cosh² (libm, a few ulp itself) where cosh² is finite, and against
        // its asymptote 4e^(−2|x|)(1 − 2e^(−2|x|)) beyond.
        let reference = if x.abs() < 20.0 {
            1.0 / (x.cosh() * x.cosh())
        } else {
            let u = (-2.0 * x.abs()).exp();
            4.0 * u * (1.0 - 2.0 * u)
        };
        if reference > f64::MIN_POSITIVE {
            worst.1 = f64::max(worst.1, ulps(s[i], reference));
        } else {
            assert!((s[i] - reference).abs() <= 2.0 * f64::from_bits(1), "sech² at {x}");
        }
    }
    assert!(worst.0 <= 2.0, "tanh differs from libm by {} ulp", worst.0);
    assert!(worst.1 <= 6.0, "sech² differs from libm by {} ulp", worst.1);
}

#[test]
fn erf_agrees_with_libm() {
    let xs = grid();
    let (v, s) = erf_pair(&xs);
    let mut worst = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        worst = f64::max(worst, ulps(v[i], libm::erf(x)));
        if x.abs() < 4.0 {
            // exp(−x·x) in f64 carries x²·2⁻⁵³ of relative error from rounding x·x.
            let reference = std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp();
            let allowed = 3.0 + 2.0 * x * x;
            assert!(
                ulps(s[i], reference) <= allowed,
                "erf slope at {x}: {} vs {reference}",
                s[i]
            );
        } else {
            assert!((0.0..=std::f64::consts::FRAC_2_SQRT_PI * (-15.9f64).exp()).contains(&s[i]));
        }
    }
    assert!(worst <= 2.0, "erf differs from libm by {worst} ulp");
}

#[test]
fn special_values() {
    let inf = f64::INFINITY;
    let xs = [
        0.0,
        -0.0,
        inf,
        -inf,
        f64::NAN,
        1e-320,
        -1e-320,
        1e300,
        -1e300,
        20.0,
        -20.0,
    ];
    let (tv, ts) = tanh_pair(&xs);
    let (ev, es) = erf_pair(&xs);
    for v in [&tv, &ev] {
        assert_eq!(v[0].to_bits(), 0.0f64.to_bits(), "+0 stays +0");
        assert_eq!(v[1].to_bits(), (-0.0f64).to_bits(), "−0 stays −0");
        assert_eq!((v[2], v[3]), (1.0, -1.0), "±inf saturate");
        assert!(v[4].is_nan(), "NaN in, NaN out");
        assert_eq!((v[7], v[8], v[9], v[10]), (1.0, -1.0, 1.0, -1.0));
    }
    assert_eq!((ts[0], ts[1], ts[2], ts[3]), (1.0, 1.0, 0.0, 0.0));
    assert_eq!(
        (es[0], es[1], es[2], es[3]),
        (
            std::f64::consts::FRAC_2_SQRT_PI,
            std::f64::consts::FRAC_2_SQRT_PI,
            0.0,
            0.0
        )
    );
    assert!(ts[4].is_nan() && es[4].is_nan());
    // Subnormal inputs: tanh x = x exactly, erf x = (2/√π)·x correctly rounded.
    assert_eq!((tv[5], tv[6]), (1e-320, -1e-320));
    assert_eq!(
        (ev[5], ev[6]),
        (
            std::f64::consts::FRAC_2_SQRT_PI * 1e-320,
            -std::f64::consts::FRAC_2_SQRT_PI * 1e-320
        )
    );
    // sech²(20) = 4e^(−40)(1 − 2e^(−40)): relative accuracy survives where 1 − tanh² is 0.
    assert_eq!(tv[9] * tv[9], 1.0);
    assert!(ulps(ts[9], 4.0 * (-40.0f64).exp()) <= 4.0);
}

#[test]
fn results_do_not_depend_on_position_or_length() {
    let values: Vec<f64> = (0..257)
        .map(|i| ((i as f64) * 0.731).sin() * 7.0 + (i % 5) as f64 * 1e-3)
        .collect();
    for pair in [tanh_pair as fn(&[f64]) -> (Vec<f64>, Vec<f64>), erf_pair] {
        let (v, s) = pair(&values);
        for len in [1, 2, 7, 31, 32, 33, 64, 100] {
            for offset in [0, 1, 5, 31] {
                for (i, &x) in values.iter().enumerate().step_by(7) {
                    // The value at `offset` in a slice of `len` other values.
                    let mut slice: Vec<f64> = (0..len.max(offset + 1))
                        .map(|j| values[(i + j * 3) % values.len()])
                        .collect();
                    slice[offset] = x;
                    let (sv, ss) = pair(&slice);
                    assert_eq!(
                        sv[offset].to_bits(),
                        v[i].to_bits(),
                        "value of {x} at {offset} of {len}"
                    );
                    assert_eq!(
                        ss[offset].to_bits(),
                        s[i].to_bits(),
                        "slope of {x} at {offset} of {len}"
                    );
                }
            }
        }
    }
}

#[test]
fn in_place_variants_match_with_slope_and_f32_rounds_the_f64_result() {
    let xs: Vec<f64> = (-500..500).map(|i| i as f64 * 0.013).collect();
    let (tv, _) = tanh_pair(&xs);
    let (ev, _) = erf_pair(&xs);
    let (mut t, mut e) = (xs.clone(), xs.clone());
    f64::tanh_in_place(&mut t);
    f64::erf_in_place(&mut e);
    assert_eq!(t, tv);
    assert_eq!(e, ev);
    let x32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
    let (mut v32, mut s32) = (x32.clone(), vec![0.0f32; x32.len()]);
    f32::erf_with_slope(&mut v32, &mut s32);
    let (v64, s64) = erf_pair(&x32.iter().map(|&x| x as f64).collect::<Vec<_>>());
    for i in 0..xs.len() {
        assert_eq!(v32[i], v64[i] as f32);
        assert_eq!(s32[i], s64[i] as f32);
    }
}

#[test]
fn every_instruction_set_gives_the_same_bits() {
    use super::{apply_blocks, Erf, Tanh};
    let xs: Vec<f64> = (0..4099)
        .map(|i| ((i as f64) * 0.377).sin() * 10f64.powi(i % 7 - 3))
        .collect();
    let run = |variant: fn(&mut [f64], &mut [f64])| {
        let (mut v, mut s) = (xs.clone(), vec![0.0; xs.len()]);
        variant(&mut v, &mut s);
        let bits = |a: Vec<f64>| a.into_iter().map(f64::to_bits).collect::<Vec<_>>();
        (bits(v), bits(s))
    };
    type Variant = fn(&mut [f64], &mut [f64]);
    let portable: [Variant; 2] = [apply_blocks::<f64, Tanh, true>, apply_blocks::<f64, Erf, true>];
    let dispatched: [Variant; 2] = [f64::tanh_with_slope, f64::erf_with_slope];
    for (p, d) in portable.into_iter().zip(dispatched) {
        // The dispatched variant is the widest the CPU has; on x86-64 compare the other too.
        assert_eq!(run(p), run(d));
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the features were just checked.
        let avx2: [Variant; 2] = [
            |v, s| unsafe { super::apply_blocks_avx2::<f64, Tanh, true>(v, s) },
            |v, s| unsafe { super::apply_blocks_avx2::<f64, Erf, true>(v, s) },
        ];
        for (p, a) in portable.into_iter().zip(avx2) {
            assert_eq!(run(p), run(a));
        }
    }
}

#[test]
#[should_panic(expected = "equal lengths")]
fn mismatched_lengths_panic() {
    f64::tanh_with_slope(&mut [1.0, 2.0], &mut [0.0]);
}
