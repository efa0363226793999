//! Activation functions evaluated over whole slices (the MLP forward pass and the diagnostics).
//!
//! One entry point per function so that callers never loop over scalars themselves: the
//! implementations here are free to vectorise. Every element's result depends only on its own
//! value (never on its position in the slice or the slice's length), so results are identical
//! however a batch is split over threads or mini-batches.

/// Slice-wise tanh and erf with their derivatives, for f32 and f64.
pub trait VecMath: Sized + Copy {
    /// values ← tanh(values); slopes ← 1 − tanh²(values). Equal lengths.
    fn tanh_with_slope(values: &mut [Self], slopes: &mut [Self]);
    /// values ← erf(values); slopes ← (2/√π)·exp(−values²). Equal lengths.
    fn erf_with_slope(values: &mut [Self], slopes: &mut [Self]);
    /// values ← tanh(values).
    fn tanh_in_place(values: &mut [Self]);
    /// values ← erf(values).
    fn erf_in_place(values: &mut [Self]);
}

macro_rules! scalar_vecmath {
    ($t:ty, $erf:path) => {
        impl VecMath for $t {
            fn tanh_with_slope(values: &mut [Self], slopes: &mut [Self]) {
                assert_eq!(values.len(), slopes.len());
                for (v, s) in values.iter_mut().zip(slopes) {
                    let h = v.tanh();
                    *v = h;
                    *s = 1.0 - h * h;
                }
            }
            fn erf_with_slope(values: &mut [Self], slopes: &mut [Self]) {
                assert_eq!(values.len(), slopes.len());
                for (v, s) in values.iter_mut().zip(slopes) {
                    let z = *v;
                    *v = $erf(z);
                    *s = (std::f64::consts::FRAC_2_SQRT_PI as $t) * (-(z * z)).exp();
                }
            }
            fn tanh_in_place(values: &mut [Self]) {
                for v in values {
                    *v = v.tanh();
                }
            }
            fn erf_in_place(values: &mut [Self]) {
                for v in values {
                    *v = $erf(*v);
                }
            }
        }
    };
}

// Scalar libm versions: the reference behaviour until the vectorised kernels replace them.
scalar_vecmath!(f32, libm::erff);
scalar_vecmath!(f64, libm::erf);
