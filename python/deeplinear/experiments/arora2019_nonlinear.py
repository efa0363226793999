"""Arora, Cohen, Golowich & Hu 2019, Fig. 2 (d): balanced initialisation of a nonlinear net.

The TensorFlow MNIST tutorial network, input → 128 → 32 → 10 with ReLU, softmax cross-entropy,
plain SGD with batches of 100 and η = 0.01, biases starting at zero; the training loss after 10
epochs against the init std, for two inits:

* layer-wise Gaussian: every weight N(0, std²);
* balanced: Procedure 1 ignoring the nonlinearity (:func:`deeplinear.init.balanced`): the
  end-to-end matrix A (10 × d_in) is N(0, std²), factored through its SVD into 0-balanced layers
  with random (Haar) orthogonal factors between them.

The paper: balanced init gives "improved (faster and more stable) convergence" over the std
range. The paper's 10 epochs of MNIST are 6000 steps; on scikit-learn digits (pixels / 16,
1700 examples, 17 batches an epoch) we keep a number of steps (600 quick, 6000 standard), not of
epochs. Full: MNIST through ``--data nonlinear=PATH`` (pixels / 255, 60000 examples, 6000 steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import data as datasets
from .. import init, plots
from ..data import load_npz
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..train import train
from .base import Measurement
from .huang2021_training import data_source
from .rules import Check, Fraction, Order, Part, decide_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "FULL",
    "QUICK",
    "STANDARD",
    "Grid",
    "claims",
    "figures",
    "loss_table",
    "measurements",
    "sections",
]

INITS = ("gaussian", "balanced")
#: The tutorial network's hidden widths, batch size and step.
HIDDEN = (128, 32)
BATCH = 100
LR = 0.01
#: "Faster": balanced's median loss is below Gaussian's at at least this fraction of the stds.
FASTER_FRACTION = 0.75


@dataclass(frozen=True)
class Grid:
    """One size: the init stds, the seeds, the number of training examples (a multiple of
    the batch size; fewer if the data hold fewer) and of SGD steps (the paper's 10 epochs of
    MNIST are 6000 steps; on the small digits set we keep the number of steps, not of
    epochs)."""

    stds: tuple[float, ...]
    seeds: tuple[int, ...]
    n: int
    steps: int


def _log_range(low: float, high: float, per_decade: int) -> tuple[float, ...]:
    count = round((high - low) * per_decade) + 1
    return tuple(float(10.0**e) for e in np.linspace(low, high, count))


#: Quick: digits, 7 stds 10^−2 … 10, 4 seeds, 500 steps (29 epochs of 1700 digits); 38 s on 2
#: cores shared with four other jobs (load 6–9).
QUICK = Grid(stds=_log_range(-2.0, 1.0, 2), seeds=(0, 1, 2, 3), n=1700, steps=500)
#: Standard: digits, 13 stds 10^−2 … 10, 8 seeds, the paper's 6000 steps.
STANDARD = Grid(stds=_log_range(-2.0, 1.0, 4), seeds=tuple(range(8)), n=1700, steps=6000)
#: Full: MNIST with ``--data nonlinear=PATH`` (60000 images: 10 epochs are 6000 steps), 13 stds,
#: 10 seeds.
FULL = Grid(stds=_log_range(-2.0, 1.0, 4), seeds=tuple(range(10)), n=60_000, steps=6000)
GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


def _data(grid: Grid, data: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(X, labels, name): the first n examples (whole batches), pixels scaled to [0, 1]."""
    if data is None:
        digits = datasets.digits()
        X, y, name = digits.X / 16.0, digits.y, "digits"
    else:
        loaded = load_npz(data)
        if loaded.classes is None:
            raise InvalidValueError(f"{data}: key 'y': Arora's Fig. 2 (d) needs class labels")
        X, y, name = loaded.X / 255.0, loaded.y, str(data)
    n = min(grid.n, X.shape[1])
    n -= n % BATCH
    if n < BATCH:
        raise InvalidValueError(f"data: {name} has fewer than {BATCH} examples")
    return X[:, :n], y[:n], name


