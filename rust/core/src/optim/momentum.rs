//! Heavy-ball momentum in PyTorch's convention: v ← βv + g, then p ← p − η·v, or with Nesterov
//! p ← p − η·(g + βv). State: the velocity v.

use super::Rule;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug)]
pub struct Momentum<T> {
    pub beta: T,
    pub nesterov: bool,
}

impl<T: Real> Rule<T> for Momentum<T> {
    const SLOTS: usize = 1;
    const PLAIN: bool = false;

    fn apply(&self, p: &mut [T], g: &[T], slots: &mut [T], lr: T, _t: u64) {
        let beta = self.beta;
        if self.nesterov {
            for ((p, &g), v) in p.iter_mut().zip(g).zip(slots.iter_mut()) {
                *v = beta * *v + g;
                *p -= lr * (g + beta * *v);
            }
        } else {
            for ((p, &g), v) in p.iter_mut().zip(g).zip(slots.iter_mut()) {
                *v = beta * *v + g;
                *p -= lr * *v;
            }
        }
    }

    fn direction(&self, xi: &mut [T], slots: &mut [T], _t: u64) {
        let beta = self.beta;
        for (x, v) in xi.iter_mut().zip(slots.iter_mut()) {
            *v = beta * *v + *x;
            *x = if self.nesterov { *x + beta * *v } else { *v };
        }
    }

    fn first_moment<'s>(&self, slots: &'s mut [T]) -> Option<&'s mut [T]> {
        Some(slots)
    }
}
