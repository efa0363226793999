//! Network forms: the vocabulary (activation, parameterisation) and, for training, the forward
//! and backward passes of one network.

pub mod form;
mod pass;

pub use form::{Activation, Form, Parameterization};
pub use pass::{Input, LayerGrad, Network, Passes};
