"""Turn a run config into what the engine needs: data, initial weights, η, α and the tolerance.

The names a config may use for ``init`` and ``data`` live in :mod:`deeplinear.sweep.registry`
(re-exported here as :data:`INITIALISERS` and :data:`DATA_RECIPES`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ..init import fanout_alpha
from .grid import RunConfig
from .registry import DATA_RECIPES, INITIALISERS, DataRecipe, DataRequest

__all__ = [
    "DATA_RECIPES",
    "INITIALISERS",
    "alpha_value",
    "learning_rate",
    "make_data",
    "make_weights",
    "optimum",
    "tolerance",
]


def _request(config: RunConfig) -> DataRequest:
    return DataRequest(
        config.d_x, config.n, config.d_y, config.data_seed, config.data_file, config.data_sha256
    )


def _data(recipe: str, request: DataRequest, dtype: str) -> tuple[np.ndarray, ...]:
    return _cached_data(DATA_RECIPES[recipe], recipe, request, dtype)


# The caches are keyed by the recipe function, not only its name, so that a replaced registry
# entry is used at once.
@functools.lru_cache(maxsize=16)
def _cached_data(
    make: DataRecipe, recipe: str, request: DataRequest, dtype: str
) -> tuple[np.ndarray, ...]:
    X, Y = make(request)
    expected = ((request.d_x, request.n), (request.d_y, request.n))
    if (X.shape, Y.shape) != expected:
        raise ValueError(
            f"data: recipe {recipe!r} returned shapes {X.shape}, {Y.shape}; "
            f"expected {expected[0]} and {expected[1]}"
        )
    out = tuple(np.ascontiguousarray(a, dtype=dtype) for a in (X, Y))
    for a in out:
        a.setflags(write=False)  # shared by the cache: nobody may modify it
    return out


def make_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (X, Y) of a run, in the run's dtype (cached per process; read-only arrays)."""
    X, Y = _data(config.data, _request(config), config.dtype)
    return X, Y


@functools.lru_cache(maxsize=16)
def _spectral_norm_sq(make: DataRecipe, recipe: str, request: DataRequest, dtype: str) -> float:
    X = _cached_data(make, recipe, request, dtype)[0]
    return float(np.linalg.norm(X.astype(np.float64), 2)) ** 2


@functools.lru_cache(maxsize=16)
def _optimum(make: DataRecipe, recipe: str, request: DataRequest) -> float:
    X, Y = _cached_data(make, recipe, request, "float64")
    # min_W ½‖WX − Y‖²: the residual of Y's rows after projecting onto X's row space.
    solution = np.linalg.lstsq(X.T, Y.T, rcond=None)[0]
    return 0.5 * float(np.sum((solution.T @ X - Y) ** 2))


def optimum(config: RunConfig) -> float:
    """ℓ* = min_W ½‖W X − Y‖_F² over all d_y × d_x matrices W, for the run's data (float64).

    It is the optimum of the deep linear network too when no hidden layer is narrower than
    min(d_x, d_y) (every matrix is then a product of its layers); a bottleneck makes it a lower
    bound.
    """
    return _optimum(DATA_RECIPES[config.data], config.data, _request(config))


def tolerance(config: RunConfig) -> float | None:
    """The loss at which the engine stops a network: ``tol`` (tol_rule "absolute") or
    :func:`optimum` + ``tol`` ("above_optimum"); None when the run has no ``tol``."""
    if config.tol is None:
        return None
    if config.tol_rule == "absolute":
        return config.tol
    if config.tol_rule == "above_optimum":
        return optimum(config) + config.tol
    raise ValueError(f"tol_rule: unknown rule {config.tol_rule!r}")


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
    """The step size η of a run: ``lr`` itself ("constant"), Hu et al.'s η = lr·d_y/(L‖X‖₂²)
    with X the run's data ("hu2020"; the spectral norm computed once per process and data set,
    in float64), or η = lr/L ("inverse_depth", Wu et al.'s depth scaling)."""
    if config.lr_rule == "constant":
        return config.lr
    if config.lr_rule == "hu2020":
        make = DATA_RECIPES[config.data]
        spectral_sq = _spectral_norm_sq(make, config.data, _request(config), config.dtype)
        return config.lr * config.d_y / (config.depth * spectral_sq)
    if config.lr_rule == "inverse_depth":
        return config.lr / config.depth
    raise ValueError(f"lr_rule: unknown rule {config.lr_rule!r}")


def alpha_value(config: RunConfig) -> float:
    """The output scale α of a run: ``alpha``, or :func:`deeplinear.fanout_alpha` of its dims."""
    if config.alpha_rule == "constant":
        return config.alpha
    if config.alpha_rule == "fanout":
        return fanout_alpha(config.dims)
    raise ValueError(f"alpha_rule: unknown rule {config.alpha_rule!r}")
