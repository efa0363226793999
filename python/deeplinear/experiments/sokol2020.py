"""Sokol & Park 2020: information geometry of orthogonal initialisations and training.

Critical tanh networks (orthogonal weights, (σ_w, σ_b) from the fixed point q*, see
:func:`deeplinear.init.critical_sigmas`) with inputs scaled so that their mean square is q*.
Three parts (see docs/science.md, "Sokol & Park 2020"):

1. **The criticality table**: (σ_w, σ_b) for the paper's six q*, against the values of the
   authors' code (``optimize_sigmaw_sigmab``), computed independently for our research notes.
2. **At initialisation** (a table computed besides the sweep): over q* and seeds, the largest
   eigenvalue of the Fisher information (the cross-entropy GGN, which is the true Fisher the
   authors' code computes, and the MSE Gauss–Newton matrix for comparison; with all parameters
   counted, as their code, and with the weights only), the largest squared singular value of the
   input–output Jacobian ∂(logits)/∂x (their Fig. 2), and their Pearson correlation; and a deep
   linear orthogonal network (σ_w = 1, zero biases) fed the inputs scaled for q* = 1/64.
3. **Training**: Adam on softmax cross-entropy with mini-batches, Euclidean against Riemannian
   on the Stiefel and the Oblique manifold (hidden layers on the manifold with a learned scale
   each; the output layer and the biases Euclidean), at q* = 9e-4 and 1/64. Per-group Adam rates
   are searched per (net, q*) on a validation split of the training set (:func:`search`: a log
   grid, every candidate a network of one batched call) and the chosen rates retrained over
   seeds (:func:`retrain`); the train loss of every step's mini-batch, the test accuracy and
   the Fisher's λ_max along the way. The sweep itself trains the same nets with one shared
   rate for every group, for comparison.

Choices on the paper's ambiguities (the report repeats them): eq. 3's missing square is read as
φ² (as their code); both q* = 1e-4 (the text) and 9e-4 (the figures) are in the table, and the
training uses 9e-4; the Fisher is the GGN (their code), not the empirical Fisher their text
names; biases and the Stiefel scales count in the Fisher (all parameters, as their code) and the
weights-only value is reported beside it; the per-group rates are searched on a grid, not by
Bayesian optimisation (see the report's "The rate search").
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import init, metrics, plots
from ..data import load_npz
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..sweep import SweepSpec
from ..sweep.grid import RunConfig, make_tasks, record_intervals
from ..sweep.recipes import (
    make_data,
    make_eval_data,
    make_weights,
    per_network_options,
    shuffle_seeds,
    train_options,
)
from ..sweep.registry import file_digest
from ..sweep.runner import run_task
from .base import Analysis, Measurement, Study, register
from .rules import Alike, Bound, Check, Fraction, Measure, Monotone, Order, Part, decide_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "CORRELATION",
    "CRITICALITY",
    "EUCLIDEAN_PREFERS_LARGER_Q",
    "FULL",
    "INSENSITIVE",
    "LESS_SMOOTH",
    "LINEAR_LARGER",
    "LITTLE_BETTER",
    "MANIFOLD_FASTER",
    "MANIFOLD_NETS",
    "MONOTONE",
    "NO_BETTER_ACCURACY",
    "OBLIQUE_PENALTY",
    "PAPER_RATES",
    "PAPER_SIGMAS",
    "QUICK",
    "Q_STARS",
    "RATE_FIELDS",
    "ROUGHENS",
    "SEARCHED_FIELDS",
    "STANDARD",
    "TRAIN_Q_STARS",
    "Grid",
    "at_init_table",
    "best_runs",
    "candidates",
    "chosen_rates",
    "claims",
    "correlation",
    "criticality_table",
    "early_epoch",
    "measurements",
    "retrain",
    "search",
    "spec",
    "training_runs",
]

#: The paper's six q* (the text lists 1e-4, the figures show 9e-4: both are here).
Q_STARS = (1e-4, 9e-4, 1 / 64, 10**-0.5, 0.5, 8.0)
#: The q* of the training experiment (their Fig. 1).
TRAIN_Q_STARS = (9e-4, 1 / 64)
#: (σ_w, σ_b) per q* from the authors' formulas, computed with scipy quadrature for our research
#: notes (papers-ortho-ntk.md §1.3), to the digits given there.
PAPER_SIGMAS = {
    1e-4: (1.00009998, 1.1544e-06),
    9e-4: (1.000898386, 3.1093e-05),
    1 / 64: (1.015163785, 0.002156694987),
    10**-0.5: (1.215779663, 0.1181843532),
    0.5: (1.299220967, 0.1950415369),
    8.0: (2.32870729, 2.008880379),
}
#: The criticality table matches when every value agrees to this relative difference (the
#: precision of the quoted values).
SIGMA_TOLERANCE = 1e-4
#: The paper's correlation of λ_max and s²_max at depth 200, width 400.
PAPER_RHO = 0.65
#: A correlation "reproduces" from this Pearson ρ (of the log values) on.
STRONG_RHO = 0.5
#: "Insensitive to q*": the two q*'s final train losses differ by at most this fraction.
INSENSITIVE_GAP = 0.25
MANIFOLDS = ("euclidean", "stiefel_hidden", "oblique_hidden")
#: The manifold nets (hidden layers on the manifold, each with a learned scale).
MANIFOLD_NETS = MANIFOLDS[1:]
NAMES = {"euclidean": "Euclidean", "stiefel_hidden": "Stiefel", "oblique_hidden": "Oblique"}
#: ω of the Oblique nets' non-orthogonality penalty ω‖QQᵀ − I‖² (the paper's CIFAR-10 value).
OBLIQUE_PENALTY = 7.1e-4
#: The paper's tuned Adam rates on CIFAR-10 (Bayesian optimisation, 50 epochs), as run fields:
#: ``lr`` is the Euclidean group (every Euclidean parameter: the classifier and the biases of the
#: manifold nets), ``lr_manifold`` the manifold weights, ``lr_scales`` the learned scales.
PAPER_RATES: dict[str, dict[str, float]] = {
    "euclidean": {"lr": 9.7e-6},
    "stiefel_hidden": {"lr": 1e-4, "lr_manifold": 1.3e-5, "lr_scales": 9.8e-5},
}
#: "Little or no better test accuracy": a manifold net beats the Euclidean q* = 1/64 net by at
#: most this much (absolute accuracy).
LITTLE_BETTER = 0.02
#: The stream of the validation split's permutation (0 and 1 are the data recipes').
_VALIDATION_STREAM = 2


def _q_label(q: float) -> str:
    known = {1e-4: "1e-4", 9e-4: "9e-4", 1 / 64: "1/64", 10**-0.5: "10^-0.5", 0.5: "1/2"}
    return next((text for value, text in known.items() if math.isclose(q, value)), f"{q:g}")


@dataclass(frozen=True)
class Grid:
    """One size of the study.

    Attributes:
        depth, width: the networks (``depth`` weight layers, ``depth − 1`` hidden tanh layers).
        init_seeds, probe: the at-initialisation table: networks per q*, and how many held-out
            examples the Fisher and the Jacobian are measured on.
        init_depth, init_width: the at-initialisation table's networks (None: ``depth``,
            ``width``).
        n, n_test, batch_size, epochs, lrs, seeds: the training sweep.
        fisher_every: record the Fisher's λ_max every this many epochs.
        validation, tune_epochs, tune_seed: the rate search: examples carved from the ``n``
            training examples to validate on, epochs each candidate trains on the rest, and its
            networks' seed.
        euclidean_rates: the Euclidean nets' candidates (one rate for every parameter).
        base_rates, manifold_rates, scale_rates: the manifold nets' candidates per group (their
            Euclidean parameters, manifold weights, learned scales): every combination is tried.
        oblique_penalties: the Oblique nets' candidates for ω (every combination with their
            rates): a decade either side of the paper's :data:`OBLIQUE_PENALTY`.
    """

    depth: int
    width: int
    init_seeds: tuple[int, ...]
    probe: int
    n: int
    n_test: int
    batch_size: int
    epochs: int
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    fisher_every: int = 1
    data_seed: int = 0
    init_depth: int | None = None
    init_width: int | None = None
    validation: int = 300
    tune_epochs: int = 5
    tune_seed: int = 100
    euclidean_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    base_rates: tuple[float, ...] = (3e-4, 3e-3)
    manifold_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    scale_rates: tuple[float, ...] = (1e-4, 1e-3)
    oblique_penalties: tuple[float, ...] = (
        OBLIQUE_PENALTY / 10,
        OBLIQUE_PENALTY,
        OBLIQUE_PENALTY * 10,
    )

    @property
    def at_init_shape(self) -> tuple[int, int]:
        """(depth, width) of the at-initialisation table's networks."""
        return self.init_depth or self.depth, self.init_width or self.width


