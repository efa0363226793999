//! Euclidean geometry: every point is on the "manifold", the tangent space is everything, the
//! retraction is the straight step W − η·d and transport is the identity. (The engine's
//! Euclidean layers take the fused `Rule::apply` path instead; this is the trait's reference
//! point, and a step through it equals that path.)

use super::Geometry;
use crate::scalar::Real;

#[derive(Clone, Copy, Debug, Default)]
pub struct Euclidean;

impl<T: Real> Geometry<T> for Euclidean {
    fn project(&mut self, _w: &[T], _x: &mut [T], _scale: T) {}

    fn retract(&mut self, w: &mut [T], d: &[T], lr: T, _scale: T, _new_scale: T) {
        for (wi, &di) in w.iter_mut().zip(d) {
            *wi -= lr * di;
        }
    }

    fn transport(&mut self, _w: &[T], _m: &mut [T], _scale: T) {}
}
