//! The per-layer geometry and parameter groups of a call, validated against the network: which
//! layers are on a manifold (and can hold it), which group each layer's weights belong to, and
//! whether every group named by a learning rate or weight decay exists.

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::optim::{Group, GroupValues, Manifold};

use super::options::TrainOptions;

pub(super) struct Layers {
    pub manifolds: Vec<Manifold>,
    /// The parameter group of each layer's weights.
    pub groups: Vec<Group>,
}

/// One manifold per layer, from one name or one per layer; every layer able to hold its own.
fn manifolds(opts: &TrainOptions, layout: &Layout) -> Result<Vec<Manifold>> {
    let depth = layout.depth();
    let manifolds = match opts.manifold.len() {
        0 => vec![Manifold::Euclidean; depth],
        1 => vec![opts.manifold[0]; depth],
        k if k == depth => opts.manifold.clone(),
        k => {
            return Err(Error::invalid(
                "manifold",
                format!("expected one name, or a list with one per layer ({depth}), got a list of {k}"),
            ))
        }
    };
    for (j, m) in manifolds.iter().enumerate() {
        m.check_shape(&format!("weights[{j}]"), layout.dims[j + 1], layout.dims[j])?;
    }
    Ok(manifolds)
}

/// The group of each layer's weights: manifold layers, the last layer (Euclidean), the rest.
fn groups(manifolds: &[Manifold]) -> Vec<Group> {
    let last = manifolds.len() - 1;
    manifolds
        .iter()
        .enumerate()
        .map(|(j, &m)| match m {
            Manifold::Euclidean if j == last => Group::Output,
            Manifold::Euclidean => Group::Base,
            _ => Group::Manifold,
        })
        .collect()
}

pub(super) fn check(opts: &TrainOptions, layout: &Layout, has_biases: bool) -> Result<Layers> {
    let manifolds = manifolds(opts, layout)?;
    let any_manifold = manifolds.iter().any(|&m| m != Manifold::Euclidean);
    if opts.learn_scale && !any_manifold {
        return Err(Error::invalid(
            "learn_scale",
            "trains the scale of manifold layers, but no layer has manifold='stiefel' or 'oblique'",
        ));
    }
    let penalty = opts.oblique_penalty;
    if !(penalty.is_finite() && penalty >= 0.0) {
        return Err(Error::invalid(
            "oblique_penalty",
            format!("must be finite and non-negative, got {penalty}"),
        ));
    }
    if penalty > 0.0 && !manifolds.contains(&Manifold::Oblique) {
        return Err(Error::invalid(
            "oblique_penalty",
            "penalises Oblique layers, but no layer has manifold='oblique'",
        ));
    }
    let groups = groups(&manifolds);
    // Why a group named by a rate or decay is absent from this network (None: present).
    let absent = |g: Group| -> Option<&'static str> {
        match g {
            Group::Base => None,
            Group::Manifold => (!any_manifold).then_some("no layer is on a manifold ('stiefel' or 'oblique')"),
            Group::Output => (groups.last() != Some(&Group::Output))
                .then_some("the last layer is on a manifold: its weights are in the 'manifold' group"),
            Group::Biases => (!has_biases).then_some("the network has no biases"),
            Group::Scales => (!opts.learn_scale).then_some("the scales are trained only with learn_scale=True"),
        }
    };
    let batch = layout.batch;
    opts.lr.check("lr", batch, absent)?;
    if let Some(decay) = &opts.weight_decay {
        decay.check("weight_decay", batch, |g| match g {
            Group::Manifold => {
                Some("the orthonormal factor of a manifold layer is never decayed; decay its scale with scales=")
            }
            _ => absent(g),
        })?;
    }
    Ok(Layers { manifolds, groups })
}

/// Network b's learning rate and weight decay of every group (`Group` order).
pub(super) fn resolve(opts: &TrainOptions, b: usize) -> ([f64; 5], [f64; 5]) {
    let decays = opts
        .weight_decay
        .as_ref()
        .map_or([0.0; 5], |d: &GroupValues| d.decays_of(b));
    (opts.lr.rates_of(b), decays)
}