#: Quick: digits (1500 training and 297 held-out images, standardised). At initialisation depth
#: 30, width 128, 5 networks per q* on 100 held-out images. Training at depth 30, width 64 (so
#: every hidden layer, the first included, is square and its orthogonal rows start on the
#: Oblique manifold, as the paper's wide 3072 → 400 first layer): rates searched on 300
#: validation examples carved from the 1500 (5 epochs on the other 1200, one seed), the chosen
#: rates retrained for 10 epochs of batches of 100 with 3 seeds; beside it a shared-rate sweep
#: (one rate 1e-3 for every group, as before the search). A few minutes on 2 cores.
QUICK = Grid(
    depth=30,
    width=64,
    init_width=128,
    init_seeds=(0, 1, 2, 3, 4),
    probe=100,
    n=1500,
    n_test=297,
    batch_size=100,
    epochs=10,
    lrs=(1e-3,),
    seeds=(0, 1, 2),
)
#: Standard: the at-initialisation table at the paper's networks (depth 200, width 400), 5 nets
#: per q* on 32 held-out images (the Fisher of one net takes about 20 s there); training as quick
#: (depth 30, width 64, the rate search on 300 validation examples) but 10 search epochs, 20
#: training epochs, 5 seeds, and shared rates 3e-4 and 1e-3. 9.0 minutes on 2 quiet cores
#: (7 Dec 2026, Stiefel retractions by Cholesky QR; 9.2 before).
STANDARD = Grid(
    depth=30,
    width=64,
    init_depth=200,
    init_width=400,
    init_seeds=(0, 1, 2, 3, 4),
    probe=32,
    n=1500,
    n_test=297,
    batch_size=100,
    epochs=20,
    lrs=(3e-4, 1e-3),
    seeds=(0, 1, 2, 3, 4),
    tune_epochs=10,
)
#: Full: the paper's networks (depth 200, width 400), 5 seeds, batches of 1000, 200 epochs, the
#: Fisher on 1000 held-out images every 5 epochs, the rate search over 50 epochs on 10000
#: validation images (the paper's protocol); on CIFAR-10 with ``--data`` (per-channel
#: standardisation, 50000 training and the first 10000 test images: the first layer 400 × 3072
#: is wide, so its orthogonal rows start on the Oblique manifold). On digits (64 inputs) the
#: first layer 400 × 64 is tall: the Oblique nets start from its rows rescaled to one norm
#: (:func:`deeplinear.sweep.recipes.onto_oblique`), and the validation split is a fifth of the
#: 1500 training images.
FULL = Grid(
    depth=200,
    width=400,
    init_seeds=(0, 1, 2, 3, 4),
    probe=1000,
    n=1500,
    n_test=297,
    batch_size=100,
    epochs=200,
    lrs=(1e-5, 3e-5, 1e-4, 3e-4),
    seeds=(0, 1, 2, 3, 4),
    fisher_every=5,
    validation=10000,
    tune_epochs=50,
    euclidean_rates=(3e-6, 1e-5, 3e-5, 1e-4, 3e-4),
    base_rates=(3e-5, 1e-4, 3e-4),
    manifold_rates=(3e-6, 1e-5, 3e-5, 1e-4, 3e-4),
    scale_rates=(3e-5, 1e-4, 3e-4),
)
GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


def _source(grid: Grid, data: Path | None) -> dict[str, Any]:
    if data is None:
        return {
            "data": "digits_standardised",
            "d_x": 64,
            "d_y": 10,
            "n": grid.n,
            "n_test": grid.n_test,
            "batch_size": grid.batch_size,
        }
    path = Path(data).resolve()
    loaded = load_npz(path)
    if loaded.classes is None or loaded.X_test is None:
        raise InvalidValueError(
            f"{path}: sokol2020 needs integer class labels and a test set (X_test, y_test)"
        )
    n = loaded.X.shape[1]
    batch = min(1000, n)
    return {
        "data": "npz_cifar10" if loaded.X.shape[0] == 3072 else "npz_classes",
        "data_file": str(path),
        "data_sha256": file_digest(path),
        "d_x": loaded.X.shape[0],
        "d_y": loaded.classes,
        "n": n - n % batch,
        "n_test": loaded.X_test.shape[1],
        "batch_size": batch,
    }


def spec(size: str = "quick", data: Path | None = None) -> SweepSpec:
    """The training sweep at ``size``: on digits, or on the user's ``.npz`` ``data`` with a
    test set (CIFAR-10 as (n, 32, 32, 3) images gets the paper's standardisation)."""
    grid = GRIDS[size]
    source = _source(grid, data)
    per_epoch = source["n"] // source["batch_size"]
    steps = grid.epochs * per_epoch
    return SweepSpec.from_dict(
        {
            "name": f"sokol2020-{size}",
            "axes": {
                "manifold": list(MANIFOLDS),
                "q_star": list(TRAIN_Q_STARS),
                "lr": list(grid.lrs),
                "seed": list(grid.seeds),
            },
            "fixed": {
                **source,
                "depth": grid.depth,
                "width": grid.width,
                "data_seed": grid.data_seed,
                "init": "critical_orthogonal",
                "activation": "tanh",
                "biases": "all",
                "input_scale": "q_star",
                "loss": "cross_entropy",
                "optimizer": "adam",
                "learn_scale": True,  # the manifold layers' scales; Euclidean nets have none
                "oblique_penalty": OBLIQUE_PENALTY,  # ignored by the other nets
                "steps": steps,
                "record_every": steps,  # the full-set loss at the ends; the curve: batch_loss
                "record": f"batch_loss:1, test_accuracy:{per_epoch}, "
                f"fisher_max_eigenvalue:{per_epoch * grid.fisher_every}",
                "record_probe": min(grid.probe, source["n_test"]),
            },
        }
    )


# --- the rate search and the retraining at the chosen rates ------------------------------------

#: The run fields of a network's learning rates (see :data:`PAPER_RATES`).
RATE_FIELDS = ("lr", "lr_manifold", "lr_scales")
#: The run fields the rate search chooses: the rates and, for Oblique nets, ω.
SEARCHED_FIELDS = (*RATE_FIELDS, "oblique_penalty")


