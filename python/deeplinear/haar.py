"""Haar-distributed (uniformly random) orthogonal matrices."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._validation import float_dtype, seed_argument, size, threads_argument

__all__ = ["haar_orthogonal"]


def haar_orthogonal(
    rows: int,
    cols: int | None = None,
    *,
    batch: int | None = None,
    seed: int | Any | None = None,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> np.ndarray:
    """Sample matrices uniformly (Haar) from the orthogonal group or Stiefel manifold.

    The law is that of the QR decomposition of a Gaussian matrix with column i of Q multiplied by
    sign(R_ii) (Mezzadri 2007; without that fix the result is not Haar). It is sampled by
    Stewart's equivalent product of Householder reflectors built from fresh Gaussian vectors,
    which skips the QR update: half the flops and half the random numbers.

    Args:
        rows: number of rows.
        cols: number of columns (default: ``rows``). Tall shapes get orthonormal columns
            (QᵀQ = I), wide shapes orthonormal rows (QQᵀ = I). Unscaled.
        batch: number of independent matrices; None returns a single matrix.
        seed: int (matrix b uses stream b of that seed), one int per matrix, a NumPy
            SeedSequence or Generator, or None for fresh entropy (the mapping is in
            :mod:`deeplinear.init`, "Seeds"). The same seed gives bit-identical output for any
            ``threads``.
        dtype: float32 or float64.
        threads: worker threads (default: all cores).

    Returns:
        An array of shape (rows, cols), or (batch, rows, cols) when ``batch`` is given.

    Raises:
        MemoryError: the matrices (and the workers' scratch) cannot fit in this machine's
            memory; the message names ``rows``/``cols`` or ``batch`` and the bytes needed.
        ValueError: a size below 1, or ``threads`` above the cap (4 per core, at least 64).

    Example:
        >>> import deeplinear as dl
        >>> q = dl.haar_orthogonal(4, seed=0)
        >>> bool(abs(q.T @ q - np.eye(4)).max() < 1e-12)
        True
    """
    rows = size("rows", rows, minimum=1)
    cols = rows if cols is None else size("cols", cols, minimum=1)
    n = 1 if batch is None else size("batch", batch, minimum=1)
    out = _core.haar_orthogonal(
        rows,
        cols,
        n,
        seed_argument(seed, n),
        float_dtype(dtype).name,
        threads_argument(threads),
    )
    return out[0] if batch is None else out
