//! Diagnostics of batches of networks (SPEC §4): spectra, balancedness, deficiency margin,
//! weight change, input–output Jacobians, the empirical NTK and the Fisher's top eigenvalue.
//!
//! Weights are laid out as for training (`weights[j]` is (B, d_{j+1}, d_j), row-major). Every
//! function validates its arguments before any work, then computes one network per task on the
//! private pool, and returns a row-major f64 buffer with its shape (network axis first).

pub mod kernels;
pub mod mlp;

use std::sync::atomic::{AtomicBool, Ordering};

use faer::diag::Diag;
use faer::dyn_stack::MemStack;
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::matrix_free::eigen::{partial_self_adjoint_eigen, partial_self_adjoint_eigen_scratch};
use faer::{Col, Mat, MatRef, Par};
use rayon::prelude::*;

use crate::alloc;
pub use crate::array::Batched;
use crate::array::{shape_str, ArrayRef};
use crate::error::{Error, Result};
pub use crate::layout::{check_weights, Layout};
use crate::linalg::row_major;
use crate::parallel;
use crate::rng::{fill_normal, network_rng};
use crate::scalar::Real;

pub use mlp::{Activation, NetForm, Parameterization};

/// Check a per-network or shared matrix argument: (rows, cols) or (batch, rows, cols); returns
/// whether it is shared.
fn check_matrix<T>(
    arg: &str,
    a: ArrayRef<'_, T>,
    batch: usize,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<bool> {
    let want = |r: Option<usize>, c: Option<usize>| {
        let r = r.map_or("rows".to_string(), |v| v.to_string());
        let c = c.map_or("cols".to_string(), |v| v.to_string());
        format!("({r}, {c}) or ({batch}, {r}, {c})")
    };
    let (shared, r, c) = match *a.shape {
        [r, c] => (true, r, c),
        [b, r, c] if b == batch => (false, r, c),
        _ => return Err(Error::shape(arg, want(rows, cols), shape_str(a.shape))),
    };
    if rows.is_some_and(|v| v != r) || cols.is_some_and(|v| v != c) {
        return Err(Error::shape(arg, want(rows, cols), shape_str(a.shape)));
    }
    if r == 0 || c == 0 {
        return Err(Error::invalid(
            arg,
            format!("has an empty dimension: shape {}", shape_str(a.shape)),
        ));
    }
    Ok(shared)
}

/// Network b's slice of a shared-or-batched (rows, cols) matrix.
fn matrix_of<'a, T: Real>(a: ArrayRef<'a, T>, shared: bool, b: usize) -> MatRef<'a, T> {
    let (r, c) = (a.shape[a.shape.len() - 2], a.shape[a.shape.len() - 1]);
    let data = if shared {
        a.data
    } else {
        &a.data[b * r * c..(b + 1) * r * c]
    };
    row_major(data, r, c)
}

fn check_finite(arg: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(arg, format!("must be finite, got {value}")))
    }
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

/// Singular values of the partial product weights[j]⋯weights[i] (0-based, inclusive; SPEC's
/// W_{j+1:i+1}): (B, min(d_i, d_{j+1})).
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
    let shared = check_matrix("Phi", phi, layout.batch, Some(d_l), Some(d_0))?;
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

/// The inputs of a Jacobian/NTK call after validation.
struct NetInputs<'a, T> {
    layout: Layout,
    x: ArrayRef<'a, T>,
    x_shared: bool,
    n: usize,
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
    let x_shared = check_matrix("X", x, layout.batch, Some(layout.dims[0]), None)?;
    let n = x.shape[x.shape.len() - 1];
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

/// Network b's bias vectors.
fn biases_of<'a, T>(biases: Option<&[ArrayRef<'a, T>]>, b: usize) -> Option<Vec<&'a [T]>> {
    biases.map(|bs| {
        bs.iter()
            .map(|bias| {
                let d = bias.shape[1];
                &bias.data[b * d..(b + 1) * d]
            })
            .collect()
    })
}

/// Bytes one network's forward and reverse sweeps over `n` inputs hold (see `mlp`), about: the
/// input and slope of every layer (2·n·Σ_j d_j values) and two (n·d_L) × max_j d_j stacks.
fn sweep_bytes<T>(dims: &[usize], n: usize) -> u128 {
    let (n, d_l) = (n as u128, dims[dims.len() - 1] as u128);
    let sum: u128 = dims.iter().map(|&d| d as u128).sum();
    let widest = *dims.iter().max().unwrap_or(&0) as u128;
    (2 * n * sum + 2 * n * d_l * widest) * std::mem::size_of::<T>() as u128
}

