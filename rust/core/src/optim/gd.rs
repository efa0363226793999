//! Plain gradient descent: p ← p − η·g. No state.

use super::Rule;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug)]
pub struct Gd;

impl<T: Real> Rule<T> for Gd {
    const SLOTS: usize = 0;
    const PLAIN: bool = true;

    fn apply(&self, p: &mut [T], g: &[T], _slots: &mut [T], lr: T, _t: u64) {
        for (p, &g) in p.iter_mut().zip(g) {
            *p -= lr * g;
        }
    }

    fn direction(&self, _xi: &mut [T], _slots: &mut [T], _t: u64) {}

    fn first_moment<'s>(&self, _slots: &'s mut [T]) -> Option<&'s mut [T]> {
        None
    }
}
