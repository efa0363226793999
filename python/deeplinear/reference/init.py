"""Initialisation schemes in plain NumPy (docs/science.md, Initialisation schemes).

Every scheme takes ``dims = [d_0, d_1, ..., d_L]`` and returns one C-contiguous array per layer,
layer ``j`` of shape ``(batch, dims[j+1], dims[j])``.  The random streams are NumPy's and do not
match the Rust engine's; only the distributions agree.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ..vocabulary import PARAMETERIZATIONS
from .haar import _check_dim, _check_dtype, _check_threads, _haar_from_rng, _make_rng

__all__ = [
    "balanced",
    "critical",
    "critical_sigmas",
    "gaussian",
    "he",
    "identity",
    "lecun",
    "mean_field",
    "near_identity",
    "orthogonal",
    "xavier",
    "zas",
]


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


def _fan_scaled(
    dims: Sequence[int],
    batch: int,
    seed: int | None,
    dtype: DTypeLike,
    threads: int | None,
    variance: Callable[[int, int], float],
) -> list[NDArray[np.floating]]:
    _check_threads(threads)
    ds = _check_dims(dims)
    nbatch = _check_dim(batch, "batch")
    dt = _check_dtype(dtype)
    rng = _make_rng(seed)
    out: list[NDArray[np.floating]] = []
    for d_in, d_out in itertools.pairwise(ds):
        w = rng.standard_normal((nbatch, d_out, d_in), dtype=dt)
        w *= dt.type(math.sqrt(variance(d_in, d_out)))
        out.append(w)
    return out


def xavier(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """``N(0, 2 / (d_in + d_out))`` weights."""
    return _fan_scaled(dims, batch, seed, dtype, threads, lambda i, o: 2.0 / (i + o))


def he(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """``N(0, 2 / d_in)`` weights."""
    return _fan_scaled(dims, batch, seed, dtype, threads, lambda i, o: 2.0 / i)


def lecun(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """``N(0, 1 / d_in)`` weights."""
    return _fan_scaled(dims, batch, seed, dtype, threads, lambda i, o: 1.0 / i)


def _eye_layers(
    ds: list[int], nbatch: int, dt: np.dtype[np.floating]
) -> list[NDArray[np.floating]]:
    return [
        np.repeat(np.eye(d_out, d_in, dtype=dt)[np.newaxis], nbatch, axis=0)
        for d_in, d_out in itertools.pairwise(ds)
    ]


def identity(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """Rectangular identity in every layer (``seed`` validated, unused)."""
    _check_threads(threads)
    _make_rng(seed)
    return _eye_layers(_check_dims(dims), _check_dim(batch, "batch"), _check_dtype(dtype))


def near_identity(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    sigma: float = 0.1,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """Rectangular identity plus ``N(0, sigma**2 / d_in)`` noise."""
    sd = _check_scale(sigma, "sigma")
    ws = _fan_scaled(dims, batch, seed, dtype, threads, lambda i, o: sd**2 / i)
    for w in ws:
        w += np.eye(w.shape[1], w.shape[2], dtype=w.dtype)
    return ws


def zas(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """Identity layers with a zero last layer (``seed`` validated, unused)."""
    ws = identity(dims, batch=batch, seed=seed, dtype=dtype, threads=threads)
    ws[-1][...] = 0
    return ws


def balanced(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    std: float = 1.0,
    product: ArrayLike | None = None,
    randomize: bool = True,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> list[NDArray[np.floating]]:
    """Arora et al.'s Procedure 1 with ``np.linalg.svd`` (see ``deeplinear.init.balanced``)."""
    _check_threads(threads)
    ds = _check_dims(dims)
    nbatch = _check_dim(batch, "batch")
    sd = _check_scale(std, "std")
    dt = _check_dtype(dtype)
    rng = _make_rng(seed)
    depth = len(ds) - 1
    d_x, d_y = ds[0], ds[-1]
    k = min(d_x, d_y)
    for j in range(1, depth):
        if ds[j] < k:
            raise ValueError(
                f"dims: balanced initialisation needs every hidden width >= min(d_0, d_L) = {k}, "
                f"got dims[{j}] = {ds[j]}"
            )
    if product is None:
        a = rng.standard_normal((nbatch, d_y, d_x), dtype=dt) * dt.type(sd)
    else:
        a = np.asarray(product).astype(dt)
        if a.shape == (d_y, d_x):
            a = np.broadcast_to(a, (nbatch, d_y, d_x))
        if a.shape != (nbatch, d_y, d_x):
            raise ValueError(f"product must have shape {(d_y, d_x)} or {(nbatch, d_y, d_x)}")
    out = [np.zeros((nbatch, d_out, d_in)) for d_in, d_out in itertools.pairwise(ds)]
    for b in range(nbatch):
        ab = a[b].astype(np.float64)
        if depth == 1:
            out[0][b] = ab
            continue
        u, s, vt = np.linalg.svd(ab, full_matrices=False)
        root = s ** (1.0 / depth)
        out[0][b, :k, :] = root[:, None] * vt
        for j in range(1, depth - 1):
            out[j][b, np.arange(k), np.arange(k)] = root
        out[-1][b, :, :k] = u * root[None, :]
        if randomize:
            for j in range(1, depth):
                o = _haar_from_rng(rng, ds[j], ds[j], 1, np.dtype(np.float64))[0]
                out[j - 1][b] = o @ out[j - 1][b]
                out[j][b] = out[j][b] @ o.T
    return [np.ascontiguousarray(w, dtype=dt) for w in out]


