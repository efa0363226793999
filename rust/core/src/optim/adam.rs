//! Adam (Kingma & Ba 2015): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − η·m̂/(√v̂ + ε) with
//! m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). State: m then v. On the Stiefel manifold (geoopt's
//! RiemannianAdam) the same moments are kept for the projected gradient; the engine transports
//! m after each retraction, v is elementwise and stays.

use super::Rule;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

/// The per-step constants in T: β₁, 1−β₁, β₂, 1−β₂, 1−β₁ᵗ, 1−β₂ᵗ, ε (computed in f64).
struct Constants<T> {
    b1: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    correction1: T,
    correction2: T,
    eps: T,
}

impl Adam {
    fn constants<T: Real>(&self, t: u64) -> Constants<T> {
        // powf (libm's pow), not powi: the same rounding as the NumPy reference's `beta ** t`.
        let t = t as f64;
        Constants {
            b1: T::from_f64(self.beta1),
            one_minus_b1: T::from_f64(1.0 - self.beta1),
            b2: T::from_f64(self.beta2),
            one_minus_b2: T::from_f64(1.0 - self.beta2),
            correction1: T::from_f64(1.0 - self.beta1.powf(t)),
            correction2: T::from_f64(1.0 - self.beta2.powf(t)),
            eps: T::from_f64(self.eps),
        }
    }
}

/// Advance the moments with gradient g and return the direction m̂/(√v̂ + ε).
#[inline(always)]
fn step<T: Real>(c: &Constants<T>, g: T, m: &mut T, v: &mut T) -> T {
    *m = c.b1 * *m + c.one_minus_b1 * g;
    *v = c.b2 * *v + c.one_minus_b2 * (g * g);
    let m_hat = *m / c.correction1;
    let v_hat = *v / c.correction2;
    m_hat / (v_hat.sqrt() + c.eps)
}

impl<T: Real> Rule<T> for Adam {
    const SLOTS: usize = 2;
    const PLAIN: bool = false;

    fn apply(&self, p: &mut [T], g: &[T], slots: &mut [T], lr: T, t: u64) {
        let c = self.constants::<T>(t);
        let (m, v) = slots.split_at_mut(p.len());
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
            *p -= lr * step(&c, g, m, v);
        }
    }

    fn direction(&self, xi: &mut [T], slots: &mut [T], t: u64) {
        let c = self.constants::<T>(t);
        let (m, v) = slots.split_at_mut(xi.len());
        for ((x, m), v) in xi.iter_mut().zip(m).zip(v) {
            *x = step(&c, *x, m, v);
        }
    }

    fn first_moment<'s>(&self, slots: &'s mut [T]) -> Option<&'s mut [T]> {
        let half = slots.len() / 2;
        Some(&mut slots[..half])
    }
}
