//! Infinite-width NNGP and NTK kernels of this library's MLP (Neal 1996; Lee et al. 2018;
//! Jacot et al. 2018; Arora et al. 2019).
//!
//! The network is z_1 = s_1 W_1 x + b_1, z_j = s_j W_j φ(z_{j−1}) + b_j, f = α z_L, with
//! W entries N(0, 1) and s_j = σ_w/√d_{j−1} (NTK parameterisation) or N(0, σ_w²/d_{j−1}) and
//! s_j = 1 (standard), and biases N(0, σ_b²) in both: unlike neural-tangents' `b_std·b`, the
//! bias is not scaled in the NTK parameterisation, so its gradient is 1. As the hidden widths
//! grow, every output coordinate becomes a Gaussian process with covariance α²Σ_L, and the
//! NTK Gram becomes (α²Θ_L) ⊗ I_{d_L}; these functions return the per-coordinate kernels
//! α²Σ_L and α²Θ_L, by the recursion
//!
//! ```text
//! Σ_1 = σ_w² x·x'/d_0 + σ_b²             Θ_1 = ω_1 x·x'/d_0 + β
//! Σ_{j+1} = σ_w² E[φ(u)φ(v)] + σ_b²      Θ_{j+1} = ω_{j+1} E[φ(u)φ(v)] + β + σ_w² E[φ'(u)φ'(v)] Θ_j
//! ```
//!
//! with (u, v) ~ N(0, [[Σ_j(x, x), Σ_j(x, x')], [Σ_j(x, x'), Σ_j(x', x')]]), β = 1 when the
//! network has (trained) biases and 0 otherwise, and ω_j the factor of layer j's weight
//! gradient: σ_w² in the NTK parameterisation, and the fan-in d_{j−1} in the standard one. The
//! standard-parameterisation NTK has no finite limit (layer j's term grows with d_{j−1}), so it
//! is defined as neural-tangents does: with the fan-ins of `dims` as explicit factors, it is the
//! kernel the empirical NTK approaches, relative to its size, as the hidden widths grow in
//! proportion. The NNGP does not depend on the hidden widths in either parameterisation.
//!
//! The Gaussian expectations are closed forms for linear, relu and erf (`closed_form`) or,
//! numerically for any activation, Mehler's series with Gauss–Hermite coefficients for smooth
//! activations at moderate variance (`series`, fast) and a two-dimensional Gauss rule in polar
//! coordinates otherwise (`quadrature`).

pub mod closed_form;
pub mod quadrature;
pub mod series;

use std::sync::atomic::{AtomicBool, Ordering};

use faer::Accum;
use rayon::prelude::*;

use crate::alloc;
use crate::array::ArrayRef;
use crate::error::{Error, Result};
use crate::linalg::{gemm, row_major, row_major_mut};
use crate::net::{Activation, Parameterization};
use crate::parallel;

/// Which kernel to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The output covariance α²Σ_L (neural network Gaussian process).
    Nngp,
    /// The neural tangent kernel α²Θ_L.
    Ntk,
}

impl Kernel {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "nngp" => Ok(Kernel::Nngp),
            "ntk" => Ok(Kernel::Ntk),
            other => Err(Error::invalid(
                "kernel",
                format!("expected 'nngp' or 'ntk', got {other:?}"),
            )),
        }
    }
}

/// How the Gaussian expectations are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The closed form where there is one (linear, relu, erf), else the numerical route.
    Auto,
    ClosedForm,
    /// Numerical for every activation: Mehler's series where it converges, else the polar rule.
    Quadrature,
}

impl Method {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Method::Auto),
            "closed_form" => Ok(Method::ClosedForm),
            "quadrature" => Ok(Method::Quadrature),
            other => Err(Error::invalid(
                "method",
                format!("expected 'auto', 'closed_form' or 'quadrature', got {other:?}"),
            )),
        }
    }
}

/// The network whose infinite-width kernels are computed (module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelForm {
    pub activation: Activation,
    pub parameterization: Parameterization,
    /// Weight scale σ_w (a standard deviation, ≥ 0).
    pub sigma_w: f64,
    /// Bias standard deviation σ_b, or None for a network without biases.
    pub sigma_b: Option<f64>,
    /// Output scale α.
    pub alpha: f64,
}

