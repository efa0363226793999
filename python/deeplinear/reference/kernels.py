"""Plain-NumPy twins of :mod:`deeplinear.kernels`: same names, arguments and results.

The layer recursion runs on all pairs at once as (n1, n2) arrays. The Gaussian expectations are
the closed forms (linear, relu, erf) or, for ``method="quadrature"`` (and for tanh), a tensor
Gauss–Hermite rule (:func:`numpy.polynomial.hermite.hermgauss`, ``nodes`` points per axis) over
the Cholesky coordinates u = √a·z₁, v = √b·(ρz₁ + √(1 − ρ²)·z₂): a different route from the
core's polar rule, which is what makes it a useful oracle. It is the oracle only where it
converges: for smooth activations at moderate variance (tanh at the default 200 points, against
the core: 1e-15 up to variance 1, 3e-12 at 2, 5e-10 at 3, 1e-8 at 4, 3e-6 at 8), not for relu,
whose kinks it does not see (errors ~1e-3). ``threads`` is accepted and ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.polynomial.hermite import hermgauss
from numpy.typing import NDArray

from ..vocabulary import ACTIVATIONS

__all__ = ["nngp", "ntk"]

F64 = NDArray[np.float64]
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _correlation(a: F64, b: F64, c: F64) -> F64:
    """c/√(ab), 0 where a variance is 0, and ±1 within 4ε of ±1 (rounding of an exact ±1,
    which relu's derivative kernel, ∝ arccos ρ, would magnify to ~1e-8; as the core does)."""
    scale = np.sqrt(a * b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(scale > 0, c / scale, 0.0)
    snapped: F64 = np.where(np.abs(rho) >= 1 - 4 * np.finfo(float).eps, np.sign(rho), rho)
    return snapped


def _closed_form(activation: str, a: F64, b: F64, c: F64) -> tuple[F64, F64]:
    """(E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for (u, v) ~ N(0, [[a, c], [c, b]]), elementwise."""
    if activation == "linear":
        return c, np.ones_like(c)
    if activation == "relu":
        # Cho & Saul's arc-cosine kernels; both 0 when a variance is 0 (relu'(0) = 0).
        rho = _correlation(a, b, c)
        theta = np.arccos(rho)
        live = np.sqrt(a * b) > 0
        e = np.sqrt(a * b) * (np.sin(theta) + (np.pi - theta) * rho) / (2 * np.pi)
        de = np.where(live, (np.pi - theta) / (2 * np.pi), 0.0)
        return e, de
    # erf (Williams 1997).
    d = (1 + 2 * a) * (1 + 2 * b)
    e = 2 / np.pi * np.arcsin(np.clip(2 * c / np.sqrt(d), -1.0, 1.0))
    de = 4 / np.pi / np.sqrt(1 + 2 * (a + b) + 4 * (a * b - c * c))
    return e, de


def _phi(activation: str, z: F64) -> tuple[F64, F64]:
    if activation == "linear":
        return z, np.ones_like(z)
    if activation == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(np.float64)
    if activation == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    return _erf(z), 2 / math.sqrt(math.pi) * np.exp(-z * z)


def _quadrature(activation: str, a: F64, b: F64, c: F64, nodes: int) -> tuple[F64, F64]:
    """Tensor Gauss–Hermite rule over (z₁, z₂), pair by pair in chunks."""
    x, w = hermgauss(nodes)
    z = math.sqrt(2.0) * x
    w = w / math.sqrt(math.pi)
    ww = w[:, None] * w[None, :]
    a, b, c = np.broadcast_arrays(a, b, c)
    rho = _correlation(a, b, c).ravel()
    sa, sb = np.sqrt(a).ravel(), np.sqrt(b).ravel()
    e, de = np.empty(rho.size), np.empty(rho.size)
    chunk = max(1, 2_000_000 // nodes**2)
    for s in range(0, rho.size, chunk):
        r, p, q = rho[s : s + chunk, None, None], sa[s : s + chunk], sb[s : s + chunk]
        fu, du = _phi(activation, p[:, None, None] * z[None, :, None])
        v = q[:, None, None] * (r * z[None, :, None] + np.sqrt(1 - r * r) * z[None, None, :])
        fv, dv = _phi(activation, v)
        e[s : s + chunk] = (ww * fu * fv).sum(axis=(1, 2))
        de[s : s + chunk] = (ww * du * dv).sum(axis=(1, 2))
    return e.reshape(a.shape), de.reshape(a.shape)


def _kernels(
    dims: Sequence[int],
    X: np.ndarray,
    X2: np.ndarray | None,
    activation: str,
    sigma_w: float,
    sigma_b: float | None,
    parameterization: str,
    alpha: float,
    method: str,
    nodes: int,
) -> tuple[F64, F64]:
    """(NNGP, NTK), each (n1, n2)."""
    dims = [int(d) for d in dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must hold at least two positive widths, got {dims}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if parameterization not in ("ntk", "standard"):
        raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
    if method not in ("auto", "closed_form", "quadrature"):
        raise ValueError(f"method must be 'auto', 'closed_form' or 'quadrature', got {method!r}")
    if method == "closed_form" and activation == "tanh":
        raise ValueError("method='closed_form' is not available for tanh")
    if not (math.isfinite(sigma_w) and sigma_w >= 0):
        raise ValueError(f"sigma_w must be finite and non-negative, got {sigma_w}")
    if sigma_b is not None and not (math.isfinite(sigma_b) and sigma_b >= 0):
        raise ValueError(f"sigma_b must be finite and non-negative, got {sigma_b}")
    x1 = np.asarray(X, dtype=np.float64)
    x2 = x1 if X2 is None else np.asarray(X2, dtype=np.float64)
    for name, x in (("X", x1), ("X2", x2)):
        if x.ndim != 2 or x.shape[0] != dims[0] or x.shape[1] == 0:
            raise ValueError(f"{name} must have shape ({dims[0]}, n) with n ≥ 1, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} must be finite")

    def expect(a: F64, b: F64, c: F64) -> tuple[F64, F64]:
        if method == "quadrature" or activation == "tanh":
            return _quadrature(activation, a, b, c, nodes)
        return _closed_form(activation, a, b, c)

    sw2 = sigma_w**2
    sb2 = 0.0 if sigma_b is None else sigma_b**2
    beta = 0.0 if sigma_b is None else 1.0

    def omega(fan_in: int) -> float:
        return sw2 if parameterization == "ntk" else float(fan_in)

    g = x1.T @ x2
    # The diagonal from the same product when X2 is X, so that the (x, x) entries see ρ = 1.
    n1 = np.diag(g).copy() if X2 is None else (x1 * x1).sum(axis=0)
    n2 = n1 if X2 is None else (x2 * x2).sum(axis=0)
    d0 = dims[0]
    c = sw2 * (g / d0) + sb2
    theta = omega(d0) * (g / d0) + beta
    a = sw2 * (n1 / d0) + sb2
    b = sw2 * (n2 / d0) + sb2
    for j in range(1, len(dims) - 1):
        e, de = expect(a[:, None], b[None, :], c)
        theta = omega(dims[j]) * e + beta + sw2 * de * theta
        c = sw2 * e + sb2
        a = sw2 * expect(a, a, a)[0] + sb2
        b = sw2 * expect(b, b, b)[0] + sb2
    return alpha**2 * c, alpha**2 * theta


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
    nodes: int = 200,
) -> F64:
    """α²Σ_L over all pairs of columns of X and X2, (n1, n2); ``nodes`` sizes the quadrature."""
    args = (activation, sigma_w, sigma_b, parameterization, alpha, method, nodes)
    return _kernels(dims, X, X2, *args)[0]


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
    nodes: int = 200,
) -> F64:
    """α²Θ_L over all pairs of columns of X and X2, (n1, n2); ``nodes`` sizes the quadrature."""
    args = (activation, sigma_w, sigma_b, parameterization, alpha, method, nodes)
    return _kernels(dims, X, X2, *args)[1]