def critical_sigmas(q_star: float) -> tuple[float, float]:
    """(sigma_w, sigma_b) of the critical tanh network with pre-activation variance ``q_star``.

    An independent check of the engine's Gauss-Hermite sums: the same expectations over
    ``h ~ N(0, 1)`` by the trapezoid rule on ``[-40, 40]`` with step ``min(1, q*^-1/2) / 32``,
    which is spectrally accurate for these smooth, Gaussian-weighted integrands.
    """
    q = float(q_star)
    if not math.isfinite(q) or q <= 0:
        raise ValueError(f"q_star must be finite and > 0, got {q_star!r}")
    step = min(1.0, 1.0 / math.sqrt(q)) / 32
    h = np.arange(-40.0, 40.0 + step / 2, step)
    density = np.exp(-0.5 * h * h) / math.sqrt(2 * math.pi) * step
    u = math.sqrt(q) * h
    sech4 = float(np.sum(density / np.cosh(u) ** 4))
    tanh2 = float(np.sum(density * np.tanh(u) ** 2))
    sigma_w = sech4**-0.5
    return sigma_w, math.sqrt(max(q - sigma_w**2 * tanh2, 0.0))


def mean_field(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    sigma_w: float,
    sigma_b: float,
    weights: str = "gaussian",
    parameterization: str = "standard",
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    """Weights with entry variance ``sigma_w**2 / d_in`` (standard) or 1 (ntk), Gaussian or
    scaled Haar, and biases ``N(0, sigma_b**2)`` of shape (batch, d_out)."""
    _check_threads(threads)
    ds = _check_dims(dims)
    nbatch = _check_dim(batch, "batch")
    sw = _check_scale(sigma_w, "sigma_w")
    sb = _check_scale(sigma_b, "sigma_b")
    dt = _check_dtype(dtype)
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}")
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"parameterization must be 'standard' or 'ntk', got {parameterization!r}")
    rng = _make_rng(seed)
    ws: list[NDArray[np.floating]] = []
    for d_in, d_out in itertools.pairwise(ds):
        gain = 1.0 if parameterization == "ntk" else sw / math.sqrt(d_in)
        if weights == "gaussian":
            w = rng.standard_normal((nbatch, d_out, d_in), dtype=dt) * dt.type(gain)
        else:
            w = _haar_from_rng(rng, d_out, d_in, nbatch, dt)
            w *= dt.type(gain * math.sqrt(max(d_in, d_out)))
        ws.append(w)
    bs = [rng.standard_normal((nbatch, d), dtype=dt) * dt.type(sb) for d in ds[1:]]
    return ws, bs


def critical(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | None = None,
    q_star: float = 1 / 64,
    weights: str = "orthogonal",
    parameterization: str = "standard",
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> tuple[list[NDArray[np.floating]], list[NDArray[np.floating]]]:
    """:func:`mean_field` at :func:`critical_sigmas` (q_star)."""
    sigma_w, sigma_b = critical_sigmas(q_star)
    return mean_field(
        dims,
        batch=batch,
        seed=seed,
        sigma_w=sigma_w,
        sigma_b=sigma_b,
        weights=weights,
        parameterization=parameterization,
        dtype=dtype,
        threads=threads,
    )
