//! RMSProp in PyTorch's convention (`torch.optim.RMSprop`): v ← d·v + (1−d)·g²; centered:
//! ḡ ← d·ḡ + (1−d)·g and denom = √(v − ḡ²) + ε, else denom = √v + ε; with momentum μ:
//! buf ← μ·buf + g/denom, p ← p − η·buf, else p ← p − η·g/denom.
//!
//! State, in slot order: v ("square_avg"), ḡ ("grad_avg", centered only), buf ("momentum",
//! with momentum only). The variant is chosen once per call through the const parameters, so
//! the state has no unused buffer and the loop no per-element test. On a manifold the averages
//! are kept for the projected gradient; the momentum buffer is the first moment transported
//! after each retraction (v and ḡ stay).

use super::Rule;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug)]
pub struct RmsProp<T, const CENTERED: bool, const MOMENTUM: bool> {
    pub decay: T,
    pub eps: T,
    /// μ (used when MOMENTUM).
    pub momentum: T,
}

impl<T: Real, const CENTERED: bool, const MOMENTUM: bool> RmsProp<T, CENTERED, MOMENTUM> {
    /// The direction g/denom for one entry, advancing v (and ḡ).
    #[inline(always)]
    fn scaled(&self, g: T, v: &mut T, avg: Option<&mut T>) -> T {
        let one_minus = T::from_f64(1.0) - self.decay;
        *v = self.decay * *v + one_minus * (g * g);
        let denom = match avg {
            Some(a) => {
                *a = self.decay * *a + one_minus * g;
                (*v - *a * *a).sqrt() + self.eps
            }
            None => v.sqrt() + self.eps,
        };
        g / denom
    }

    /// Overwrite `g` with the direction of every entry, advancing the state.
    fn directions(&self, g: &mut [T], slots: &mut [T]) {
        let n = g.len();
        let (v, rest) = slots.split_at_mut(n);
        let (avg, buf) = if CENTERED {
            rest.split_at_mut(n)
        } else {
            rest.split_at_mut(0)
        };
        for (i, (x, v)) in g.iter_mut().zip(v).enumerate() {
            let a = if CENTERED { Some(&mut avg[i]) } else { None };
            let d = self.scaled(*x, v, a);
            *x = if MOMENTUM {
                buf[i] = self.momentum * buf[i] + d;
                buf[i]
            } else {
                d
            };
        }
    }
}

impl<T: Real, const CENTERED: bool, const MOMENTUM: bool> Rule<T> for RmsProp<T, CENTERED, MOMENTUM> {
    const SLOTS: usize = 1 + CENTERED as usize + MOMENTUM as usize;
    const PLAIN: bool = false;

    fn apply(&self, p: &mut [T], g: &[T], slots: &mut [T], lr: T, _t: u64) {
        let n = p.len();
        let (v, rest) = slots.split_at_mut(n);
        let (avg, buf) = if CENTERED {
            rest.split_at_mut(n)
        } else {
            rest.split_at_mut(0)
        };
        for (i, ((p, &g), v)) in p.iter_mut().zip(g).zip(v).enumerate() {
            let a = if CENTERED { Some(&mut avg[i]) } else { None };
            let d = self.scaled(g, v, a);
            if MOMENTUM {
                buf[i] = self.momentum * buf[i] + d;
                *p -= lr * buf[i];
            } else {
                *p -= lr * d;
            }
        }
    }

    fn direction(&self, xi: &mut [T], slots: &mut [T], _t: u64) {
        self.directions(xi, slots);
    }

    fn first_moment<'s>(&self, slots: &'s mut [T]) -> Option<&'s mut [T]> {
        if MOMENTUM {
            let n = slots.len() / Self::SLOTS;
            Some(&mut slots[(Self::SLOTS - 1) * n..])
        } else {
            None
        }
    }
}
