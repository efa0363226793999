"""Turn a run config into what the engine needs: data, initial weights, η, α and the tolerance.

The names a config may use for ``init`` and ``data`` live in :mod:`deeplinear.sweep.registry`
(re-exported here as :data:`INITIALISERS` and :data:`DATA_RECIPES`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import optim, vocabulary
from ..errors import InvalidValueError, ShapeError
from ..init import fanout_alpha
from ..options import TrainOptions
from ..vocabulary import PROBE_RECORDABLE
from .grid import FIELDS, RunConfig, schedule_of
from .registry import (
    DATA_RECIPES,
    INITIALISERS,
    DataRecipe,
    DataRequest,
    MeanField,
    is_mean_field,
)

__all__ = [
    "DATA_RECIPES",
    "INITIALISERS",
    "Initial",
    "alpha_value",
    "learning_rate",
    "make_data",
    "make_eval_data",
    "make_probe",
    "make_weights",
    "onto_oblique",
    "optimum",
    "per_network_options",
    "tolerance",
]


def _request(config: RunConfig) -> DataRequest:
    return DataRequest(
        config.d_x,
        config.n,
        config.d_y,
        config.data_seed,
        config.data_file,
        config.data_sha256,
        config.n_test,
    )


#: The stream of :func:`_split`'s permutation (stream 0 of ``data_seed`` is the recipes').
_SPLIT_STREAM = 1


def _split(request: DataRequest, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Hold out n_test of a recipe's n + n_test examples, chosen by a permutation seeded by
    (data_seed, 1); both parts keep the recipe's order."""
    order = np.random.default_rng((request.seed, _SPLIT_STREAM)).permutation(request.total)
    held, kept = np.sort(order[: request.n_test]), np.sort(order[request.n_test :])
    return X[:, kept], Y[:, kept], X[:, held], Y[:, held]


# The caches are keyed by the recipe function, not only its name, so that a replaced registry
# entry is used at once.
@functools.lru_cache(maxsize=16)
def _cached_data(
    make: DataRecipe, recipe: str, request: DataRequest, dtype: str
) -> tuple[np.ndarray, ...]:
    """(X, Y, X_test, Y_test) of a recipe in ``dtype``, read-only; the test arrays are empty
    (0 columns) when n_test = 0."""
    arrays = make(request)
    if len(arrays) == 2:
        X, Y = arrays
        if X.shape[1:] == Y.shape[1:] == (request.total,):
            arrays = _split(request, X, Y)
    expected = [(request.d_x, request.n), (request.d_y, request.n)]
    expected += [(request.d_x, request.n_test), (request.d_y, request.n_test)]
    shapes = [a.shape for a in arrays]
    if shapes != expected:
        raise ShapeError(
            f"data: recipe {recipe!r} returned shapes {', '.join(map(str, shapes))}; expected "
            f"{', '.join(map(str, expected))} (X, Y, X_test, Y_test)"
        )
    out = tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)
    for a in out:
        a.setflags(write=False)  # shared by the cache: nobody may modify it
    return out


def _labels(recipe: str, Y: np.ndarray) -> np.ndarray:
    """One-hot targets (d_y, n) → integer class labels (n,)."""
    one = (Y == 1.0).sum(axis=0) == 1
    zero = ((Y == 0.0) | (Y == 1.0)).all(axis=0)
    if not (one & zero).all():
        raise InvalidValueError(
            f"data: recipe {recipe!r} gives real targets; loss = 'cross_entropy' needs a "
            "classification recipe (one-hot targets), e.g. 'digits'"
        )
    labels: np.ndarray = np.argmax(Y, axis=0).astype(np.int64)
    labels.setflags(write=False)
    return labels


@functools.lru_cache(maxsize=16)
def _prepared(
    make: DataRecipe,
    recipe: str,
    request: DataRequest,
    dtype: str,
    loss: str,
    q_star: float | None,
) -> tuple[np.ndarray, ...]:
    """The arrays of :func:`_cached_data` as a run's training call takes them: labels for
    cross-entropy, inputs scaled to mean square ``q_star`` (measured on the training inputs,
    applied to both sets; None: unscaled)."""
    X, Y, X_test, Y_test = _cached_data(make, recipe, request, dtype)
    if q_star is not None:
        mean_square = float(np.mean(np.asarray(X, dtype=np.float64) ** 2))
        if not mean_square > 0:
            raise InvalidValueError(
                f"data: recipe {recipe!r} gives all-zero inputs; cannot scale to q*"
            )
        factor = np.sqrt(q_star / mean_square)
        X, X_test = (np.asarray(a * factor, dtype=dtype) for a in (X, X_test))
        X.setflags(write=False)
        X_test.setflags(write=False)
    if loss == "cross_entropy":
        Y, Y_test = _labels(recipe, Y), _labels(recipe, Y_test)
    return X, Y, X_test, Y_test