def candidates(grid: Grid, manifold: str) -> list[dict[str, float]]:
    """The combinations the search tries for ``manifold`` nets (run fields, a log grid): one
    rate for every parameter of a Euclidean net; every (Euclidean, manifold, scales)
    combination for a manifold net, and for an Oblique net each with every ω."""
    if manifold == "euclidean":
        return [{"lr": lr} for lr in grid.euclidean_rates]
    rates = [
        {"lr": lr, "lr_manifold": m, "lr_scales": sc}
        for lr in grid.base_rates
        for m in grid.manifold_rates
        for sc in grid.scale_rates
    ]
    if manifold != "oblique_hidden":
        return rates
    return [r | {"oblique_penalty": omega} for omega in grid.oblique_penalties for r in rates]


def _templates(size: str, data: Path | None) -> dict[tuple[str, float], RunConfig]:
    """One run of the shared-rate sweep per (manifold, q*) cell: the form the search and the
    retraining vary the rates and the seed of."""
    found: dict[tuple[str, float], RunConfig] = {}
    for run in spec(size, data).runs():
        found.setdefault((run.manifold, run.q_star), run)
    return found


def _with_rates(run: RunConfig, rates: Mapping[str, float], seed: int) -> RunConfig:
    return dataclasses.replace(
        run,
        seed=seed,
        lr=rates["lr"],
        lr_manifold=rates.get("lr_manifold"),
        lr_scales=rates.get("lr_scales"),
        oblique_penalty=rates.get("oblique_penalty", run.oblique_penalty),
    )


def _validation_split(run: RunConfig, count: int) -> tuple[np.ndarray, ...]:
    """(X_fit, Y_fit, X_val, Y_val): ``count`` validation examples carved from ``run``'s training
    set by a permutation seeded by (data_seed, 2), but at most a fifth of it (the paper's 10000
    of CIFAR-10's 50000; the full size's 10000 on digits' 1500 become 300); both parts keep the
    data's order."""
    X, Y = make_data(run)
    n = X.shape[-1]
    count = min(count, n // 5)
    if not 0 < count <= n - run.batch_size:
        raise InvalidValueError(
            f"validation: must leave at least one batch ({run.batch_size}) of the n = {n} "
            f"training examples to train on, got {count}"
        )
    order = np.random.default_rng((run.data_seed, _VALIDATION_STREAM)).permutation(n)
    held, kept = np.sort(order[:count]), np.sort(order[count:])
    return X[:, kept], Y[..., kept], X[:, held], Y[..., held]


def _search_cell(grid: Grid, run: RunConfig) -> pd.DataFrame:
    """Every candidate of :func:`candidates` for ``run``'s cell, trained ``grid.tune_epochs``
    epochs on the training set less the validation split; their validation accuracy and loss at
    the end. The candidates are the networks of ONE batched :func:`deeplinear.train` call
    (per-network rates), one call per ω for Oblique nets (``dl.train`` takes one ω a call)."""
    import pandas as pd

    split = _validation_split(run, grid.validation)
    by_penalty: dict[float, list[RunConfig]] = {}
    for rates in candidates(grid, run.manifold):
        config = _with_rates(run, rates, grid.tune_seed)
        by_penalty.setdefault(config.oblique_penalty, []).append(config)
    return pd.concat(
        [_train_candidates(grid, run, configs, split) for configs in by_penalty.values()],
        ignore_index=True,
    )


def _train_candidates(
    grid: Grid, run: RunConfig, configs: list[RunConfig], split: tuple[np.ndarray, ...]
) -> pd.DataFrame:
    """One batched call: ``configs`` (``run``'s cell, differing in per-network rates) trained on
    the fitting part of ``split`` and scored on its validation part."""
    import pandas as pd

    from ..train import train

    X_fit, Y_fit, X_val, Y_val = split
    initial = make_weights(configs)
    configs = [configs[i] for i in initial.order]
    lrs = np.array([c.lr for c in configs], dtype=np.float64)
    options = train_options(configs[0])
    per_epoch = X_fit.shape[-1] // run.batch_size
    steps = grid.tune_epochs * per_epoch
    options.update(steps=steps, record_every=steps, record={"test_accuracy": steps})
    result = train(
        initial.weights,
        X_fit,
        Y_fit,
        biases=initial.biases,
        data_seed=shuffle_seeds(configs),
        eval_data=(X_val, Y_val),
        **per_network_options(configs, lrs),
        **options,
    )
    accuracy = np.asarray(result.records["test_accuracy"], dtype=np.float64)[:, -1]
    oblique = run.manifold == "oblique_hidden"
    rows = [
        {
            "manifold": run.manifold,
            "q_star": run.q_star,
            **{name: getattr(c, name) for name in RATE_FIELDS},
            "oblique_penalty": c.oblique_penalty if oblique else math.nan,
            "validation_accuracy": float(a) if np.isfinite(a) and not bad else 0.0,
            "train_loss": float(loss) if not bad else math.inf,
            "validation": X_val.shape[-1],
            "epochs": grid.tune_epochs,
        }
        for c, a, loss, bad in zip(
            configs, accuracy, result.final_loss, result.diverged, strict=True
        )
    ]
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=4)
def search(size: str = "quick", data: Path | None = None) -> pd.DataFrame:
    """The rate search of every (manifold, q*) cell (:func:`_search_cell`), one row per
    candidate."""
    import pandas as pd

    grid = GRIDS[size]
    parts = [_search_cell(grid, run) for run in _templates(size, data).values()]
    return pd.concat(parts, ignore_index=True)


def chosen_rates(table: pd.DataFrame) -> dict[tuple[str, float], dict[str, float]]:
    """Per (manifold, q*) cell the candidate with the highest validation accuracy (ties: the
    lower training loss, then the table's order): its searched fields (rates, and ω for
    Oblique nets; absent groups left out)."""
    chosen = {}
    for (manifold, q), part in table.groupby(["manifold", "q_star"], sort=False):
        best = part.sort_values(
            ["validation_accuracy", "train_loss"], ascending=[False, True], kind="stable"
        ).iloc[0]
        chosen[(str(manifold), float(q))] = {
            name: float(best[name])
            for name in SEARCHED_FIELDS
            if name in best and not _missing(best[name])
        }
    return chosen


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def retrain(size: str = "quick", data: Path | None = None) -> pd.DataFrame:
    """Each cell at its chosen rates (:func:`chosen_rates` of :func:`search`), one network per
    training seed, trained and recorded as the sweep's runs (the sweep's frame columns)."""
    import pyarrow as pa

    grid = GRIDS[size]
    rates = chosen_rates(search(size, data))
    runs = [
        _with_rates(run, rates[cell], seed)
        for cell, run in _templates(size, data).items()
        for seed in grid.seeds
    ]
    tables = [run_task(task) for task in make_tasks(runs)]
    return pa.concat_tables(tables).to_pandas()


# --- the criticality table and the at-initialisation table ----------------------------------


def criticality_table() -> pd.DataFrame:
    """Our (σ_w, σ_b) per q* next to the values computed from the authors' formulas."""
    import pandas as pd

    rows = []
    for q in Q_STARS:
        sigma_w, sigma_b = init.critical_sigmas(q)
        paper_w, paper_b = PAPER_SIGMAS[q]
        rows.append(
            {
                "q_star": q,
                "sigma_w": sigma_w,
                "sigma_b": sigma_b,
                "paper_sigma_w": paper_w,
                "paper_sigma_b": paper_b,
                "error": max(abs(sigma_w / paper_w - 1), abs(sigma_b / paper_b - 1)),
            }
        )
    return pd.DataFrame(rows)


def _probe(size: str, data: Path | None, q_star: float) -> tuple[np.ndarray, np.ndarray]:
    """The first ``probe`` held-out examples of the training sweep's data, scaled for q* as
    the sweep scales them (the authors measure the Fisher on the first test mini-batch), with
    their labels."""
    run = dataclasses.replace(spec(size, data).runs()[0], q_star=q_star)
    held = make_eval_data(run)
    assert held is not None
    count = GRIDS[size].probe
    return np.ascontiguousarray(held[0][:, :count]), held[1][:count]


