"""Haar-uniform orthogonal matrices in plain NumPy (docs/science.md, Haar sampling).

This is the obviously-correct baseline: draw a Gaussian matrix of shape (max, min), take its thin
QR decomposition, multiply column ``i`` of ``Q`` by ``sign(R_ii)`` (a zero diagonal counts as
``+1``), and transpose for wide shapes.  Without the sign fix the distribution is *not* Haar.

A batch is drawn as one stacked Gaussian array and factorised with NumPy's batched
``np.linalg.qr``; the sign fix is vectorised.  This is the NumPy baseline of the benchmarks.
"""

from __future__ import annotations

import operator

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["haar_orthogonal"]


def _check_dim(value: object, name: str) -> int:
    """Return ``value`` as a positive ``int`` or raise a ValueError/TypeError naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        ivalue = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if ivalue < 1:
        raise ValueError(f"{name} must be >= 1, got {ivalue}")
    return ivalue


def _check_dtype(dtype: DTypeLike) -> np.dtype[np.floating]:
    """Return ``dtype`` as float32/float64 or raise a TypeError."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt  # type: ignore[return-value]


def _check_threads(threads: int | None) -> None:
    """``threads`` is ignored by the reference but validated like the engine does (None or >= 1)."""
    if threads is not None:
        _check_dim(threads, "threads")


def _make_rng(seed: int | None) -> np.random.Generator:
    """Validate ``seed`` (None or a non-negative int) and return a NumPy Generator."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an integer or None, got {seed!r}")
    try:
        iseed = operator.index(seed)
    except TypeError:
        raise TypeError(f"seed must be an integer or None, got {type(seed).__name__}") from None
    if iseed < 0:
        raise ValueError(f"seed must be >= 0, got {iseed}")
    return np.random.default_rng(iseed)


def _haar_from_rng(
    rng: np.random.Generator, rows: int, cols: int, batch: int, dtype: np.dtype[np.floating]
) -> NDArray[np.floating]:
    """Draw ``batch`` Haar matrices of shape (rows, cols) from ``rng``, as (batch, rows, cols)."""
    big, small = max(rows, cols), min(rows, cols)
    gauss = rng.standard_normal((batch, big, small), dtype=dtype)
    q, r = np.linalg.qr(gauss, mode="reduced")  # q: (batch, big, small), r: (batch, small, small)
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))  # (batch, small)
    signs[signs == 0] = 1
    q *= signs[:, np.newaxis, :]  # column i of Q times sign(R_ii)
    if rows < cols:
        q = q.transpose(0, 2, 1)
    return np.ascontiguousarray(q, dtype=dtype)


def haar_orthogonal(
    rows: int,
    cols: int | None = None,
    *,
    batch: int | None = None,
    seed: int | None = None,
    dtype: DTypeLike = np.float64,
    threads: int | None = None,
) -> NDArray[np.floating]:
    """Sample Haar-uniform matrices with orthonormal columns (tall) or rows (wide).

    Parameters
    ----------
    rows, cols:
        Shape of each matrix; ``cols`` defaults to ``rows`` (square, Haar on O(rows)).
    batch:
        Number of independent matrices; ``None`` returns a single 2-D matrix.
    seed:
        Non-negative integer seed for ``np.random.default_rng`` (``None``: fresh entropy).
    dtype:
        ``np.float32`` or ``np.float64``; the QR is computed in this dtype.
    threads:
        Accepted for signature compatibility with ``deeplinear.haar_orthogonal``; ignored.

    Returns
    -------
    ndarray
        Shape (rows, cols) if ``batch`` is None, else (batch, rows, cols), C-contiguous.
    """
    _check_threads(threads)
    nrows = _check_dim(rows, "rows")
    ncols = nrows if cols is None else _check_dim(cols, "cols")
    nbatch = 1 if batch is None else _check_dim(batch, "batch")
    dt = _check_dtype(dtype)
    rng = _make_rng(seed)
    out = _haar_from_rng(rng, nrows, ncols, nbatch, dt)
    return out[0] if batch is None else out
