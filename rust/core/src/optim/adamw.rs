//! AdamW (Loshchilov & Hutter 2019, PyTorch's `AdamW`): Adam with decoupled weight decay. The
//! engine applies the decay p ← p − η·λ·p (pre-update p) before the Adam step instead of adding
//! λp to the gradient; the moments are Adam's.

use super::{Adam, Rule};
use crate::scalar::Real;

#[derive(Clone, Copy, Debug)]
pub struct AdamW(pub Adam);

impl<T: Real> Rule<T> for AdamW {
    const SLOTS: usize = <Adam as Rule<T>>::SLOTS;
    const PLAIN: bool = false;
    const DECOUPLED_DECAY: bool = true;

    fn apply(&self, p: &mut [T], g: &[T], slots: &mut [T], lr: T, t: u64) {
        self.0.apply(p, g, slots, lr, t);
    }

    fn direction(&self, xi: &mut [T], slots: &mut [T], t: u64) {
        Rule::<T>::direction(&self.0, xi, slots, t);
    }

    fn first_moment<'s>(&self, slots: &'s mut [T]) -> Option<&'s mut [T]> {
        Rule::<T>::first_moment(&self.0, slots)
    }
}
