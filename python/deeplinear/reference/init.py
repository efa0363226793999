"""Initialisation schemes in plain NumPy (SPEC §2).

Every scheme takes ``dims = [d_0, d_1, ..., d_L]`` and returns one C-contiguous array per layer,
layer ``j`` of shape ``(batch, dims[j+1], dims[j])``.  The random streams are NumPy's and do not
match the Rust engine's; only the distributions agree.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .haar import _check_dim, _check_dtype, _check_threads, _haar_from_rng, _make_rng

__all__ = ["gaussian", "orthogonal"]


def _check_dims(dims: Sequence[int]) -> list[int]:
    """Validate ``dims`` (at least two positive integers) and return it as a list of ints."""
    try:
        items = list(dims)
    except TypeError:
        raise TypeError(f"dims must be a sequence of integers, got {type(dims).__name__}") from None
    if len(items) < 2:
        raise ValueError(f"dims must have at least 2 entries (d_0 and d_L), got {items!r}")
    return [_check_dim(d, f"dims[{i}]") for i, d in enumerate(items)]


def _check_scale(value: float, name: str) -> float:
    """Return ``value`` as a finite non-negative float or raise a ValueError naming ``name``."""
    fvalue = float(value)
    if not math.isfinite(fvalue) or fvalue < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return fvalue


def gaussian(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    std: float = 1.0,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """I.i.d. ``N(0, std**2)`` weights, one array of shape (batch, dims[j+1], dims[j]) per layer.

    ``threads`` is accepted for signature compatibility with ``deeplinear.init`` and ignored.
    """
    _check_threads(threads)
    ds = _check_dims(dims)
    nbatch = _check_dim(batch, "batch")
    sd = _check_scale(std, "std")
    dt = _check_dtype(dtype)
    rng = _make_rng(seed)
    out: list[NDArray[np.floating]] = []
    for d_in, d_out in itertools.pairwise(ds):
        w = rng.standard_normal((nbatch, d_out, d_in), dtype=dt)
        w *= dt.type(sd)
        out.append(w)
    return out


def orthogonal(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    gain: float = 1.0,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """Scaled Haar-orthogonal weights: ``W = gain * sqrt(max(d_out, d_in)) * Q``.

    ``Q`` has orthonormal columns (tall layer) or rows (wide layer), so ``W.T @ W`` (tall) or
    ``W @ W.T`` (wide) equals ``gain**2 * max(d_out, d_in) * I``.  ``threads`` is ignored.
    """
    _check_threads(threads)
    ds = _check_dims(dims)
    nbatch = _check_dim(batch, "batch")
    g = _check_scale(gain, "gain")
    dt = _check_dtype(dtype)
    rng = _make_rng(seed)
    out: list[NDArray[np.floating]] = []
    for d_in, d_out in itertools.pairwise(ds):
        q = _haar_from_rng(rng, d_out, d_in, nbatch, dt)
        q *= dt.type(g * math.sqrt(max(d_out, d_in)))
        out.append(q)
    return out
