//! Diagnostics of batches of networks (docs/science.md, Diagnostics): spectra, balancedness,
//! deficiency margin, weight change, input–output Jacobians, the empirical NTK and the Fisher's
//! top eigenvalues.
//!
//! Weights are laid out as for training (`weights[j]` is (B, d_{j+1}, d_j), row-major). Every
//! function validates its arguments before any work, then computes one network per task on the
//! private pool, and returns a row-major f64 buffer with its shape (network axis first). The
//! diagnostics of the network function run the passes of [`crate::net`], the ones training
//! uses, through a [`probe::Probe`].

pub mod fisher;
pub mod kernels;
pub mod lanczos;
pub mod power;
pub mod probe;

use std::sync::atomic::{AtomicBool, Ordering};

use faer::MatRef;
use rayon::prelude::*;

use crate::alloc;
pub use crate::array::Batched;
use crate::array::{of_network, shape_str, ArrayRef};
use crate::error::{Error, Result};
use crate::layout::check_matrix;
pub use crate::layout::{check_weights, Layout};
use crate::linalg::{row_major, Products};
use crate::loss::{check_targets, LossKind, TargetArray, TargetSlice, Targets};
use crate::net::Network;
use crate::parallel;
use crate::scalar::Real;

pub use crate::net::{Activation, Parameterization};
pub use fisher::{FisherKind, FisherMethod, FisherSpec};
pub use power::PowerIteration;
pub use probe::{NetForm, Params, Probe};

/// Network b's slice of a shared-or-batched (rows, cols) matrix.
fn matrix_of<'a, T: Real>(a: ArrayRef<'a, T>, shared: bool, b: usize) -> MatRef<'a, T> {
    let (r, c) = (a.shape[a.shape.len() - 2], a.shape[a.shape.len() - 1]);
    row_major(of_network(a.data, shared, r * c, b), r, c)
}

fn check_finite(arg: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(arg, format!("must be finite, got {value}")))
    }
}

/// How the products of one network's passes run in a call over `batch` networks: blocked
/// always (so results do not depend on the thread count), in parallel when there are fewer
/// networks than threads (so one large network still uses every core).
fn products_for(batch: usize, threads: Option<usize>) -> Result<Products> {
    Ok(Products::Blocked {
        parallel: batch < parallel::resolve_threads(threads)?,
    })
}

/// Run `f(b, out_b)` for every network b on the private pool; `out` has `width` entries per
/// network. Stops early (with `Error::Cancelled`) when `cancel` is raised.
///
/// Before anything is allocated, the output and `scratch` bytes per worker (what `f` allocates
/// for one network, estimated by the caller) are checked against this machine's memory: too
/// much is `OutOfMemory` naming `arg`. The allocations inside `f` are fallible too.
fn per_network<F>(
    arg: &str,
    batch: usize,
    width: usize,
    scratch: u128,
    threads: Option<usize>,
    cancel: &AtomicBool,
    f: F,
) -> Result<Vec<f64>>
where
    F: Fn(usize, &mut [f64]) -> Result<()> + Sync,
{
    let len = alloc::checked_len(arg, &[batch, width])?;
    alloc::check_fits(arg, scratch)?;
    let workers = parallel::resolve_threads(threads)?.min(batch) as u128;
    alloc::check_fits(arg, alloc::bytes_of::<f64>(len) + workers * scratch)?;
    let mut out = alloc::zeroed(arg, len)?;
    if width == 0 {
        return Ok(out);
    }
    parallel::pool(threads)?.install(|| {
        out.par_chunks_mut(width).enumerate().try_for_each(|(b, chunk)| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            f(b, chunk)
        })
    })?;
    Ok(out)
}

