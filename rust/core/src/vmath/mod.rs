//! Activation functions evaluated over whole slices (the MLP forward pass and the diagnostics).
//!
//! One entry point per function so that callers never loop over scalars themselves. The
//! kernels are branch-free formulas (`tanh.rs`, `erf.rs`, sharing the exponential of `exp.rs`),
//! written once against the `Float` arithmetic of `float.rs` and evaluated natively in f32 or
//! f64 (f32 with its own constants and shorter polynomials, so twice the elements fit a vector
//! register). They are applied to fixed-size blocks, compiled once per instruction set and
//! chosen at run time (AVX-512, AVX2+FMA, or the portable build), so the compiler turns each
//! block into vector code.
//!
//! Determinism: every element goes through the same formula, built only from IEEE operations
//! that are exactly rounded (add, mul, div, fused mul-add, bit manipulation); the last partial
//! block is padded into a full one rather than handled by a separate loop. An element's result
//! therefore depends only on its own value: never on its position, the slice length, the
//! thread count or the batching, and not even on which instruction set ran it.
//!
//! Accuracy (tested in `tests/test_vmath.py` against mpmath), relative to the exact value, over
//! the whole range; outputs below the normal range are within one subnormal step absolutely:
//! - f64: tanh, erf and both slopes within 1 ulp (measured maxima 0.6–0.9 ulp).
//! - f32: within 2 f32 ulp. Measured over every float32 input (against the f64 kernels):
//!   tanh 0.75, tanh' 0.78, erf 1.00 (near |x| = 0.96, the end of its polynomial branch),
//!   erf' 0.84 ulp.
//!
//! The tanh slope is sech² computed from e^(−2|x|), not 1 − tanh², which cancels to 0 where
//! tanh rounds to ±1.

mod erf;
mod exp;
mod float;
mod tanh;

/// Slice-wise tanh and erf with their derivatives, for f32 and f64.
pub trait VecMath: Sized + Copy {
    /// values ← tanh(values); slopes ← tanh'(values) = 1 − tanh² = sech², evaluated as sech²
    /// so that it stays accurate (relative) where tanh rounds to ±1. Equal lengths.
    fn tanh_with_slope(values: &mut [Self], slopes: &mut [Self]);
    /// values ← erf(values); slopes ← (2/√π)·exp(−values²). Equal lengths.
    fn erf_with_slope(values: &mut [Self], slopes: &mut [Self]);
    /// values ← tanh(values).
    fn tanh_in_place(values: &mut [Self]);
    /// values ← erf(values).
    fn erf_in_place(values: &mut [Self]);
}

/// Elements per block: enough independent lanes (f64: 4 AVX-512 or 8 AVX2 registers; f32 half
/// as many) to hide the latency of the polynomial chains, small enough to stay in L1.
const LANES: usize = 32;

/// The per-element formulas, as types so the block driver is monomorphised (and inlined) once
/// per function, precision and instruction set.
trait Formula {
    fn value_and_slope<T: Element>(x: T) -> (T, T);
}

struct Tanh;
impl Formula for Tanh {
    #[inline(always)]
    fn value_and_slope<T: Element>(x: T) -> (T, T) {
        tanh::tanh_and_slope(x)
    }
}

struct Erf;
impl Formula for Erf {
    #[inline(always)]
    fn value_and_slope<T: Element>(x: T) -> (T, T) {
        erf::erf_and_slope(x)
    }
}

/// The element types the kernels serve, each evaluated natively in its own precision.
trait Element: erf::ErfFloat {}
impl Element for f32 {}
impl Element for f64 {}

/// Apply `F` to `values` (and write the slopes when `SLOPES`) one block of `LANES` at a time.
/// A short last block is zero-padded into the same stack buffer, so it runs the same code.
#[inline(always)]
fn apply_blocks<T: Element, F: Formula, const SLOPES: bool>(values: &mut [T], slopes: &mut [T]) {
    let mut x = [T::ZERO; LANES];
    let mut d = [T::ZERO; LANES];
    for start in (0..values.len()).step_by(LANES) {
        let len = LANES.min(values.len() - start);
        let vals = &mut values[start..start + len];
        x[..len].copy_from_slice(vals);
        x[len..].fill(T::ZERO);
        for i in 0..LANES {
            (x[i], d[i]) = F::value_and_slope(x[i]);
        }
        vals.copy_from_slice(&x[..len]);
        if SLOPES {
            slopes[start..start + len].copy_from_slice(&d[..len]);
        }
    }
}

/// `apply_blocks` compiled for AVX-512 (with FMA).
///
/// # Safety
/// The CPU must support avx512f, avx2 and fma.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn apply_blocks_avx512<T: Element, F: Formula, const SLOPES: bool>(values: &mut [T], slopes: &mut [T]) {
    apply_blocks::<T, F, SLOPES>(values, slopes)
}

/// `apply_blocks` compiled for AVX2 with FMA.
///
/// # Safety
/// The CPU must support avx2 and fma.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_blocks_avx2<T: Element, F: Formula, const SLOPES: bool>(values: &mut [T], slopes: &mut [T]) {
    apply_blocks::<T, F, SLOPES>(values, slopes)
}

/// `apply_blocks` compiled for the widest vector instructions the CPU reports (checked at run
/// time, so one binary serves every x86-64; the results are the same bits on each, and on the
/// portable build, whose `mul_add` is a correctly rounded library call where the CPU lacks FMA).
fn dispatch<T: Element, F: Formula, const SLOPES: bool>(values: &mut [T], slopes: &mut [T]) {
    if SLOPES {
        assert_eq!(values.len(), slopes.len(), "values and slopes must have equal lengths");
    }
    #[cfg(target_arch = "x86_64")]
    {
        let fma = std::is_x86_feature_detected!("fma");
        // SAFETY: each variant is only called when the CPU reports the features it was
        // compiled for.
        if fma && std::is_x86_feature_detected!("avx512f") {
            return unsafe { apply_blocks_avx512::<T, F, SLOPES>(values, slopes) };
        }
        if fma && std::is_x86_feature_detected!("avx2") {
            return unsafe { apply_blocks_avx2::<T, F, SLOPES>(values, slopes) };
        }
    }
    apply_blocks::<T, F, SLOPES>(values, slopes)
}

macro_rules! impl_vecmath {
    ($t:ty) => {
        impl VecMath for $t {
            fn tanh_with_slope(values: &mut [Self], slopes: &mut [Self]) {
                dispatch::<$t, Tanh, true>(values, slopes)
            }
            fn erf_with_slope(values: &mut [Self], slopes: &mut [Self]) {
                dispatch::<$t, Erf, true>(values, slopes)
            }
            fn tanh_in_place(values: &mut [Self]) {
                dispatch::<$t, Tanh, false>(values, &mut [])
            }
            fn erf_in_place(values: &mut [Self]) {
                dispatch::<$t, Erf, false>(values, &mut [])
            }
        }
    };
}

impl_vecmath!(f32);
impl_vecmath!(f64);

#[cfg(test)]
mod tests;
