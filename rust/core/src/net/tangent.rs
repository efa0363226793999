//! Products with the Jacobians of z_L at the point of the last forward pass, without forming
//! them: J·v by a forward-mode (tangent) pass, Jᵀ·u by the backward pass of [`super::pass`].
//!
//! Both run over all m examples at once (d × m blocks, one product per layer) and read the
//! activations and slopes the forward pass left in [`Passes`]; they use its two signal buffers
//! as their own workspace, so a forward pass followed by any number of these products allocates
//! nothing.

use faer::Accum;

use super::form::Activation;
use super::pass::{Input, Network, Passes};
use crate::linalg::{row_major, row_major_mut, Split};
use crate::scalar::Real;

/// A direction to differentiate along: parameters (a block laid out as the network's
/// parameters; the biases' part is read only when `biases` is set) and/or the inputs (d_0 × m).
#[derive(Clone, Copy)]
pub struct Direction<'a, T> {
    pub params: Option<&'a [T]>,
    pub biases: bool,
    pub inputs: Option<&'a [T]>,
}

impl<T: Real> Network<T> {
    /// Offset of layer j's (1-based) block in the activations and slopes of a pass over m
    /// examples.
    pub(super) fn layer_offset(&self, j: usize, m: usize) -> usize {
        self.dims[1..j].iter().sum::<usize>() * m
    }

    /// The input h_{j−1} of layer j (1-based) in the last forward pass over the columns `x`.
    pub fn layer_input<'s>(&self, x: &'s [T], activations: &'s [T], j: usize, m: usize) -> &'s [T] {
        if j == 1 {
            &x[..self.dims[0] * m]
        } else {
            let start = self.layer_offset(j - 1, m);
            &activations[start..start + self.dims[j - 1] * m]
        }
    }

    /// ż_L = ∂z_L·dir (d_L × m) at the last forward pass over the columns `x` (run with
    /// slopes), left in `s.signal[..d_L·m]`.
    ///
    /// ż_j = s_j(V_j h_{j−1} + W_j ḣ_{j−1}) + c_j and ḣ_j = φ'(z_j) ⊙ ż_j, from ḣ_0 = the input
    /// direction (or 0): two products per layer, as a forward pass costs two.
    pub fn tangent(&self, params: &[T], x: &[T], m: usize, s: &mut Passes<T>, dir: Direction<'_, T>) {
        let depth = self.depth();
        let zero = T::from_f64(0.0);
        let products = self.products;
        // ḣ_{j−1} is in `s.next_signal` once `have_input` is set (after the swap at the end of
        // each layer); ḣ_0 is the input direction itself.
        let mut have_input = dir.inputs.is_some();
        for j in 1..=depth {
            let (d_out, d_in) = (self.dims[j], self.dims[j - 1]);
            let scale = self.scales[j - 1];
            let out = &mut s.signal[..d_out * m];
            let mut accum = Accum::Replace;
            if have_input {
                let h_dot = if j == 1 {
                    dir.inputs.expect("checked")
                } else {
                    &s.next_signal[..d_in * m]
                };
                products.gemm(
                    row_major_mut(out, d_out, m),
                    Accum::Replace,
                    row_major(self.weights_of(params, j - 1), d_out, d_in),
                    row_major(h_dot, d_in, m),
                    scale,
                    Split::Columns,
                );
                accum = Accum::Add;
            }
            if let Some(v) = dir.params {
                products.gemm(
                    row_major_mut(out, d_out, m),
                    accum,
                    row_major(self.weights_of(v, j - 1), d_out, d_in),
                    row_major(self.layer_input(x, &s.activations, j, m), d_in, m),
                    scale,
                    Split::Columns,
                );
                accum = Accum::Add;
            }
            if accum == Accum::Replace {
                out.fill(zero);
            }
            if let (true, Some(v), Some(off)) = (dir.biases, dir.params, self.bias_offsets[j - 1]) {
                for (row, &c) in out.chunks_mut(m).zip(&v[off..off + d_out]) {
                    for o in row {
                        *o += c;
                    }
                }
            }
            if j < depth && self.activation != Activation::Linear {
                let start = self.layer_offset(j, m);
                for (o, &d) in out.iter_mut().zip(&s.slopes[start..start + d_out * m]) {
                    *o *= d;
                }
            }
            if j < depth {
                std::mem::swap(&mut s.signal, &mut s.next_signal);
            }
            have_input = true;
        }
    }