impl KernelForm {
    /// Validate and assemble a form; `parameterization` is "ntk" or "standard".
    pub fn new(
        activation: Activation,
        parameterization: &str,
        sigma_w: f64,
        sigma_b: Option<f64>,
        alpha: f64,
    ) -> Result<Self> {
        let std_dev = |arg: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(arg, format!("must be finite and non-negative, got {v}")))
            }
        };
        std_dev("sigma_w", sigma_w)?;
        if let Some(s) = sigma_b {
            std_dev("sigma_b", s)?;
        }
        if !alpha.is_finite() {
            return Err(Error::invalid("alpha", format!("must be finite, got {alpha}")));
        }
        Ok(KernelForm {
            activation,
            parameterization: Parameterization::parse(parameterization, sigma_w)?,
            sigma_w,
            sigma_b,
            alpha,
        })
    }

    /// ω: the factor of a weight layer's gradient term, for a layer with `fan_in` inputs.
    fn weight_factor(&self, fan_in: usize) -> f64 {
        match self.parameterization {
            Parameterization::Ntk { .. } => self.sigma_w * self.sigma_w,
            Parameterization::Standard => fan_in as f64,
        }
    }
}

/// One input at one hidden layer: its pre-activation variance Σ_j(x, x), and its Mehler
/// coefficients where the series route serves it.
struct InputLayer {
    variance: f64,
    series: Option<series::Series>,
}

/// Evaluates the two Gaussian expectations of a layer, with its per-thread scratch.
struct Expectations {
    activation: Activation,
    /// Closed forms are used (the activation has one and the method allows it).
    closed_form: bool,
    scratch: quadrature::Scratch,
}

impl Expectations {
    fn new(activation: Activation, method: Method) -> Self {
        Expectations {
            activation,
            closed_form: method != Method::Quadrature && closed_form::available(activation),
            scratch: quadrature::Scratch::default(),
        }
    }

    /// What the pairs of an input need at a layer where its variance is `variance`: its
    /// coefficients in `band` (None: no series) where the series serves it.
    fn input_layer(&self, variance: f64, band: Option<usize>) -> InputLayer {
        let usable = !self.closed_form && series::applies(self.activation) && series::band(variance).is_some();
        InputLayer {
            variance,
            series: band
                .filter(|_| usable)
                .map(|band| series::series(self.activation, variance, band)),
        }
    }

    /// `layer` with its coefficients in `band` instead of its own one (kept when they agree).
    fn rebanded(&self, layer: InputLayer, band: Option<usize>) -> InputLayer {
        match &layer.series {
            Some(s) if Some(s.band) != band => self.input_layer(layer.variance, band),
            _ => layer,
        }
    }

    /// (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for inputs x, y at a layer where their covariance is c:
    /// closed form, else the Mehler series when both inputs have one, else the polar rule.
    fn eval(&mut self, x: &InputLayer, y: &InputLayer, c: f64) -> (f64, f64) {
        let (a, b) = (x.variance, y.variance);
        if self.closed_form {
            if let Some(e) = closed_form::expectations(self.activation, a, b, c) {
                return e;
            }
        }
        match (&x.series, &y.series) {
            (Some(sx), Some(sy)) => series::expectations(sx, sy, closed_form::correlation(a, b, c)),
            _ => quadrature::expectations(self.activation, a, b, c, &mut self.scratch),
        }
    }
}

/// The layer recursion of the module doc for one network form and depth.
struct Recursion<'a> {
    form: &'a KernelForm,
    dims: &'a [usize],
}

