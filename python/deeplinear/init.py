"""Initialisation schemes for batches of deep networks (docs/science.md, Initialisation schemes).

Every scheme takes ``dims = [d_0, ..., d_L]`` and returns one C-contiguous array per layer,
layer j of shape (batch, dims[j+1], dims[j]). Network b of the batch draws from its own random
stream, so it gets the same weights whatever the batch size or thread count. Weights that cannot
fit in this machine's memory raise MemoryError naming ``dims`` (one network is too large) or
``batch``, and the bytes needed, before anything is allocated; Ctrl-C stops a long call.

Seeds: every function here (and :func:`deeplinear.haar_orthogonal`, and ``data_seed`` of
:func:`deeplinear.train`) takes ``seed`` as

* an int s in [0, 2**64): network b of the batch draws from stream b of ChaCha8 seeded by s;
* a sequence of ``batch`` seeds: network b draws from stream 0 of its own seed, so a network
  gets the same weights alone (``batch=1, seed=s_b``) as in a batch;
* a NumPy ``SeedSequence`` ss: the int ``int(ss.generate_state(1, np.uint64)[0])``; a NumPy
  ``Generator`` rng: the int ``int(rng.integers(2**64, dtype=np.uint64))`` (one draw, which
  advances rng). A sequence may hold SeedSequences or Generators, mapped the same way, one per
  network (e.g. ``np.random.SeedSequence(42).spawn(batch)``);
* None: fresh 64-bit entropy from the operating system. The weights cannot carry the seed they
  were drawn from, so to repeat an unseeded run later pass ``ss = np.random.SeedSequence()``
  instead and keep ``ss.entropy`` (NumPy's recipe); ``SeedSequence(ss.entropy)`` gives the same
  weights again. (``train`` returns the ``data_seed`` it drew as ``TrainResult.data_seed``.)

Example:
    >>> import numpy as np, deeplinear as dl
    >>> ss = np.random.SeedSequence()
    >>> w = dl.init.gaussian([3, 4, 2], batch=2, seed=ss)
    >>> again = dl.init.gaussian([3, 4, 2], batch=2, seed=np.random.SeedSequence(ss.entropy))
    >>> all(np.array_equal(a, b) for a, b in zip(w, again))
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._validation import (
    choice,
    dims_argument,
    float_dtype,
    real,
    seed_argument,
    size,
    threads_argument,
)
from .errors import ArgumentTypeError, InvalidValueError
from .vocabulary import PARAMETERIZATIONS

__all__ = [
    "balanced",
    "critical",
    "critical_sigmas",
    "fanout_alpha",
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


def fanout_alpha(dims: Sequence[int]) -> float:
    """Hu et al.'s output scale α = (∏_{j≥1} d_j)^{-1/2} = (m^{L-1} d_y)^{-1/2}.

    With it, a Gaussian N(0, 1) or a gain-1 orthogonal network keeps E‖f(x)‖² = ‖x‖².
    Computed in log space so deep, wide networks do not overflow.
    """
    widths = dims_argument(dims)
    if len(widths) < 2 or min(widths) < 1:
        raise InvalidValueError(f"dims: needs at least two positive widths, got {widths}")
    return math.exp(-0.5 * sum(math.log(d) for d in widths[1:]))


class _Common(NamedTuple):
    """The arguments every scheme shares, validated, in the order the Rust initialisers take
    them (the seed only for random schemes)."""

    widths: list[int]
    batch: int
    seed: Any
    dtype: str
    threads: int | None


def _common(dims: Sequence[int], batch: int, seed: Any, dtype: Any, threads: int | None) -> _Common:
    widths = dims_argument(dims)
    n = size("batch", batch, minimum=1)
    return _Common(
        widths,
        n,
        seed_argument(seed, n),
        float_dtype(dtype).name,
        threads_argument(threads),
    )


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
        seed: int (network b uses stream b), one int per network, a NumPy SeedSequence or
            Generator, or None for fresh entropy (see "Seeds" above).
        std: standard deviation of every entry.
        dtype: float32 or float64.
        threads: worker threads (default: all cores).
    """
    c = _common(dims, batch, seed, dtype, threads)
    return _core.init_gaussian(c.widths, c.batch, c.seed, real("std", std), c.dtype, c.threads)


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
        seed: int (network b uses stream b), one int per network, a NumPy SeedSequence or
            Generator, or None for fresh entropy (see "Seeds" above).
        gain: multiplier on top of √max(d_out, d_in).
        dtype: float32 or float64.
        threads: worker threads (default: all cores).
    """
    c = _common(dims, batch, seed, dtype, threads)
    return _core.init_orthogonal(c.widths, c.batch, c.seed, real("gain", gain), c.dtype, c.threads)


def _fan_scaled(
    kind: str, dims: Sequence[int], batch: int, seed: Any, dtype: Any, threads: int | None
) -> list[np.ndarray]:
    fn = {"xavier": _core.init_xavier, "he": _core.init_he, "lecun": _core.init_lecun}[kind]
    return fn(*_common(dims, batch, seed, dtype, threads))


def xavier(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Xavier/Glorot Gaussian weights, N(0, 2/(d_in + d_out)) per layer.

    Args: as :func:`gaussian` (without ``std``).
    """
    return _fan_scaled("xavier", dims, batch, seed, dtype, threads)


