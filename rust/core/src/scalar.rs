//! The floating-point types the engine runs in (f32 and f64).

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// A real scalar the engine supports. faer's `RealField` brings arithmetic; the extra methods
/// are the few conversions and tests the engine needs.
pub trait Real: faer::traits::RealField + crate::vmath::VecMath + Copy + Send + Sync + 'static {
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn is_finite(self) -> bool;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    fn tanh(self) -> Self;
    /// The error function (libm: the FreeBSD msun implementation, under 1 ulp).
    fn erf(self) -> Self;
    /// One standard normal draw in this precision.
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;
}

macro_rules! impl_real {
    ($t:ty, $erf:path) => {
        impl Real for $t {
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
                StandardNormal.sample(rng)
            }
        }
    };
}

impl_real!(f32, libm::erff);
impl_real!(f64, libm::erf);