impl Recursion<'_> {
    fn depth(&self) -> usize {
        self.dims.len() - 1
    }

    /// (Σ_1, Θ_1) from the inner product g = x·x'.
    fn first(&self, g: f64) -> (f64, f64) {
        let f = self.form;
        let k = g / self.dims[0] as f64;
        let sb2 = f.sigma_b.map_or(0.0, |s| s * s);
        let beta = if f.sigma_b.is_some() { 1.0 } else { 0.0 };
        (
            f.sigma_w * f.sigma_w * k + sb2,
            f.weight_factor(self.dims[0]) * k + beta,
        )
    }

    /// (Σ_{j+1}, Θ_{j+1}) from layer j's expectations (e, ė) and Θ_j.
    fn next(&self, j: usize, (e, de): (f64, f64), theta: f64) -> (f64, f64) {
        let f = self.form;
        let sw2 = f.sigma_w * f.sigma_w;
        let sb2 = f.sigma_b.map_or(0.0, |s| s * s);
        let beta = if f.sigma_b.is_some() { 1.0 } else { 0.0 };
        (
            sw2 * e + sb2,
            f.weight_factor(self.dims[j]) * e + beta + sw2 * de * theta,
        )
    }

    /// Layers 1…L−1 of x: the variances Σ_j(x, x) of its hidden pre-activations, from
    /// g = x·x, with the series of each variance's own band.
    fn input_layers(&self, ex: &mut Expectations, g: f64) -> Vec<InputLayer> {
        let mut out = Vec::with_capacity(self.depth() - 1);
        let (mut c, mut theta) = self.first(g);
        for j in 1..self.depth() {
            let layer = ex.input_layer(c, series::band(c));
            (c, theta) = self.next(j, ex.eval(&layer, &layer, c), theta);
            out.push(layer);
        }
        out
    }

    /// (α²Σ_L(x, x'), α²Θ_L(x, x')) from g = x·x' and both inputs' layers. With closed forms
    /// and the polar rule, for x = x' it repeats `input_layers`' operations exactly, so the
    /// diagonal sees ρ = 1 exactly (the series may sum more terms there, which only matters at
    /// the level of its tolerance, and its kernels are smooth in ρ).
    fn pair(&self, ex: &mut Expectations, g: f64, x: &[InputLayer], y: &[InputLayer]) -> (f64, f64) {
        let (mut c, mut theta) = self.first(g);
        for j in 1..self.depth() {
            (c, theta) = self.next(j, ex.eval(&x[j - 1], &y[j - 1], c), theta);
        }
        let a2 = self.form.alpha * self.form.alpha;
        (a2 * c, a2 * theta)
    }
}

/// Check an input matrix named `arg`: (d_0, n) with n ≥ 1 and finite entries; returns n.
fn check_inputs(arg: &str, x: ArrayRef<'_, f64>, d_0: usize) -> Result<usize> {
    let &[rows, n] = x.shape else {
        return Err(Error::shape(
            arg,
            format!("(d_0, n) = ({d_0}, n)"),
            format!("{:?}", x.shape),
        ));
    };
    if rows != d_0 || x.data.len() != rows * n {
        return Err(Error::shape(
            arg,
            format!("({d_0}, n) (d_0 = dims[0])"),
            format!("({rows}, {n})"),
        ));
    }
    if n == 0 {
        return Err(Error::invalid(arg, "needs at least one input column, got 0"));
    }
    if let Some(i) = x.data.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            arg,
            format!("must be finite, got {} at ({}, {})", x.data[i], i / n, i % n),
        ));
    }
    Ok(n)
}

fn check_dims(dims: &[usize]) -> Result<()> {
    if dims.len() < 2 {
        return Err(Error::invalid(
            "dims",
            format!("needs the widths [d_0, ..., d_L] of at least one layer, got {dims:?}"),
        ));
    }
    if dims.contains(&0) {
        return Err(Error::invalid("dims", format!("widths must be positive, got {dims:?}")));
    }
    Ok(())
}