def _scaled_to(config: RunConfig) -> float | None:
    return config.q_star if config.input_scale == "q_star" else None


def _data_key(config: RunConfig) -> tuple[DataRecipe, str, DataRequest, str, str]:
    return DATA_RECIPES[config.data], config.data, _request(config), config.dtype, config.loss


def _prepared_for(config: RunConfig) -> tuple[np.ndarray, ...]:
    return _prepared(*_data_key(config), _scaled_to(config))


def make_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training (X, Y) of a run, in the run's dtype (cached per process; read-only
    arrays): X (d_x, n) scaled as ``input_scale`` says; Y (d_y, n), or (n,) int64 labels for
    ``loss = "cross_entropy"``."""
    X, Y, _, _ = _prepared_for(config)
    return X, Y


def make_eval_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The held-out (X_test, Y_test) of a run, as :func:`make_data`; None when n_test = 0."""
    if config.n_test == 0:
        return None
    _, _, X_test, Y_test = _prepared_for(config)
    return X_test, Y_test


def make_probe(config: RunConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The probe set (``record_data``) of a run: its first ``record_probe`` held-out examples
    and their targets; None when record_probe = 0 or no probe quantity is recorded."""
    held = make_eval_data(config)
    probed = any(name in PROBE_RECORDABLE for name in config.recorded)
    if config.record_probe == 0 or held is None or not probed:
        return None
    count = config.record_probe
    return np.ascontiguousarray(held[0][:, :count]), np.ascontiguousarray(held[1][..., :count])


@functools.lru_cache(maxsize=16)
def _spectral_norm_sq(
    make: DataRecipe, recipe: str, request: DataRequest, dtype: str, q_star: float | None
) -> float:
    X = _prepared(make, recipe, request, dtype, "mse", q_star)[0]
    return float(np.linalg.norm(X.astype(np.float64), 2)) ** 2


@functools.lru_cache(maxsize=16)
def _optimum(make: DataRecipe, recipe: str, request: DataRequest) -> float:
    X, Y = _cached_data(make, recipe, request, "float64")[:2]
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
    raise InvalidValueError(f"tol_rule: unknown rule {config.tol_rule!r}")


class Initial(NamedTuple):
    """The starting point of a batch of runs (see :func:`make_weights`).

    Attributes:
        weights: layer j of shape (batch, d_{j+1}, d_j).
        biases: bias j of shape (batch, d_{j+1}) (runs with ``biases = "all"``), else None.
        order: the index into the given configs of each network of the batch.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray] | None
    order: list[int]


#: The stream of the N(0, σ_b²) biases drawn for weight-only init schemes.
_BIAS_STREAM = 0xB1A5


def _gaussian_biases(
    dims: list[int], seeds: list[int], sigma_b: float, dtype: str
) -> list[np.ndarray]:
    """Biases N(0, σ_b²) for weight-only schemes, each network from its own numpy stream
    seeded by (seed, 0xB1A5), layer by layer (zeros when σ_b = 0)."""
    rngs = [np.random.default_rng((seed, _BIAS_STREAM)) for seed in seeds]
    return [
        np.ascontiguousarray(
            np.stack([sigma_b * rng.standard_normal(width) for rng in rngs]), dtype=dtype
        )
        for width in dims[1:]
    ]


