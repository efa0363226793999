"""Riemannian optimisation on the Stiefel manifold of scaled-orthogonal layers, in NumPy.

The same rule as ``deeplinear.train(..., manifold="stiefel")`` (Sokol & Park 2020; Riemannian
momentum and Adam as geoopt's): a layer W keeps WᵀW = s²I (tall or square) or WWᵀ = s²I (wide).
A step projects the Euclidean gradient onto the tangent space, lets the optimiser turn it into a
direction d (its moments kept for the projected gradient), retracts W − η·d with the sign-fixed
QR, and re-projects the first moment onto the new tangent space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["orthogonal_scale", "project", "qf", "retract", "riemannian_step", "stiefel_step"]


def qf(a: NDArray[np.floating]) -> NDArray[np.floating]:
    """Thin Q factor of a tall matrix with diag(R) > 0 (0 counts as +)."""
    q, r = np.linalg.qr(a)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0).astype(a.dtype)
    out: NDArray[np.floating] = q * signs[None, :]
    return out


def orthogonal_scale(w: NDArray[np.floating], name: str = "weights") -> float:
    """The scale s of a scaled-orthogonal layer; ValueError if ‖gram/s² − I‖_max > √ε."""
    w64 = w.astype(np.float64)
    gram = w64.T @ w64 if w.shape[0] >= w.shape[1] else w64 @ w64.T
    s2 = float(np.trace(gram)) / gram.shape[0]
    err = float(np.abs(gram / s2 - np.eye(gram.shape[0])).max()) if s2 > 0 else np.inf
    if not np.isfinite(s2) or s2 <= 0 or err > np.sqrt(np.finfo(w.dtype).eps):
        raise ValueError(f"{name}: manifold='stiefel' needs scaled-orthogonal layers, error {err}")
    return float(np.sqrt(s2))


def project(w: NDArray[np.floating], x: NDArray[np.floating], scale: float) -> NDArray[np.floating]:
    """x projected onto the tangent space at w: x − w·sym(wᵀx)/s² (wide: x − sym(xwᵀ)·w/s²)."""
    s2 = scale * scale
    if w.shape[0] >= w.shape[1]:
        a = w.T @ x
        out: NDArray[np.floating] = x - w @ (0.5 * (a + a.T)) / s2
    else:
        a = x @ w.T
        out = x - (0.5 * (a + a.T)) @ w / s2
    return out


def retract(y: NDArray[np.floating], scale: float) -> NDArray[np.floating]:
    """s·qf(y) (wide: s·qf(yᵀ)ᵀ)."""
    s = y.dtype.type(scale)
    return s * qf(y) if y.shape[0] >= y.shape[1] else s * qf(y.T).T


def riemannian_step(
    w: NDArray[np.floating],
    g: NDArray[np.floating],
    lr: float,
    scale: float,
    new_scale: float,
    direction: Callable[[NDArray[np.floating]], NDArray[np.floating]],
    first_moment: NDArray[np.floating] | None,
) -> NDArray[np.floating]:
    """One step of layer w with Euclidean gradient g: ``direction`` (the optimiser, advancing its
    state) maps the projected gradient to d; returns retract(w − lr·d) at ``new_scale``, and
    re-projects ``first_moment`` (in place) onto the new tangent space."""
    d = direction(project(w, g, scale))
    new_w = retract(w - w.dtype.type(lr) * d, new_scale)
    if first_moment is not None:
        first_moment[...] = project(new_w, first_moment, new_scale)
    return new_w


def stiefel_step(
    w: NDArray[np.floating], g: NDArray[np.floating], lr: float, scale: float
) -> NDArray[np.floating]:
    """One gradient-descent step: retract(w − lr·project(w, g)) at the same scale."""
    return riemannian_step(w, g, lr, scale, scale, lambda xi: xi, None)
