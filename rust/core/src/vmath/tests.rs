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
fn in_place_variants_match_with_slope() {
    let xs: Vec<f64> = (-500..500).map(|i| i as f64 * 0.013).collect();
    let (tv, _) = tanh_pair(&xs);
    let (ev, _) = erf_pair(&xs);
    let (mut t, mut e) = (xs.clone(), xs.clone());
    f64::tanh_in_place(&mut t);
    f64::erf_in_place(&mut e);
    assert_eq!(t, tv);
    assert_eq!(e, ev);
    let x32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
    let (tv, _) = tanh_pair32(&x32);
    let (ev, _) = erf_pair32(&x32);
    let (mut t, mut e) = (x32.clone(), x32.clone());
    f32::tanh_in_place(&mut t);
    f32::erf_in_place(&mut e);
    assert_eq!(t, tv);
    assert_eq!(e, ev);
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

// f32: evaluated natively in f32 (the f64 kernels, within 1 f64 ulp of exact, are the
// reference here; `tests/test_vmath.py` checks against mpmath and sweeps every f32 input).

/// |a − reference| in f32 ulps at the reference rounded to f32 (subnormal outputs: in units of
/// the subnormal step 2⁻¹⁴⁹).
fn ulps32(a: f32, reference: f64) -> f64 {
    let rounded = (reference as f32).abs();
    let spacing = if rounded < f32::MIN_POSITIVE {
        f32::from_bits(1)
    } else {
        f32::from_bits(rounded.to_bits() & 0x7f80_0000) * f32::EPSILON
    };
    (a as f64 - reference).abs() / spacing as f64
}

/// Every f32 exponent range: a dense grid on [−12, 12], then 64 mantissas per binade from the
/// smallest subnormal to the largest finite f32, both signs.
fn grid32() -> Vec<f32> {
    let mut xs: Vec<f32> = (-120_000..=120_000).map(|i| i as f32 * 1e-4).collect();
    for biased_exponent in 0u32..255 {
        for m in 0..64u32 {
            let x = f32::from_bits((biased_exponent << 23) | (m * 131_071 + 1));
            xs.extend([x, -x]);
        }
    }
    xs
}

fn tanh_pair32(xs: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut v, mut s) = (xs.to_vec(), vec![0.0; xs.len()]);
    f32::tanh_with_slope(&mut v, &mut s);
    (v, s)
}

fn erf_pair32(xs: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut v, mut s) = (xs.to_vec(), vec![0.0; xs.len()]);
    f32::erf_with_slope(&mut v, &mut s);
    (v, s)
}

#[test]
fn f32_within_two_ulp_of_the_f64_kernels() {
    let x32 = grid32();
    let x64: Vec<f64> = x32.iter().map(|&x| x as f64).collect();
    type Pair32 = fn(&[f32]) -> (Vec<f32>, Vec<f32>);
    type Pair64 = fn(&[f64]) -> (Vec<f64>, Vec<f64>);
    let pairs: [(&str, Pair32, Pair64); 2] = [("tanh", tanh_pair32, tanh_pair), ("erf", erf_pair32, erf_pair)];
    for (name, f32_pair, f64_pair) in pairs {
        let (v32, s32) = f32_pair(&x32);
        let (v64, s64) = f64_pair(&x64);
        for i in 0..x32.len() {
            let x = x32[i];
            assert!(ulps32(v32[i], v64[i]) <= 2.0, "{name}({x}) = {} vs {}", v32[i], v64[i]);
            assert!(ulps32(s32[i], s64[i]) <= 2.0, "{name}'({x}) = {} vs {}", s32[i], s64[i]);
        }
    }
}