def he(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """He/Kaiming Gaussian weights, N(0, 2/d_in) per layer.

    Args: as :func:`gaussian` (without ``std``).
    """
    return _fan_scaled("he", dims, batch, seed, dtype, threads)


def lecun(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """LeCun Gaussian weights, N(0, 1/d_in) per layer.

    Args: as :func:`gaussian` (without ``std``).
    """
    return _fan_scaled("lecun", dims, batch, seed, dtype, threads)


def identity(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Every layer the rectangular identity (ones on the main diagonal, zeros elsewhere).

    Deterministic: ``seed`` is accepted for a uniform signature and validated, but unused.
    Identity initialisation of a linear net is 0-balanced (Arora et al.), and stalls on a
    symmetric target with a negative eigenvalue at even depth (their Claim 5).
    """
    c = _common(dims, batch, seed, dtype, threads)
    return _core.init_identity(c.widths, c.batch, c.dtype, c.threads)


def near_identity(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    sigma: float = 0.1,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Rectangular identity plus i.i.d. N(0, sigma²/d_in) noise (Wu et al., Shamir).

    Args:
        dims, batch, seed, dtype, threads: as :func:`gaussian`.
        sigma: noise scale; the entries of W − I have standard deviation sigma/√d_in (the
            fan-in d_in = dims[j] of layer j). Finite and ≥ 0.
    """
    c = _common(dims, batch, seed, dtype, threads)
    return _core.init_near_identity(
        c.widths, c.batch, c.seed, real("sigma", sigma), c.dtype, c.threads
    )


def zas(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Zero-asymmetric initialisation (Wu, Wang & Ma 2019).

    W_1 … W_{L−1} are the rectangular identity and W_L = 0, so the initial end-to-end matrix is
    0. For linear residual nets (W_l = I + U_l) this is U_l = 0 with a zero output layer.
    Deterministic; ``seed`` is validated but unused.
    """
    c = _common(dims, batch, seed, dtype, threads)
    return _core.init_zas(c.widths, c.batch, c.dtype, c.threads)


def balanced(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    std: float = 1.0,
    product: np.ndarray | None = None,
    randomize: bool = True,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Balanced initialisation (Arora, Cohen, Golowich & Hu 2019, Procedure 1).

    Draws the end-to-end matrix A (d_L × d_0) with i.i.d. N(0, std²) entries, takes its thin SVD
    A = U Σ Vᵀ (k = min(d_0, d_L)) and sets W_1 = Σ^{1/L} Vᵀ, W_j = Σ^{1/L} (1 < j < L),
    W_L = U Σ^{1/L}, each zero-padded to its shape. Then W_L⋯W_1 = A and the layers are
    0-balanced: W_{j+1}ᵀW_{j+1} = W_jW_jᵀ. With ``randomize`` a Haar rotation O_j is put between
    layers j and j+1 (W_j ← O_j W_j, W_{j+1} ← W_{j+1} O_jᵀ), which keeps both properties.

    Args:
        dims: layer widths [d_0, ..., d_L]; every hidden width must be ≥ min(d_0, d_L).
        batch, seed, dtype, threads: as :func:`gaussian`. Network b draws A first, then its
            rotations.
        std: standard deviation of the entries of A (ignored when ``product`` is given).
        product: the end-to-end matrix to factor instead of drawing one: (d_L, d_0) for the
            whole batch or (batch, d_L, d_0); cast to ``dtype``.
        randomize: insert Haar rotations between layers.

    Raises:
        ValueError: a hidden width is below min(d_0, d_L) (Procedure 1 needs the room), or
            ``product`` has the wrong shape or non-finite entries.
    """
    c = _common(dims, batch, seed, dtype, threads)
    if not isinstance(randomize, (bool, np.bool_)):
        raise ArgumentTypeError(f"randomize: expected a bool, got {type(randomize).__name__}")
    given = None
    if product is not None:
        arr = np.asarray(product)
        if arr.dtype.kind not in "fiu":
            raise ArgumentTypeError(f"product: expected a real array, got dtype {arr.dtype}")
        given = np.ascontiguousarray(arr, dtype=c.dtype)
    return _core.init_balanced(
        c.widths, c.batch, c.seed, real("std", std), given, bool(randomize), c.dtype, c.threads
    )


@functools.lru_cache(maxsize=256)
def _critical_sigmas(q_star: float) -> tuple[float, float]:
    return _core.critical_sigmas(q_star)


def critical_sigmas(q_star: float) -> tuple[float, float]:
    """(σ_w, σ_b) that put a tanh network at the edge of chaos with pre-activation variance q*.

    σ_w = E[sech⁴(√q* h)]^{−1/2} makes the mean squared singular value of the layer Jacobian
    χ = 1, and σ_b = √(q* − σ_w² E[tanh²(√q* h)]) makes q* the fixed point of the variance map,
    with h ~ N(0, 1). The expectations are Gauss–Hermite sums in Rust, with the rule doubled
    until it has converged to 1e-13; q* from ~1e-6 to ~10 (Sokol & Park use 1e-4 … 8).
    E.g. q* = 1/64 gives (1.0151638, 0.0021567). Results are cached.

    Raises:
        ValueError: q* is not finite and positive, or too large for the quadrature.
    """
    return _critical_sigmas(real("q_star", q_star))


def _parameterization_is_ntk(parameterization: str) -> bool:
    return choice("parameterization", parameterization, PARAMETERIZATIONS) == "ntk"


def mean_field(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    sigma_w: float,
    sigma_b: float,
    weights: str = "gaussian",
    parameterization: str = "standard",
    dtype: Any = np.float64,
    threads: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Mean-field initialisation of an MLP with weight scale σ_w and bias scale σ_b.

    Returns ``(weights, biases)``: layer j of shape (batch, d_{j+1}, d_j) and bias j of shape
    (batch, d_{j+1}) with b ~ N(0, σ_b²), ready for ``dl.train(..., biases=biases)``.

    Args:
        dims, batch, seed, dtype, threads: as :func:`gaussian`. Each network draws its weights
            layer by layer, then its biases.
        sigma_w, sigma_b: the scales (finite, ≥ 0); e.g. Huang et al.'s σ_w² = 1.05,
            σ_b² = 2.01e-5, or :func:`critical_sigmas`.
        weights: "gaussian" (i.i.d. entries) or "orthogonal" (scaled Haar, same second moment).
        parameterization: "standard": weight entries have variance σ_w²/d_in: Gaussian, or
            σ_w·√(max(d_in, d_out)/d_in)·Q with Q Haar (σ_w·Q for square layers). "ntk":
            unit-variance entries (N(0, 1) or √max(d_in, d_out)·Q); train with
            ``parameterization="ntk", sigma_w=sigma_w`` so the forward pass multiplies by
            σ_w/√d_in. Both give the same initial function.
    """
    c = _common(dims, batch, seed, dtype, threads)
    if not isinstance(weights, str):
        raise ArgumentTypeError(f"weights: expected 'gaussian' or 'orthogonal', got {weights!r}")
    return _core.init_mean_field(
        c.widths,
        c.batch,
        c.seed,
        real("sigma_w", sigma_w),
        real("sigma_b", sigma_b),
        weights,
        _parameterization_is_ntk(parameterization),
        c.dtype,
        c.threads,
    )


def critical(
    dims: Sequence[int],
    *,
    batch: int = 1,
    seed: int | Any | None = None,
    q_star: float = 1 / 64,
    weights: str = "orthogonal",
    parameterization: str = "standard",
    dtype: Any = np.float64,
    threads: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Critical tanh initialisation (Poole et al.; Pennington et al.; Sokol & Park 2020).

    :func:`mean_field` with (σ_w, σ_b) = :func:`critical_sigmas` (q_star): the pre-activations
    of a deep tanh network keep variance q* from layer to layer and χ = 1. Returns
    ``(weights, biases)``. The default q* = 1/64 is Sokol & Park's.

    Args:
        dims, batch, seed, dtype, threads: as :func:`gaussian`.
        q_star: the fixed-point pre-activation variance (finite, > 0, up to ~10).
        weights: "orthogonal" (default, dynamical isometry) or "gaussian".
        parameterization: "standard" or "ntk" (see :func:`mean_field`).
    """
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
