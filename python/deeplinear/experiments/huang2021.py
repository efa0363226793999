"""Huang, Du & Xu 2021: the neural tangent kernel of deep networks with orthogonal init.

Three experiments (see docs/science.md, "Huang et al. 2021"):

(a) **Kernel at initialisation** (their Fig. 1, a table computed besides the sweep): the
    relative distance ‖Θ − Θ_∞‖_F/‖Θ_∞‖_F of the empirical NTK of one-hidden-layer ReLU nets
    (NTK parameterisation, σ_w = 1.5, σ_b = 0.1) from the infinite-width NTK, on 20 Gaussian
    inputs in 1024 dimensions, over widths, for Gaussian and Haar-orthogonal weights, with the
    fitted log-log slope (the paper: ≈ −½ for both).
(b) **Kernel change in training** (their Fig. 2, a table): three-hidden-layer erf nets (NTK
    parameterisation) trained by full-batch gradient descent on the mean squared loss of 128
    digits with one-hot targets, η = 1/λ_max of the infinite-width NTK Gram divided by the
    number of examples (the largest step that is stable for every width), then the relative
    NTK change ‖Θ_T − Θ_0‖_F/‖Θ_0‖_F on 32 of them, over widths (the paper: falls like 1/n at
    large width, the same for both inits).
(c) **The headline** (their Fig. 4, the sweep): tanh MLPs in the "linear regime"
    (σ_w² = 1.05, σ_b² = 2.01e-5, standard parameterisation, biases), plain SGD on shuffled
    mini-batches with cross-entropy, τ = the first step whose mini-batch accuracy exceeds 25 %,
    over a learning-rate grid η = 10^(−1−k/10) and depths, Gaussian against orthogonal weights,
    several seeds, capped. In float32 (:data:`SWEEP_DTYPE`), the precision of the paper's JAX
    runs.

τ: the engine stops a network at the first step whose (mini-)batch accuracy is ≥ its
``target_accuracy``; the paper's strict "> 0.25" is that rule with the next float above 0.25
(:data:`TARGET_ACCURACY`). A batch accuracy is k/b, so this is k/b > 1/4 exactly. The training
set has a multiple of the batch size examples, so every step's batch is a full one (a short last
batch of 5 would pass 25 % by chance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import data as datasets
from .. import init, kernels, metrics, plots
from ..data import load_npz
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..sweep import SweepSpec
from ..sweep.registry import file_digest
from ..train import train
from . import huang2021_training as training
from .analysis import loglog_fit, steps_or_inf
from .base import Analysis, Measurement, Study, register
from .rules import (
    Alike,
    Check,
    Fraction,
    Measure,
    Monotone,
    Order,
    Part,
    Slope,
    decide_all,
    memo,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "DEPTHS",
    "FASTER",
    "FULL",
    "GAP_WITH_DEPTH",
    "GAP_WITH_LR",
    "KERNEL_CHANGE",
    "KERNEL_CONVERGES",
    "QUICK",
    "SIGMA_B2",
    "SIGMA_W2",
    "STANDARD",
    "SWEEP_DTYPE",
    "TARGET",
    "TARGET_ACCURACY",
    "TRAINABLE",
    "Grid",
    "claims",
    "kernel_change_table",
    "kernel_distance_table",
    "largest_trainable",
    "measurements",
    "runs",
    "slopes",
    "spec",
    "tau_table",
]

#: The "linear regime" of tanh (their Fig. 4): σ_w² and σ_b² (q* ≈ 0.026, χ = 1).
SIGMA_W2 = 1.05
SIGMA_B2 = 2.01e-5
#: τ is the first step whose mini-batch accuracy exceeds this.
TARGET = 0.25
#: The τ sweep's precision: float32, JAX's default and so the paper's, at about half the cost
#: of float64. τ of chaotic nets depends on rounding: on the quick grid at L = 50 and 100 (3
#: seeds), 75 of 84 τ were the same in both precisions; the 9 that differ are Gaussian nets at
#: η ≥ 0.0063 but one (measured 7 Dec 2026).
SWEEP_DTYPE = "float32"
#: The engine's rule is "≥ target": the next float above 0.25 makes it "> 0.25".
TARGET_ACCURACY = float(np.nextafter(TARGET, 1.0))
INITS = ("mean_field_gaussian", "mean_field_orthogonal")
#: Short names of the inits in tables and figures.
NAMES = {"mean_field_gaussian": "gaussian", "mean_field_orthogonal": "orthogonal"}
#: The paper's learning rates are η = 10^(−1−k/10).
PAPER_LR = 0.1
PAPER_SMALL_LR = 1e-3

#: Fig. 1 setting: one hidden ReLU layer, NTK parameterisation, W_std = 1.5, b_std = 0.1.
KERNEL_SIGMA_W = 1.5
KERNEL_SIGMA_B = 0.1
#: Fig. 2 setting (ours: the paper gives no numbers): erf, σ_w = 1.5, σ_b = 0.1.
CHANGE_SIGMA_W = 1.5
CHANGE_SIGMA_B = 0.1

#: The paper's τ (train set, mean over 20 seeds) at depth 50, width 400, η = 0.1, and its
#: Gaussian/orthogonal ratios at η = 1e-3 for depths 50, 100, 200 (their released data).
PAPER_TAU = {"gaussian": 225, "orthogonal": 35}
PAPER_SMALL_LR_RATIOS = {50: 1.22, 100: 1.74, 200: 2.71}

#: The NTK distance falls like width^slope with slope in this range: "≈ −½".
HALF_SLOPE = (-0.65, -0.35)
#: The NTK change falls at least like width^this at large width ("~1/n": −0.93 in the paper).
CHANGE_SLOPE = -0.6
#: A quantity "falls with width" when its log-log slope is below this.
FALLS = -0.1
#: Two slopes "agree" within this.
SLOPE_AGREEMENT = 0.2
#: Orthogonal "faster" in at least this fraction of cells.
FASTER_FRACTION = 0.8
#: The paper's depths (every size uses them; the per-depth claims have one part each).
DEPTHS = (50, 100, 200)


def lr_grid(ks: tuple[int, ...]) -> tuple[float, ...]:
    """The paper's learning rates η = 10^(−1−k/10), largest first."""
    return tuple(float(10.0 ** (-1.0 - k / 10.0)) for k in sorted(ks))


