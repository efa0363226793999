"""Riemannian gradient descent on the Stiefel manifold of scaled-orthogonal layers, in NumPy.

The same rule as the Rust engine's ``train(..., manifold="stiefel")`` (Sokol & Park 2020):
a layer keeps its initial scale s (WᵀW = s²I when tall or square, WWᵀ = s²I when wide); a step
projects the gradient onto the tangent space, steps, and retracts with the sign-fixed QR.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["orthogonal_scale", "qf", "stiefel_step"]


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


def stiefel_step(
    w: NDArray[np.floating], g: NDArray[np.floating], lr: float, scale: float
) -> NDArray[np.floating]:
    """One step: ξ = G − W·sym(WᵀG)/s² (wide: G − sym(GWᵀ)·W/s²), Y = W − lr·ξ,
    W ← s·qf(Y) (wide: s·qf(Yᵀ)ᵀ)."""
    s2 = scale * scale
    if w.shape[0] >= w.shape[1]:
        a = w.T @ g
        xi = g - w @ (0.5 * (a + a.T)) / s2
        return scale * qf(w - lr * xi)
    a = g @ w.T
    xi = g - (0.5 * (a + a.T)) @ w / s2
    return scale * qf((w - lr * xi).T).T