#[test]
fn f32_special_values() {
    let inf = f32::INFINITY;
    let tiny = f32::from_bits(1);
    let xs = [
        0.0,
        -0.0,
        inf,
        -inf,
        f32::NAN,
        tiny,
        -tiny,
        1e38,
        -1e38,
        20.0,
        -20.0,
        1e-40,
    ];
    let (tv, ts) = tanh_pair32(&xs);
    let (ev, es) = erf_pair32(&xs);
    for v in [&tv, &ev] {
        assert_eq!(v[0].to_bits(), 0.0f32.to_bits(), "+0 stays +0");
        assert_eq!(v[1].to_bits(), (-0.0f32).to_bits(), "−0 stays −0");
        assert_eq!((v[2], v[3]), (1.0, -1.0), "±inf saturate");
        assert!(v[4].is_nan(), "NaN in, NaN out");
        assert_eq!((v[7], v[8], v[9], v[10]), (1.0, -1.0, 1.0, -1.0));
    }
    let c = std::f32::consts::FRAC_2_SQRT_PI;
    assert_eq!((ts[0], ts[1], ts[2], ts[3]), (1.0, 1.0, 0.0, 0.0));
    assert_eq!((es[0], es[1], es[2], es[3]), (c, c, 0.0, 0.0));
    assert!(ts[4].is_nan() && es[4].is_nan());
    // Subnormal inputs: tanh x = x exactly, erf x = (2/√π)·x (within one subnormal step).
    assert_eq!((tv[5], tv[6], tv[11]), (tiny, -tiny, 1e-40));
    assert_eq!((ev[5], ev[6]), (tiny, -tiny));
    assert!((ev[11] as f64 - std::f64::consts::FRAC_2_SQRT_PI * 1e-40f32 as f64).abs() <= tiny as f64);
    // sech²(20) = 4e^(−40)(1 − 2e^(−40)) although 1 − tanh² is 0 in f32 (from |x| ≈ 9 on); the
    // slopes underflow to 0 where they should, gradually.
    assert_eq!(tv[9] * tv[9], 1.0);
    assert!(ulps32(ts[9], 4.0 * (-40.0f64).exp()) <= 1.0);
    let far = [40.0f32, 47.0, 52.0, 53.0];
    let (_, s) = tanh_pair32(&far);
    assert!(s[0] >= f32::MIN_POSITIVE && s[1] > 0.0 && s[1] < f32::MIN_POSITIVE && s[3] == 0.0);
    for (&x, &si) in far.iter().zip(&s) {
        let exact = 4.0 * (-2.0 * x as f64).exp();
        assert!(ulps32(si, exact) <= 1.0, "sech²({x}) = {si} vs {exact}");
    }
    let (_, s) = erf_pair32(&[9.0, 10.0, 10.3, 12.0]);
    assert!(s[0] >= f32::MIN_POSITIVE && s[1] > 0.0 && s[2] == 0.0 && s[3] == 0.0);
}

#[test]
fn f32_results_do_not_depend_on_position_or_length() {
    let values: Vec<f32> = (0..257)
        .map(|i| (((i as f64) * 0.731).sin() * 7.0 + (i % 5) as f64 * 1e-3) as f32)
        .collect();
    for pair in [tanh_pair32 as fn(&[f32]) -> (Vec<f32>, Vec<f32>), erf_pair32] {
        let (v, s) = pair(&values);
        for len in [1, 2, 7, 31, 32, 33, 63, 64, 65, 100] {
            for offset in [0, 1, 5, 31, 32, 63] {
                for (i, &x) in values.iter().enumerate().step_by(7) {
                    let mut slice: Vec<f32> = (0..len.max(offset + 1))
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
fn f32_every_instruction_set_gives_the_same_bits() {
    use super::{apply_blocks, Erf, Tanh};
    let xs: Vec<f32> = (0..4099)
        .map(|i| (((i as f64) * 0.377).sin() * 10f64.powi(i % 7 - 3)) as f32)
        .collect();
    let run = |variant: fn(&mut [f32], &mut [f32])| {
        let (mut v, mut s) = (xs.clone(), vec![0.0; xs.len()]);
        variant(&mut v, &mut s);
        let bits = |a: Vec<f32>| a.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        (bits(v), bits(s))
    };
    type Variant = fn(&mut [f32], &mut [f32]);
    let portable: [Variant; 2] = [apply_blocks::<f32, Tanh, true>, apply_blocks::<f32, Erf, true>];
    let dispatched: [Variant; 2] = [f32::tanh_with_slope, f32::erf_with_slope];
    for (p, d) in portable.into_iter().zip(dispatched) {
        assert_eq!(run(p), run(d));
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the features were just checked.
        let avx2: [Variant; 2] = [
            |v, s| unsafe { super::apply_blocks_avx2::<f32, Tanh, true>(v, s) },
            |v, s| unsafe { super::apply_blocks_avx2::<f32, Erf, true>(v, s) },
        ];
        for (p, a) in portable.into_iter().zip(avx2) {
            assert_eq!(run(p), run(a));
        }
    }
}