/// Bytes one network's NTK Gram takes to form, about: the f64 Gram ((n·d_L)²), a T copy of it,
/// the n × n input kernel, the sweeps and the d_L-row suffix products.
fn ntk_bytes<T>(dims: &[usize], n: usize) -> u128 {
    let d_l = dims[dims.len() - 1] as u128;
    let big = n as u128 * d_l;
    let widest = *dims.iter().max().unwrap_or(&0) as u128;
    let size = std::mem::size_of::<T>() as u128;
    8 * big * big + size * (big * big + (n as u128).pow(2) + 2 * d_l * widest) + sweep_bytes::<T>(dims, n)
}

/// Whether the closed form for linear chains applies (linear φ, no biases).
fn is_plain_linear<T>(form: &NetForm, biases: Option<&[ArrayRef<'_, T>]>) -> bool {
    form.activation == Activation::Linear && biases.is_none()
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
    let scratch = kernels::svd_bytes::<T>(d_l, d_0)
        + if linear {
            kernels::chain_bytes::<T>(&layout.dims)
        } else {
            sweep_bytes::<T>(&layout.dims, n)
        };
    let width = alloc::checked_len("X", &[n, k])?;
    let data = per_network("X", layout.batch, width, scratch, threads, cancel, |b, out| {
        let layers = layout.layers(weights, b);
        if linear {
            // Biases do not enter the Jacobian of a linear network.
            let p = kernels::try_chain_product("weights", &layers)?;
            let sv = kernels::singular_values_of("weights", p.as_ref(), form.linear_alpha(&layout.dims))?;
            for chunk in out.chunks_mut(k) {
                chunk.copy_from_slice(&sv);
            }
            return Ok(());
        }
        let xb = matrix_of(inp.x, inp.x_shared, b);
        let bias = biases_of(biases, b);
        let jac = mlp::input_jacobians(&layers, bias.as_deref(), xb, form)?;
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

/// One network's NTK Gram, by the closed form for plain linear chains, else per-sample
/// Jacobians.
fn ntk_of<T: Real>(
    inp: &NetInputs<'_, T>,
    weights: &[ArrayRef<'_, T>],
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    b: usize,
) -> Result<Mat<f64>> {
    let layers = inp.layout.layers(weights, b);
    let xb = matrix_of(inp.x, inp.x_shared, b);
    if is_plain_linear(form, biases) {
        kernels::linear_ntk(&layers, xb, form.linear_alpha(&inp.layout.dims))
    } else {
        let bias = biases_of(biases, b);
        mlp::ntk(&layers, bias.as_deref(), xb, form)
    }
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
    let big = alloc::checked_len("X", &[inp.n, inp.layout.dims[inp.layout.depth()]])?;
    let width = alloc::checked_len("X", &[big, big])?;
    let scratch = ntk_bytes::<T>(&inp.layout.dims, inp.n);
    let data = per_network("X", inp.layout.batch, width, scratch, threads, cancel, |b, out| {
        let theta = ntk_of(&inp, weights, form, biases, b)?;
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
    let scratch = 2 * ntk_bytes::<T>(&inp0.layout.dims, inp0.n);
    let data = per_network("X", inp0.layout.batch, 1, scratch, threads, cancel, |b, out| {
        let t0 = ntk_of(&inp0, w0, form, biases0, b)?;
        let t1 = ntk_of(&inp1, w1, form, biases1, b)?;
        out[0] = kernels::frobenius_distance(t1.as_ref(), t0.as_ref()) / kernels::frobenius(t0.as_ref());
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![inp0.layout.batch],
    })
}

/// How to find λ_max of the NTK Gram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EigenMethod {
    /// Dense symmetric eigensolver for n·d_L ≤ `AUTO_DENSE_MAX`, Lanczos above.
    Auto,
    Dense,
    Lanczos,
}

/// Below this Gram size a full symmetric eigensolve (O(N³), but with small constants and no
/// convergence tolerance) is cheaper than restarted Lanczos; above it Lanczos' O(N²) per
/// iteration wins by a wide margin.
pub const AUTO_DENSE_MAX: usize = 400;

impl EigenMethod {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(EigenMethod::Auto),
            "dense" => Ok(EigenMethod::Dense),
            "lanczos" => Ok(EigenMethod::Lanczos),
            other => Err(Error::invalid(
                "method",
                format!("expected 'auto', 'dense' or 'lanczos', got {other:?}"),
            )),
        }
    }
}

/// A diagnostic of the network function at given inputs, by the name the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkDiagnostic {
    JacobianSingularValues,
    Ntk,
    FisherMaxEigenvalue(EigenMethod),
}

impl NetworkDiagnostic {
    /// `quantity` is "jacobian_singular_values", "ntk" or "fisher_max_eigenvalue" (the last
    /// with eigensolver `method`).
    pub fn parse(quantity: &str, method: &str) -> Result<Self> {
        match quantity {
            "jacobian_singular_values" => Ok(NetworkDiagnostic::JacobianSingularValues),
            "ntk" => Ok(NetworkDiagnostic::Ntk),
            "fisher_max_eigenvalue" => Ok(NetworkDiagnostic::FisherMaxEigenvalue(EigenMethod::parse(method)?)),
            other => Err(Error::invalid(
                "quantity",
                format!("expected 'jacobian_singular_values', 'ntk' or 'fisher_max_eigenvalue', got {other:?}"),
            )),
        }
    }
}

/// Largest eigenvalue of a symmetric PSD matrix.
pub fn max_eigenvalue(theta: MatRef<'_, f64>, method: EigenMethod) -> Result<f64> {
    let big = theta.nrows();
    if !kernels::all_finite(theta) {
        return Ok(f64::NAN);
    }
    let dense = match method {
        EigenMethod::Auto => big <= AUTO_DENSE_MAX,
        EigenMethod::Dense => true,
        EigenMethod::Lanczos => false,
    };
    // faer's Krylov–Schur needs its subspace (at least 64 vectors) to be smaller than the
    // matrix, and panics otherwise; such small Grams go dense whatever was asked.
    if dense || big <= 80 {
        let mut s = Diag::<f64>::zeros(big);
        let req = self_adjoint_evd_scratch::<f64>(big, ComputeEigenvectors::No, Par::Seq, Default::default());
        self_adjoint_evd(
            theta,
            s.as_mut(),
            None,
            Par::Seq,
            MemStack::new(&mut alloc::mem_buffer("X", req)?),
            Default::default(),
        )
        .map_err(|_| Error::NoConvergence {
            what: format!("symmetric eigensolver on a {big}x{big} NTK Gram"),
        })?;
        return Ok(s.column_vector().iter().copied().fold(f64::NEG_INFINITY, f64::max));
    }
    // A fixed pseudo-random start vector: deterministic, and almost surely not orthogonal to
    // the top eigenvector (a constant vector can be, e.g. for centred data).
    let mut v0 = vec![0.0; big];
    fill_normal(&mut network_rng(0x5eed, 0), &mut v0, 1.0);
    let v0 = Col::from_fn(big, |i| v0[i]);
    let params = Default::default();
    let req = partial_self_adjoint_eigen_scratch::<f64>(&theta, 1, Par::Seq, params);
    let mut vecs = Mat::<f64>::zeros(big, 1);
    let mut vals = [0.0];
    let tol = 1e-12 * kernels::frobenius(theta).max(f64::MIN_POSITIVE);
    let info = partial_self_adjoint_eigen(
        vecs.as_mut(),
        &mut vals,
        &theta,
        v0.as_ref(),
        tol,
        Par::Seq,
        MemStack::new(&mut alloc::mem_buffer("X", req)?),
        params,
    );
    if info.n_converged_eigen == 0 {
        return Err(Error::NoConvergence {
            what: format!("Lanczos on a {big}x{big} NTK Gram"),
        });
    }
    Ok(vals[0])
}

/// λ_max of the Fisher information for MSE, F = J_θᵀJ_θ/n, as λ_max(Θ)/n (the same nonzero
/// spectrum up to the factor n), (B,).
pub fn fisher_max_eigenvalue<T: Real>(
    weights: &[ArrayRef<'_, T>],
    x: ArrayRef<'_, T>,
    form: &NetForm,
    biases: Option<&[ArrayRef<'_, T>]>,
    method: EigenMethod,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Batched> {
    let inp = check_net_inputs("weights", weights, x, form, biases, "biases")?;
    let n = inp.n as f64;
    // The eigensolvers' workspace is at most about two more copies of the Gram.
    let big = inp.n as u128 * inp.layout.dims[inp.layout.depth()] as u128;
    let scratch = ntk_bytes::<T>(&inp.layout.dims, inp.n) + 16 * big * big;
    let data = per_network("X", inp.layout.batch, 1, scratch, threads, cancel, |b, out| {
        let theta = ntk_of(&inp, weights, form, biases, b)?;
        out[0] = max_eigenvalue(theta.as_ref(), method)? / n;
        Ok(())
    })?;
    Ok(Batched {
        data,
        shape: vec![inp.layout.batch],
    })
}

#[cfg(test)]
mod tests;