/// The (n1, n2) kernel between the columns of `x1` (d_0, n1) and of `x2` (d_0, n2; `x1` when
/// None), row-major. Pairs run in parallel on the private pool; every entry depends only on its
/// two inputs, so the result does not depend on `threads`. With `x2 = None` only the upper
/// triangle is computed and the result is exactly symmetric.
#[allow(clippy::too_many_arguments)]
pub fn kernel(
    dims: &[usize],
    x1: ArrayRef<'_, f64>,
    x2: Option<ArrayRef<'_, f64>>,
    form: &KernelForm,
    which: Kernel,
    method: Method,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<f64>> {
    check_dims(dims)?;
    let d_0 = dims[0];
    let n1 = check_inputs("X", x1, d_0)?;
    let n2 = match x2 {
        Some(x2) => check_inputs("X2", x2, d_0)?,
        None => n1,
    };
    if method == Method::ClosedForm && !closed_form::available(form.activation) {
        return Err(Error::invalid(
            "method",
            format!(
                "'closed_form' is available for linear, relu and erf, not {}; use 'quadrature' or 'auto'",
                format!("{:?}", form.activation).to_lowercase()
            ),
        ));
    }
    let pool = parallel::pool(threads)?;
    let mut out = alloc::zeroed::<f64>("X", alloc::checked_len("X", &[n1, n2])?)?;
    // The inner products x·x' of every pair, in place of the kernel that replaces them.
    let other = x2.unwrap_or(x1);
    gemm(
        row_major_mut(&mut out, n1, n2),
        Accum::Replace,
        row_major(x1.data, d_0, n1).transpose(),
        row_major(other.data, d_0, n2),
        1.0,
    );
    let column_norms = |x: ArrayRef<'_, f64>, n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| (0..d_0).map(|r| x.data[r * n + i] * x.data[r * n + i]).sum())
            .collect()
    };
    // Symmetric case: the diagonal of the same product, so that x·x enters Σ_1(x, x) and the
    // (x, x) entry identically.
    let norms1: Vec<f64> = match x2 {
        None => (0..n1).map(|i| out[i * n1 + i]).collect(),
        Some(_) => column_norms(x1, n1),
    };
    let norms2: Vec<f64> = x2.map_or_else(Vec::new, |x2| column_norms(x2, n2));
    for (arg, norms) in [("X", &norms1), ("X2", &norms2)] {
        if let Some(i) = norms.iter().position(|g| !g.is_finite()) {
            return Err(Error::invalid(
                arg,
                format!("column {i} is too large: its squared norm overflows f64"),
            ));
        }
    }
    let rec = Recursion { form, dims };
    let new_ex = || Expectations::new(form.activation, method);
    let input_layers = |norms: &[f64]| -> Vec<Vec<InputLayer>> {
        norms
            .par_iter()
            .map_init(new_ex, |ex, &g| rec.input_layers(ex, g))
            .collect()
    };
    pool.install(|| -> Result<()> {
        let mut layers1 = input_layers(&norms1);
        let mut layers2 = input_layers(&norms2);
        // The series band of each layer: that of its largest variance the series serves, so
        // that every pair of the layer sums the same number of terms (`series` module doc).
        let bands: Vec<Option<usize>> = (0..rec.depth() - 1)
            .map(|j| {
                let variances = layers1.iter().chain(&layers2).map(|layers| layers[j].variance);
                variances.filter_map(series::band).max()
            })
            .collect();
        let reband = |layers: &mut Vec<Vec<InputLayer>>| {
            layers.par_iter_mut().for_each_init(new_ex, |ex, input| {
                let own = std::mem::take(input);
                *input = own
                    .into_iter()
                    .zip(&bands)
                    .map(|(l, &band)| ex.rebanded(l, band))
                    .collect();
            })
        };
        reband(&mut layers1);
        reband(&mut layers2);
        let layers2 = if x2.is_some() { &layers2 } else { &layers1 };
        out.par_chunks_mut(n2)
            .enumerate()
            .try_for_each_init(new_ex, |ex, (i, row)| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let start = if x2.is_some() { 0 } else { i };
                for (k, entry) in row.iter_mut().enumerate().skip(start) {
                    let (nngp, ntk) = rec.pair(ex, *entry, &layers1[i], &layers2[k]);
                    *entry = match which {
                        Kernel::Nngp => nngp,
                        Kernel::Ntk => ntk,
                    };
                }
                Ok(())
            })
    })?;
    if x2.is_none() {
        for i in 1..n1 {
            for k in 0..i {
                out[i * n1 + k] = out[k * n1 + i];
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