def make_weights(configs: Sequence[RunConfig], threads: int | None = None) -> Initial:
    """Initial weights (and biases) for a batch of runs of one group.

    Runs are generated per init scheme and scale (``init_scale``, or (σ_w, σ_b) for the
    mean-field schemes) with one seed per network, so each network gets exactly the weights of
    a ``batch=1`` call with its own seed. Weight-only schemes get biases N(0, σ_b²) from
    numpy streams seeded by (seed, 0xB1A5) when the runs have biases. Layers on the Oblique
    manifold start from their rows rescaled to one norm (:func:`onto_oblique`).
    """
    first = configs[0]
    dims = first.dims
    with_biases = first.biases == "all"
    subgroups: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(configs):
        scale = c.sigmas() if is_mean_field(c.init) else (c.init_scale, c.sigma_b)
        subgroups.setdefault((c.init, *scale), []).append(i)
    weights: list[list[np.ndarray]] = []
    biases: list[list[np.ndarray]] = []
    order: list[int] = []
    for (scheme, scale, sigma_b), members in subgroups.items():
        seeds = [configs[i].seed for i in members]
        make = INITIALISERS[scheme]
        if isinstance(make, MeanField):
            w, b = make(dims, seeds, scale, sigma_b, first.parameterization, first.dtype, threads)
        else:
            w = make(dims, seeds, scale, first.dtype, threads)
            b = _gaussian_biases(dims, seeds, sigma_b, first.dtype) if with_biases else []
        weights.append(w)
        biases.append(b)
        order.extend(members)
    depth = len(dims) - 1
    if len(weights) == 1:
        stacked, stacked_biases = weights[0], biases[0]
    else:
        stacked = [np.concatenate([p[j] for p in weights], axis=0) for j in range(depth)]
        stacked_biases = (
            [np.concatenate([p[j] for p in biases]) for j in range(depth)] if with_biases else []
        )
    for j, manifold in enumerate(first.layer_manifolds):
        if manifold == "oblique":
            stacked[j] = onto_oblique(stacked[j])
    return Initial(stacked, stacked_biases if with_biases else None, order)


def onto_oblique(layer: np.ndarray) -> np.ndarray:
    """``layer`` (B, d_out, d_in) with each network's rows rescaled to one common norm s, the
    layer's root-mean-square row norm (so ‖W‖_F is kept): an Oblique layer W = s·Q must start with
    every row of Q on the unit sphere, and a tall orthogonal draw (orthonormal columns, e.g.
    Sokol's 400 × 64 first layer on digits) or a Gaussian one has rows of unequal norm.

    A network whose rows already share one norm to within √eps/4 (a square or wide orthogonal
    draw) is left as it is, bit for bit, so such runs are unchanged."""
    squared = np.einsum("bij,bij->bi", layer, layer, dtype=np.float64)
    mean = squared.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.abs(squared / mean - 1.0).max(axis=1)
    off = ~(spread <= np.sqrt(np.finfo(layer.dtype).eps) / 4) & (mean[:, 0] > 0)
    if not off.any():
        return layer
    out = layer.copy()
    factor = np.sqrt(mean[off] / np.maximum(squared[off], np.finfo(np.float64).tiny))
    out[off] = (layer[off] * factor[:, :, None]).astype(layer.dtype)
    return out


def learning_rate(config: RunConfig) -> float:
    """The step size η of a run: ``lr`` itself ("constant"), Hu et al.'s η = lr·d_y/(L‖X‖₂²)
    with X the run's data ("hu2020"; the spectral norm computed once per process and data set,
    in float64), or η = lr/L ("inverse_depth", Wu et al.'s depth scaling)."""
    if config.lr_rule == "constant":
        return config.lr
    if config.lr_rule == "hu2020":
        spectral_sq = _spectral_norm_sq(*_data_key(config)[:4], _scaled_to(config))
        return config.lr * config.d_y / (config.depth * spectral_sq)
    if config.lr_rule == "inverse_depth":
        return config.lr / config.depth
    raise InvalidValueError(f"lr_rule: unknown rule {config.lr_rule!r}")


def alpha_value(config: RunConfig) -> float:
    """The output scale α of a run: ``alpha``, or :func:`deeplinear.fanout_alpha` of its dims."""
    if config.alpha_rule == "constant":
        return config.alpha
    if config.alpha_rule == "fanout":
        return fanout_alpha(config.dims)
    raise InvalidValueError(f"alpha_rule: unknown rule {config.alpha_rule!r}")


def manifold_value(config: RunConfig) -> str | list[str]:
    """``dl.train``'s ``manifold`` of a run: "stiefel_hidden" ("oblique_hidden") puts every
    layer but the output layer on the Stiefel (Oblique) manifold (Sokol & Park 2020)."""
    if config.manifold.endswith("_hidden"):
        return config.layer_manifolds
    return config.manifold


