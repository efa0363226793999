//! Network forms: the vocabulary (activation, parameterisation) and the passes of one network:
//! forward and backward (training), tangent and pullback (Jacobian products), and the
//! per-example reverse sweep (diagnostics).

pub mod form;
mod pass;
mod per_example;
mod tangent;

pub use form::{Activation, Form, Parameterization};
pub use pass::{Input, LayerGrad, Network, Passes};
pub use tangent::Direction;
