"""Recipes that turn a run config into arrays: data sets, initialisers, learning-rate and α rules.

The two registries :data:`DATA_RECIPES` and :data:`INITIALISERS` are open: a preset may add an
entry (``DATA_RECIPES["whitened"] = ...``) and sweep files can then name it. A recipe must be
deterministic in its arguments, because a run's key is a hash of its config, not of its arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from .. import init
from ..init import fanout_alpha
from .grid import RunConfig

__all__ = [
    "DATA_RECIPES",
    "INITIALISERS",
    "DataRecipe",
    "Initialiser",
    "alpha_value",
    "learning_rate",
    "make_data",
    "make_weights",
    "teacher",
]

#: (d_x, n, d_y, seed) -> (X (d_x, n), Y (d_y, n)), both float64.
DataRecipe = Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]]
#: (dims, seeds (one per network), scale, dtype, threads) -> layers (batch, d_out, d_in).
Initialiser = Callable[[list[int], list[int], float, str, int | None], list[np.ndarray]]


def teacher(d_x: int, n: int, d_y: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hu et al.'s data: X (d_x × n) and a teacher W* (d_y × d_x), entries N(0, 1) drawn in that
    order from ``np.random.default_rng(seed)``, and Y = W* X."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d_x, n))
    teacher_weights = rng.standard_normal((d_y, d_x))
    return X, teacher_weights @ X


DATA_RECIPES: dict[str, DataRecipe] = {"teacher": teacher}


def _gaussian(
    dims: list[int], seeds: list[int], scale: float, dtype: str, threads: int | None
) -> list[np.ndarray]:
    return init.gaussian(
        dims, batch=len(seeds), seed=seeds, std=scale, dtype=dtype, threads=threads
    )


def _orthogonal(
    dims: list[int], seeds: list[int], scale: float, dtype: str, threads: int | None
) -> list[np.ndarray]:
    return init.orthogonal(
        dims, batch=len(seeds), seed=seeds, gain=scale, dtype=dtype, threads=threads
    )


#: Init schemes by name; ``init_scale`` is passed as their scale (std or gain).
INITIALISERS: dict[str, Initialiser] = {"gaussian": _gaussian, "orthogonal": _orthogonal}


@functools.lru_cache(maxsize=16)
def _data(recipe: str, d_x: int, n: int, d_y: int, seed: int, dtype: str) -> tuple[np.ndarray, ...]:
    X, Y = DATA_RECIPES[recipe](d_x, n, d_y, seed)
    if X.shape != (d_x, n) or Y.shape != (d_y, n):
        raise ValueError(
            f"data: recipe {recipe!r} returned shapes {X.shape}, {Y.shape}; "
            f"expected ({d_x}, {n}) and ({d_y}, {n})"
        )
    out = tuple(np.ascontiguousarray(a, dtype=dtype) for a in (X, Y))
    for a in out:
        a.setflags(write=False)  # shared by the cache: nobody may modify it
    return out


@functools.lru_cache(maxsize=16)
def _spectral_norm_sq(recipe: str, d_x: int, n: int, d_y: int, seed: int, dtype: str) -> float:
    X = _data(recipe, d_x, n, d_y, seed, dtype)[0]
    return float(np.linalg.norm(X.astype(np.float64), 2)) ** 2


def make_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (X, Y) of a run, in the run's dtype (cached per process; read-only arrays)."""
    X, Y = _data(config.data, config.d_x, config.n, config.d_y, config.data_seed, config.dtype)
    return X, Y


def make_weights(
    configs: Sequence[RunConfig], threads: int | None = None
) -> tuple[list[np.ndarray], list[int]]:
    """Initial weights for a batch of runs of one group.

    Runs are generated per (init, init_scale) with one seed per network, so each network gets
    exactly the weights of a ``batch=1`` call with its own seed. Returns the layers and the order
    of ``configs`` they follow (indices into ``configs``).
    """
    dims = configs[0].dims
    subgroups: dict[tuple[str, float], list[int]] = {}
    for i, c in enumerate(configs):
        subgroups.setdefault((c.init, c.init_scale), []).append(i)
    parts: list[list[np.ndarray]] = []
    order: list[int] = []
    for (scheme, scale), members in subgroups.items():
        seeds = [configs[i].seed for i in members]
        parts.append(INITIALISERS[scheme](dims, seeds, scale, configs[0].dtype, threads))
        order.extend(members)
    if len(parts) == 1:
        return parts[0], order
    layers = [np.concatenate([p[j] for p in parts], axis=0) for j in range(len(dims) - 1)]
    return layers, order


def learning_rate(config: RunConfig) -> float:
    """The step size η of a run: ``lr`` itself, or Hu et al.'s rule η = lr·d_y / (L‖X‖₂²) with
    X the run's data (its spectral norm computed once per process and data set, in float64)."""
    if config.lr_rule == "constant":
        return config.lr
    if config.lr_rule == "hu2020":
        spectral_sq = _spectral_norm_sq(
            config.data, config.d_x, config.n, config.d_y, config.data_seed, config.dtype
        )
        return config.lr * config.d_y / (config.depth * spectral_sq)
    raise ValueError(f"lr_rule: unknown rule {config.lr_rule!r}")


def alpha_value(config: RunConfig) -> float:
    """The output scale α of a run: ``alpha``, or :func:`deeplinear.fanout_alpha` of its dims."""
    if config.alpha_rule == "constant":
        return config.alpha
    if config.alpha_rule == "fanout":
        return fanout_alpha(config.dims)
    raise ValueError(f"alpha_rule: unknown rule {config.alpha_rule!r}")
