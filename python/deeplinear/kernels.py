"""Infinite-width NNGP and NTK kernels of deeplinear's MLP forms, computed in the Rust core.

The networks are those of :func:`deeplinear.train` and :mod:`deeplinear.metrics`:
z_1 = s_1 W_1 x + b_1, z_j = s_j W_j φ(z_{j−1}) + b_j, f(x) = α·z_L, with

* ``parameterization="ntk"``: W entries N(0, 1) and s_j = σ_w/√d_{j−1};
* ``parameterization="standard"``: W entries N(0, σ_w²/d_{j−1}) and s_j = 1;
* biases b_j ~ N(0, σ_b²) in both (``sigma_b=None``: no biases). Unlike neural-tangents'
  ``b_std·b``, the bias is not scaled in the NTK parameterisation, so each layer's bias adds 1
  to the NTK (its gradient), whatever σ_b; ``sigma_b=0.0`` is a network whose biases start at 0
  and are trained, which has the NNGP of ``sigma_b=None`` but a larger NTK.

As the hidden widths grow, each output coordinate f_a becomes a Gaussian process with
covariance :func:`nngp`, and the empirical NTK Gram (:func:`deeplinear.metrics.ntk`) tends to
:func:`ntk` ⊗ I_{d_L}: both functions return the kernel of one output coordinate, (n1, n2). The
recursion over layers (docs/science.md, Infinite-width kernels) is

    Σ_1 = σ_w² x·x'/d_0 + σ_b²,   Σ_{j+1} = σ_w² E[φ(u)φ(v)] + σ_b²,
    Θ_1 = ω_1 x·x'/d_0 + β,       Θ_{j+1} = ω_{j+1} E[φ(u)φ(v)] + β + σ_w² E[φ'(u)φ'(v)] Θ_j,

with (u, v) Gaussian with the covariance Σ_j of the pair, β = 1 with biases (else 0), and
NNGP = α²Σ_L, NTK = α²Θ_L. ω_j is σ_w² in the NTK parameterisation. The standard
parameterisation's NTK has no finite limit (the weight gradient of layer j grows with its
fan-in d_{j−1}); as in neural-tangents, ω_j = d_{j−1} is taken from ``dims``, which gives the
kernel that the empirical NTK approaches, relative to its size, as the hidden widths grow in
proportion. The hidden widths in ``dims`` matter only there; the NNGP never depends on them.

The Gaussian expectations are closed forms for linear, relu (arc-cosine kernels) and erf
(arcsin kernel). Any activation (tanh; all of them with ``method="quadrature"``) has a
numerical route: Mehler's series E[φ(u)φ(v)] = Σ_k c_k(a)c_k(b)ρ^k with Gauss–Hermite
coefficients, for smooth activations at pre-activation variances up to 4 (fast: one short
polynomial per pair), and otherwise a product Gauss rule in polar coordinates cut at the rays
u = 0 and v = 0 (exact for relu's kinks). Either keeps the absolute error of each layer's
expectations below ~5e-11 (variances up to ~1000 for the polar rule). Pairs run in parallel on
``threads`` (default: all cores), the GIL is released, Ctrl-C stops the call, and the result
does not depend on the thread count.

:mod:`deeplinear.reference.kernels` has the same functions in plain NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from ._validation import FLOAT_DTYPES, dims_argument, real, string, threads_argument
from .errors import ArgumentTypeError

__all__ = ["nngp", "ntk"]


def _inputs(name: str, value: Any) -> np.ndarray:
    """A float64 C-contiguous copy or view of a real array (integers and float32 converted)."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    if arr.dtype not in FLOAT_DTYPES:
        raise ArgumentTypeError(f"{name}: expected a real (d_0, n) array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _kernel(
    kernel: str,
    dims: Sequence[int],
    X: np.ndarray,
    X2: np.ndarray | None,
    activation: str,
    sigma_w: float,
    sigma_b: float | None,
    parameterization: str,
    alpha: float,
    method: str,
    threads: int | None,
) -> np.ndarray:
    return _core.infinite_width_kernel(
        dims_argument(dims),
        _inputs("X", X),
        None if X2 is None else _inputs("X2", X2),
        kernel=kernel,
        activation=string("activation", activation),
        parameterization=string("parameterization", parameterization),
        sigma_w=real("sigma_w", sigma_w),
        sigma_b=None if sigma_b is None else real("sigma_b", sigma_b),
        alpha=real("alpha", alpha),
        method=string("method", method),
        threads=threads_argument(threads),
    )


def nngp(
    dims: Sequence[int],
    X: np.ndarray,
    X2: np.ndarray | None = None,
    *,
    activation: str,
    sigma_w: float,
    sigma_b: float | None = None,
    parameterization: str = "ntk",
    alpha: float = 1.0,
    method: str = "auto",
    threads: int | None = None,
) -> np.ndarray:
    """Infinite-width output covariance α²Σ_L(x, x') of every pair of columns of X and X2.

    Args:
        dims: layer widths [d_0, d_1, …, d_L] (L ≥ 1); d_0 must match X's rows.
        X: inputs (d_0, n1), columns are examples (as in :func:`deeplinear.train`).
        X2: inputs (d_0, n2); default X (the result is then exactly symmetric).
        activation: "linear", "relu", "erf" or "tanh" (hidden layers; the output has none).
        sigma_w: weight scale σ_w ≥ 0 (module doc).
        sigma_b: bias standard deviation σ_b ≥ 0, or None for a network without biases.
        parameterization: "ntk" or "standard" (module doc).
        alpha: output scale α.
        method: "auto" (closed form where there is one), "closed_form" or "quadrature".
        threads: worker threads (default: all cores).

    Returns:
        (n1, n2) float64: the covariance of one output coordinate; the full covariance of the
        d_L outputs is this ⊗ I_{d_L}.

    Example:
        >>> import deeplinear as dl, numpy as np
        >>> dl.kernels.nngp([2, 100, 1], np.eye(2), activation="relu", sigma_w=2**0.5).round(4)
        array([[1.    , 0.3183],
               [0.3183, 1.    ]])
    """
    return _kernel(
        "nngp",
        dims,
        X,
        X2,
        activation,
        sigma_w,
        sigma_b,
        parameterization,
        alpha,
        method,
        threads,
    )


def ntk(
    dims: Sequence[int],
    X: np.ndarray,
    X2: np.ndarray | None = None,
    *,
    activation: str,
    sigma_w: float,
    sigma_b: float | None = None,
    parameterization: str = "ntk",
    alpha: float = 1.0,
    method: str = "auto",
    threads: int | None = None,
) -> np.ndarray:
    """Infinite-width neural tangent kernel α²Θ_L(x, x') of every pair of columns of X and X2.

    Arguments as for :func:`nngp`. With ``parameterization="standard"`` each layer's weight term
    is multiplied by its fan-in from ``dims`` (module doc), so the kernel grows with the widths.

    Returns:
        (n1, n2) float64: the kernel of one output coordinate; the limit of the empirical NTK
        Gram of :func:`deeplinear.metrics.ntk` (example-major) is ``np.kron(K, np.eye(d_L))``.

    Example:
        >>> import deeplinear as dl, numpy as np
        >>> dl.kernels.ntk([2, 100, 1], np.eye(2), activation="relu", sigma_w=2**0.5).round(4)
        array([[2.    , 0.3183],
               [0.3183, 2.    ]])
    """
    return _kernel(
        "ntk",
        dims,
        X,
        X2,
        activation,
        sigma_w,
        sigma_b,
        parameterization,
        alpha,
        method,
        threads,
    )