@dataclass(frozen=True)
class Grid:
    """One size of the study.

    Attributes:
        width, depths, lrs, seeds, batch_size, n: the τ sweep (c) on digits, with ``n``
            training examples (a multiple of ``batch_size``).
        epochs: τ is capped at this many epochs (the paper: 20, i.e. 1000 steps).
        kernel_widths, kernel_seeds, kernel_points, kernel_dim: (a).
        change_widths, change_seeds, change_steps, change_n, change_probe: (b).
    """

    width: int
    depths: tuple[int, ...]
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    batch_size: int
    n: int
    kernel_widths: tuple[int, ...]
    kernel_seeds: tuple[int, ...]
    change_widths: tuple[int, ...]
    change_seeds: tuple[int, ...]
    change_steps: int
    kernel_points: int = 20
    kernel_dim: int = 1024
    change_n: int = 128
    change_probe: int = 32
    epochs: int = 20
    data_seed: int = 0


#: Quick: digits (1536 training examples, batches of 256), width 64, depths 50 … 200, 7
#: learning rates, 5 seeds, τ capped at 120 steps (20 epochs, as the paper's 1000 steps of
#: batches of 1000 on CIFAR-10); kernels at widths up to 2048 (a) and 512 (b). A few minutes
#: on 2 cores.
QUICK = Grid(
    width=64,
    depths=DEPTHS,
    lrs=lr_grid((-2, 0, 4, 8, 12, 16, 20)),
    seeds=(0, 1, 2, 3, 4),
    batch_size=256,
    n=1536,
    kernel_widths=(8, 32, 128, 512, 2048),
    kernel_seeds=(0, 1, 2, 3, 4),
    change_widths=(16, 32, 64, 128, 256, 512),
    change_seeds=(0, 1, 2),
    change_steps=200,
)
#: Standard: width 128 (the paper's 400 is ~10× the cost a step: a net of depth 200 and width 256
#: takes about a second a step on 2 cores), the paper's depths, 5 learning rates (k = −2, 0, 6,
#: 12, 20: the largest, the paper's η = 0.1 and 1e-3 among them), 8 seeds, τ capped at 20 epochs;
#: kernels at widths up to 4096 (a, 10 seeds) and 2048 (b, 3 seeds). With the training
#: experiments, 20.1 minutes on 2 quiet cores (7 Dec 2026): the τ sweep 7.2, the tables 11.7.
STANDARD = Grid(
    width=128,
    depths=DEPTHS,
    lrs=lr_grid((-2, 0, 6, 12, 20)),
    seeds=tuple(range(8)),
    batch_size=256,
    n=1536,
    kernel_widths=(8, 32, 128, 512, 2048, 4096),
    kernel_seeds=tuple(range(10)),
    change_widths=(16, 32, 64, 128, 256, 512, 1024, 2048),
    change_seeds=(0, 1, 2),
    change_steps=200,
)
#: Full: the paper's grid (width 400, depths 50/100/200, η = 10^(−1−k/10) for k = −2 … 28,
#: 20 seeds, 20 epochs); with ``--data`` on CIFAR-10 (pixels / 255, not centred, 50000
#: training images, batches of 1000: at most 1000 steps), else on digits (batches of 256).
#: Kernels at widths up to 4096 (a) and 2048 (b). A job for a big machine or a cluster.
FULL = Grid(
    width=400,
    depths=DEPTHS,
    lrs=lr_grid(tuple(range(-2, 29))),
    seeds=tuple(range(20)),
    batch_size=256,
    n=1536,
    kernel_widths=(8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
    kernel_seeds=tuple(range(10)),
    change_widths=(16, 32, 64, 128, 256, 512, 1024, 2048),
    change_seeds=(0, 1, 2, 3, 4),
    change_steps=1000,
)
GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}
#: CIFAR-10 in the full size: every training image, batches of 1000 as the paper.
CIFAR_N = 50_000
CIFAR_BATCH = 1000