/// Singular values (non-increasing) of the end-to-end matrix α·W_L⋯W_1: (B, min(d_0, d_L)).
pub fn singular_values<T: Real>(
    weights: &[ArrayRef<'_, T>],
    alpha: f64,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let layout = check_weights("weights", weights)?;
    check_finite("alpha", alpha)?;
    let depth = layout.depth();
    partial_product_sv(weights, &layout, 0, depth - 1, alpha, threads, cancel)
}

/// Singular values of the partial product weights[j]⋯weights[i] (0-based, inclusive;
/// W_{j+1:i+1} in docs/science.md's notation): (B, min(d_i, d_{j+1})).
pub fn partial_product_singular_values<T: Real>(
    weights: &[ArrayRef<'_, T>],
    i: usize,
    j: usize,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let layout = check_weights("weights", weights)?;
    let depth = layout.depth();
    if j >= depth {
        return Err(Error::invalid(
            "j",
            format!("must be a layer index below {depth}, got {j}"),
        ));
    }
    if i > j {
        return Err(Error::invalid("i", format!("must be at most j = {j}, got {i}")));
    }
    partial_product_sv(weights, &layout, i, j, 1.0, threads, cancel)
}

fn partial_product_sv<T: Real>(
    weights: &[ArrayRef<'_, T>],
    layout: &Layout,
    i: usize,
    j: usize,
    alpha: f64,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let (d_in, d_out) = (layout.dims[i], layout.dims[j + 1]);
    let k = d_in.min(d_out);
    let scratch = kernels::chain_bytes::<T>(&layout.dims[i..=j + 1]) + kernels::svd_bytes::<T>(d_out, d_in);
    let data = per_network("weights", layout.batch, k, scratch, threads, cancel, |b, out| {
        let layers = layout.layers(weights, b);
        let p = kernels::try_chain_product("weights", &layers[i..=j])?;
        kernels::SingularValues::try_new("weights", p.nrows(), p.ncols())?.compute(p.as_ref(), alpha, out)
    })?;
    Ok(Batched {
        data,
        shape: vec![layout.batch, k],
    })
}

/// Per-layer balancedness ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F, (B, L−1).
pub fn balancedness<T: Real>(
    weights: &[ArrayRef<'_, T>],
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let layout = check_weights("weights", weights)?;
    let width = layout.depth() - 1;
    let max_d = *layout.dims.iter().max().unwrap();
    let square = alloc::checked_len("weights", &[max_d, max_d])?;
    let data = per_network(
        "weights",
        layout.batch,
        width,
        alloc::bytes_of::<T>(square),
        threads,
        cancel,
        |b, out| {
            let mut scratch = alloc::zeroed::<T>("weights", square)?;
            kernels::balancedness_into(&layout.layers(weights, b), &mut scratch, out);
            Ok(())
        },
    )?;
    Ok(Batched {
        data,
        shape: vec![layout.batch, width],
    })
}

/// Deficiency margin σ_min(Φ) − ‖αW_{L:1} − Φ‖_F (Arora et al.), (B,). Φ is (d_L, d_0) or
/// (B, d_L, d_0).
pub fn deficiency_margin<T: Real>(
    weights: &[ArrayRef<'_, T>],
    phi: ArrayRef<'_, T>,
    alpha: f64,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let layout = check_weights("weights", weights)?;
    check_finite("alpha", alpha)?;
    let (d_0, d_l) = (layout.dims[0], layout.dims[layout.depth()]);
    let (shared, _, _) = check_matrix("Phi", phi, layout.batch, Some(d_l), Some(d_0))?;
    let scratch = kernels::chain_bytes::<T>(&layout.dims) + kernels::svd_bytes::<T>(d_l, d_0);
    let data = per_network("weights", layout.batch, 1, scratch, threads, cancel, |b, out| {
        let target = matrix_of(phi, shared, b);
        let product = kernels::try_chain_product("weights", &layout.layers(weights, b))?;
        let sv = kernels::singular_values_of("Phi", target, 1.0)?;
        let a = T::from_f64(alpha);
        let mut dist = 0.0;
        for c in 0..d_0 {
            for r in 0..d_l {
                let e = (a * product[(r, c)] - target[(r, c)]).to_f64();
                dist += e * e;
            }
        }
        out[0] = sv[sv.len() - 1] - dist.sqrt();
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![layout.batch],
    })
}

/// Per-layer ‖W1_j − W0_j‖_F / ‖W0_j‖_F, (B, L). A zero initial layer gives inf (NaN if it
/// also did not move).
pub fn relative_weight_change<T: Real>(
    w0: &[ArrayRef<'_, T>],
    w1: &[ArrayRef<'_, T>],
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let layout = check_weights("w0", w0)?;
    let other = check_weights("w1", w1)?;
    if other != layout {
        return Err(Error::shape(
            "w1",
            format!(
                "the layer shapes of w0, dims {:?} and batch {}",
                layout.dims, layout.batch
            ),
            format!("dims {:?} and batch {}", other.dims, other.batch),
        ));
    }
    let depth = layout.depth();
    let data = per_network("w0", layout.batch, depth, 0, threads, cancel, |b, out| {
        let (a, c) = (layout.layers(w0, b), layout.layers(w1, b));
        for (j, o) in out.iter_mut().enumerate() {
            *o = kernels::frobenius_distance(c[j], a[j]) / kernels::frobenius(a[j]);
        }
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![layout.batch, depth],
    })
}

/// The inputs of a network-function call after validation.
struct NetInputs<'a, T> {
    layout: Layout,
    x: ArrayRef<'a, T>,
    x_shared: bool,
    n: usize,
}

impl<'a, T: Real> NetInputs<'a, T> {
    /// Network b's inputs (d_0 × n, row-major).
    fn x_of(&self, b: usize) -> &'a [T] {
        of_network(self.x.data, self.x_shared, self.layout.dims[0] * self.n, b)
    }

    /// A probe of network b: its parameters loaded, the forward pass run at its inputs.
    fn probe(
        &self,
        net: &Network<T>,
        weights: &[ArrayRef<'_, T>],
        biases: Option<&[ArrayRef<'_, T>]>,
        b: usize,
    ) -> Result<Probe<T>> {
        let mut probe = Probe::new(net, self.n)?;
        probe::gather_params(net, weights, biases, b, &mut probe.params);
        probe.forward(net, self.x_of(b));
        Ok(probe)
    }
}

fn check_net_inputs<'a, T>(
    arg: &str,
    weights: &[ArrayRef<'a, T>],
    x: ArrayRef<'a, T>,
    form: &NetForm,
    biases: Option<&[ArrayRef<'a, T>]>,
    biases_arg: &str,
) -> Result<NetInputs<'a, T>> {
    let layout = check_weights(arg, weights)?;
    check_finite("alpha", form.alpha)?;
    let (x_shared, _, n) = check_matrix("X", x, layout.batch, Some(layout.dims[0]), None)?;
    if let Some(bs) = biases {
        if bs.len() != layout.depth() {
            return Err(Error::shape(
                biases_arg,
                format!("{} arrays, one per layer", layout.depth()),
                format!("{} arrays", bs.len()),
            ));
        }
        for (j, bias) in bs.iter().enumerate() {
            let want = [layout.batch, layout.dims[j + 1]];
            if bias.shape != want || bias.data.len() != want[0] * want[1] {
                return Err(Error::shape(
                    format!("{biases_arg}[{j}]"),
                    shape_str(&want),
                    shape_str(bias.shape),
                ));
            }
        }
    }
    Ok(NetInputs { layout, x, x_shared, n })
}

/// Bytes one network's NTK Gram takes to form beyond its probe, about: the f64 Gram
/// ((n·d_L)²), a T copy of it, the n × n input kernel and two (n·d_L) × max_j d_j sweep stacks.
fn ntk_bytes<T>(dims: &[usize], n: usize) -> u128 {
    let d_l = dims[dims.len() - 1] as u128;
    let big = n as u128 * d_l;
    let widest = *dims.iter().max().unwrap_or(&0) as u128;
    let size = std::mem::size_of::<T>() as u128;
    8 * big * big + size * (big * big + (n as u128).pow(2) + 2 * big * widest)
}

/// Singular values of the input–output Jacobian ∂f(x)/∂x at every column x of X:
/// (B, n, min(d_0, d_L)). For linear networks this is α·∏s_j·W_{L:1} at every input.
pub fn jacobian_singular_values<T: Real>(
    weights: &[ArrayRef<'_, T>],
    x: ArrayRef<'_, T>,
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let inp = check_net_inputs("weights", weights, x, form, biases, "biases")?;
    let (layout, n) = (&inp.layout, inp.n);
    let (d_0, d_l) = (layout.dims[0], layout.dims[layout.depth()]);
    let k = d_0.min(d_l);
    let linear = form.activation == Activation::Linear;
    let widest = *layout.dims.iter().max().unwrap() as u128;
    let scratch = kernels::svd_bytes::<T>(d_l, d_0)
        + if linear {
            kernels::chain_bytes::<T>(&layout.dims)
        } else {
            probe::probe_bytes::<T>(&layout.dims, n) + alloc::bytes_of::<T>(2 * n * d_l) * widest
        };
    let width = alloc::checked_len("X", &[n, k])?;
    let net = form.network::<T>(&layout.dims, biases.is_some(), products_for(layout.batch, threads)?);
    let data = per_network("X", layout.batch, width, scratch, threads, cancel, |b, out| {
        if linear {
            // Biases do not enter the Jacobian of a linear network.
            let p = kernels::try_chain_product("weights", &layout.layers(weights, b))?;
            let sv = kernels::singular_values_of("weights", p.as_ref(), form.linear_alpha(&layout.dims))?;
            for chunk in out.chunks_mut(k) {
                chunk.copy_from_slice(&sv);
            }
            return Ok(());
        }
        let probe = inp.probe(&net, weights, biases, b)?;
        let jac = probe.input_jacobians(&net, inp.x_of(b), form.alpha)?;
        let mut svd = kernels::SingularValues::try_new("weights", d_l, d_0)?;
        for (s, chunk) in out.chunks_mut(k).enumerate() {
            svd.compute(jac.as_ref().subrows(s * d_l, d_l), 1.0, chunk)?;
        }
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![layout.batch, n, k],
    })
}

/// One network's NTK Gram with respect to its weights and (when given) biases.
fn ntk_of<T: Real>(
    inp: &NetInputs<'_, T>,
    net: &Network<T>,
    weights: &[ArrayRef<'_, T>],
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    b: usize,
) -> Result<faer::Mat<f64>> {
    inp.probe(net, weights, biases, b)?
        .ntk(net, inp.x_of(b), form.alpha, true)
}

/// The empirical NTK Gram Θ = J_θJ_θᵀ over the columns of X: (B, n·d_L, n·d_L), row and column
/// index x·d_L + a (example-major). Parameters are the weights, plus the biases when given.
pub fn ntk<T: Real>(
    weights: &[ArrayRef<'_, T>],
    x: ArrayRef<'_, T>,
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let inp = check_net_inputs("weights", weights, x, form, biases, "biases")?;
    let dims = &inp.layout.dims;
    let big = alloc::checked_len("X", &[inp.n, dims[inp.layout.depth()]])?;
    let width = alloc::checked_len("X", &[big, big])?;
    let scratch = ntk_bytes::<T>(dims, inp.n) + probe::probe_bytes::<T>(dims, inp.n);
    let net = form.network::<T>(dims, biases.is_some(), products_for(inp.layout.batch, threads)?);
    let data = per_network("X", inp.layout.batch, width, scratch, threads, cancel, |b, out| {
        let theta = ntk_of(&inp, &net, weights, form, biases, b)?;
        for r in 0..big {
            for c in 0..big {
                out[r * big + c] = theta[(r, c)];
            }
        }
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![inp.layout.batch, big, big],
    })
}

/// ‖Θ(w1) − Θ(w0)‖_F / ‖Θ(w0)‖_F per network, (B,).
#[allow(clippy::too_many_arguments)]
pub fn ntk_relative_change<T: Real>(
    w0: &[ArrayRef<'_, T>],
    w1: &[ArrayRef<'_, T>],
    x: ArrayRef<'_, T>,
    form: &NetForm,
    biases0: Option<&[ArrayRef<'_, T>]>,
    biases1: Option<&[ArrayRef<'_, T>]>,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let inp0 = check_net_inputs("w0", w0, x, form, biases0, "biases0")?;
    let inp1 = check_net_inputs("w1", w1, x, form, biases1, "biases1")?;
    if inp0.layout != inp1.layout {
        return Err(Error::shape(
            "w1",
            format!(
                "the layer shapes of w0, dims {:?} and batch {}",
                inp0.layout.dims, inp0.layout.batch
            ),
            format!("dims {:?} and batch {}", inp1.layout.dims, inp1.layout.batch),
        ));
    }
    if biases0.is_some() != biases1.is_some() {
        return Err(Error::invalid(
            "biases1",
            "give biases for both w0 and w1, or for neither",
        ));
    }
    let dims = &inp0.layout.dims;
    let scratch = 2 * ntk_bytes::<T>(dims, inp0.n) + probe::probe_bytes::<T>(dims, inp0.n);
    let net = form.network::<T>(dims, biases0.is_some(), products_for(inp0.layout.batch, threads)?);
    let data = per_network("X", inp0.layout.batch, 1, scratch, threads, cancel, |b, out| {
        let t0 = ntk_of(&inp0, &net, w0, form, biases0, b)?;
        let t1 = ntk_of(&inp1, &net, w1, form, biases1, b)?;
        out[0] = kernels::frobenius_distance(t1.as_ref(), t0.as_ref()) / kernels::frobenius(t0.as_ref());
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![inp0.layout.batch],
    })
}

/// A diagnostic of the network function at given inputs, by the name the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkDiagnostic {
    JacobianSingularValues,
    Ntk,
}

impl NetworkDiagnostic {
    /// `quantity` is "jacobian_singular_values" or "ntk".
    pub fn parse(quantity: &str) -> Result<Self> {
        match quantity {
            "jacobian_singular_values" => Ok(NetworkDiagnostic::JacobianSingularValues),
            "ntk" => Ok(NetworkDiagnostic::Ntk),
            other => Err(Error::invalid(
                "quantity",
                format!("expected 'jacobian_singular_values' or 'ntk', got {other:?}"),
            )),
        }
    }
}

/// The targets a Fisher call was given, validated: their data and whether they are shared.
fn check_fisher_targets<'a, T>(
    spec: &FisherSpec,
    labels: Option<TargetArray<'a, T>>,
    layout: &Layout,
    n: usize,
) -> Result<Option<(TargetSlice<'a, T>, bool)>> {
    let d_l = layout.dims[layout.depth()];
    if spec.loss == LossKind::CrossEntropy && d_l < 2 {
        return Err(Error::invalid(
            "loss",
            format!("'cross_entropy' needs d_L ≥ 2 outputs (one per class), the last layer has {d_l}"),
        ));
    }
    match (spec.kind, labels) {
        (FisherKind::True, None) => Ok(None),
        (FisherKind::True, Some(_)) => Err(Error::invalid(
            "labels",
            "the true Fisher (fisher='true') takes the expectation over the model's own outputs and uses no labels; pass labels=None, or fisher='empirical' to use them",
        )),
        (FisherKind::Empirical, None) => Err(Error::invalid(
            "labels",
            match spec.loss {
                LossKind::CrossEntropy => "fisher='empirical' needs the class labels (n,) of the inputs",
                LossKind::Mse => "fisher='empirical' needs the targets (d_L, n) of the inputs",
            },
        )),
        (FisherKind::Empirical, Some(y)) => Ok(Some(check_targets("labels", y, spec.loss, layout, n)?)),
    }
}

/// Network b's view of validated targets of n examples.
fn targets_of<'a, T>(
    targets: Option<(TargetSlice<'a, T>, bool)>,
    d_l: usize,
    n: usize,
    b: usize,
) -> Option<Targets<'a, T>> {
    targets.map(|(y, shared)| match y {
        TargetSlice::Values(v) => Targets::Values(of_network(v, shared, d_l * n, b)),
        TargetSlice::Labels(v) => Targets::Labels(of_network(v, shared, n, b)),
    })
}

/// The top k eigenvalues of the Fisher information F of every network at the columns of X
/// (see [`fisher`]), non-increasing: (B, k). `labels` are the empirical Fisher's targets.
#[allow(clippy::too_many_arguments)]
pub fn fisher_eigenvalues<T: Real>(
    weights: &[ArrayRef<'_, T>],
    x: ArrayRef<'_, T>,
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    spec: &FisherSpec,
    labels: Option<TargetArray<'_, T>>,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let inp = check_net_inputs("weights", weights, x, form, biases, "biases")?;
    let (layout, n) = (&inp.layout, inp.n);
    let targets = check_fisher_targets(spec, labels, layout, n)?;
    let net = form.network::<T>(&layout.dims, biases.is_some(), products_for(layout.batch, threads)?);
    let counted = spec.params.count(&net);
    if spec.k == 0 || spec.k > counted {
        return Err(Error::invalid(
            "k",
            format!(
                "must be in [1, {counted}] (the number of parameters counted, params={:?}), got {}",
                if spec.params == Params::All { "all" } else { "weights" },
                spec.k
            ),
        ));
    }
    let d_l = layout.dims[layout.depth()];
    let scratch = probe::probe_bytes::<T>(&layout.dims, n) + fisher::fisher_bytes::<T>(spec, &layout.dims, n);
    let data = per_network("X", layout.batch, spec.k, scratch, threads, cancel, |b, out| {
        let mut probe = inp.probe(&net, weights, biases, b)?;
        let y = targets_of(targets, d_l, n, b);
        let values = fisher::top_eigenvalues_of(&mut probe, &net, inp.x_of(b), y, form.alpha, spec, cancel)?;
        out.copy_from_slice(&values);
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![layout.batch, spec.k],
    })
}

/// σ_max of ∂f(x)/∂x at every column x of X by power iteration (see [`power`]): (B, n), and
/// the number of (network, input) pairs that had not converged within the cap.
pub fn jacobian_max_singular_value<T: Real>(
    weights: &[ArrayRef<'_, T>],
    x: ArrayRef<'_, T>,
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    settings: &PowerIteration,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<(Batched, usize)> {
    let inp = check_net_inputs("weights", weights, x, form, biases, "biases")?;
    let (layout, n) = (&inp.layout, inp.n);
    let net = form.network::<T>(&layout.dims, biases.is_some(), products_for(layout.batch, threads)?);
    let scratch = probe::probe_bytes::<T>(&layout.dims, n) + alloc::bytes_of::<T>(2 * layout.dims[0] * n);
    // One extra entry per network: its count of unconverged inputs.
    let data = per_network("X", layout.batch, n + 1, scratch, threads, cancel, |b, out| {
        let mut probe = inp.probe(&net, weights, biases, b)?;
        let mut work = power::PowerWork::new(*settings, layout.dims[0], n)?;
        let (sigma, count) = out.split_at_mut(n);
        let left = power::max_singular_values(&mut probe, &net, inp.x_of(b), form.alpha, &mut work, sigma, cancel)?;
        count[0] = left as f64;
        Ok(())
    })?;
    let unconverged = data.chunks(n + 1).map(|c| c[n] as usize).sum();
    let sigma = data.chunks(n + 1).flat_map(|c| c[..n].iter().copied()).collect();
    Ok((
        Batched {
            data: sigma,
            shape: vec![layout.batch, n],
        },
        unconverged,
    ))
}

#[cfg(test)]
mod tests;
