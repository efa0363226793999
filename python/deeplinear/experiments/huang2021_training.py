"""Huang, Du & Xu 2021: the training experiments behind "orthogonal and Gaussian networks train
alike in the NTK regime" (see docs/science.md, "Huang et al. 2021").

Four tables, computed besides the ``huang2021`` sweep (each a :class:`Measurement`):

* **parity** (their Fig. 3): tanh nets, standard parameterisation, biases, plain full-batch
  GD on the squared loss ``mean over examples of Σ_classes (y − f)²`` with one-hot targets, the
  first ``n`` training images (pixels scaled to [0, 1], not centred) and the first ``n_test``
  test images; the train loss, train accuracy and test accuracy of every seed along training.
  Panel (a, b): L = 3 hidden layers of n = 400, σ_w² = 1.5, σ_b² = 0.01, η = 1e-3; panel
  (c, d): L = 7 of n = 800, σ_w² = 1.5, σ_b² = 0.1, η = 1e-4; 10⁴ steps, 30 seeds.
* **sgd** (their supplementary figure): (a, b) L = 5 tanh layers of n = 800, σ_w² = 2.0,
  σ_b² = 0.1, plain SGD, η = 1e-3, batches of 1000, cross-entropy, curves as above; (c, d) L = 9
  ReLU layers of n = 1600, RMSProp η = 1e-5 on the squared loss (MNIST in the paper), only where
  the engine has RMSProp (issue 17).
* **width_line** (their Fig. 4 a, b): L = 50 tanh nets in the "linear regime"
  (σ_w² = 1.05, σ_b² = 2.01e-5) at three widths, plain SGD with cross-entropy; per seed the
  train τ (the first step whose mini-batch accuracy exceeds 25 %) and the test τ (the first
  step after which the whole test set's accuracy exceeds 25 %, evaluated after every step).
* The weight changes of their Fig. 2 (a, b) come from the ``kernel_change`` table of
  :mod:`deeplinear.experiments.huang2021` (it records ‖W_l(T) − W_l(0)‖_F/‖W_l(0)‖_F per
  layer); :data:`WEIGHT_CHECKS` fit their slopes against width.

**Our loss.** The engine's squared loss is ½‖f − y‖² per example; with ``reduction="mean"`` it
is half the paper's, and its gradient half the paper's. We train with η_engine = 2η and report
the paper's loss (twice the engine's), so the trajectory is the paper's.

**Quick sizes** (digits, 8×8 pixels / 16): a standard-parameterisation NTK grows like the width,
so a narrower net at the paper's η moves more slowly; the quick panels keep η·n at the paper's
value (η = η_paper · n_paper/n) and run fewer steps, so they show the start of the paper's
curves. Every size states its widths, steps and η in the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import data as datasets
from .. import init, plots
from ..data import load_npz
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..sweep.registry import file_digest
from ..train import train
from ..vocabulary import OPTIMIZERS
from .analysis import loglog_fit
from .base import Measurement
from .rules import Alike, Bound, Check, Fraction, Order, Part, Slope, decide_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "FULL",
    "LINE_SIGMA_B2",
    "LINE_SIGMA_W2",
    "PANEL_AB",
    "PANEL_CD",
    "PAPER_PARITY",
    "PARITY_CHECKS",
    "QUICK",
    "RMSPROP_CD",
    "RMSPROP_CHECK",
    "SGD_AB",
    "SGD_CHECK",
    "STANDARD",
    "TARGET",
    "WEIGHT_CHECKS",
    "WIDTH_LINE_CHECKS",
    "Curves",
    "Grid",
    "Line",
    "claims",
    "data_source",
    "figures",
    "has_rmsprop",
    "measurements",
    "measurements_for",
    "observations",
    "parity_table",
    "sections",
    "sgd_table",
    "sources",
    "summarised",
    "supplement",
    "tau_from_accuracy",
    "width_line_table",
]

INITS = ("gaussian", "orthogonal")
#: τ counts the steps until an accuracy exceeds this (strictly).
TARGET = 0.25
#: The "linear regime" of tanh (their Fig. 4).
LINE_SIGMA_W2 = 1.05
LINE_SIGMA_B2 = 2.01e-5
#: The paper's depth of the width line and its τ at L = 50, n = 400, η = 0.1 (20 seeds).
LINE_DEPTH = 50
PAPER_TEST_TAU = {"gaussian": 193, "orthogonal": 35}
PAPER_TRAIN_TAU = {"gaussian": 225, "orthogonal": 35}
#: Their largest η with a τ (train set, L = 50) per width, Gaussian / orthogonal (released data).
PAPER_LARGEST_LR = {400: (0.1, 0.158), 800: (0.0398, 0.1), 1600: (0.0251, 0.0398)}
#: The paper's means at t = 10⁴ (30 seeds), per panel: (Gaussian, orthogonal).
PAPER_PARITY = {
    "a, b": {
        "train loss": (0.038, 0.035),
        "train accuracy": (1.0, 1.0),
        "test accuracy": (0.204, 0.205),
    },
    "c, d": {
        "train loss": (0.256, 0.246),
        "train accuracy": (0.988, 0.993),
        "test accuracy": (0.209, 0.211),
    },
}
#: Their Fig. 2 slopes of the per-layer weight change against width.
PAPER_WEIGHT_SLOPES = {"first": -0.50, "middle": -1.0, "readout": -0.54}

#: Tolerances of "alike": the loss curves within 10 % of each other, accuracies within 3 points.
LOSS_TOLERANCE = 0.10
ACCURACY_TOLERANCE = 0.03
#: The slope ranges of "≈ −½" (outer layers) and "≈ −1" (middle layers), and "alike" for slopes.
OUTER_SLOPE = (-0.75, -0.3)
MIDDLE_SLOPE = (-1.3, -0.75)
SLOPE_AGREEMENT = 0.2
#: Orthogonal's τ below Gaussian's in at least this fraction of the width line's cells.
FASTER_FRACTION = 0.8
#: Steps per call of the width line's chunked training (it stops once every net has both τ).
CHUNK = 10


@dataclass(frozen=True)
class Curves:
    """One training set-up whose curves are recorded (a parity panel or the SGD run).

    Attributes:
        panel: the paper's panel label ("a, b").
        depth, width: hidden layers and their width.
        sigma_w2, sigma_b2: the init's σ_w² and σ_b² (standard parameterisation).
        lr: the η we use (the paper's loss convention).
        steps, record_every: training length and the recording interval.
        loss: "mse" (the paper's Σ over classes, mean over examples) or "cross_entropy".
        batch_size: None (full batch) or the mini-batch size.
        paper_width, paper_lr, paper_steps: the paper's.
        activation: of the hidden layers.
        optimizer: "gd" without mini-batches, "sgd" with them (the default ""), or "rmsprop"
            (with TensorFlow's decay 0.9 and ε = 1e-10, the paper's optimiser; the engine keeps
            PyTorch's convention otherwise: the mean square starts at 0, TensorFlow's at 1).
    """

    panel: str
    depth: int
    width: int
    sigma_w2: float
    sigma_b2: float
    lr: float
    steps: int
    record_every: int
    paper_width: int
    paper_lr: float
    paper_steps: int
    loss: str = "mse"
    batch_size: int | None = None
    activation: str = "tanh"
    optimizer: str = ""

    @property
    def optimizer_name(self) -> str:
        """The engine's optimiser for this set-up."""
        return self.optimizer or ("gd" if self.batch_size is None else "sgd")

    def scaled(
        self, width: int, steps: int, record_every: int, batch_size: int | None = None
    ) -> Curves:
        """This set-up at ``width`` with η·n kept at the paper's value."""
        return replace(
            self,
            width=width,
            lr=self.paper_lr * self.paper_width / width,
            steps=steps,
            record_every=record_every,
            batch_size=batch_size if batch_size is not None else self.batch_size,
        )


PANEL_AB = Curves("a, b", 3, 400, 1.5, 0.01, 1e-3, 10_000, 100, 400, 1e-3, 10_000)
PANEL_CD = Curves("c, d", 7, 800, 1.5, 0.1, 1e-4, 10_000, 100, 800, 1e-4, 10_000)
SGD_AB = Curves(
    "SGD a, b", 5, 800, 2.0, 0.1, 1e-3, 100_000, 1000, 800, 1e-3, 100_000, "cross_entropy", 1000
)
#: The supplement's panels (c, d): ReLU, L = 9, n = 1600, RMSProp η = 1e-5, MSE, batches of
#: 1000, 1.2·10⁴ steps on MNIST. Run only where the engine has RMSProp (issue 17).
RMSPROP_CD = Curves(
    "RMSProp c, d",
    9,
    1600,
    2.0,
    0.1,
    1e-5,
    12_000,
    200,
    1600,
    1e-5,
    12_000,
    "mse",
    1000,
    activation="relu",
    optimizer="rmsprop",
)
#: TensorFlow 1's RMSProp defaults, which the paper's code used.
RMSPROP_OPTIONS = {"decay": 0.9, "eps": 1e-10}


def has_rmsprop() -> bool:
    """Whether this build's engine has the RMSProp optimiser (issue 17)."""
    return "rmsprop" in OPTIMIZERS


@dataclass(frozen=True)
class Line:
    """The width line: L = ``depth`` tanh nets in the linear regime at ``widths``, SGD with
    batches of ``batch_size`` over ``n`` training examples, ``lrs``, τ capped at ``cap`` steps."""

    widths: tuple[int, ...]
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    batch_size: int
    n: int
    cap: int
    depth: int = LINE_DEPTH


@dataclass(frozen=True)
class Grid:
    """One size: the parity panels, the supplement's SGD and RMSProp runs (the latter where
    the engine has RMSProp), their seeds and data sizes, and the width line."""

    parity: tuple[Curves, ...]
    sgd: Curves
    seeds: tuple[int, ...]
    line: Line
    rmsprop: Curves = RMSPROP_CD
    n: int = 256
    n_test: int = 256
    sgd_n: int = 1536
    data_seed: int = 0


#: Quick (digits): parity at width 64 (L = 3) and 32 (L = 7), 1500 steps, 5 seeds; SGD at width
#: 64, batches of 256, 360 steps (60 epochs); the width line at widths 16, 32, 64 over three η, 3
#: seeds, τ capped at 120 steps (20 epochs). The three tables took 45 + 24 + 195 s on 2 cores
#: shared with four other jobs (load 6–9); about a minute on a quiet machine, by the slowdown
#: the preset's sweep showed beside them.
QUICK = Grid(
    parity=(PANEL_AB.scaled(64, 1500, 25), PANEL_CD.scaled(32, 1500, 25)),
    sgd=SGD_AB.scaled(64, 360, 12, batch_size=256),
    rmsprop=RMSPROP_CD.scaled(64, 360, 12, batch_size=256),
    seeds=(0, 1, 2, 3, 4),
    line=Line(
        widths=(16, 32, 64),
        lrs=(0.1, 0.0398, 0.0158),
        seeds=(0, 1, 2),
        batch_size=256,
        n=1536,
        cap=120,
    ),
)
#: Standard (digits; part of the study's 20.1 minutes on 2 quiet cores, 7 Dec 2026): parity at
#: width 128 (L = 3) and 64 (L = 7), 3000 steps, 10 seeds; SGD at width 128, 1200 steps; the
#: width line at widths 16, 32, 64 over five η, 5 seeds.
STANDARD = Grid(
    parity=(PANEL_AB.scaled(128, 3000, 50), PANEL_CD.scaled(64, 3000, 50)),
    sgd=SGD_AB.scaled(128, 1200, 24, batch_size=256),
    rmsprop=RMSPROP_CD.scaled(128, 1200, 24, batch_size=256),
    seeds=tuple(range(10)),
    line=Line(
        widths=(16, 32, 64),
        lrs=(0.158, 0.1, 0.0398, 0.0158, 0.00398),
        seeds=tuple(range(5)),
        batch_size=256,
        n=1536,
        cap=120,
    ),
)
#: Full: the paper's set-ups (widths, η, 10⁴ GD steps, 30 seeds; SGD 10⁵ steps of 1000), the
#: width line at n = 400, 800, 1600 over the paper's η = 10^(−1−k/10), k = −2 … 28, 20 seeds, τ
#: capped at 20 epochs; on CIFAR-10 with ``--data`` (digits otherwise). A cluster job.
FULL = Grid(
    parity=(PANEL_AB, PANEL_CD),
    sgd=SGD_AB,
    seeds=tuple(range(30)),
    sgd_n=50_000,
    line=Line(
        widths=(400, 800, 1600),
        lrs=tuple(float(10.0 ** (-1.0 - k / 10.0)) for k in range(-2, 29)),
        seeds=tuple(range(20)),
        batch_size=1000,
        n=50_000,
        cap=1000,
    ),
)
GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str


def _split(data: Path | None, n: int, n_test: int) -> _Split:
    """The first ``n`` training and ``n_test`` test examples, pixels scaled to [0, 1] (not
    centred), as Huang et al. take CIFAR-10's first images: digits (/16) or the user's ``.npz``
    (/255) with its ``X_test``; without a test set (digits, or a file with no ``X_test``) the
    test examples are the ones after the first ``n``."""
    if data is None:
        digits = datasets.digits()
        X, y, X_test, y_test, name = digits.X / 16.0, digits.y, None, None, "digits"
    else:
        loaded = load_npz(data)
        if loaded.classes is None:
            raise InvalidValueError(
                f"{data}: key 'y': Huang's training experiments need integer class labels"
            )
        X, y, name = loaded.X / 255.0, loaded.y, str(data)
        X_test = None if loaded.X_test is None else loaded.X_test / 255.0
        y_test = loaded.y_test
    if X_test is None or y_test is None:
        total = X.shape[1]
        if data is None:  # the full sizes ask for CIFAR's 50000: keep 261 digits to test
            n = min(n, total - 261)
        if total - n < 1:
            raise InvalidValueError(
                f"n: {name} has {total} examples and no test set; asked for {n} to train"
            )
        X, y, X_test, y_test = X[:, :n], y[:n], X[:, n : n + n_test], y[n : n + n_test]
    return _Split(X[:, :n], y[:n], X_test[:, :n_test], y_test[:n_test], name)


def _whole_batches(split: _Split, batch_size: int | None) -> _Split:
    """``split`` with its training set cut to whole batches (every step's batch a full one)."""
    if batch_size is None:
        return split
    n = split.X.shape[1] - split.X.shape[1] % batch_size
    if n < batch_size:
        raise InvalidValueError(
            f"batch_size: {split.name} has {split.X.shape[1]} training examples, fewer than "
            f"one batch of {batch_size}"
        )
    return replace(split, X=split.X[:, :n], y=split.y[:n])


# --- training ---------------------------------------------------------------------------------


def _nets(
    dims: list[int], kind: str, seeds: tuple[int, ...], sigma_w2: float, sigma_b2: float
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return init.mean_field(
        dims,
        batch=len(seeds),
        seed=list(seeds),
        sigma_w=math.sqrt(sigma_w2),
        sigma_b=math.sqrt(sigma_b2),
        weights=kind,
        dtype=np.float32,
    )


def _curves_rows(
    setup: Curves, split: _Split, seeds: tuple[int, ...], data_seed: int
) -> list[dict[str, Any]]:
    """Train both inits of ``setup`` and return one row per (init, seed) with its curves."""
    classes = int(max(split.y.max(), split.y_test.max())) + 1
    mse = setup.loss == "mse"
    Y = datasets.one_hot(split.y, classes).astype(np.float32) if mse else split.y
    Y_test = datasets.one_hot(split.y_test, classes).astype(np.float32) if mse else split.y_test
    # The engine's squared loss is ½ the paper's: twice the step gives the paper's trajectory
    # (RMSProp divides the gradient's scale out, so it keeps the paper's step).
    scale = 2.0 if mse else 1.0
    step = scale if setup.optimizer_name in ("gd", "sgd") else 1.0
    options: dict[str, Any] = RMSPROP_OPTIONS if setup.optimizer_name == "rmsprop" else {}
    dims = [split.X.shape[0], *([setup.width] * setup.depth), classes]
    rows = []
    for kind in INITS:
        weights, biases = _nets(dims, kind, seeds, setup.sigma_w2, setup.sigma_b2)
        result = train(
            weights,
            split.X.astype(np.float32),
            Y,
            biases=biases,
            lr=step * setup.lr,
            steps=setup.steps,
            record_every=setup.record_every,
            activation=setup.activation,
            loss=setup.loss,
            reduction="mean",
            optimizer=setup.optimizer_name,
            batch_size=setup.batch_size,
            data_seed=None if setup.batch_size is None else [data_seed + s for s in seeds],
            eval_data=(split.X_test.astype(np.float32), Y_test),
            record=["loss", "accuracy", "test_loss", "test_accuracy"],
            **options,
        )
        for b, seed in enumerate(seeds):
            rows.append(
                {
                    "panel": setup.panel,
                    "depth": setup.depth,
                    "width": setup.width,
                    "lr": setup.lr,
                    "steps": setup.steps,
                    "record_every": setup.record_every,
                    "batch_size": setup.batch_size or split.X.shape[1],
                    "n": split.X.shape[1],
                    "n_test": split.X_test.shape[1],
                    "data": split.name,
                    "init": kind,
                    "seed": seed,
                    "train_loss": (scale * result.records["loss"][b]).tolist(),
                    "train_accuracy": result.records["accuracy"][b].tolist(),
                    "test_loss": (scale * result.records["test_loss"][b]).tolist(),
                    "test_accuracy": result.records["test_accuracy"][b].tolist(),
                    "diverged": bool(result.diverged[b]),
                }
            )
    return rows


def parity_table(grid: Grid, data: Path | None = None) -> pd.DataFrame:
    """Fig. 3: per panel, init and seed, the full-batch GD curves (list columns
    ``train_loss``, ``train_accuracy``, ``test_loss``, ``test_accuracy``, one entry every
    ``record_every`` steps, the first at step 0)."""
    import pandas as pd

    split = _split(data, grid.n, grid.n_test)
    rows = []
    for setup in grid.parity:
        rows += _curves_rows(setup, split, grid.seeds, grid.data_seed)
    return pd.DataFrame(rows)


def supplement(grid: Grid) -> tuple[Curves, ...]:
    """The supplement's set-ups this build runs: SGD, and RMSProp where the engine has it."""
    return (grid.sgd, grid.rmsprop) if has_rmsprop() else (grid.sgd,)


def sgd_table(grid: Grid, data: Path | None = None) -> pd.DataFrame:
    """The supplement: per panel, init and seed, the curves of :func:`parity_table` for plain
    SGD with cross-entropy (and RMSProp on the squared loss, where the engine has it) on
    ``sgd_n`` training examples (whole batches only)."""
    import pandas as pd

    rows = []
    for setup in supplement(grid):
        split = _whole_batches(_split(data, grid.sgd_n, 10_000), setup.batch_size)
        rows += _curves_rows(setup, split, grid.seeds, grid.data_seed)
    return pd.DataFrame(rows)


def tau_from_accuracy(accuracy: np.ndarray, target: float = TARGET) -> np.ndarray:
    """Per row of ``accuracy`` (batch, steps + 1), the first column whose value exceeds
    ``target`` (strictly), or −1."""
    above = np.asarray(accuracy) > target
    first = above.argmax(axis=1)
    return np.where(above.any(axis=1), first, -1).astype(np.int64)


def _line_taus(
    line: Line, width: int, lr: float, kind: str, split: _Split, data_seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train τ, test τ, diverged) per seed: SGD in chunks of :data:`CHUNK` steps (a chain of
    calls equals one long call) until every net has both τ or the cap."""
    classes = int(max(split.y.max(), split.y_test.max())) + 1
    dims = [split.X.shape[0], *([width] * line.depth), classes]
    weights, biases = _nets(dims, kind, line.seeds, LINE_SIGMA_W2, LINE_SIGMA_B2)
    X, X_test = split.X.astype(np.float32), split.X_test.astype(np.float32)
    batch_acc: list[np.ndarray] = []
    test_acc: list[np.ndarray] = []
    state = None
    done = 0
    while True:
        steps = min(CHUNK, line.cap - done)
        result = train(
            weights,
            X,
            split.y,
            biases=biases,
            lr=lr,
            steps=steps,
            activation="tanh",
            loss="cross_entropy",
            optimizer="sgd",
            batch_size=line.batch_size,
            data_seed=[data_seed + s for s in line.seeds] if state is None else None,
            state=state,
            eval_data=(X_test, split.y_test),
            record=["batch_accuracy", "test_accuracy"],
        )
        # Column k is taken before step k's update: the first ``steps`` columns are this
        # chunk's, the last is the next chunk's first (the test accuracy after the last step).
        batch_acc.append(result.records["batch_accuracy"][:, :steps])
        test_acc.append(result.records["test_accuracy"][:, :steps])
        weights, state = result.weights, result.state
        biases = [b for b in result.biases or () if b is not None]  # every layer has one
        done += steps
        train_tau = tau_from_accuracy(np.concatenate(batch_acc, axis=1))
        after = result.records["test_accuracy"][:, -1:]
        test_tau = tau_from_accuracy(np.concatenate([*test_acc, after], axis=1))
        finished = ((train_tau >= 0) & (test_tau >= 0)) | result.diverged
        if done >= line.cap or finished.all():
            break
    return train_tau, test_tau, np.asarray(result.diverged, dtype=bool)


def width_line_table(grid: Grid, data: Path | None = None) -> pd.DataFrame:
    """Fig. 4 (a, b): per width, η, init and seed, the train τ and the test τ (−1: not within
    the cap, or diverged)."""
    import pandas as pd

    line = grid.line
    split = _whole_batches(_split(data, line.n, 10_000), line.batch_size)
    n = split.X.shape[1]
    rows = []
    for width in line.widths:
        for lr in line.lrs:
            for kind in INITS:
                train_tau, test_tau, diverged = _line_taus(
                    line, width, lr, kind, split, grid.data_seed
                )
                rows += [
                    {
                        "depth": line.depth,
                        "width": width,
                        "lr": lr,
                        "init": kind,
                        "seed": seed,
                        "cap": line.cap,
                        "batch_size": line.batch_size,
                        "n": n,
                        "n_test": split.X_test.shape[1],
                        "data": split.name,
                        "tau_train": int(-1 if diverged[b] else train_tau[b]),
                        "tau_test": int(-1 if diverged[b] else test_tau[b]),
                        "diverged": bool(diverged[b]),
                    }
                    for b, seed in enumerate(line.seeds)
                ]
    return pd.DataFrame(rows)


def data_source(data: Path | None) -> dict[str, str]:
    """What a table's data are, for its file name: "digits", or the user's file and its digest
    (a changed file is a new table)."""
    if data is None:
        return {"data": "digits"}
    path = Path(data).resolve()
    return {"data": str(path), "data_sha256": file_digest(path)}


def measurements(size: str = "quick", data: Path | None = None) -> list[Measurement]:
    """The three tables at ``size`` (on ``data`` when given, else digits)."""
    return measurements_for(GRIDS[size], data)


def measurements_for(grid: Grid, data: Path | None = None) -> list[Measurement]:
    """The three tables of ``grid``: parity, sgd, width_line."""
    source = data_source(data)

    def params(**extra: Any) -> dict[str, Any]:
        return {**source, "seeds": list(grid.seeds), "n": grid.n, "n_test": grid.n_test, **extra}

    return [
        Measurement(
            "parity",
            params(panels=[vars(p) for p in grid.parity]),
            lambda: parity_table(grid, data),
        ),
        Measurement(
            "sgd",
            params(setups=[vars(c) for c in supplement(grid)], sgd_n=grid.sgd_n),
            lambda: sgd_table(grid, data),
        ),
        Measurement(
            "width_line",
            {**source, **vars(grid.line), "chunk": CHUNK, "data_seed": grid.data_seed},
            lambda: width_line_table(grid, data),
        ),
    ]


# --- measures (seed-level frame -> a rule's input) --------------------------------------------


CURVES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


def summarised(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each curve replaced by scalars per run: ``<curve>_start`` (step 0),
    ``<curve>_end`` (the last recorded step) and ``<curve>_average`` (the mean over the recorded
    steps). The checks read these (a mean over seeds of a curve's average is the average of the
    mean curve), which keeps the bootstrap over seeds fast."""
    keep = ["panel", "init", "seed", "steps", "width", "lr"]
    out = frame[[c for c in keep if c in frame.columns]].copy()
    for column in CURVES:
        curves = np.stack(frame[column].to_numpy()).astype(np.float64)
        out[f"{column}_start"] = curves[:, 0]
        out[f"{column}_end"] = curves[:, -1]
        out[f"{column}_average"] = curves.mean(axis=1)
    return out


def _pair(column: str) -> Callable[[pd.DataFrame], tuple[float, float]]:
    """(Gaussian's, orthogonal's) mean over seeds of ``column``."""

    def measure(frame: pd.DataFrame) -> tuple[float, float]:
        inits = frame["init"].to_numpy()
        values = frame[column].to_numpy(dtype=np.float64)
        found = [values[inits == kind] for kind in INITS]
        if any(v.size == 0 for v in found):
            return math.nan, math.nan
        return float(found[0].mean()), float(found[1].mean())

    return measure


def _trained(frame: pd.DataFrame) -> float:
    """The mean train loss at the last recorded step over that at step 0 (every run)."""
    end = frame["train_loss_end"].to_numpy(dtype=np.float64)
    start = frame["train_loss_start"].to_numpy(dtype=np.float64)
    return float(end.mean() / start.mean())


def _at_end(frame: pd.DataFrame) -> str:
    """Our means at the last step, Gaussian / orthogonal, with the step and width."""
    parts = []
    for label, column in (
        ("train loss", "train_loss"),
        ("train accuracy", "train_accuracy"),
        ("test accuracy", "test_accuracy"),
    ):
        gaussian, orthogonal = _pair(f"{column}_end")(frame)
        parts.append(f"{label} {gaussian:.3f} / {orthogonal:.3f}")
    first = frame.iloc[0]
    return (
        f"at t = {int(first['steps'])} (width {int(first['width'])}, η = {first['lr']:.3g}, "
        f"{frame['seed'].nunique()} seeds), Gaussian / orthogonal: " + ", ".join(parts)
    )


def _paper_end(panel: str) -> str:
    numbers = PAPER_PARITY[panel]
    return ", ".join(f"{k} {g:g} / {o:g}" for k, (g, o) in numbers.items())


def _alike_parts() -> tuple[Part, ...]:
    return (
        Part(
            Alike(
                "the train loss averaged along training (over the recorded steps, of the "
                "mean over seeds)",
                "Gaussian",
                "orthogonal",
                LOSS_TOLERANCE,
                relative=True,
            ),
            _pair("train_loss_average"),
            "train loss",
        ),
        Part(
            Alike(
                "the train accuracy averaged along training",
                "Gaussian",
                "orthogonal",
                ACCURACY_TOLERANCE,
            ),
            _pair("train_accuracy_average"),
            "train accuracy",
        ),
        Part(
            Alike(
                "the test accuracy averaged along training",
                "Gaussian",
                "orthogonal",
                ACCURACY_TOLERANCE,
            ),
            _pair("test_accuracy_average"),
            "test accuracy",
        ),
    )


#: Training must have moved for "alike" to mean anything: the loss falls below this fraction.
TRAINED = 0.8


def _trained_part() -> Part:
    return Part(
        Bound("the mean train loss at the end over its value at step 0", high=TRAINED), _trained
    )


def _parity_check(panel: str, setting: str) -> Check:
    return Check(
        claim=f"Full-batch GD, {setting}: Gaussian and orthogonal nets train alike (loss and "
        "accuracy curves coincide)",
        paper=f"Fig. 3 ({panel}): the curves coincide; at t = 10⁴, Gaussian / orthogonal: "
        f"{_paper_end(panel)}",
        parts=_alike_parts(),
        requires=(_trained_part(),),
        source=f"parity {panel}",
        conditions=f"tanh, standard parameterisation, biases, full-batch GD on the squared loss "
        f"({setting}); the means over seeds of each init's curves",
        ours=_at_end,
        decide_with="more seeds or longer training",
    )


PARITY_CHECKS = (
    _parity_check("a, b", "L = 3, σ_w² = 1.5, σ_b² = 0.01"),
    _parity_check("c, d", "L = 7, σ_w² = 1.5, σ_b² = 0.1"),
)

RMSPROP_CHECK = Check(
    claim="RMSProp on the squared loss in the NTK regime: Gaussian and orthogonal nets train alike",
    paper="supplementary figure (c, d): ReLU, L = 9, n = 1600, σ_w² = 2.0, σ_b² = 0.1, RMSProp "
    "η = 1e-5, batch 1000, MSE, MNIST: the curves coincide (no numbers given)",
    parts=_alike_parts(),
    requires=(_trained_part(),),
    source=f"supplement {RMSPROP_CD.panel}",
    conditions="ReLU, standard parameterisation, biases, L = 9, σ_w² = 2.0, σ_b² = 0.1, RMSProp "
    "(decay 0.9, ε = 1e-10) on the squared loss; the means over seeds of each init's curves",
    ours=_at_end,
    decide_with="more seeds or longer training",
)

SGD_CHECK = Check(
    claim="SGD with cross-entropy in the NTK regime: Gaussian and orthogonal nets train alike",
    paper="supplementary figure (a, b): L = 5, n = 800, σ_w² = 2.0, σ_b² = 0.1, SGD η = 1e-3, "
    "batch 1000, CIFAR-10: the curves coincide (no numbers given)",
    parts=_alike_parts(),
    requires=(_trained_part(),),
    source=f"supplement {SGD_AB.panel}",
    conditions="tanh, standard parameterisation, biases, L = 5, σ_w² = 2.0, σ_b² = 0.1, plain "
    "SGD on the mean cross-entropy; the means over seeds of each init's curves",
    ours=_at_end,
    decide_with="more seeds or longer training",
)


# --- weight changes (the kernel_change table of huang2021) ------------------------------------


def _layers(frame: pd.DataFrame) -> list[str]:
    return sorted(
        (c for c in frame.columns if c.startswith("weight_change_")),
        key=lambda c: int(c.rsplit("_", 1)[1]),
    )


def _group_values(frame: pd.DataFrame, group: str) -> pd.Series:
    """Per row, the relative weight change of a layer group: the first layer, the readout, or
    the mean over the middle layers."""
    layers = _layers(frame)
    if group == "first":
        return frame[layers[0]]
    if group == "readout":
        return frame[layers[-1]]
    return frame[layers[1:-1]].mean(axis=1)


def _widest(frame: pd.DataFrame) -> list[int]:
    widths = sorted(set(frame["width"]))
    return widths[-max(3, len(widths) // 2) :]


def _median_by_width(frame: pd.DataFrame, group: str) -> dict[float, float]:
    """Median over the rows of the group's weight change per width, over the wider half of the
    widths (at least three)."""
    part = frame[frame["width"].isin(_widest(frame))]
    medians = _group_values(part, group).groupby(part["width"]).median()
    return {float(w): float(v) for w, v in medians.items()}


def _slope_of(frame: pd.DataFrame, group: str) -> float:
    found = loglog_fit(*zip(*_median_by_width(frame, group).items(), strict=True))
    return math.nan if found is None else found[0]


def _slope_pair(group: str) -> Callable[[pd.DataFrame], tuple[float, float]]:
    return lambda frame: tuple(  # type: ignore[return-value]
        _slope_of(frame[frame["init"] == kind], group) for kind in INITS
    )


def _slopes_text(frame: pd.DataFrame) -> str:
    return (
        "; ".join(
            f"{group}: "
            + ", ".join(f"{k} {_slope_of(frame[frame['init'] == k], group):.2f}" for k in INITS)
            for group in PAPER_WEIGHT_SLOPES
        )
        + f" (widths {', '.join(map(str, _widest(frame)))})"
    )


WEIGHT_CHECKS = (
    Check(
        claim="Per-layer weight changes after training fall like n^(−1/2) (first layer, "
        "readout) and n^(−1) (middle layers)",
        paper="Fig. 2 (a, b): fitted slopes ≈ −0.50 (first), ≈ −1.0 (middle), ≈ −0.54 "
        "(readout), for both inits",
        parts=tuple(
            Part(
                Slope(
                    f"the median {group} weight change ‖W(T) − W(0)‖_F/‖W(0)‖_F (both inits)",
                    "width",
                    *(MIDDLE_SLOPE if group == "middle" else OUTER_SLOPE),
                    min_points=3,
                ),
                (lambda g: lambda frame: _median_by_width(frame, g))(group),
                group,
            )
            for group in PAPER_WEIGHT_SLOPES
        ),
        source="kernel_change",
        conditions="three hidden erf layers, NTK parameterisation, full-batch GD (the kernel "
        "change experiment); fitted over the wider half of the widths (at least three)",
        ours=_slopes_text,
        decide_with="wider nets",
    ),
    Check(
        claim="The weight changes scale alike for Gaussian and orthogonal nets",
        paper="Fig. 2 (a) Gaussian and (b) orthogonal: the same slopes",
        parts=tuple(
            Part(
                Alike(
                    f"the log-log slope of the {group} weight change against width",
                    "Gaussian",
                    "orthogonal",
                    SLOPE_AGREEMENT,
                ),
                _slope_pair(group),
                group,
            )
            for group in PAPER_WEIGHT_SLOPES
        ),
        source="kernel_change",
        conditions="as the claim above, one fit per init",
        ours=_slopes_text,
        decide_with="wider nets or more seeds",
    ),
)


# --- the width line ---------------------------------------------------------------------------


def _median_tau(frame: pd.DataFrame, column: str) -> pd.Series:
    """Median τ over seeds per (width, lr, init), never (−1) counted as infinite."""
    values = frame[column].astype(np.float64)
    values = values.where(values >= 0, math.inf)
    return values.groupby([frame["width"], frame["lr"], frame["init"]]).median()


def _paper_cell(frame: pd.DataFrame) -> tuple[int, float]:
    """The paper's headline cell on our line: the narrowest width (theirs: 400), η nearest 0.1."""
    lrs = sorted(set(frame["lr"]))
    return int(min(frame["width"])), min(lrs, key=lambda v: abs(math.log(v / 0.1)))


def _cell_taus(column: str) -> Callable[[pd.DataFrame], tuple[float, float]]:
    def measure(frame: pd.DataFrame) -> tuple[float, float]:
        width, lr = _paper_cell(frame)
        medians = _median_tau(frame, column)
        return float(medians[(width, lr, "orthogonal")]), float(medians[(width, lr, "gaussian")])

    return measure


def _orthogonal_tau(frame: pd.DataFrame) -> float:
    return _cell_taus("tau_test")(frame)[0]


def _faster_cells(frame: pd.DataFrame) -> list[bool]:
    """Per (τ kind, width, η) cell where either init's median τ is finite: orthogonal's is
    smaller."""
    flags = []
    for column in ("tau_train", "tau_test"):
        medians = _median_tau(frame, column).unstack("init")
        for _, row in medians.iterrows():
            g, o = float(row["gaussian"]), float(row["orthogonal"])
            if math.isfinite(g) or math.isfinite(o):
                flags.append(o < g)
    return flags


def _largest_lr(kind: str) -> Callable[[pd.DataFrame], dict[float, float]]:
    """Per width, the largest η whose median train τ is finite (0 if none)."""

    def measure(frame: pd.DataFrame) -> dict[float, float]:
        medians = _median_tau(frame[frame["init"] == kind], "tau_train")
        out = {}
        for width in sorted(set(frame["width"])):
            part = medians.xs(width, level="width")
            finite = [float(lr) for (lr, _), v in part.items() if math.isfinite(v)]
            out[float(width)] = max(finite, default=0.0)
        return out

    return measure


def _line_text(frame: pd.DataFrame) -> str:
    width, lr = _paper_cell(frame)
    medians = {c: _median_tau(frame, c) for c in ("tau_train", "tau_test")}

    def shown(v: float) -> str:
        return f"{v:.0f}" if math.isfinite(v) else "never"

    cell = "; ".join(
        f"{c.split('_')[1]} τ {shown(medians[c][(width, lr, 'gaussian')])} / "
        f"{shown(medians[c][(width, lr, 'orthogonal')])}"
        for c in medians
    )
    return (
        f"L = {int(frame['depth'].iloc[0])}, width {width}, η = {lr:.3g}, median over "
        f"{frame['seed'].nunique()} seeds, Gaussian / orthogonal: {cell}"
    )


def observations(tables: dict[str, pd.DataFrame]) -> list[str]:
    """What the width line shows about the largest trainable η against width: reported, not
    decided (the paper states no claim about it, and its released data are ambiguous)."""
    frame = tables["width_line"]
    found = {k: _largest_lr(k)(frame) for k in INITS}
    ours = ", ".join(
        f"n = {int(w)}: {found['gaussian'][w]:.3g} / {found['orthogonal'][w]:.3g}"
        for w in found["gaussian"]
    )
    theirs = ", ".join(f"n = {w}: {g:g} / {o:g}" for w, (g, o) in PAPER_LARGEST_LR.items())
    return [
        "Width line, the largest η (of the grid) with a finite median train τ, Gaussian / "
        f"orthogonal (0: none): {ours}. The paper's released data (L = 50): {theirs}, i.e. "
        "falling with width, as the NTK of standard parameterisation grows like the width; "
        "but a missing cell there may be a run that was never made, so this is not decided "
        "as a claim."
    ]


WIDTH_LINE_CHECKS = (
    Check(
        claim="On the test set too, orthogonal nets reach 25 % accuracy sooner",
        paper=f"Fig. 4 (b): test τ {PAPER_TEST_TAU['gaussian']} (Gaussian) vs "
        f"{PAPER_TEST_TAU['orthogonal']} (orthogonal) at L = 50, n = 400, η = 0.1 (train τ "
        f"{PAPER_TRAIN_TAU['gaussian']} vs {PAPER_TRAIN_TAU['orthogonal']})",
        parts=(
            Part(
                Order("orthogonal's median test τ", "Gaussian's median test τ"),
                _cell_taus("tau_test"),
            ),
        ),
        requires=(Part(Bound("orthogonal's median test τ there", high=1e300), _orthogonal_tau),),
        source="width_line",
        conditions="L = 50 tanh nets in the linear regime (σ_w² = 1.05, σ_b² = 2.01e-5), SGD "
        "with cross-entropy; the narrowest width of the line at the η nearest 0.1; τ_test = the "
        "first step after which the accuracy on the whole test set exceeds 25 % (never = ∞)",
        ours=_line_text,
    ),
    Check(
        claim="Orthogonal nets are faster at every width of the width line (train and test τ)",
        paper="Fig. 4 (a, b): n = 400, 800, 1600 at L = 50: orthogonal's τ is below "
        "Gaussian's in every cell with data",
        parts=(
            Part(
                Fraction(
                    "the (τ kind, width, η) cells where either init's median τ is finite",
                    "orthogonal's median τ is below Gaussian's",
                    FASTER_FRACTION,
                ),
                _faster_cells,
            ),
        ),
        source="width_line",
        conditions="the width line (L = 50, linear regime, SGD, cross-entropy); never = ∞",
    ),
)

#: Every check of this module (RMSProp's where the engine has it).
CHECKS = (
    *PARITY_CHECKS,
    SGD_CHECK,
    *((RMSPROP_CHECK,) if has_rmsprop() else ()),
    *WEIGHT_CHECKS,
    *WIDTH_LINE_CHECKS,
)


def claims(tables: dict[str, pd.DataFrame]) -> list[Claim]:
    """The claims of the training experiments, decided on their tables (the curves
    :func:`summarised`)."""
    return decide_all(CHECKS, sources(tables))


def sources(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The frames the checks read: the tables, and the curves :func:`summarised` per panel
    ("parity a, b", "supplement SGD a, b", …)."""
    parity, extra = summarised(tables["parity"]), summarised(tables["sgd"])
    return {
        **tables,
        **{f"parity {panel}": part for panel, part in parity.groupby("panel", sort=False)},
        **{f"supplement {panel}": part for panel, part in extra.groupby("panel", sort=False)},
    }


# --- figures and report sections --------------------------------------------------------------

STYLES = {"gaussian": "-", "orthogonal": ":"}


def figures(tables: dict[str, pd.DataFrame], directory: Path) -> list[Path]:
    """Fig. 3 (parity curves with seed bands), the SGD curves, Fig. 2 (a, b) (per-layer
    weight changes against width, fitted slopes) and Fig. 4 (a, b) (τ against η on the width
    line, train and test), as PNGs in ``directory``."""
    parity = tables["parity"]
    first = parity.iloc[0]
    fig = plots.seed_band_curves(
        parity,
        facet="panel",
        hue="init",
        panels={"train loss": ("train_loss",), "accuracy": ("train_accuracy", "test_accuracy")},
        log=("train loss",),
        styles=STYLES,
        title=f"Huang et al. Fig. 3: full-batch GD, tanh, MSE ({int(first['n'])} training / "
        f"{int(first['n_test'])} test examples of {first['data']})\nmean ± 1 s.d. over "
        f"{parity['seed'].nunique()} seeds",
    )
    paths = [plots.save(fig, directory / "parity_curves.png")]
    sgd = tables["sgd"]
    fig = plots.seed_band_curves(
        sgd,
        facet="panel",
        hue="init",
        panels={"train loss": ("train_loss",), "accuracy": ("train_accuracy", "test_accuracy")},
        log=("train loss",),
        styles=STYLES,
        title="Huang et al. supplement: "
        + ", ".join(
            f"{panel} (L = {int(p['depth'].iloc[0])}, width {int(p['width'].iloc[0])}, batch "
            f"{int(p['batch_size'].iloc[0])})"
            for panel, p in sgd.groupby("panel", sort=False)
        )
        + f"\nmean ± 1 s.d. over {sgd['seed'].nunique()} seeds",
    )
    paths.append(plots.save(fig, directory / "sgd_curves.png"))
    changes = tables["kernel_change"]
    long = changes.melt(
        id_vars=["init", "width", "seed"],
        value_vars=_layers(changes),
        var_name="layer",
        value_name="change",
    )
    long["layer"] = "W" + long["layer"].str.rsplit("_", n=1).str[1]
    fits = {}
    widest = _widest(changes)
    for (kind, layer), part in long.groupby(["init", "layer"]):
        part = part[part["width"].isin(widest)]
        medians = part.groupby("width")["change"].median()
        found = loglog_fit(list(medians.index), list(medians.to_numpy()))
        if found is not None:
            fits[(kind, layer)] = found
    fig = plots.steps_to_tol(
        long,
        x="width",
        hue="layer",
        facet="init",
        column="change",
        fits=fits,
        fit_from=widest[0],
        ylabel="‖W_l(T) − W_l(0)‖_F / ‖W_l(0)‖_F",
        title="Huang et al. Fig. 2 (a, b): per-layer weight change after training (3 erf "
        "layers, NTK parameterisation)\nmedian over seeds; dashed: fits over the widest widths",
    )
    paths.append(plots.save(fig, directory / "weight_change.png"))
    line = tables["width_line"]
    fig = plots.tau_lines(
        line,
        columns={"train τ (mini-batch)": "tau_train", "test τ (whole test set)": "tau_test"},
        colour="width",
        style="init",
        styles=STYLES,
        cap=float(line["cap"].iloc[0]),
        title=f"Huang et al. Fig. 4 (a, b): steps to > 25 % accuracy, L = "
        f"{int(line['depth'].iloc[0])}, σ_w² = {LINE_SIGMA_W2:g}, σ_b² = {LINE_SIGMA_B2:g}, "
        f"batch {int(line['batch_size'].iloc[0])}\nmedian over {line['seed'].nunique()} seeds "
        "(Gaussian solid, orthogonal dotted; a median of 'never' is left out)",
    )
    paths.append(plots.save(fig, directory / "width_line.png"))
    return paths


def _parity_rows(frame: pd.DataFrame) -> list[list[Any]]:
    rows = []
    for panel, part in frame.groupby("panel", sort=False):
        paper = PAPER_PARITY.get(str(panel), {})
        for label, column in (
            ("train loss", "train_loss"),
            ("train accuracy", "train_accuracy"),
            ("test accuracy", "test_accuracy"),
        ):
            ends = {
                kind: np.array([c[-1] for c in p[column]], dtype=np.float64)
                for kind, p in part.groupby("init")
            }
            shown = [f"{ends[k].mean():.3f} ± {ends[k].std():.3f}" for k in INITS]
            theirs = paper.get(label)
            rows.append(
                [
                    panel,
                    int(part["width"].iloc[0]),
                    f"{part['lr'].iloc[0]:.3g}",
                    int(part["steps"].iloc[0]),
                    label,
                    *shown,
                    "–" if theirs is None else f"{theirs[0]:g} / {theirs[1]:g}",
                ]
            )
    return rows


def _line_rows(frame: pd.DataFrame) -> list[list[Any]]:
    medians = {c: _median_tau(frame, c).unstack("init") for c in ("tau_train", "tau_test")}

    def shown(v: float) -> str:
        return f"{v:.0f}" if math.isfinite(v) else "never"

    rows = []
    for (width, lr), row in medians["tau_train"].sort_index(ascending=[True, False]).iterrows():
        test = medians["tau_test"].loc[(width, lr)]
        rows.append(
            [
                int(width),
                f"{lr:.3g}",
                shown(row["gaussian"]),
                shown(row["orthogonal"]),
                shown(test["gaussian"]),
                shown(test["orthogonal"]),
            ]
        )
    return rows


def sections(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """Report sections: the set-ups, the parity ends beside the paper's, the weight-change
    slopes beside the paper's, and the width line's median τ."""
    parity, sgd, line = tables["parity"], tables["sgd"], tables["width_line"]
    definitions = (
        "**Parity (Fig. 3) and SGD (supplement)**: tanh, standard parameterisation, biases; "
        "weights N(0, σ_w²/fan_in) or σ_w·√(max(fan_in, fan_out)/fan_in)·(Haar orthogonal), "
        "biases N(0, σ_b²). The squared loss is the paper's, mean over examples of Σ over "
        "classes (y − f)² with one-hot y (the engine's ½-loss trained with twice the step). "
        f"Data: {parity['data'].iloc[0]}, the first {int(parity['n'].iloc[0])} examples to "
        f"train and the next {int(parity['n_test'].iloc[0])} to test (digits: pixels / 16; "
        "CIFAR-10 through --data: pixels / 255, its first test images). The paper trains "
        "widths 400 / 800 for 10⁴ steps at η = 1e-3 / 1e-4; narrower quick nets keep η·width "
        "at the paper's value (the NTK of standard parameterisation grows like the width), so "
        "they follow the start of the paper's curves. SGD: "
        f"{int(sgd['n'].iloc[0])} training examples, batches of {int(sgd['batch_size'].iloc[0])}, "
        f"η = {sgd['lr'].iloc[0]:.3g}, {int(sgd['steps'].iloc[0])} steps (the paper: n = 800, "
        "η = 1e-3, 10⁵ steps of 1000 CIFAR-10 images).\n\n"
        "**Width line (Fig. 4 a, b)**: L = 50 tanh nets, σ_w² = 1.05, σ_b² = 2.01e-5, plain SGD "
        f"with cross-entropy, batches of {int(line['batch_size'].iloc[0])} over "
        f"{int(line['n'].iloc[0])} examples; train τ = the first step whose mini-batch "
        "accuracy exceeds 25 %; test τ = the first step after which the accuracy on all "
        f"{int(line['n_test'].iloc[0])} test examples exceeds 25 %, evaluated after every step; "
        f"capped at {int(line['cap'].iloc[0])} steps ('never', also for a diverged run)."
    )
    if RMSPROP_CD.panel not in set(sgd["panel"]):
        definitions += (
            "\n\nThe supplement's RMSProp panel (c, d: ReLU, L = 9, MNIST): not run: needs "
            "rmsprop (issue 17); this build's engine has no RMSProp optimiser."
        )
    changes = tables["kernel_change"]
    slope_rows = [
        [
            group,
            *(f"{_slope_of(changes[changes['init'] == k], group):.2f}" for k in INITS),
            f"{PAPER_WEIGHT_SLOPES[group]:g}",
        ]
        for group in PAPER_WEIGHT_SLOPES
    ]
    return [
        ("Training experiments: set-up", definitions),
        (
            "Fig. 3 and the SGD supplement: means at the last step (± s.d. over seeds)",
            markdown_table(
                [
                    "panel",
                    "width",
                    "η",
                    "steps",
                    "quantity",
                    "Gaussian",
                    "orthogonal",
                    "paper G / O (t = 10⁴, CIFAR-10)",
                ],
                _parity_rows(parity) + _parity_rows(sgd),
            ),
        ),
        (
            "Fig. 2 (a, b): slopes of the weight change against width",
            markdown_table(["layer", "Gaussian", "orthogonal", "paper"], slope_rows)
            + f"\n\nFitted over widths {', '.join(map(str, _widest(changes)))} (the median "
            "over seeds per width; middle = the mean over the middle layers).",
        ),
        (
            "Fig. 4 (a, b): median τ on the width line",
            markdown_table(
                [
                    "width",
                    "η",
                    "train τ Gaussian",
                    "train τ orthogonal",
                    "test τ Gaussian",
                    "test τ orthogonal",
                ],
                _line_rows(line),
            ),
        ),
    ]