def _curvature(
    weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray, activation: str
) -> dict[str, np.ndarray]:
    """λ_max of the Fisher (GGN for cross-entropy, Gauss–Newton for MSE; all parameters and
    weights only) and s²_max of the input–output Jacobian (max and mean over the inputs)."""
    form: dict[str, Any] = {"activation": activation, "biases": biases}
    out = {}
    for loss in ("cross_entropy", "mse"):
        for params in ("all", "weights"):
            out[f"fisher_{loss}_{params}"] = metrics.fisher_max_eigenvalue(
                weights, X, loss=loss, params=params, **form
            )
    # The d_L × d_0 Jacobians are small: their exact SVD (power iteration would not settle on
    # the linear nets, whose singular values are all equal).
    sigma = metrics.jacobian_singular_values(weights, X, **form)[..., 0]
    out["jacobian_sq_max"] = (sigma**2).max(axis=1)
    out["jacobian_sq_mean"] = (sigma**2).mean(axis=1)
    return out


def at_init_table(size: str, data: Path | None = None) -> pd.DataFrame:
    """Per network at initialisation: q*, seed, kind (tanh or linear) and :func:`_curvature`.

    The tanh nets are critical orthogonal ones at each q* of :data:`Q_STARS`, fed the probe
    scaled for that q*; the linear nets are orthogonal with σ_w = 1 and zero biases, fed the
    probe scaled for q* = 1/64 (the authors' linear baseline)."""
    import pandas as pd

    grid = GRIDS[size]
    rows: list[dict[str, Any]] = []
    seeds = list(grid.init_seeds)
    depth, width = grid.at_init_shape
    for kind, q_stars in (("tanh", Q_STARS), ("linear", (1 / 64,))):
        for q in q_stars:
            X, _ = _probe(size, data, q)
            dims = [X.shape[0]] + [width] * (depth - 1) + [10]
            if kind == "tanh":
                weights, biases = init.critical(dims, batch=len(seeds), seed=seeds, q_star=q)
            else:
                weights, biases = init.mean_field(
                    dims,
                    batch=len(seeds),
                    seed=seeds,
                    sigma_w=1.0,
                    sigma_b=0.0,
                    weights="orthogonal",
                )
            found = _curvature(weights, biases, X, kind if kind == "tanh" else "linear")
            for b, seed in enumerate(seeds):
                rows.append(
                    {"kind": kind, "q_star": q, "seed": seed, "depth": depth, "width": width}
                    | {name: float(values[b]) for name, values in found.items()}
                )
    return pd.DataFrame(rows)


def measurements(size: str = "quick", data: Path | None = None) -> list[Measurement]:
    """The criticality table and the at-initialisation table at ``size``."""
    grid = GRIDS[size]
    depth, width = grid.at_init_shape
    params = {
        "depth": depth,
        "width": width,
        "seeds": list(grid.init_seeds),
        "probe": grid.probe,
        "q_stars": list(Q_STARS),
        "data": spec(size, data).fixed["data"],
        "data_sha256": spec(size, data).fixed.get("data_sha256", ""),
    }
    training = spec(size, data)
    searched = {
        "sweep": {"axes": training.axes, "fixed": training.fixed},
        "validation": grid.validation,
        "tune_epochs": grid.tune_epochs,
        "tune_seed": grid.tune_seed,
        "candidates": {m: candidates(grid, m) for m in MANIFOLDS},
    }
    return [
        Measurement("criticality", {"q_stars": list(Q_STARS)}, criticality_table),
        Measurement("at_init", params, lambda: at_init_table(size, data)),
        Measurement("search", searched, lambda: search(size, data)),
        Measurement("tuned", searched | {"seeds": list(grid.seeds)}, lambda: retrain(size, data)),
    ]


# --- analysis ----------------------------------------------------------------------------------


def _median(values: pd.Series) -> float:
    return float(np.median(values.to_numpy(dtype=np.float64)))


def _tanh(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["kind"] == "tanh"]


def _by_q(column: str) -> Measure:
    """Median ``column`` over seeds of the tanh nets per q*."""

    def measure(table: pd.DataFrame) -> dict[float, float]:
        medians = _tanh(table).groupby("q_star")[column].median()
        return {float(q): float(v) for q, v in medians.items()}

    return measure


def correlation(
    table: pd.DataFrame, fisher: str = "fisher_cross_entropy_all"
) -> tuple[float, float]:
    """Pearson ρ of λ_max against s²_max over the tanh nets: of the log10 values and of the
    values themselves."""
    tanh = _tanh(table)
    x, y = tanh["jacobian_sq_max"].to_numpy(), tanh[fisher].to_numpy()
    return float(np.corrcoef(np.log10(x), np.log10(y))[0, 1]), float(np.corrcoef(x, y)[0, 1])


def _log_rho(table: pd.DataFrame) -> float:
    return correlation(table)[0]


def _linear_against_tanh(params: str) -> Measure:
    """(the tanh nets' median λ_max at q* = 1/64, the linear nets'), counting ``params``."""
    column = f"fisher_cross_entropy_{params}"

    def measure(table: pd.DataFrame) -> tuple[float, float]:
        tanh = table[(table["kind"] == "tanh") & np.isclose(table["q_star"], 1 / 64)]
        linear = table[table["kind"] == "linear"]
        return _median(tanh[column]), _median(linear[column])

    return measure


def _ours_criticality(table: pd.DataFrame) -> str:
    shown = ", ".join(
        f"q*={_q_label(r.q_star)}: ({r.sigma_w:.6f}, {r.sigma_b:.4g})" for r in table.itertuples()
    )
    return f"{shown}; largest relative difference {float(table['error'].max()):.1e}"


def _ours_monotone(table: pd.DataFrame) -> str:
    def series(column: str) -> str:
        return ", ".join(f"{v:.3g}" for v in _by_q(column)(table).values())

    return (
        f"median λ_max (cross-entropy GGN) over q* = {', '.join(_q_label(q) for q in Q_STARS)}: "
        f"{series('fisher_cross_entropy_all')}; s²_max: {series('jacobian_sq_max')}; MSE "
        f"Fisher: {series('fisher_mse_all')}"
    )


def _ours_correlation(table: pd.DataFrame) -> str:
    log_rho, rho = correlation(table)
    mse_log, _ = correlation(table, "fisher_mse_all")
    return (
        f"ρ = {log_rho:.2f} of log values ({rho:.2f} of the values) over {len(_tanh(table))} "
        f"nets; MSE Fisher: ρ = {mse_log:.2f} (log)"
    )


def _ours_linear(table: pd.DataFrame) -> str:
    shown = "; ".join(
        f"{label}: {lin:.3g} (linear) vs {nonlin:.3g} (tanh)"
        for params, label in (("all", "all parameters"), ("weights", "weights only"))
        for nonlin, lin in [_linear_against_tanh(params)(table)]
    )
    return f"median λ_max (cross-entropy GGN) {shown}"


def with_results(frame: pd.DataFrame) -> pd.DataFrame:
    """The training frame with ``final`` (the training-set loss at the end, inf if it
    diverged), ``accuracy`` (the last test accuracy) and ``cell`` (manifold and q*)."""
    final = frame["final_loss"].where(~frame["diverged"] & np.isfinite(frame["final_loss"]))
    accuracy = [float(np.asarray(c)[-1]) for c in frame["test_accuracy_curve"]]
    cell = [
        f"{NAMES[m]}, q* = {_q_label(q)}"
        for m, q in zip(frame["manifold"], frame["q_star"], strict=True)
    ]
    return frame.assign(final=final.fillna(math.inf), accuracy=accuracy, cell=cell)


