"""Initialisation schemes for batches of deep networks (SPEC §2).

Every scheme takes ``dims = [d_0, ..., d_L]`` and returns one C-contiguous array per layer,
layer j of shape (batch, dims[j+1], dims[j]). Network b of the batch draws from its own random
stream, so it gets the same weights whatever the batch size or thread count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from ._validation import dims_argument, float_dtype, integer, optional_integer, real, seed_argument

__all__ = ["fanout_alpha", "gaussian", "orthogonal"]


def fanout_alpha(dims: Sequence[int]) -> float:
    """Hu et al.'s output scale α = (∏_{j≥1} d_j)^{-1/2} = (m^{L-1} d_y)^{-1/2}.

    With it, a Gaussian N(0, 1) or a gain-1 orthogonal network keeps E‖f(x)‖² = ‖x‖².
    Computed in log space so deep, wide networks do not overflow.
    """
    widths = dims_argument(dims)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"dims: needs at least two positive widths, got {widths}")
    return math.exp(-0.5 * sum(math.log(d) for d in widths[1:]))


def gaussian(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    std: float = 1.0,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """I.i.d. Gaussian weights N(0, std²) (Hu et al. use std = 1 with α = fanout_alpha(dims)).

    Args:
        dims: layer widths [d_0, ..., d_L].
        batch: number of independent networks.
        seed: int (network b uses stream b), one int per network, or None for fresh entropy.
        std: standard deviation of every entry.
        dtype: float32 or float64.
        threads: worker threads (default: all cores).
    """
    widths = dims_argument(dims)
    n = integer("batch", batch, minimum=1)
    return _core.init_gaussian(
        widths,
        n,
        seed_argument(seed, n),
        real("std", std),
        float_dtype(dtype).name,
        optional_integer("threads", threads, minimum=1),
    )


def orthogonal(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    gain: float = 1.0,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Scaled Haar-orthogonal weights W = gain·√max(d_out, d_in)·Q.

    Q has orthonormal columns for tall layers and orthonormal rows for wide ones, so gain = 1
    gives Hu et al.'s WᵀW = m·I on square layers.

    Args:
        dims: layer widths [d_0, ..., d_L].
        batch: number of independent networks.
        seed: int (network b uses stream b), one int per network, or None for fresh entropy.
        gain: multiplier on top of √max(d_out, d_in).
        dtype: float32 or float64.
        threads: worker threads (default: all cores).
    """
    widths = dims_argument(dims)
    n = integer("batch", batch, minimum=1)
    return _core.init_orthogonal(
        widths,
        n,
        seed_argument(seed, n),
        real("gain", gain),
        float_dtype(dtype).name,
        optional_integer("threads", threads, minimum=1),
    )