def _source(grid: Grid, data: Path | None) -> dict[str, Any]:
    if data is None:
        return {
            "data": "digits",
            "d_x": 64,
            "d_y": 10,
            "n": grid.n,
            "batch_size": grid.batch_size,
            "steps": grid.epochs * (grid.n // grid.batch_size),
        }
    path = Path(data).resolve()
    loaded = load_npz(path)
    if loaded.classes is None:
        raise InvalidValueError(f"{path}: key 'y': huang2021 needs integer class labels")
    n = loaded.X.shape[1]
    batch = min(CIFAR_BATCH, n)
    return {
        "data": "npz_pixels",
        "data_file": str(path),
        "data_sha256": file_digest(path),
        "d_x": loaded.X.shape[0],
        "d_y": loaded.classes,
        "n": n - n % batch,  # whole batches only
        "batch_size": batch,
        "steps": grid.epochs * (n // batch),
    }


def spec(size: str = "quick", data: Path | None = None) -> SweepSpec:
    """The τ sweep (c) at ``size``: on digits, or on the user's ``.npz`` ``data`` (e.g.
    CIFAR-10 as (n, 32, 32, 3) uint8 images; pixels / 255, as the paper)."""
    grid = GRIDS[size]
    source = _source(grid, data)
    return SweepSpec.from_dict(
        {
            "name": f"huang2021-{size}",
            "axes": {
                "depth": list(grid.depths),
                "lr": list(grid.lrs),
                "init": list(INITS),
                "seed": list(grid.seeds),
            },
            "fixed": {
                **source,
                "record_every": source["steps"],  # τ needs no curve: ℓ(0) and ℓ(stop) only
                "width": grid.width,
                "data_seed": grid.data_seed,
                "activation": "tanh",
                "dtype": SWEEP_DTYPE,
                "biases": "all",
                "sigma_w": math.sqrt(SIGMA_W2),
                "sigma_b": math.sqrt(SIGMA_B2),
                "loss": "cross_entropy",
                "optimizer": "sgd",
                "target_accuracy": TARGET_ACCURACY,
            },
        }
    )


# --- (a) and (b): tables computed besides the sweep -----------------------------------------


def kernel_distance_table(grid: Grid) -> pd.DataFrame:
    """(a): per init, width and seed, the relative distance of the empirical NTK of a
    one-hidden-layer ReLU net from the infinite-width NTK (:func:`deeplinear.metrics.ntk_distance`),
    on ``kernel_points`` inputs N(0, I) in ``kernel_dim`` dimensions (seed 10, as the paper's
    PRNGKey(10))."""
    import pandas as pd

    X = np.random.default_rng(10).standard_normal((grid.kernel_dim, grid.kernel_points))
    rows = []
    for kind in ("gaussian", "orthogonal"):
        for width in grid.kernel_widths:
            weights, biases = init.mean_field(
                [grid.kernel_dim, width, 1],
                batch=len(grid.kernel_seeds),
                seed=list(grid.kernel_seeds),
                sigma_w=KERNEL_SIGMA_W,
                sigma_b=KERNEL_SIGMA_B,
                weights=kind,
                parameterization="ntk",
            )
            distance = metrics.ntk_distance(
                weights,
                X,
                sigma_w=KERNEL_SIGMA_W,
                sigma_b=KERNEL_SIGMA_B,
                activation="relu",
                biases=biases,
                parameterization="ntk",
            )
            rows += [
                {"init": kind, "width": width, "seed": seed, "distance": float(value)}
                for seed, value in zip(grid.kernel_seeds, distance, strict=True)
            ]
    return pd.DataFrame(rows)


def _change_data(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(b)'s data: ``change_n`` digits chosen by a permutation seeded by ``data_seed``, pixels
    / 16, one-hot targets."""
    digits = datasets.digits()
    columns = np.sort(np.random.default_rng(grid.data_seed).permutation(digits.X.shape[1]))
    columns = columns[: grid.change_n]
    return digits.X[:, columns] / 16.0, datasets.one_hot(digits.y[columns], 10)


def change_lr(grid: Grid) -> float:
    """(b)'s step: 1/λ_max of the infinite-width NTK Gram over the examples divided by their
    number (the Hessian of the mean squared loss in the kernel limit), so that no width
    catapults out of the kernel regime."""
    X, _ = _change_data(grid)
    gram = kernels.ntk(
        [X.shape[0], 1, 1, 1, 10],
        X,
        activation="erf",
        sigma_w=CHANGE_SIGMA_W,
        sigma_b=CHANGE_SIGMA_B,
        parameterization="ntk",
    )
    return float(X.shape[1] / np.linalg.eigvalsh(gram)[-1])


def kernel_change_table(grid: Grid) -> pd.DataFrame:
    """(b): per init, width and seed, the relative NTK change and the per-layer relative weight
    change of a three-hidden-layer erf net after ``change_steps`` full-batch GD steps on the
    mean squared loss (η = :func:`change_lr`), and its loss ratio ℓ(T)/ℓ(0)."""
    import pandas as pd

    X, Y = _change_data(grid)
    probe = X[:, : grid.change_probe]
    lr = change_lr(grid)
    form: dict[str, Any] = {
        "activation": "erf",
        "parameterization": "ntk",
        "sigma_w": CHANGE_SIGMA_W,
    }
    rows = []
    for kind in ("gaussian", "orthogonal"):
        for width in grid.change_widths:
            weights, biases = init.mean_field(
                [X.shape[0], width, width, width, Y.shape[0]],
                batch=len(grid.change_seeds),
                seed=list(grid.change_seeds),
                sigma_w=CHANGE_SIGMA_W,
                sigma_b=CHANGE_SIGMA_B,
                weights=kind,
                parameterization="ntk",
            )
            result = train(
                weights,
                X,
                Y,
                biases=biases,
                lr=lr,
                steps=grid.change_steps,
                reduction="mean",
                record_every=grid.change_steps,
                **form,
            )
            trained = [b for b in result.biases or () if b is not None]
            change = metrics.ntk_relative_change(
                weights, result.weights, probe, biases0=biases, biases1=trained, **form
            )
            moved = metrics.relative_weight_change(weights, result.weights)
            for b, seed in enumerate(grid.change_seeds):
                rows.append(
                    {
                        "init": kind,
                        "width": width,
                        "seed": seed,
                        "lr": lr,
                        "steps": grid.change_steps,
                        "ntk_change": float(change[b]),
                        **{f"weight_change_{j + 1}": float(v) for j, v in enumerate(moved[b])},
                        "loss_ratio": float(result.loss[b, -1] / result.loss[b, 0]),
                        "diverged": bool(result.diverged[b]),
                    }
                )
    return pd.DataFrame(rows)


def measurements(size: str = "quick", data: Path | None = None) -> list[Measurement]:
    """(a) and (b) at ``size`` (they use synthetic inputs and digits whatever ``data``)."""
    grid = GRIDS[size]
    kernel_params = {
        "widths": list(grid.kernel_widths),
        "seeds": list(grid.kernel_seeds),
        "points": grid.kernel_points,
        "dim": grid.kernel_dim,
        "sigma_w": KERNEL_SIGMA_W,
        "sigma_b": KERNEL_SIGMA_B,
    }
    change_params = {
        "widths": list(grid.change_widths),
        "seeds": list(grid.change_seeds),
        "steps": grid.change_steps,
        "n": grid.change_n,
        "probe": grid.change_probe,
        "data_seed": grid.data_seed,
        "sigma_w": CHANGE_SIGMA_W,
        "sigma_b": CHANGE_SIGMA_B,
    }
    return [
        Measurement("kernel_distance", kernel_params, lambda: kernel_distance_table(grid)),
        Measurement("kernel_change", change_params, lambda: kernel_change_table(grid)),
        *training.measurements(size, data),
    ]


# --- analysis ----------------------------------------------------------------------------------


def with_tau(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``tau`` (steps to > 25 % mini-batch accuracy, ``inf`` if never within the
    cap or diverged) and ``weights`` (gaussian / orthogonal)."""
    steps = frame["steps_to_accuracy"].where(~frame["diverged"], -1)
    return frame.assign(tau=steps_or_inf(steps), weights=frame["init"].map(NAMES))


@memo
def _tau_medians(runs: pd.DataFrame) -> pd.DataFrame:
    """Median τ over seeds per (depth, lr), one column per init, and the ratio
    gaussian/orthogonal, from a frame with ``weights`` and ``tau`` (see :func:`tau_table`)."""
    table = runs.groupby(["depth", "lr", "weights"])["tau"].median().unstack()
    gaussian, orthogonal = table["gaussian"], table["orthogonal"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (gaussian / orthogonal).where(np.isfinite(orthogonal), math.nan)
    return table.assign(ratio=ratio)


def tau_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Median τ over seeds ('never' = inf) per (depth, lr), one column per init, and the
    ratio gaussian/orthogonal (inf where only orthogonal got there, NaN where neither did)."""
    out = _tau_medians(runs(frame)).copy()
    if "width" in frame:
        out.attrs["width"] = int(frame["width"].iloc[0])
    return out


def runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The seed-level frame the τ claims are decided on: one row per run with its depth, lr,
    weights (gaussian / orthogonal), seed and τ (``inf`` = never)."""
    return with_tau(frame)[["depth", "lr", "weights", "seed", "tau"]]


def _fmt(tau: float) -> str:
    return "never" if math.isinf(tau) else f"{tau:.0f}"


def _fmt_ratio(ratio: float) -> str:
    if math.isnan(ratio):
        return "–"
    return "∞ (Gaussian never)" if math.isinf(ratio) else f"{ratio:.2f}"


def _nearest(values: Any, target: float) -> float:
    """The grid value closest to ``target`` on a log scale."""
    return float(min(values, key=lambda v: abs(math.log10(v / target))))


def _faster_cells(taus: pd.DataFrame) -> list[bool]:
    """Per (depth, η) cell where at least one init's median τ is finite: whether Gaussian's
    median exceeds orthogonal's."""
    table = _tau_medians(taus)
    cells = table[np.isfinite(table["gaussian"]) | np.isfinite(table["orthogonal"])]
    return list(cells["gaussian"] > cells["orthogonal"])


def _ratios(table: pd.DataFrame, depth: int) -> list[tuple[float, float]]:
    """(lr, ratio) at ``depth``, smallest lr first, where orthogonal got there."""
    if depth not in set(table.index.get_level_values("depth")):
        return []
    part = table.loc[depth].sort_index()
    return [(float(lr), float(r)) for lr, r in part["ratio"].items() if not math.isnan(r)]


def _halves(depth: int) -> Measure:
    """At ``depth``: (the median G/O ratio over the smaller-η half of the learning rates where
    orthogonal's median τ is finite, the median over the larger-η half); NaN with fewer than
    two such learning rates."""

    def measure(taus: pd.DataFrame) -> tuple[float, float]:
        values = [r for _, r in _ratios(_tau_medians(taus), depth)]
        half = len(values) // 2
        if not half:
            return math.nan, math.nan
        return float(np.median(values[:half])), float(np.median(values[len(values) - half :]))

    return measure


def _ratio_by_depth(table: pd.DataFrame, lr: float) -> dict[int, float]:
    depths = sorted(set(table.index.get_level_values("depth")))
    return {int(d): float(table.loc[(d, lr), "ratio"]) for d in depths if (d, lr) in table.index}


def _small_lr_ratios(taus: pd.DataFrame) -> dict[int, float]:
    """Per depth: the G/O ratio of median τ at the grid's η nearest the paper's 1e-3."""
    table = _tau_medians(taus)
    lr = _nearest(table.index.get_level_values("lr"), PAPER_SMALL_LR)
    return _ratio_by_depth(table, lr)


def _usable(table: pd.DataFrame) -> dict[float, dict[int, float]]:
    """Per learning rate where orthogonal's median τ is finite at every depth and Gaussian's
    somewhere: the G/O ratio per depth."""
    series = {
        float(lr): _ratio_by_depth(table, lr)
        for lr in sorted(set(table.index.get_level_values("lr")))
    }
    return {
        lr: values
        for lr, values in series.items()
        if not any(math.isnan(v) for v in values.values())
        and not all(math.isinf(v) for v in values.values())
    }


_RISES = Monotone("the G/O ratio of median τ", "depth")


@memo
def _rises_at_every_lr(taus: pd.DataFrame) -> list[bool]:
    """Per usable learning rate (see :func:`_usable`): whether the ratio rises with depth."""
    return [_RISES.evaluate(values)[1] for values in _usable(_tau_medians(taus)).values()]


def largest_trainable(table: pd.DataFrame) -> dict[int, dict[str, float | None]]:
    """Per depth and init, the largest η whose median τ is finite (None if none)."""
    out: dict[int, dict[str, float | None]] = {}
    for depth in sorted(set(table.index.get_level_values("depth"))):
        part = table.loc[depth]
        out[int(depth)] = {
            name: (
                float(part.index[np.isfinite(part[name])].max())
                if np.isfinite(part[name]).any()
                else None
            )
            for name in ("gaussian", "orthogonal")
        }
    return out


def _largest_log_lrs(depth: int) -> Measure:
    """At ``depth``: (log10 of Gaussian's largest trainable η, orthogonal's); −inf = none."""

    def measure(taus: pd.DataFrame) -> tuple[float, float]:
        found = _largest(taus).get(depth)
        if found is None:
            return math.nan, math.nan
        g, o = (-math.inf if v is None else math.log10(v) for v in found.values())
        return g, o

    return measure


@memo
def _largest(taus: pd.DataFrame) -> dict[int, dict[str, float | None]]:
    return largest_trainable(_tau_medians(taus))


def slopes(table: pd.DataFrame, column: str, widest: int | None = None) -> dict[str, float | None]:
    """Per init, the log-log slope of the median ``column`` over seeds against width (over the
    ``widest`` widths of the grid, all if None)."""
    out: dict[str, float | None] = {}
    for kind, part in table.groupby("init"):
        medians = part.groupby("width")[column].median().sort_index()
        if widest is not None:
            medians = medians.iloc[-widest:]
        fit = loglog_fit(list(medians.index), list(medians.to_numpy()))
        out[str(kind)] = None if fit is None else fit[0]
    return out


def _slopes_text(found: dict[str, float | None]) -> str:
    return ", ".join(f"{k}: " + ("–" if v is None else f"{v:.2f}") for k, v in found.items())


def _wider_half(table: pd.DataFrame) -> int:
    """How many of the widest widths (b)'s slopes are fitted over: the wider half (≥ 2)."""
    return max(2, int(table["width"].nunique()) // 2)


def _width_medians(init: str, column: str, wider_half: bool = False) -> Measure:
    """Median ``column`` over seeds per width for ``init`` (the wider half of the widths only
    if ``wider_half``)."""

    def measure(table: pd.DataFrame) -> dict[float, float]:
        medians = table[table["init"] == init].groupby("width")[column].median().sort_index()
        if wider_half:
            medians = medians.iloc[-_wider_half(table) :]
        return {float(w): float(v) for w, v in medians.items()}

    return measure


def _change_slopes(table: pd.DataFrame) -> tuple[float, float]:
    """(Gaussian's, orthogonal's) log-log slope of the median NTK change over the wider half."""
    rule = Slope("the median NTK change", "width")
    g, o = (
        rule.evaluate(_width_medians(k, "ntk_change", wider_half=True)(table))[0]
        for k in ("gaussian", "orthogonal")
    )
    return g, o


def _ours_faster(taus: pd.DataFrame) -> str:
    table = _tau_medians(taus)
    flags = _faster_cells(taus)
    depth = min(table.index.get_level_values("depth"))
    lr = _nearest(table.index.get_level_values("lr"), PAPER_LR)
    at = table.loc[(depth, lr)]
    return (
        f"faster in {sum(flags)}/{len(flags)} (depth, η) cells; L = {depth}, η = {lr:.3g}: τ "
        f"{_fmt(at['gaussian'])} vs {_fmt(at['orthogonal'])}"
    )


def _ours_gap_lr(taus: pd.DataFrame) -> str:
    table = _tau_medians(taus)
    depths = sorted(set(table.index.get_level_values("depth")))
    return "G/O ratio of median τ from the smallest to the largest η: " + "; ".join(
        f"L={d}: {_fmt_ratio(ratios[0][1])} (η={ratios[0][0]:.2g}) … "
        f"{_fmt_ratio(ratios[-1][1])} (η={ratios[-1][0]:.2g})"
        for d in depths
        if (ratios := _ratios(table, d))
    )


def _ours_gap_depth(taus: pd.DataFrame) -> str:
    table = _tau_medians(taus)
    small = _nearest(table.index.get_level_values("lr"), PAPER_SMALL_LR)
    flags = _rises_at_every_lr(taus)
    at_small = ", ".join(f"L={d}: {_fmt_ratio(r)}" for d, r in _small_lr_ratios(taus).items())
    return (
        f"at η = {small:.3g}: {at_small}; grows with depth at {sum(flags)}/{len(flags)} "
        "learning rates"
    )


def _ours_trainable(taus: pd.DataFrame) -> str:
    def shown(v: float | None) -> str:
        return "none" if v is None else f"{v:.3g}"

    best = largest_trainable(_tau_medians(taus))
    return "largest η with a finite median τ: " + "; ".join(
        f"L={d}: {shown(b['orthogonal'])} (orthogonal) vs {shown(b['gaussian'])} (Gaussian)"
        for d, b in best.items()
    )


def _ours_distance(table: pd.DataFrame) -> str:
    widths = sorted(set(table["width"]))
    return (
        f"log-log slope of the median distance over widths {widths[0]}…{widths[-1]}: "
        f"{_slopes_text(slopes(table, 'distance'))}"
    )


def _ours_change(table: pd.DataFrame) -> str:
    half = _wider_half(table)
    widths = sorted(set(table["width"]))[-half:]
    return (
        f"log-log slope of the median change over widths {widths[0]}…{widths[-1]}: "
        f"{_slopes_text(slopes(table, 'ntk_change', widest=half))}; all widths: "
        f"{_slopes_text(slopes(table, 'ntk_change'))}"
    )


_TAU = (
    f"τ = the first SGD step whose mini-batch accuracy exceeds {TARGET:.0%} ('never' = "
    "infinite: not within the cap, or diverged); medians over seeds"
)

FASTER = Check(
    claim="Orthogonal init reaches 25 % accuracy in fewer steps than Gaussian",
    paper=f"faster in every cell with data for both (Fig. 4); L = 50, n = 400, η = 0.1: τ "
    f"{PAPER_TAU['gaussian']} (Gaussian) vs {PAPER_TAU['orthogonal']} (orthogonal)",
    parts=(
        Part(
            Fraction(
                "the (depth, η) cells where at least one init's median τ is finite",
                "Gaussian's median τ exceeds orthogonal's",
                at_least=FASTER_FRACTION,
            ),
            _faster_cells,
        ),
    ),
    conditions=_TAU,
    ours=_ours_faster,
)
GAP_WITH_LR = Check(
    claim="The gap widens with the learning rate",
    paper="G/O ≈ 1.2–1.4 at small η, 2–6.4 at large η (L = 50, n = 400; Fig. 4)",
    parts=tuple(
        Part(
            Order(
                "that over their smaller-η half",
                f"at L = {d}, the median G/O ratio of median τ over the larger-η half of the "
                "learning rates where orthogonal's median τ is finite",
            ),
            _halves(d),
            f"L={d}",
        )
        for d in DEPTHS
    ),
    conditions=f"{_TAU}; 'Gaussian never' = an infinite ratio",
    ours=_ours_gap_lr,
    decide_with="more seeds or a finer η grid",
)
GAP_WITH_DEPTH = Check(
    claim="The gap widens with depth",
    paper="G/O ratio at η = 1e-3: "
    + ", ".join(f"L={d}: {r}" for d, r in PAPER_SMALL_LR_RATIOS.items())
    + " (their released Fig. 4 data)",
    parts=(
        Part(
            Monotone(
                f"the G/O ratio of median τ at the grid's η nearest {PAPER_SMALL_LR:g}", "depth"
            ),
            _small_lr_ratios,
            f"at η ≈ {PAPER_SMALL_LR:g}",
        ),
        Part(
            Fraction(
                "the learning rates where orthogonal's median τ is finite at every depth (and "
                "Gaussian's somewhere)",
                _RISES.text(),
            ),
            _rises_at_every_lr,
            "at every η",
        ),
    ),
    conditions=f"{_TAU}; 'Gaussian never' = an infinite ratio",
    ours=_ours_gap_depth,
    decide_with="more seeds or a wider net",
)
TRAINABLE = Check(
    claim="Orthogonal stays trainable at learning rates where Gaussian does not",
    paper="orthogonal has τ at larger η, where Gaussian has no data (e.g. η = 0.158 at L = 50; "
    "η ≥ 0.0158 at L = 200; Fig. 4)",
    parts=tuple(
        Part(
            Order(
                "Gaussian's",
                f"at L = {d}, log10 of orthogonal's largest trainable η (none = −∞)",
            ),
            _largest_log_lrs(d),
            f"L={d}",
        )
        for d in DEPTHS
    ),
    conditions=f"'trainable' = the median τ over seeds is finite (more than half of the seeds "
    f"reach {TARGET:.0%} within the cap); {_TAU}",
    ours=_ours_trainable,
    decide_with="more seeds or a finer η grid",
)
KERNEL_CONVERGES = Check(
    claim="Gaussian and orthogonal NTKs converge to the same infinite-width NTK, ~n^(−1/2)",
    paper="both converge to the analytic kernel at rate ~n^(−1/2) (their Fig. 1; one hidden ReLU "
    "layer)",
    parts=tuple(
        Part(
            Slope(
                f"the {k} median relative distance to the infinite-width NTK", "width", *HALF_SLOPE
            ),
            _width_medians(k, "distance"),
            k,
        )
        for k in ("gaussian", "orthogonal")
    ),
    source="kernel_distance",
    conditions="medians over seeds at each width",
    ours=_ours_distance,
    decide_with="more seeds or wider nets",
)
KERNEL_CHANGE = Check(
    claim="The relative NTK change after training falls ~1/n, alike for both inits",
    paper="slopes −0.77 / −0.93 (Gaussian, all widths / n ≥ 256) and −0.83 / −0.96 (orthogonal); "
    "3-hidden-layer erf nets (their Fig. 2)",
    parts=(
        *(
            Part(
                Slope(f"the {k} median relative NTK change", "width", high=CHANGE_SLOPE),
                _width_medians(k, "ntk_change", wider_half=True),
                k,
            )
            for k in ("gaussian", "orthogonal")
        ),
        Part(
            Alike("the slope", "Gaussian", "orthogonal", tolerance=SLOPE_AGREEMENT),
            _change_slopes,
            "alike",
        ),
    ),
    source="kernel_change",
    conditions="at large width (the paper's −0.93 is at n ≥ 256): over the wider half of the "
    "grid's widths, medians over seeds at each width",
    ours=_ours_change,
    decide_with="more seeds or wider nets",
)
#: The study's claims, in the report's order.
CHECKS = (FASTER, GAP_WITH_LR, GAP_WITH_DEPTH, TRAINABLE, KERNEL_CONVERGES, KERNEL_CHANGE)


def claims(frame: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> list[Claim]:
    """The study's claims: the τ experiment from the sweep, the kernels from the tables."""
    return decide_all(CHECKS, {"runs": runs(frame), **tables}) + training.claims(tables)


def _tau_section(table: pd.DataFrame) -> str:
    rows = [
        [
            int(depth),
            f"{lr:.3g}",
            _fmt(row["gaussian"]),
            _fmt(row["orthogonal"]),
            _fmt_ratio(row["ratio"]),
        ]
        for (depth, lr), row in table.sort_index(ascending=[True, False]).iterrows()
    ]
    return markdown_table(["depth L", "η", "τ Gaussian", "τ orthogonal", "G/O"], rows)


def analyse(frame: pd.DataFrame, figures: Path, tables: dict[str, pd.DataFrame]) -> Analysis:
    """τ heat maps with the ratio (headline), τ against η per depth, the kernel distance and
    change against width with fitted slopes, the τ table and the claims."""
    cap = int(frame["steps"].max())
    width = int(frame["width"].iloc[0])
    batch = int(frame["batch_size"].iloc[0])
    data = with_tau(frame)
    table = tau_table(frame)
    fig = plots.step_count_maps(
        data,
        x="lr",
        y="depth",
        facet="weights",
        column="tau",
        ratio=("gaussian", "orthogonal"),
        cap=cap,
        label=f"median τ (steps to > {TARGET:.0%} batch accuracy)",
        xlabel="learning rate η",
        ylabel="depth L",
        title=f"Huang et al. 2021: τ over η × depth (tanh, σ_w² = {SIGMA_W2:g}, "
        f"σ_b² = {SIGMA_B2:g}, width {width}, batch {batch}, cap {cap})",
    )
    paths = [plots.save(fig, figures / "tau_heatmaps.png")]
    fig = plots.steps_to_tol(
        data,
        x="lr",
        hue="weights",
        facet="depth",
        column="tau",
        cap=cap,
        xlabel="learning rate η",
        ylabel=f"τ: steps to > {TARGET:.0%} mini-batch accuracy",
        title="τ against the learning rate (median over seeds)",
    )
    paths.append(plots.save(fig, figures / "tau_vs_lr.png"))
    distances = tables["kernel_distance"].assign(weights=lambda t: t["init"])
    fits = {
        (None, k): f
        for k, part in distances.groupby("init")
        if (f := loglog_fit(*_medians(part, "distance"))) is not None
    }
    fig = plots.steps_to_tol(
        distances,
        x="width",
        hue="init",
        column="distance",
        fits=fits,
        ylabel="‖Θ − Θ_∞‖_F / ‖Θ_∞‖_F",
        title="(a) empirical NTK against the infinite-width NTK (1 hidden ReLU layer)",
    )
    paths.append(plots.save(fig, figures / "kernel_distance.png"))
    changes = tables["kernel_change"]
    half = _wider_half(changes)
    fits = {}
    for k, part in changes.groupby("init"):
        widths, values = _medians(part, "ntk_change")
        found = loglog_fit(widths[-half:], values[-half:])
        if found is not None:
            fits[(None, k)] = found
    fig = plots.steps_to_tol(
        changes,
        x="width",
        hue="init",
        column="ntk_change",
        fits=fits,
        fit_from=sorted(set(changes["width"]))[-half],
        ylabel="‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F",
        title=f"(b) NTK change after {int(changes['steps'].iloc[0])} GD steps (3 erf layers)",
    )
    paths.append(plots.save(fig, figures / "kernel_change.png"))
    sections = [
        ("Definitions", _definitions(frame, tables)),
        ("Median τ per depth and learning rate", _tau_section(table)),
        ("(a) NTK distance at initialisation", _width_table(distances, "distance")),
        ("(b) Relative NTK change after training", _width_table(changes, "ntk_change")),
    ]
    findings = {
        "tau": table,
        "largest_trainable": largest_trainable(table),
        "distance_slopes": slopes(distances, "distance"),
        "change_slopes": slopes(changes, "ntk_change", widest=half),
    }
    paths += training.figures(tables, figures)
    sections += training.sections(tables)
    return Analysis(paths, sections, claims(frame, tables), findings, training.observations(tables))


def _medians(part: pd.DataFrame, column: str) -> tuple[list[float], list[float]]:
    medians = part.groupby("width")[column].median().sort_index()
    return [float(w) for w in medians.index], [float(v) for v in medians.to_numpy()]


def _width_table(table: pd.DataFrame, column: str) -> str:
    medians = table.groupby(["width", "init"])[column].median().unstack()
    rows = [[int(w), *(float(medians.loc[w, k]) for k in medians.columns)] for w in medians.index]
    return markdown_table(["width", *(f"median {k}" for k in medians.columns)], rows)


def _definitions(frame: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> str:
    cap = int(frame["steps"].max())
    seeds = frame["seed"].nunique()
    lr_b = float(tables["kernel_change"]["lr"].iloc[0])
    return (
        f"**τ**: the first SGD step whose mini-batch accuracy exceeds {TARGET:.0%} (the "
        f"engine's target_accuracy = {TARGET_ACCURACY!r}, the next float above 0.25, turns its "
        f"'≥' into the paper's '>'); 'never' if not within {cap} steps or if the run diverged. "
        f"Medians over {seeds} seeds count 'never' as infinite. G/O: Gaussian's median τ over "
        "orthogonal's ('∞': only orthogonal got there). Networks: tanh, standard "
        f"parameterisation, biases, σ_w² = {SIGMA_W2:g}, σ_b² = {SIGMA_B2:g}; Gaussian weights "
        "N(0, σ_w²/fan_in) or σ_w·√(max(fan_in, fan_out)/fan_in)·(Haar orthogonal); one "
        "shuffle seed per weight seed (shared by both inits); float32, as the paper's JAX "
        "runs.\n\n"
        f"**(a)**: one hidden ReLU layer of width n, NTK parameterisation (σ_w = "
        f"{KERNEL_SIGMA_W:g}, σ_b = {KERNEL_SIGMA_B:g}), 20 inputs N(0, I_1024); relative "
        "Frobenius distance of the empirical NTK from dl.kernels.ntk. **(b)**: three hidden erf "
        f"layers of width n, NTK parameterisation (σ_w = {CHANGE_SIGMA_W:g}, σ_b = "
        f"{CHANGE_SIGMA_B:g}), full-batch GD on the mean squared loss of 128 digits with "
        f"one-hot targets, η = {lr_b:.4g} (1/λ_max of the infinite-width Hessian), "
        "NTK on 32 of them before and after training. The paper does not give (b)'s data, "
        "step or length; these are ours."
    )


STUDY = register(
    Study(
        name="huang2021",
        title="Huang, Du & Xu 2021: the NTK of deep networks with orthogonal initialisation",
        spec=spec,
        analyse=analyse,
        measurements=measurements,
        description=(
            "(a) The empirical NTK of Gaussian and of orthogonal one-hidden-layer ReLU nets "
            "against the infinite-width NTK over widths; (b) the relative NTK change after "
            "full-batch training over widths; (c) the headline: deep tanh nets in the 'linear "
            "regime' (σ_w² = 1.05, σ_b² = 2.01e-5) trained by SGD with cross-entropy, steps τ "
            "to 25 % mini-batch accuracy over learning rates × depths. Expected: both kernels "
            "converge like n^(−1/2) and change like 1/n; orthogonal reaches 25 % sooner, the "
            "gap widens with η and depth, and orthogonal trains at η where Gaussian does not. "
            "The training experiments: (Fig. 3) full-batch GD on the squared loss and (SGD "
            "supplement) SGD with cross-entropy in the NTK regime, where both inits' loss and "
            "accuracy curves coincide; (Fig. 2 a, b) per-layer weight changes against width, "
            "≈ n^(−1/2) for the outer layers and n^(−1) for the middle ones; (Fig. 4 a, b) the "
            "test-set τ and a line of widths at L = 50, orthogonal faster at every width."
        ),
        data_help="a classification .npz (e.g. CIFAR-10 images, pixels / 255) for (c) and the "
        "training experiments (which test on its X_test, y_test if it has them)",
        sizes={
            "quick": "~4.5 min (4.5 min measured on 2 quiet cores, 431 s of CPU time): "
            "width 64, 7 η, 5 seeds, float32; kernels to 2048 (a) and 512 (b); the training "
            "experiments (parity, SGD/RMSProp, width line). "
            "Decides (a); the τ claims and (b) need more seeds and width.",
            "standard": "~20 min (20.1 min measured on 2 quiet cores, 2029 s of CPU time): "
            "width 128, 5 η, 8 seeds; kernels to 4096 (a) and 2048 "
            "(b); training experiments at width 128, 10 seeds. Decides the τ claims, SGD parity "
            "and the weight changes.",
            "full": "width 400, 31 η, 20 seeds (CIFAR-10 with --data): a cluster job.",
        },
    )
)
