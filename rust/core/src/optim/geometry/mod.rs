//! The geometry a layer's weights are trained in: Euclidean, Stiefel (scaled-orthogonal) or
//! Oblique (rows of one common norm). A manifold layer is W = s·Q with Q on the unit manifold
//! and s its scale (fixed, or trained with `learn_scale`).
//!
//! Each geometry implements [`Geometry`] (project, retract, transport), and one Riemannian step
//! of any rule on any geometry is [`step`] (as geoopt's Riemannian optimisers: the rule's
//! moments are kept for the projected gradient, the first moment is transported after the
//! retraction). Adding a manifold means: its file here with a `Geometry` impl and its start
//! check, and one variant with its arms in [`Manifold`] and [`Workspace`].

mod euclidean;
pub mod oblique;
pub mod stiefel;

pub use euclidean::Euclidean;
pub use oblique::ObliqueWork;
pub use stiefel::StiefelWork;

use super::Rule;
use crate::error::{Error, Result};
use crate::scalar::Real;

/// A Riemannian geometry of one layer shape, in the layer's own coordinates W = s·Q.
pub trait Geometry<T: Real> {
    /// x ← its projection onto the tangent space at w (of scale `scale`).
    fn project(&mut self, w: &[T], x: &mut [T], scale: T);

    /// w ← the point reached from w along the tangent direction −lr·d, back on the manifold
    /// with the scale `new_scale`.
    fn retract(&mut self, w: &mut [T], d: &[T], lr: T, scale: T, new_scale: T);

    /// m ← a tangent vector of the previous point moved to the tangent space at the new `w`:
    /// re-projection by default (geoopt's `Stiefel` and `Sphere` do the same).
    fn transport(&mut self, w: &[T], m: &mut [T], scale: T) {
        self.project(w, m, scale);
    }

    /// g ← g + the Euclidean gradient of the geometry's own penalty term, if it has one.
    fn add_penalty(&mut self, _w: &[T], _g: &mut [T], _scale: T) {}
}

/// One Riemannian step of layer `w` (scale `scale` before the step, `new_scale` after it)
/// with Euclidean gradient `g` (overwritten), rule `rule` and its state `slots`: penalty,
/// projection, the rule's direction, retraction, transport of the first moment.
#[allow(clippy::too_many_arguments)]
pub fn step<T: Real, G: Geometry<T>, R: Rule<T>>(
    geometry: &mut G,
    rule: &R,
    w: &mut [T],
    g: &mut [T],
    slots: &mut [T],
    lr: T,
    t: u64,
    scale: T,
    new_scale: T,
) {
    geometry.add_penalty(w, g, scale);
    geometry.project(w, g, scale);
    rule.direction(g, slots, t);
    geometry.retract(w, g, lr, scale, new_scale);
    if let Some(m) = rule.first_moment(slots) {
        geometry.transport(w, m, new_scale);
    }
}

/// The geometry of a layer, as a call names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Manifold {
    #[default]
    Euclidean,
    /// Scaled-orthogonal matrices (WᵀW = s²I, or WWᵀ = s²I if wide), QR retraction.
    Stiefel,
    /// Rows of one common norm s, exponential map of each row's sphere.
    Oblique,
}

impl Manifold {
    pub const NAMES: [&'static str; 3] = ["euclidean", "stiefel", "oblique"];

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "euclidean" => Ok(Manifold::Euclidean),
            "stiefel" => Ok(Manifold::Stiefel),
            "oblique" => Ok(Manifold::Oblique),
            other => Err(Error::invalid(
                "manifold",
                format!("expected 'euclidean', 'stiefel' or 'oblique', got {other:?}"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether layer `layer` (d_out × d_in) can hold this geometry; errors name the layer.
    pub fn check_shape(self, layer: &str, _d_out: usize, d_in: usize) -> Result<()> {
        match self {
            Manifold::Oblique => ObliqueWork::<f64>::check_shape(layer, d_in),
            Manifold::Euclidean | Manifold::Stiefel => Ok(()),
        }
    }

    /// (s², the largest relative deviation from the manifold at scale s) of a layer.
    pub fn spread<T: Real>(self, w: &[T], d_out: usize, d_in: usize) -> (f64, f64) {
        match self {
            Manifold::Euclidean => (f64::NAN, 0.0),
            Manifold::Stiefel => stiefel::orthogonality(w, d_out, d_in),
            Manifold::Oblique => oblique::row_spread(w, d_out, d_in),
        }
    }

    /// The scale s of a layer that must be on the manifold (to √ε of its precision), or an
    /// error naming `arg`: layers are never projected silently.
    pub fn scale_of<T: Real>(self, arg: &str, w: &[T], d_out: usize, d_in: usize) -> Result<f64> {
        let (s2, worst) = self.spread(w, d_out, d_in);
        let tol = epsilon::<T>().sqrt();
        // `worst` is NaN for non-finite weights: reject those too.
        if s2 > 0.0 && s2.is_finite() && worst <= tol {
            return Ok(s2.sqrt());
        }
        let (needs, init) = match self {
            Manifold::Stiefel => (
                "scaled-orthogonal layers (WᵀW = s²I, or WWᵀ = s²I if wide), but ‖gram/s² − I‖_max",
                "initialise with init.orthogonal",
            ),
            _ => (
                "layers whose rows all have one norm s, but max_i |‖w_i‖²/s² − 1|",
                "initialise with init.orthogonal, or divide each row by its norm",
            ),
        };
        Err(Error::invalid(
            arg,
            format!(
                "manifold='{}' needs {needs} = {worst:.3e} > {tol:.1e}; {init}",
                self.name()
            ),
        ))
    }
}

/// Machine epsilon of T, found through the trait's f64 conversion.
pub(crate) fn epsilon<T: Real>() -> f64 {
    if T::from_f64(1.0 + 1e-10).to_f64() == 1.0 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    }
}

/// The workspace of one manifold layer shape (allocated once per worker).
// A worker holds one per distinct layer shape, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Workspace<T: Real> {
    Stiefel(StiefelWork<T>),
    Oblique(ObliqueWork<T>),
}

impl<T: Real> Workspace<T> {
    /// The workspace of a `manifold` layer rows × cols (None for Euclidean layers), with the
    /// Oblique penalty ω.
    pub fn new(manifold: Manifold, rows: usize, cols: usize, penalty: f64) -> Result<Option<Self>> {
        Ok(match manifold {
            Manifold::Euclidean => None,
            Manifold::Stiefel => Some(Workspace::Stiefel(StiefelWork::new(rows, cols)?)),
            Manifold::Oblique => Some(Workspace::Oblique(ObliqueWork::new(rows, cols, penalty)?)),
        })
    }

    /// Whether this workspace serves a `manifold` layer of shape `shape`.
    pub fn serves(&self, manifold: Manifold, shape: (usize, usize)) -> bool {
        match self {
            Workspace::Stiefel(w) => manifold == Manifold::Stiefel && w.shape() == shape,
            Workspace::Oblique(w) => manifold == Manifold::Oblique && w.shape() == shape,
        }
    }

    /// [`step`] in this geometry.
    #[allow(clippy::too_many_arguments)]
    pub fn step<R: Rule<T>>(
        &mut self,
        rule: &R,
        w: &mut [T],
        g: &mut [T],
        slots: &mut [T],
        lr: T,
        t: u64,
        scale: T,
        new_scale: T,
    ) {
        match self {
            Workspace::Stiefel(work) => step(work, rule, w, g, slots, lr, t, scale, new_scale),
            Workspace::Oblique(work) => step(work, rule, w, g, slots, lr, t, scale, new_scale),
        }
    }
}