def _best(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of each (manifold, q*) cell at its best learning rate: the one with the lowest
    median ``final`` over seeds (ties: the smaller rate)."""
    medians = runs.groupby(["manifold", "q_star", "lr"])["final"].median().reset_index()
    best = (
        medians.sort_values(["final", "lr"], kind="stable").groupby(["manifold", "q_star"]).head(1)
    )
    keys = set(zip(best["manifold"], best["q_star"], best["lr"], strict=True))
    chosen = [
        (m, q, lr) in keys
        for m, q, lr in zip(runs["manifold"], runs["q_star"], runs["lr"], strict=True)
    ]
    return runs[chosen]


def best_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs of each (manifold, q*) cell at its best learning rate: the one with the lowest
    median final training loss over seeds (ties: the smaller rate)."""
    return _best(with_results(frame))


def epoch_losses(frame: pd.DataFrame) -> list[np.ndarray]:
    """Per run, the mean of its mini-batch losses over each epoch (the training loss as a
    PyTorch loop logs it)."""
    out = []
    for curve, n, batch in zip(
        frame["batch_loss_curve"], frame["n"], frame["batch_size"], strict=True
    ):
        per_epoch = int(n) // int(batch)
        values = np.asarray(curve, dtype=np.float64)[:-1]  # the last column is after the end
        out.append(
            values[: values.size // per_epoch * per_epoch].reshape(-1, per_epoch).mean(axis=1)
        )
    return out


#: λ_max "rises quickly" by the end of this epoch (the paper: "within the initial 5 epochs"), or
#: half the training when it is shorter.
EARLY_EPOCH = 5


def _per_epoch(frame: pd.DataFrame) -> int:
    return int(frame["n"].iloc[0]) // int(frame["batch_size"].iloc[0])


def _fisher_every(frame: pd.DataFrame) -> int:
    """The recording interval of the Fisher's λ_max, in epochs."""
    intervals = dict(record_intervals(frame["record"].iloc[0], frame["record_every"].iloc[0]))
    return max(1, intervals["fisher_max_eigenvalue"] // _per_epoch(frame))


def early_epoch(frame: pd.DataFrame) -> int:
    """The epoch the early rise of λ_max is read at: :data:`EARLY_EPOCH`, or half the training
    when it is shorter, rounded down to a recorded epoch."""
    epochs = int(frame["steps"].iloc[0]) // _per_epoch(frame)
    every = _fisher_every(frame)
    return max(every, min(EARLY_EPOCH, epochs // 2) // every * every)


def training_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The seed-level frame the training claims are decided on: per run its manifold, q*, lr,
    seed, ``final`` and ``accuracy`` (:func:`with_results`), ``area`` (the mean over epochs of
    log10 of the epoch's mean mini-batch loss: lower = faster), ``rise`` (λ_max at
    :func:`early_epoch` over λ_max at initialisation) and ``fisher_median`` (the median λ_max
    over the training)."""
    data = with_results(frame)
    index = early_epoch(frame) // _fisher_every(frame)
    curves = [np.asarray(c, dtype=np.float64) for c in frame["fisher_max_eigenvalue_curve"]]
    data = data.assign(
        area=[float(np.mean(np.log10(np.maximum(c, 1e-300)))) for c in epoch_losses(frame)],
        rise=[c[min(index, c.size - 1)] / c[0] for c in curves],
        fisher_median=[float(np.median(c)) for c in curves],
    )
    columns = ["manifold", "q_star", "lr", "seed", "final", "accuracy", "area", "rise"]
    return data[[*columns, "fisher_median"]].reset_index(drop=True)


def _cells(runs: pd.DataFrame, column: str) -> dict[tuple[str, float], float]:
    """Per (manifold, q*) cell at its best learning rate: the median ``column`` over seeds."""
    return {
        (str(m), float(q)): _median(part[column])
        for (m, q), part in _best(runs).groupby(["manifold", "q_star"])
    }


SMALL_Q, LARGE_Q = TRAIN_Q_STARS


def _pair(column: str, first: tuple[str, float], second: tuple[str, float]) -> Measure:
    """(cell ``first``'s, cell ``second``'s) median ``column`` at their best learning rates."""

    def measure(runs: pd.DataFrame) -> tuple[float, float]:
        found = _cells(runs, column)
        return found[first], found[second]

    return measure


def _manifold_against_euclidean(manifold: str, q: float) -> Measure:
    """(the manifold net's mean log10 epoch loss at q*, the lower of the two Euclidean cells')."""

    def measure(runs: pd.DataFrame) -> tuple[float, float]:
        areas = _cells(runs, "area")
        return areas[(manifold, q)], min(areas[("euclidean", p)] for p in TRAIN_Q_STARS)

    return measure


def _accuracy_over_euclidean(manifold: str, q: float) -> Measure:
    """The manifold net's median final test accuracy at q* less the Euclidean q* = 1/64 net's."""

    def measure(runs: pd.DataFrame) -> float:
        accuracy = _cells(runs, "accuracy")
        return accuracy[(manifold, q)] - accuracy[("euclidean", LARGE_Q)]

    return measure


def _rise_against_others(runs: pd.DataFrame) -> tuple[float, float]:
    """(the largest rise of the other cells, the Euclidean q* = 9e-4 cell's rise)."""
    rises = _cells(runs, "rise")
    target = ("euclidean", SMALL_Q)
    return max(v for k, v in rises.items() if k != target), rises[target]


def _gap(a: float, b: float) -> float:
    return abs(a - b) / max(a, b) if max(a, b) > 0 else 0.0


def _gaps(manifold: str) -> Measure:
    """(the manifold net's, the Euclidean net's) relative gap |ℓ_a − ℓ_b|/max(ℓ_a, ℓ_b) between
    the median final training losses at the two q*."""

    def measure(runs: pd.DataFrame) -> tuple[float, float]:
        final = _cells(runs, "final")
        ours, euclid = ((final[(m, SMALL_Q)], final[(m, LARGE_Q)]) for m in (manifold, "euclidean"))
        return _gap(*ours), _gap(*euclid)

    return measure


def _cell_name(cell: tuple[str, float]) -> str:
    return f"{NAMES[cell[0]]} q* = {_q_label(cell[1])}"


def _ours_cells(column: str, what: str, fmt: str = ".3g") -> Callable[[pd.DataFrame], str]:
    def ours(runs: pd.DataFrame) -> str:
        found = _cells(runs, column)
        return f"{what}: " + ", ".join(
            f"{_cell_name(cell)}: {format(v, fmt)}" for cell, v in found.items()
        )

    return ours


def _ours_insensitive(runs: pd.DataFrame) -> str:
    final = _cells(runs, "final")
    return "final training loss (median over seeds, tuned rates): " + "; ".join(
        f"{NAMES[m]}: {final[(m, SMALL_Q)]:.3g} (q* = {_q_label(SMALL_Q)}) vs "
        f"{final[(m, LARGE_Q)]:.3g} (q* = {_q_label(LARGE_Q)})"
        for m in MANIFOLDS
    )


def _ours_euclidean(runs: pd.DataFrame) -> str:
    final, accuracy = _cells(runs, "final"), _cells(runs, "accuracy")
    small, large = ("euclidean", SMALL_Q), ("euclidean", LARGE_Q)
    return (
        f"final training loss {final[large]:.3g} (1/64) vs {final[small]:.3g} (9e-4); test "
        f"accuracy {accuracy[large]:.3f} vs {accuracy[small]:.3f}"
    )


def _best_cell(quantity: str) -> str:
    return f"{quantity}, median over seeds at the cell's best learning rate"


_BEST = (
    "each (net, q*) cell retrained over seeds at the per-group Adam rates that maximised its "
    "validation accuracy in the rate search (validation examples carved from the training set)"
)
_AT_INIT = (
    "at initialisation, tanh nets at the grid's depth and width (the paper: depth 200, width "
    "400); medians over seeds"
)
_LAMBDA = "λ_max (cross-entropy GGN, all parameters)"

CRITICALITY = Check(
    claim="Critical (σ_w, σ_b) for the six q*",
    paper="σ_w = E[sech⁴(√q*h)]^(−1/2), σ_b = √(q* − σ_w²E[tanh²(√q*h)]) (their code); e.g. "
    "q* = 1/64: (1.015164, 0.002157)",
    parts=(
        Part(
            Fraction(
                "the six q*",
                "our σ_w and σ_b both agree with those computed from the authors' formulas (our "
                f"research notes, scipy quadrature) to a relative {SIGMA_TOLERANCE:g} (the "
                "precision quoted)",
            ),
            lambda table: list(table["error"] <= SIGMA_TOLERANCE),
        ),
    ),
    source="criticality",
    conditions="deterministic (no seeds to resample)",
    ours=_ours_criticality,
)
MONOTONE = Check(
    claim="λ_max(Fisher) and s²_max(Jacobian) rise monotonically with q*",
    paper="both increase monotonically with q* (their Fig. 2; depth 200, width 400)",
    parts=(
        Part(Monotone(f"the median {_LAMBDA}", "q*"), _by_q("fisher_cross_entropy_all"), "λ_max"),
        Part(
            Monotone("the median s²_max (the largest over the probe inputs)", "q*"),
            _by_q("jacobian_sq_max"),
            "s²_max",
        ),
    ),
    source="at_init",
    conditions=_AT_INIT,
    ours=_ours_monotone,
    decide_with="more seeds or the paper's depth and width",
)
CORRELATION = Check(
    claim="λ_max of the Fisher correlates with s²_max of the Jacobian",
    paper=f"Pearson ρ = {PAPER_RHO} (text: 0.64), depth 200, width 400 (their Fig. 2)",
    parts=tuple(
        Part(
            Bound(
                f"Pearson ρ of log10 {_LAMBDA} against log10 s²_max over every tanh net (all "
                "q* and seeds; logs, as the paper's log axes)",
                low=low,
            ),
            _log_rho,
            name,
        )
        for name, low in (("positive", 0.0), ("strong", STRONG_RHO))
    ),
    source="at_init",
    conditions=_AT_INIT,
    ours=_ours_correlation,
    decide_with="more seeds or the paper's depth and width",
)
LINEAR_LARGER = Check(
    claim="A deep linear orthogonal net has a larger λ_max than tanh nets at the same input scale",
    paper="'substantially larger' (inputs scaled as for q* = 1/64; their §4)",
    parts=tuple(
        Part(
            Order(
                "the critical tanh nets' at q* = 1/64",
                f"the linear nets' median λ_max (cross-entropy GGN, {label}; σ_w = 1, zero "
                "biases, inputs scaled for q* = 1/64)",
            ),
            _linear_against_tanh(params),
            label,
        )
        for params, label in (("all", "all parameters"), ("weights", "weights only"))
    ),
    source="at_init",
    conditions=_AT_INIT,
    ours=_ours_linear,
    decide_with="more seeds or the paper's depth and width",
)
INSENSITIVE = Check(
    claim="Manifold-constrained nets are insensitive to q*",
    paper="Stiefel and Oblique nets at q* = 9e-4 and 1/64 minimise the training loss at about "
    "the same rate (their Fig. 1)",
    parts=tuple(
        part
        for m in MANIFOLD_NETS
        for part in (
            Part(
                Alike(
                    f"{NAMES[m]}'s median final training loss",
                    "q* = 9e-4",
                    "q* = 1/64",
                    tolerance=INSENSITIVE_GAP,
                    relative=True,
                ),
                _pair("final", (m, SMALL_Q), (m, LARGE_Q)),
                f"{NAMES[m]} alike",
            ),
            Part(
                Order(
                    f"{NAMES[m]}'s",
                    "Euclidean's relative gap |ℓ_a − ℓ_b|/max(ℓ_a, ℓ_b) between the median "
                    "final training losses at its two q*",
                ),
                _gaps(m),
                f"{NAMES[m]} less sensitive than Euclidean",
            ),
        )
    ),
    conditions=_BEST,
    ours=_ours_insensitive,
)
EUCLIDEAN_PREFERS_LARGER_Q = Check(
    claim="Euclidean nets: q* = 1/64 beats q* = 9e-4",
    paper="Euclidean nets at q* ≈ 9e-4 have a worse training loss and test accuracy than at "
    "1/64 (their Fig. 1)",
    parts=(
        Part(
            Order(
                "q* = 1/64's",
                "Euclidean q* = 9e-4's median final training loss",
            ),
            _pair("final", ("euclidean", LARGE_Q), ("euclidean", SMALL_Q)),
            "loss",
        ),
        Part(
            Order(
                "q* = 9e-4's",
                "Euclidean q* = 1/64's median final test accuracy",
            ),
            _pair("accuracy", ("euclidean", SMALL_Q), ("euclidean", LARGE_Q)),
            "accuracy",
        ),
    ),
    conditions=_BEST,
    ours=_ours_euclidean,
)
MANIFOLD_FASTER = Check(
    claim="Manifold nets reduce the training loss faster than both Euclidean nets",
    paper="'faster than both Euclidean networks' (their Fig. 1)",
    parts=tuple(
        Part(
            Order(
                f"{NAMES[m]} q* = {_q_label(q)}'s (lower = faster)",
                "the lower of the two Euclidean cells' median mean-over-epochs log10 epoch loss",
            ),
            _manifold_against_euclidean(m, q),
            f"{NAMES[m]}, q* = {_q_label(q)}",
        )
        for m in MANIFOLD_NETS
        for q in TRAIN_Q_STARS
    ),
    conditions=_BEST,
    ours=_ours_cells("area", "mean log10 epoch training loss over training", ".2f"),
)
NO_BETTER_ACCURACY = Check(
    claim="Yet manifold nets reach little or no better test accuracy than the Euclidean "
    "q* = 1/64 net",
    paper="the manifold nets' faster training does not give a better test accuracy than "
    "Euclidean q* = 1/64 (they may overfit; their Fig. 1)",
    parts=tuple(
        Part(
            Bound(
                f"{NAMES[m]} q* = {_q_label(q)}'s median final test accuracy less the Euclidean "
                f"q* = 1/64 net's (at most {LITTLE_BETTER}: little or no better)",
                high=LITTLE_BETTER,
            ),
            _accuracy_over_euclidean(m, q),
            f"{NAMES[m]}, q* = {_q_label(q)}",
        )
        for m in MANIFOLD_NETS
        for q in TRAIN_Q_STARS
    ),
    conditions=_BEST,
    ours=_ours_cells("accuracy", "final test accuracy (median)"),
)
ROUGHENS = Check(
    claim="Euclidean nets at small q* rapidly become less smooth",
    paper="λ_max rises quickly within the first 5 epochs, most for Euclidean q* ≈ 9e-4 (their "
    "Fig. 3)",
    parts=(
        Part(
            Bound(
                f"the Euclidean q* = 9e-4 cell's median rise of λ_max (at epoch ≤ "
                f"{EARLY_EPOCH}, or half the training, over its value at initialisation)",
                low=1.0,
            ),
            lambda runs: _cells(runs, "rise")[("euclidean", SMALL_Q)],
            "rises",
        ),
        Part(
            Order(
                "the largest of the other cells'",
                "the Euclidean q* = 9e-4 cell's median rise of λ_max",
            ),
            _rise_against_others,
            "the most",
        ),
    ),
    conditions=_BEST + "; λ_max on the probe set",
    ours=_ours_cells("rise", "λ_max early in training over λ_max at initialisation (median)"),
)
LESS_SMOOTH = Check(
    claim="Manifold nets have a larger λ_max in training than the Euclidean q* = 1/64 net",
    paper="the Euclidean q* = 1/64 net has an order of magnitude smaller λ_max than the manifold "
    "nets but trains slower: smoothness does not predict speed (their Fig. 3)",
    parts=tuple(
        Part(
            Order(
                "the Euclidean q* = 1/64 cell's",
                f"the {NAMES[m]} q* = {_q_label(q)} cell's median (over seeds) of each run's "
                "median λ_max over training",
            ),
            _pair("fisher_median", ("euclidean", LARGE_Q), (m, q)),
            f"{NAMES[m]}, q* = {_q_label(q)}",
        )
        for m in MANIFOLD_NETS
        for q in TRAIN_Q_STARS
    ),
    conditions=_BEST + "; λ_max on the probe set",
    ours=_ours_cells("fisher_median", "median λ_max over training"),
)
#: The study's claims, in the report's order.
CHECKS = (
    CRITICALITY,
    MONOTONE,
    CORRELATION,
    LINEAR_LARGER,
    INSENSITIVE,
    EUCLIDEAN_PREFERS_LARGER_Q,
    MANIFOLD_FASTER,
    NO_BETTER_ACCURACY,
    ROUGHENS,
    LESS_SMOOTH,
)


def claims(tables: dict[str, pd.DataFrame]) -> list[Claim]:
    """The study's claims: the criticality table, at initialisation, and training (on the
    ``tuned`` table: every cell retrained at its searched rates)."""
    return decide_all(CHECKS, {"runs": training_runs(tables["tuned"]), **tables})


def _fisher_vs_q(at_init: pd.DataFrame) -> pd.DataFrame:
    """Long form of λ_max per net: one row per (net, what was counted)."""
    import pandas as pd

    parts = []
    for params, label in (("all", "all parameters"), ("weights", "weights only")):
        column = f"fisher_cross_entropy_{params}"
        parts.append(
            at_init.assign(
                counted=[f"{kind}, {label}" for kind in at_init["kind"]], value=at_init[column]
            )
        )
    return pd.concat(parts, ignore_index=True)


def analyse(frame: pd.DataFrame, figures: Path, tables: dict[str, pd.DataFrame]) -> Analysis:
    """The Fisher against the Jacobian at initialisation (headline), λ_max against q*, the
    training curves at each cell's best learning rate, the tables and the claims."""
    at_init = tables["at_init"]
    shape = at_init if "depth" in at_init else frame  # older stored tables lack it
    depth, width = int(shape["depth"].iloc[0]), int(shape["width"].iloc[0])
    log_rho, _ = correlation(at_init)
    shown = at_init.assign(
        group=[
            "linear (q* = 1/64 inputs)" if k == "linear" else f"tanh, q* = {_q_label(q)}"
            for k, q in zip(at_init["kind"], at_init["q_star"], strict=True)
        ]
    )
    fig = plots.scatter(
        shown,
        x="jacobian_sq_max",
        y="fisher_cross_entropy_all",
        hue="group",
        labels={g: g for g in shown["group"]},
        xlabel="s²_max: largest squared singular value of ∂logits/∂x",
        ylabel="λ_max of the Fisher (cross-entropy GGN, all parameters)",
        note=f"tanh nets: Pearson ρ = {log_rho:.2f} (log values)",
        title=f"Sokol & Park 2020 at initialisation (critical orthogonal tanh, L = {depth}, "
        f"N = {width})",
    )
    paths = [plots.save(fig, figures / "fisher_vs_jacobian.png")]
    fig = plots.steps_to_tol(
        _fisher_vs_q(at_init),
        x="q_star",
        hue="counted",
        column="value",
        xlabel="q*",
        ylabel="λ_max of the Fisher (cross-entropy GGN)",
        title="λ_max against q* (median over seeds)\n"
        "linear nets at q* = 1/64, under the tanh points",
    )
    paths.append(plots.save(fig, figures / "fisher_vs_q.png"))
    tuned = tables["tuned"]
    best = best_runs(tuned)
    epochs = best.assign(epoch_loss_curve=epoch_losses(best), record_every=1)
    fig = plots.curves(
        epochs,
        hue="cell",
        column="epoch_loss_curve",
        relative=False,
        ylabel="training loss (epoch mean of mini-batch losses)",
        xlabel="epoch",
        title="Training loss (searched rates per cell, median over seeds)",
    )
    paths.append(plots.save(fig, figures / "training_loss.png"))
    fig = plots.curves(
        best.assign(record_every=1),
        hue="cell",
        column="test_accuracy_curve",
        relative=False,
        yscale="linear",
        ylabel="test accuracy",
        xlabel="epoch",
        title="Test accuracy (searched rates per cell, median over seeds)",
    )
    paths.append(plots.save(fig, figures / "test_accuracy.png"))
    fig = plots.curves(
        best.assign(record_every=_fisher_every(tuned)),
        hue="cell",
        column="fisher_max_eigenvalue_curve",
        relative=False,
        ylabel="λ_max (cross-entropy GGN, probe set)",
        xlabel="epoch",
        title="λ_max during training (searched rates per cell, median)",
    )
    paths.append(plots.save(fig, figures / "fisher_during_training.png"))
    sections = [
        ("Choices", _choices_text()),
        ("Criticality table", _criticality_section(tables["criticality"])),
        ("At initialisation (medians over seeds)", _at_init_section(at_init)),
        ("The rate search: chosen rates beside the paper's", _rates_section(tables["search"])),
        ("Training: each cell retrained at its searched rates", _training_section(tuned)),
        ("Training with one shared rate for every group (the sweep)", _training_section(frame)),
    ]
    findings = {"correlation": correlation(at_init), "best": best, "tuned": tuned}
    return Analysis(paths, sections, claims(tables), findings)


def _choices_text() -> str:
    return (
        "- Eq. 3 of the paper lacks a square: the variance map uses φ², as the authors' code.\n"
        "- q*: the text lists 1e-4, the figures use 9e-4; the at-initialisation table has both, "
        "the training uses 9e-4 and 1/64 (their Fig. 1).\n"
        "- The Fisher is the generalised Gauss–Newton matrix Jᵀ(diag p − ppᵀ)J/n, the true "
        "Fisher of the softmax model that the authors' code computes; their text says "
        "'empirical Fisher', which it is not. The MSE Gauss–Newton matrix JᵀJ/n is shown too.\n"
        "- Counted parameters: all (weights and biases, as the authors' code, which also counts "
        "the manifold nets' scales; ours has no scales at initialisation), and weights only; "
        "the linear net has zero biases, which count in 'all'.\n"
        "- The Jacobian is ∂logits/∂x (their Fig. 2), its s²_max the largest over the probe "
        "inputs (their code logs the maximum over examples).\n"
        "- The Fisher and the Jacobian are measured on the first held-out examples, scaled as "
        "the training inputs (the authors: the first test mini-batch).\n"
        "- Three Adam rates per manifold net (Euclidean parameters, manifold weights, scales) "
        "and one per Euclidean net, searched on a validation split of the training set for "
        "validation accuracy after a fixed number of epochs (the paper: Bayesian optimisation, "
        "50 epochs; ours: a batched log grid, see 'The rate search'); the training claims are "
        "decided on the cells retrained at those rates over seeds. The shared-rate sweep (one "
        "rate for every group, the best of a small grid by final training loss) is shown for "
        "comparison.\n"
        "- Oblique nets: every row of a hidden layer of unit norm times a learned scale, with "
        "the penalty ω‖QQᵀ − I‖² (ω searched with the rates, a decade either side of the "
        "paper's 7.1e-4; the shared-rate sweep uses 7.1e-4); they start from the critical "
        "orthogonal weights, whose square (or wide) hidden layers have rows of one norm: the "
        "training nets are width 64 on 64 digit pixels (CIFAR-10's first layer, 3072 → 400, "
        "is wide; a tall layer's rows are rescaled to one norm).\n"
        "- Hidden layers (all but the output layer) on the Stiefel or Oblique manifold, each "
        "with a learned scale; Riemannian Adam with the QR retraction and the first moment "
        "re-projected (as their code); the output layer and the biases Euclidean."
    )


def _criticality_section(table: pd.DataFrame) -> str:
    rows = [
        [_q_label(r.q_star), r.sigma_w, r.paper_sigma_w, r.sigma_b, r.paper_sigma_b, r.error]
        for r in table.itertuples()
    ]
    return markdown_table(
        ["q*", "σ_w (ours)", "σ_w (formulas)", "σ_b (ours)", "σ_b (formulas)", "rel. diff."],
        [[c if not isinstance(c, float) else float(f"{c:.10g}") for c in row] for row in rows],
    ).replace("| 1.0", "| 1.0")


def _at_init_section(table: pd.DataFrame) -> str:
    columns = [
        ("fisher_cross_entropy_all", "λ_max CE, all"),
        ("fisher_cross_entropy_weights", "λ_max CE, weights"),
        ("fisher_mse_all", "λ_max MSE, all"),
        ("fisher_mse_weights", "λ_max MSE, weights"),
        ("jacobian_sq_max", "s²_max (max)"),
        ("jacobian_sq_mean", "s²_max (mean)"),
    ]
    medians = table.groupby(["kind", "q_star"])[[c for c, _ in columns]].median()
    rows = [
        [kind, _q_label(q), *(float(medians.loc[(kind, q), c]) for c, _ in columns)]
        for kind, q in sorted(medians.index, key=lambda k: (k[0] != "tanh", k[1]))
    ]
    return markdown_table(["net", "q*", *(name for _, name in columns)], rows)


def _rate_text(rates: Mapping[str, Any]) -> str:
    """'euclidean η, manifold η, scales η[, ω]' of one network's searched fields."""
    shown = [
        ("Euclidean", "lr"),
        ("manifold", "lr_manifold"),
        ("scales", "lr_scales"),
        ("ω", "oblique_penalty"),
    ]
    return ", ".join(
        f"{label} {float(rates[key]):.1e}"
        for label, key in shown
        if key in rates and not _missing(rates[key])
    )


def _training_section(frame: pd.DataFrame) -> str:
    best = best_runs(frame)
    rows = []
    for (manifold, q), part in best.groupby(["manifold", "q_star"]):
        first = part.iloc[0]
        rows.append(
            [
                NAMES[str(manifold)],
                _q_label(float(q)),
                _rate_text({k: first[k] for k in _searched(str(manifold)) if k in part}),
                _median(part["final"]),
                _median(part["accuracy"]),
                len(part),
            ]
        )
    return markdown_table(
        ["net", "q*", "Adam rates", "final training loss", "final test accuracy", "seeds"], rows
    )


def _searched(manifold: str) -> tuple[str, ...]:
    """The searched fields that mean something for ``manifold`` nets (ω: Oblique only)."""
    return SEARCHED_FIELDS if manifold == "oblique_hidden" else RATE_FIELDS


def _rates_section(table: pd.DataFrame) -> str:
    """The chosen rates per cell with their validation accuracy, beside the paper's."""
    chosen = chosen_rates(table)
    first = table.iloc[0]
    rows = []
    for (manifold, q), rates in chosen.items():
        part = table[(table["manifold"] == manifold) & np.isclose(table["q_star"], q)]
        paper = PAPER_RATES.get(manifold)
        rows.append(
            [
                NAMES[manifold],
                _q_label(q),
                _rate_text(rates),
                float(part["validation_accuracy"].max()),
                len(part),
                _rate_text(paper) if paper else "rates not quoted; ω = 7.1e-4",
            ]
        )
    intro = (
        f"Each (net, q*) cell tried its candidates as the networks of one batched `dl.train` "
        f"call (per-network `dl.optim.Rates`), trained {int(first['epochs'])} epochs on the "
        f"training set less {int(first['validation'])} validation examples carved from it "
        "(a seeded permutation), and kept the candidates with the highest validation accuracy "
        "at the end (ties: the lower training loss). Candidates: a log grid per group "
        "(Euclidean nets: one rate for every parameter; manifold nets: every combination of "
        "the Euclidean, manifold and scale rates; Oblique nets each with every ω of "
        f"{', '.join(f'{w:.2g}' for w in sorted(set(table['oblique_penalty'].dropna())))}, one "
        "batched call per ω since the engine takes one ω a call). A grid "
        "and not Optuna: all candidates of a cell train in one batched engine call (Bayesian "
        "optimisation proposes them one after another), the result is deterministic without an "
        "extra dependency, and a 3-group log grid of a few values each is small enough to cover. "
        "The paper's rates are for CIFAR-10 with 50 search epochs and batches of 1000; ours are "
        "for the grid's data and epochs, so only their ratios compare.\n\n"
    )
    return intro + markdown_table(
        ["net", "q*", "chosen Adam rates", "validation accuracy", "candidates", "paper (CIFAR-10)"],
        rows,
    )


STUDY = register(
    Study(
        name="sokol2020",
        title="Sokol & Park 2020: information geometry of orthogonal initialisations and training",
        spec=spec,
        analyse=analyse,
        measurements=measurements,
        description=(
            "Critical orthogonal tanh networks at the paper's six q*: the criticality table; at "
            "initialisation, the Fisher's λ_max (cross-entropy GGN) against the input–output "
            "Jacobian's s²_max and a deep linear network at the same input scale; training with "
            "Adam, Euclidean against Riemannian on the Stiefel and the Oblique manifold, at "
            "q* = 9e-4 and 1/64, with per-group rates searched per net on a validation split. "
            "Expected: both curvature measures rise with q* and correlate (ρ ≈ 0.65); the linear "
            "net has a larger λ_max; manifold nets are insensitive to q* and train faster, yet "
            "are no more accurate than Euclidean q* = 1/64; Euclidean nets do better at "
            "q* = 1/64 than at 9e-4."
        ),
        data_help="a classification .npz with a test set (e.g. CIFAR-10 images, "
        "standardised per channel)",
        sizes={
            "quick": "~3 min (2.9 min measured on 2 quiet cores, 281 s of CPU time; 8 min "
            "on the shared machine at load 6–9): depth 30, width 128 at initialisation ('linear "
            "larger' is about depth 200 and stays undecided); training at depth 30, width 64: a "
            "rate search of 170 candidates (Oblique: rates × 3 ω) on 300 validation images, 18 "
            "retrained runs and an 18-run shared-rate sweep.",
            "standard": "~9 min (9.0 min measured on 2 quiet cores, 936 s of CPU time): the "
            "table at the paper's depth 200, width 400 (Fisher on 32 images); training as "
            "quick with 10 search epochs, 20 training epochs and 5 seeds. Decides 'linear "
            "larger'.",
            "full": "depth 200, width 400, 200 epochs, a 50-epoch search on 10000 validation "
            "images (CIFAR-10 with --data).",
        },
    )
)
