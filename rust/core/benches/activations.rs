//! Throughput of the slice activations (`vmath`): the vectorised kernels against the scalar
//! libm loop they replaced, f64 and f32, on 10⁴ and 10⁶ elements, one thread.
//! Run: `cargo bench -p deeplinear-core --bench activations`. Throughput is in elements.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use deeplinear_core::vmath::VecMath;

/// The scalar loops `vmath` had before vectorisation: one libm call per element.
trait ScalarLibm: Sized {
    fn tanh_with_slope(values: &mut [Self], slopes: &mut [Self]);
    fn erf_with_slope(values: &mut [Self], slopes: &mut [Self]);
}

macro_rules! scalar_libm {
    ($t:ty, $erf:path) => {
        impl ScalarLibm for $t {
            fn tanh_with_slope(values: &mut [Self], slopes: &mut [Self]) {
                for (v, s) in values.iter_mut().zip(slopes) {
                    let h = v.tanh();
                    *v = h;
                    *s = 1.0 - h * h;
                }
            }
            fn erf_with_slope(values: &mut [Self], slopes: &mut [Self]) {
                for (v, s) in values.iter_mut().zip(slopes) {
                    let z = *v;
                    *v = $erf(z);
                    *s = (std::f64::consts::FRAC_2_SQRT_PI as $t) * (-(z * z)).exp();
                }
            }
        }
    };
}
scalar_libm!(f32, libm::erff);
scalar_libm!(f64, libm::erf);

type Kernel<T> = fn(&mut [T], &mut [T]);

fn group<T: VecMath + ScalarLibm + Copy + From<f32>>(c: &mut Criterion, dtype: &str) {
    let kernels: [(&str, Kernel<T>); 4] = [
        ("tanh vectorised", <T as VecMath>::tanh_with_slope),
        ("tanh scalar libm", <T as ScalarLibm>::tanh_with_slope),
        ("erf vectorised", <T as VecMath>::erf_with_slope),
        ("erf scalar libm", <T as ScalarLibm>::erf_with_slope),
    ];
    let mut group = c.benchmark_group(format!("activation with slope, {dtype}, 1 thread"));
    group.sample_size(20);
    for n in [10_000usize, 1_000_000] {
        // Pre-activations of a trained network: mostly moderate, some saturating.
        let input: Vec<T> = (0..n).map(|i| T::from(((i as f32) * 0.618).sin() * 3.0)).collect();
        let (mut values, mut slopes) = (input.clone(), input.clone());
        group.throughput(Throughput::Elements(n as u64));
        for (name, kernel) in kernels {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    values.copy_from_slice(&input);
                    kernel(&mut values, &mut slopes);
                    black_box((&values, &slopes));
                })
            });
        }
    }
    group.finish();
}

fn activations(c: &mut Criterion) {
    group::<f64>(c, "f64");
    group::<f32>(c, "f32");
}

criterion_group!(benches, activations);
criterion_main!(benches);