def _weights(kind: str, dims: list[int], std: float, seeds: tuple[int, ...]) -> list[np.ndarray]:
    if kind == "gaussian":
        return init.gaussian(dims, batch=len(seeds), seed=list(seeds), std=std, dtype=np.float32)
    return init.balanced(
        dims, batch=len(seeds), seed=list(seeds), std=std, randomize=True, dtype=np.float32
    )


def loss_table(grid: Grid, data: Path | None = None) -> pd.DataFrame:
    """Per init, std and seed: the training loss (mean cross-entropy on the whole training set)
    every tenth of the run, and at its end (``final_loss``; inf where the run diverged)."""
    import pandas as pd

    X, y, name = _data(grid, data)
    classes = int(y.max()) + 1
    dims = [X.shape[0], *HIDDEN, classes]
    every = max(grid.steps // 10, 1)
    rows = []
    for kind in INITS:
        for std in grid.stds:
            weights = _weights(kind, dims, std, grid.seeds)
            biases = [np.zeros((len(grid.seeds), d), dtype=np.float32) for d in dims[1:]]
            result = train(
                weights,
                X.astype(np.float32),
                y,
                biases=biases,
                lr=LR,
                steps=grid.steps,
                record_every=every,
                activation="relu",
                loss="cross_entropy",
                optimizer="sgd",
                batch_size=BATCH,
                data_seed=list(grid.seeds),
            )
            for b, seed in enumerate(grid.seeds):
                diverged = bool(result.diverged[b])
                final = float(result.loss[b, -1])
                rows.append(
                    {
                        "init": kind,
                        "std": std,
                        "seed": seed,
                        "n": X.shape[1],
                        "data": name,
                        "steps": grid.steps,
                        "epochs": grid.steps * BATCH / X.shape[1],
                        "record_every": every,
                        "loss_curve": result.loss[b].tolist(),
                        "final_loss": math.inf if diverged or not math.isfinite(final) else final,
                        "diverged": diverged,
                    }
                )
    return pd.DataFrame(rows)


def measurements(size: str = "quick", data: Path | None = None) -> list[Measurement]:
    """The loss table at ``size`` (on ``data`` when given, else digits)."""
    grid = GRIDS[size]
    params = {
        "stds": list(grid.stds),
        "seeds": list(grid.seeds),
        "n": grid.n,
        "hidden": list(HIDDEN),
        "batch": BATCH,
        "lr": LR,
        "steps": grid.steps,
        **data_source(data),
    }
    return [Measurement("nonlinear", params, lambda: loss_table(grid, data))]


# --- checks -----------------------------------------------------------------------------------


def _medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Median final loss over seeds, stds × inits (inf = diverged)."""
    return frame.groupby(["std", "init"])["final_loss"].median().unstack("init")


def _balanced_lower(frame: pd.DataFrame) -> list[bool]:
    medians = _medians(frame)
    return [bool(b < g) for b, g in zip(medians["balanced"], medians["gaussian"], strict=True)]


#: A std "trains" when its median final loss is below this fraction of the chance loss ln(10)
#: (the loss of uniform predictions over the classes).
TRAINS = 0.5


def _trained_stds(frame: pd.DataFrame) -> tuple[float, float]:
    """(Gaussian's, balanced's) number of stds whose median final loss is below
    :data:`TRAINS` × ln(classes)."""
    medians = _medians(frame)
    chance = math.log(10)
    return (
        float((medians["gaussian"] < TRAINS * chance).sum()),
        float((medians["balanced"] < TRAINS * chance).sum()),
    )


def _ours(frame: pd.DataFrame) -> str:
    medians = _medians(frame)
    lower = sum(_balanced_lower(frame))
    best = {k: (float(medians[k].min()), float(medians[k].idxmin())) for k in INITS}
    trained = _trained_stds(frame)
    return (
        f"balanced lower at {lower}/{len(medians)} stds; best median loss Gaussian "
        f"{best['gaussian'][0]:.3g} (std {best['gaussian'][1]:.3g}), balanced "
        f"{best['balanced'][0]:.3g} (std {best['balanced'][1]:.3g}); stds that train "
        f"(loss < {TRAINS:g}·ln 10): Gaussian {trained[0]:.0f}, balanced {trained[1]:.0f} of "
        f"{len(medians)}"
    )


_SETTING = (
    "ReLU net input → 128 → 32 → 10, cross-entropy, SGD (batch 100, η = 0.01), the training "
    "loss on the whole training set at the end (the paper: after 10 epochs of MNIST, 6000 "
    "steps), median over seeds per std (a diverged run "
    "counts as an infinite loss)"
)

CHECKS = (
    Check(
        claim="Nonlinear net: balanced init converges faster than layer-wise Gaussian over the "
        "std range",
        paper="Fig. 2 (d): balanced init gives 'improved (faster and more stable) convergence' "
        "(MNIST, no numbers given)",
        parts=(
            Part(
                Fraction(
                    "the stds of the grid",
                    "balanced's median final loss is below Gaussian's",
                    FASTER_FRACTION,
                ),
                _balanced_lower,
            ),
        ),
        source="nonlinear",
        conditions=_SETTING,
        ours=_ours,
    ),
    Check(
        claim="Nonlinear net: balanced init is more stable over the std range (it trains at "
        "more stds)",
        paper="Fig. 2 (d): 'more stable' convergence over the stds",
        parts=(
            Part(
                Order(
                    f"the number of stds where Gaussian's median final loss is below "
                    f"{TRAINS:g}·ln 10 (chance)",
                    "that number for balanced",
                ),
                _trained_stds,
            ),
        ),
        source="nonlinear",
        conditions=_SETTING,
        ours=_ours,
    ),
)


def claims(tables: dict[str, pd.DataFrame]) -> list[Claim]:
    """The claims of Fig. 2 (d), decided on the ``nonlinear`` table."""
    return decide_all(CHECKS, tables)


def figures(tables: dict[str, pd.DataFrame], directory: Path) -> list[Path]:
    """Fig. 2 (d): the training loss at the end against the init std."""
    frame = tables["nonlinear"]
    fig = plots.median_band(
        frame,
        x="std",
        y="final_loss",
        hue="init",
        xlabel="init std",
        ylabel=f"training loss after {int(frame['steps'].iloc[0])} steps",
        title="Arora et al. Fig. 2 (d): ReLU input → 128 → 32 → 10,\n"
        f"SGD (batch 100, η = 0.01) on {frame['data'].iloc[0]}; "
        f"median and range over {frame['seed'].nunique()} seeds",
    )
    return [plots.save(fig, directory / "nonlinear_loss.png")]


def sections(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """The set-up and the median loss per std and init."""
    frame = tables["nonlinear"]
    medians = _medians(frame)
    rows: list[list[Any]] = [
        [f"{std:.3g}", *(float(medians.loc[std, k]) for k in INITS)] for std in medians.index
    ]
    setup = (
        f"{_SETTING}. Data: {frame['data'].iloc[0]}, {int(frame['n'].iloc[0])} training "
        f"examples (digits: pixels / 16; MNIST through --data nonlinear=PATH: pixels / 255); "
        "biases start at 0. Gaussian: every weight N(0, std²); balanced: Procedure 1 with the "
        "end-to-end matrix N(0, std²), ignoring the ReLUs, with random orthogonal factors."
    )
    return [
        (
            "Fig. 2 (d): the nonlinear net",
            setup
            + "\n\n"
            + markdown_table(["std", "median loss Gaussian", "median loss balanced"], rows),
        )
    ]