    /// Jᵀ·u: back-propagate the output signal in `s.signal` (∂/∂z_L, d_L × m) through the last
    /// forward pass over the columns `x`, writing the weights' gradient (and, with `biases`,
    /// the biases') into `grad` (laid out as the parameters) and, when given, the inputs'
    /// gradient s_1 W_1ᵀ δ_1 (d_0 × m) into `inputs`. `params` is not modified (the backward
    /// pass only lends it out); `bias_grad` is scratch of the widest layer.
    #[allow(clippy::too_many_arguments)]
    pub fn pullback(
        &self,
        params: &mut [T],
        x: &[T],
        m: usize,
        s: &mut Passes<T>,
        bias_grad: &mut [T],
        mut grad: Option<(&mut [T], bool)>,
        mut inputs: Option<&mut [T]>,
    ) {
        let products = self.products;
        let d_0 = self.dims[0];
        let offsets = &self.weight_offsets;
        let bias_offsets = &self.bias_offsets;
        self.backward(params, Input::Columns(x), m, s, bias_grad, |j, w, _, g, bias_g| {
            if let Some((grad, biases)) = grad.as_mut() {
                g.write_to(&mut grad[offsets[j]..offsets[j + 1]]);
                if let (true, Some(off)) = (*biases, bias_offsets[j]) {
                    grad[off..off + bias_g.len()].copy_from_slice(bias_g);
                }
            }
            if let (0, Some(out)) = (j, inputs.as_deref_mut()) {
                products.gemm(
                    row_major_mut(&mut out[..d_0 * m], d_0, m),
                    Accum::Replace,
                    row_major(w, g.d_out, d_0).transpose(),
                    row_major(g.delta, g.d_out, m),
                    g.scale,
                    Split::Columns,
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::Products;
    use crate::net::{Form, Parameterization};
    use crate::rng::{fill_normal, network_rng};

    /// A random network of every form with a bias on layers 0 and 2 (not 1), and its inputs.
    fn setup(activation: Activation) -> (Network<f64>, Vec<f64>, Vec<f64>, usize) {
        let dims = vec![3, 5, 4, 2];
        let form = Form {
            activation,
            parameterization: Parameterization::Ntk { sigma_w: 1.3 },
        };
        let offsets = crate::layout::layer_offsets(&dims);
        let weights = offsets[3];
        let net = Network {
            scales: dims[..3].iter().map(|&d| form.parameterization.scale(d)).collect(),
            activation,
            bias_offsets: vec![Some(weights), None, Some(weights + 5)],
            weight_offsets: offsets,
            products: Products::Blocked { parallel: false },
            dims,
        };
        let m = 6;
        let mut params = vec![0.0; net.params()];
        fill_normal(&mut network_rng(3, 0), &mut params, 0.8);
        let mut x = vec![0.0; 3 * m];
        fill_normal(&mut network_rng(3, 1), &mut x, 1.0);
        (net, params, x, m)
    }

    fn output(net: &Network<f64>, params: &[f64], x: &[f64], m: usize) -> Vec<f64> {
        let mut s = Passes::new(&net.dims, m, net.activation).unwrap();
        net.forward(params, Input::Columns(x), m, &mut s, true);
        net.output(&s.activations, m).to_vec()
    }

    #[test]
    fn tangents_match_central_differences_and_pullbacks_are_their_adjoints() {
        for activation in [Activation::Linear, Activation::Tanh, Activation::Erf, Activation::Relu] {
            let (net, mut params, x, m) = setup(activation);
            let p = net.params();
            let mut v = vec![0.0; p];
            fill_normal(&mut network_rng(4, 0), &mut v, 1.0);
            let mut dx = vec![0.0; x.len()];
            fill_normal(&mut network_rng(4, 1), &mut dx, 1.0);
            let mut s = Passes::new(&net.dims, m, activation).unwrap();
            net.forward(&params, Input::Columns(&x), m, &mut s, true);
            let dir = Direction {
                params: Some(&v),
                biases: true,
                inputs: Some(&dx),
            };
            net.tangent(&params, &x, m, &mut s, dir);
            let tangent = s.signal[..2 * m].to_vec();
            let h = 1e-6;
            let shift = |sign: f64| {
                let q: Vec<f64> = params.iter().zip(&v).map(|(a, b)| a + sign * h * b).collect();
                let y: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + sign * h * b).collect();
                output(&net, &q, &y, m)
            };
            let (up, down) = (shift(1.0), shift(-1.0));
            for i in 0..2 * m {
                let fd = (up[i] - down[i]) / (2.0 * h);
                assert!(
                    (fd - tangent[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{activation:?} {i}: {fd} vs {}",
                    tangent[i]
                );
            }
            // ⟨J·(v, dx), u⟩ = ⟨(v, dx), Jᵀ·u⟩ for a random output signal u.
            let mut u = vec![0.0; 2 * m];
            fill_normal(&mut network_rng(4, 2), &mut u, 1.0);
            s.signal[..2 * m].copy_from_slice(&u);
            let (mut grad, mut grad_x) = (vec![0.0; p], vec![0.0; x.len()]);
            let mut bias_grad = vec![0.0; 5];
            net.pullback(
                &mut params,
                &x,
                m,
                &mut s,
                &mut bias_grad,
                Some((&mut grad, true)),
                Some(&mut grad_x),
            );
            let lhs: f64 = tangent.iter().zip(&u).map(|(a, b)| a * b).sum();
            let rhs: f64 = grad.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>()
                + grad_x.iter().zip(&dx).map(|(a, b)| a * b).sum::<f64>();
            assert!(
                (lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()),
                "{activation:?}: {lhs} vs {rhs}"
            );
        }
    }
}
