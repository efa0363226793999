"""Riemannian optimisation on the Oblique manifold of row-normalised layers, in NumPy.

The same rule as ``deeplinear.train(..., manifold="oblique")`` (Sokol & Park 2020's
``LinearOblique``; geoopt's ``Sphere`` applied row by row): a layer W = s·Q keeps every row of
Q (a unit's incoming weights) on the unit sphere, so every row of W has norm s. As for the
Stiefel rule (:mod:`.stiefel`) the step is taken in W's own coordinates: project the Euclidean
gradient row by row onto the tangent space, let the optimiser turn it into a direction d,
move each row along its great circle by the exponential map of −η·d, and re-project the first
moment onto the new tangent space.

The non-orthogonality penalty ω·‖QQᵀ − I‖²_F (‖QᵀQ − I‖²_F for a tall layer) of Sokol & Park's
Oblique networks enters the minimised objective through :func:`penalty_gradient`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidValueError

__all__ = [
    "exp_map",
    "penalty",
    "penalty_gradient",
    "project",
    "riemannian_step",
    "row_scale",
]

Floats = NDArray[np.floating]


def row_scale(w: Floats, name: str = "weights") -> float:
    """The common row norm s of an Oblique layer; an error naming ``name`` if the layer has
    fewer than 2 inputs (each row would be ±1 alone) or if max_i |‖w_i‖²/s² − 1| > √ε, with s²
    the mean squared row norm."""
    if w.shape[1] < 2:
        raise InvalidValueError(
            f"{name}: manifold='oblique' needs at least 2 inputs per unit (a row on a sphere), "
            f"got a layer of shape {w.shape}"
        )
    sq = np.sum(w.astype(np.float64) ** 2, axis=1)
    s2 = float(np.mean(sq))
    err = float(np.abs(sq / s2 - 1.0).max()) if s2 > 0 else np.inf
    if not np.isfinite(s2) or s2 <= 0 or not err <= np.sqrt(np.finfo(w.dtype).eps):
        raise InvalidValueError(
            f"{name}: manifold='oblique' needs every row of one common norm s, but "
            f"max |‖w_i‖²/s² − 1| = {err:.3e}; normalise the rows first"
        )
    return float(np.sqrt(s2))


def project(w: Floats, x: Floats, scale: float) -> Floats:
    """x projected row by row onto the tangent space at w: x_i − (x_i·w_i/s²)·w_i."""
    dots = np.sum(x * w, axis=1, keepdims=True)
    out: Floats = x - (dots / w.dtype.type(scale * scale)) * w
    return out


def exp_map(w: Floats, v: Floats, scale: float, new_scale: float) -> Floats:
    """Each row w_i (norm s) moved along its great circle by the tangent vector v_i: with
    q_i = w_i/s, u_i = v_i/s and θ = ‖u_i‖, q_i ← cos θ·q_i + sin θ·u_i/θ (unchanged when θ =
    0), then renormalised, and the layer returned at scale ``new_scale``."""
    dt = w.dtype.type
    q = w / dt(scale)
    u = v / dt(scale)
    theta = np.sqrt(np.sum(u * u, axis=1, keepdims=True))
    moving = theta > 0
    safe = np.where(moving, theta, dt(1))
    stepped = np.where(moving, np.cos(theta) * q + np.sin(theta) * (u / safe), q)
    norms = np.sqrt(np.sum(stepped * stepped, axis=1, keepdims=True))
    out: Floats = dt(new_scale) * (stepped / norms)
    return out


def _gram_gap(q: Floats) -> Floats:
    """QQᵀ − I (d_out ≤ d_in) or QᵀQ − I (tall)."""
    tall = q.shape[0] > q.shape[1]
    gram = q.T @ q if tall else q @ q.T
    out: Floats = gram - np.eye(gram.shape[0], dtype=q.dtype)
    return out


def penalty(w: Floats, scale: float) -> float:
    """‖QQᵀ − I‖²_F (‖QᵀQ − I‖²_F if tall) of Q = w/s, in float64."""
    gap = _gram_gap(w.astype(np.float64) / scale)
    return float(np.sum(gap * gap))


def penalty_gradient(w: Floats, scale: float) -> Floats:
    """The gradient of :func:`penalty` with respect to w at fixed s: 4(QQᵀ − I)Q/s (tall
    4Q(QᵀQ − I)/s), Q = w/s (4(QQᵀ − I)Q is Q's own gradient, and ∂Q/∂w = 1/s)."""
    dt = w.dtype.type
    q = w / dt(scale)
    gap = _gram_gap(q)
    grad = q @ gap if q.shape[0] > q.shape[1] else gap @ q
    out: Floats = dt(4.0 / scale) * grad
    return out


def riemannian_step(
    w: Floats,
    g: Floats,
    lr: float,
    scale: float,
    new_scale: float,
    direction: Callable[[Floats], Floats],
    first_moment: Floats | None,
) -> Floats:
    """One step of layer w with Euclidean gradient g (the penalty's included): ``direction``
    (the optimiser, advancing its state) maps the projected gradient to d; returns
    exp_map(w, −lr·d) at ``new_scale``, and re-projects ``first_moment`` (in place) onto the
    new tangent space."""
    d = direction(project(w, g, scale))
    new_w = exp_map(w, -w.dtype.type(lr) * d, scale, new_scale)
    if first_moment is not None:
        first_moment[...] = project(new_w, first_moment, new_scale)
    return new_w