def _per_group(
    configs: Sequence[RunConfig], argument: str, base: np.ndarray
) -> np.ndarray | optim.Rates:
    """``dl.train``'s ``argument`` ("lr" or "weight_decay") for the networks of one call:
    ``base`` (one value per network), or :class:`deeplinear.optim.Rates` when a run sets a
    group field ``<argument>_<group>`` of a group its networks have. A network whose run leaves
    that group unset gets the group's value as ``dl.train`` resolves ``base`` alone
    (:func:`deeplinear.optim.lr_groups`, :func:`deeplinear.optim.weight_decay_groups`)."""
    present = configs[0].parameter_groups  # equal over a call: group fields
    resolve = optim.lr_groups if argument == "lr" else optim.weight_decay_groups
    unset = resolve(base, len(configs))
    groups = {}
    for group in vocabulary.LR_GROUPS:
        field = f"{argument}_{group}"
        if group not in present or not hasattr(configs[0], field):
            continue
        values = [getattr(c, field) for c in configs]
        if any(v is not None for v in values):
            groups[group] = np.where(
                [v is None for v in values], unset[group], [v or 0.0 for v in values]
            )
    return optim.Rates(base, **groups) if groups else base


def per_network_options(configs: Sequence[RunConfig], lrs: np.ndarray) -> dict[str, Any]:
    """The keyword arguments of :func:`deeplinear.train` that may differ between the networks
    of one call: ``lr`` (the runs' η ``lrs``, per group when a run sets ``lr_<group>``) and
    ``weight_decay`` (left out while every run has none)."""
    options: dict[str, Any] = {"lr": _per_group(configs, "lr", lrs)}
    decays = np.array([c.weight_decay for c in configs], dtype=np.float64)
    weight_decay = _per_group(configs, "weight_decay", decays)
    if isinstance(weight_decay, optim.Rates) or decays.any():
        options["weight_decay"] = weight_decay
    return options


#: The run fields named as ``dl.train`` keywords whose run values mean something else there,
#: translated by :func:`train_options` and :func:`per_network_options` (``data_seed`` is the
#: data recipe's seed in a run, the mini-batch order's in ``dl.train``).
_TRANSLATED = frozenset(
    {
        "lr",
        "weight_decay",
        "alpha",
        "tol",
        "record",
        "sigma_w",
        "manifold",
        "learn_scale",
        "reduction",
        "batch_size",
        "data_seed",
        "lr_schedule",
        "oblique_penalty",
    }
)
#: Every other run field named as a keyword of ``dl.train`` (the one list of its options,
#: :class:`deeplinear.options.TrainOptions`) passes as it is.
_PASSED = tuple(
    name
    for name in TrainOptions.keywords()
    if name in {f.name for f in FIELDS} and name not in _TRANSLATED
)
#: The options some optimiser takes: passed only to the optimisers that take them.
_OPTIMIZER_ONLY = frozenset(option for taken in vocabulary.OPTIMIZERS.values() for option in taken)


def train_options(config: RunConfig) -> dict[str, Any]:
    """The keyword arguments of :func:`deeplinear.train` that a run's group shares: the network
    form, the loss, the optimiser and its options, the schedule and the stop rules (not the
    per-network lr, weight_decay, data_seed, weights or data). Fields named as ``dl.train``'s
    keywords pass as they are (of the optimisers' options, those ``vocabulary.OPTIMIZERS``
    gives the run's optimiser); the others are translated here."""
    taken = vocabulary.OPTIMIZERS[config.optimizer]
    options: dict[str, Any] = {
        name: getattr(config, name)
        for name in _PASSED
        if name not in _OPTIMIZER_ONLY or name in taken
    }
    if "betas" in taken:  # two run fields
        options["betas"] = (config.beta1, config.beta2)
    curved = config.manifold != "euclidean"
    options.update(
        alpha=alpha_value(config),
        tol=tolerance(config),
        record=dict(config.record_intervals),
        sigma_w=config.sigmas()[0] if config.parameterization == "ntk" else 1.0,
        manifold=manifold_value(config),
        learn_scale=config.learn_scale and curved,
        reduction=None if config.reduction == "default" else config.reduction,
        batch_size=config.batch_size or None,
    )
    if config.lr_schedule != "constant":
        options["lr_schedule"] = schedule_of(config.lr_schedule)
    if config.oblique_penalty > 0 and "oblique" in config.layer_manifolds:
        options["oblique_penalty"] = config.oblique_penalty
    return options


def shuffle_seeds(configs: Sequence[RunConfig]) -> list[int] | None:
    """Each network's mini-batch order seed (``shuffle_seed``, default its ``seed``); None for
    full-batch runs."""
    if configs[0].batch_size == 0:
        return None
    return [c.seed if c.shuffle_seed is None else c.shuffle_seed for c in configs]
