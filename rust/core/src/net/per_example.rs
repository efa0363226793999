//! Per-example Jacobians of the output f = α·z_L, stacked over the examples of the last forward
//! pass: the reverse sweep behind the empirical NTK and the dense input–output Jacobians.

use faer::{Accum, Mat, MatRef};

use super::form::Activation;
use super::pass::{Network, Passes};
use crate::alloc;
use crate::error::Result;
use crate::linalg::{row_major, Split};
use crate::scalar::Real;

impl<T: Real> Network<T> {
    /// Reverse-mode sweep after a forward pass with slopes over the m columns `x`: calls
    /// `visit(j, h_j, B_j)` for the layers j = L−1, …, 0 (0-based), where h_j is the layer's
    /// input (d_j × m) and B_j = ∂f/∂z_{j+1} stacked over the examples ((m·d_L) × d_{j+1}, row
    /// x·d_L + a); then returns ∂f/∂x stacked the same way ((m·d_L) × d_0).
    ///
    /// All m examples go through each layer in one product, so the cost is m·d_L·Σ_j d_j d_{j+1}.
    /// Buffers sized by the examples are `OutOfMemory` naming "X".
    pub fn per_example_sweep(
        &self,
        params: &[T],
        x: &[T],
        m: usize,
        s: &Passes<T>,
        alpha: f64,
        mut visit: impl FnMut(usize, MatRef<'_, T>, MatRef<'_, T>),
    ) -> Result<Mat<T>> {
        let depth = self.depth();
        let d_l = self.dims[depth];
        let rows = alloc::checked_len("X", &[m, d_l])?;
        let mut stack = alloc::mat_zeros::<T>("X", rows, d_l)?;
        for e in 0..m {
            for a in 0..d_l {
                stack[(e * d_l + a, a)] = T::from_f64(alpha);
            }
        }
        for j in (1..=depth).rev() {
            let (d_out, d_in) = (self.dims[j], self.dims[j - 1]);
            let h = row_major(self.layer_input(x, &s.activations, j, m), d_in, m);
            visit(j - 1, h, stack.as_ref());
            let mut next = alloc::mat_zeros::<T>("X", rows, d_in)?;
            self.products.gemm(
                next.as_mut(),
                Accum::Replace,
                stack.as_ref(),
                row_major(self.weights_of(params, j - 1), d_out, d_in),
                self.scales[j - 1],
                Split::Rows,
            );
            if j > 1 && self.activation != Activation::Linear {
                let start = self.layer_offset(j - 1, m);
                let slopes = row_major(&s.slopes[start..start + d_in * m], d_in, m);
                for c in 0..d_in {
                    for e in 0..m {
                        let d = slopes[(c, e)];
                        for a in 0..d_l {
                            next[(e * d_l + a, c)] *= d;
                        }
                    }
                }
            }
            stack = next;
        }
        Ok(stack)
    }
}
