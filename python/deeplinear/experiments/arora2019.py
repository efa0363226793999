"""Arora, Cohen, Golowich & Hu 2019: balanced initialisation and the deficiency margin.

Scalar linear regression on whitened data with ‖Φ‖_F = 1 (Φ = Λ_yx, the input–output
cross-covariance): the data are PCA-whitened and divided by √n, so the library's summed loss
½‖W_N⋯W_1 X − Y‖² is the paper's mean loss ½‖W_N⋯W_1 − Φ‖² + ℓ*. Networks of depth N = 3 and
8 with hidden width 32 start from layer-wise Gaussian N(0, s²) weights or from balanced
initialisation (Procedure 1, end-to-end matrix N(0, s²)), over a log grid of s, and are trained
by full-batch GD until ℓ ≤ ℓ* + 1e-5 (ℓ* the least-squares optimum of the data), capped. The
learning rate is grid-searched over 1e-4…1 in one batched call per shape, and each cell keeps the
fastest. Balancedness is recorded along the path; the deficiency margin is measured at
initialisation. See docs/science.md, "Arora et al. 2019".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics, plots
from ..data import load_npz
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..sweep import SweepSpec, run_configs
from ..sweep.recipes import make_data, make_weights, optimum
from ..sweep.registry import file_digest
from . import arora2019_nonlinear as nonlinear_net
from .analysis import Band, best_per_cell, fast_band, steps_or_inf
from .base import Analysis, Measurement, Study, register
from .rules import Check, Fraction, Order, Part, Ratio, decide_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "DRIFT_LIMIT",
    "FAST_FACTOR",
    "FULL",
    "QUICK",
    "SMALL_LR",
    "STANDARD",
    "Grid",
    "bands",
    "best_lrs",
    "claims",
    "observations",
    "prepared",
    "spec",
    "with_margins",
    "with_steps",
]

#: "Fast" std: steps within this factor of the fastest std at the same depth and init (the
#: paper: outside the good band "optimization decelerates by orders of magnitude").
FAST_FACTOR = 10.0
#: Balancedness "stays near its initial value": max_t |δ(t) − δ(0)| ≤ DRIFT_LIMIT, in units of
#: ‖Φ‖_F^{2/N} = 1 (the size of ‖W_jW_jᵀ‖_F for a balanced net that fits Φ).
DRIFT_LIMIT = 0.1
INITS = ("gaussian", "balanced")
CELL = ["depth", "init", "init_scale"]


def _log_range(low: float, high: float, per_decade: int) -> tuple[float, ...]:
    count = round((high - low) * per_decade) + 1
    return tuple(float(10.0**e) for e in np.linspace(low, high, count))


@dataclass(frozen=True)
class Grid:
    """One size of the study (stds and learning rates are log grids)."""

    depths: tuple[int, ...]
    width: int
    stds: tuple[float, ...]
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: int
    record_every: int
    epsilon: float = 1e-5


#: Quick: diabetes (10 features, 442 examples), 15 stds 1e-3…10^0.5, 9 learning rates 1e-4…1,
#: 3 seeds, 10⁴ steps (the paper's cap is 10⁶): 1620 runs, a couple of minutes on 2 cores.
QUICK = Grid(
    depths=(3, 8),
    width=32,
    stds=_log_range(-3.0, 0.5, 4),
    lrs=_log_range(-4.0, 0.0, 2),
    seeds=(0, 1, 2),
    steps=10_000,
    record_every=10,
)
#: Standard: the full std × η grid (33 stds 1e-3…10, 17 learning rates 1e-4…1) on whitened
#: diabetes, 5 seeds, a cap of 2·10⁴ steps: 11220 runs. With the nonlinear table, 24.7 minutes
#: on 2 cores (7 Dec 2026, a niced build sharing the cores for part of it): the sweep 18.2, the
#: ReLU table about 6.
STANDARD = Grid(
    depths=(3, 8),
    width=32,
    stds=_log_range(-3.0, 1.0, 8),
    lrs=_log_range(-4.0, 0.0, 4),
    seeds=(0, 1, 2, 3, 4),
    steps=20_000,
    record_every=20,
)
#: Full: the paper's cap of 10⁶ steps, 33 stds 1e-3…10, 17 learning rates 1e-4…1, 5 seeds.
FULL = Grid(
    depths=(3, 8),
    width=32,
    stds=_log_range(-3.0, 1.0, 8),
    lrs=_log_range(-4.0, 0.0, 4),
    seeds=(0, 1, 2, 3, 4),
    steps=1_000_000,
    record_every=1_000,
)
GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


def spec(size: str = "quick", data: Path | None = None) -> SweepSpec:
    """The sweep spec at ``size``, on diabetes or on the user's ``.npz`` file ``data`` (real
    targets; e.g. the UCI gas-sensor "Ethanol" set of the paper), whitened the same way."""
    grid = GRIDS[size]
    if data is None:
        source: dict[str, Any] = {"data": "diabetes_whitened", "d_x": 10, "n": 442}
    else:
        path = Path(data).resolve()
        loaded = load_npz(path)
        if loaded.y.dtype.kind == "i" or loaded.y.ndim != 1:
            raise InvalidValueError(
                f"{path}: key 'y': Arora's study needs real scalar targets (n,)"
            )
        source = {
            "data": "npz_whitened",
            "d_x": loaded.X.shape[0],
            "n": loaded.X.shape[1],
            "data_file": str(path),
            "data_sha256": file_digest(path),
        }
    return SweepSpec.from_dict(
        {
            "name": f"arora2019-{size}",
            "axes": {
                "depth": list(grid.depths),
                "init": list(INITS),
                "init_scale": list(grid.stds),
                "lr": list(grid.lrs),
                "seed": list(grid.seeds),
            },
            "fixed": {
                **source,
                "width": grid.width,
                "d_y": 1,
                "steps": grid.steps,
                "record_every": grid.record_every,
                "tol": grid.epsilon,
                "tol_rule": "above_optimum",
                "record": "balancedness",
            },
            # Most networks stop long before the cap, so the flop estimate (at the cap) is far
            # too high: a larger budget per task keeps tasks at a few seconds.
            "execution": {"task_flops": 4e10},
        }
    )


def with_steps(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``steps``: the engine's steps to ℓ ≤ ℓ* + ε (``inf`` if never)."""
    steps = frame["steps_to_tol"].where(~frame["diverged"], -1)
    return frame.assign(steps=steps_or_inf(steps))


def with_margins(frame: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
    """The frame with ``margin``: the deficiency margin σ_min(Φ) − ‖W_N⋯W_1 − Φ‖_F of each
    run's initial weights (regenerated from its config: they depend on the shape, the init, its
    scale and the seed, not on the learning rate), with Φ = Y Xᵀ of the run's whitened data."""
    configs = run_configs(frame)
    starts: dict[tuple[Any, ...], list[int]] = {}  # start -> its rows (one per learning rate)
    for row, c in enumerate(configs):
        starts.setdefault((c.group(), c.init, c.init_scale, c.seed), []).append(row)
    by_group: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for start in starts:
        by_group.setdefault(start[0], []).append(start)
    margin = np.full(len(configs), math.nan)
    for group in by_group.values():
        members = [configs[starts[start][0]] for start in group]
        weights, _, order = make_weights(members, threads)
        X, Y = make_data(members[0])
        phi = np.asarray(Y, dtype=np.float64) @ np.asarray(X, dtype=np.float64).T
        values = metrics.deficiency_margin(weights, phi.astype(weights[0].dtype), threads=threads)
        for position, index in enumerate(order):
            margin[starts[group[index]]] = values[position]
    return frame.assign(margin=margin)


def best_lrs(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (depth, init, std): the learning rate with the fewest median steps over seeds."""
    return best_per_cell(with_steps(frame), CELL, over="lr", column="steps")


def bands(best: pd.DataFrame) -> dict[tuple[int, str], Band]:
    """Per (depth, init): the band of stds within :data:`FAST_FACTOR` of the fastest."""
    out = {}
    for (depth, init), part in best.groupby(["depth", "init"], sort=True):
        part = part.sort_values("init_scale")
        out[(int(depth), str(init))] = fast_band(
            part["init_scale"].to_numpy(), part["steps"].to_numpy(), FAST_FACTOR
        )
    return out


def _band_rule() -> str:
    return (
        "the best learning rate of each (depth, init, std) cell is the one with the fewest "
        "median steps over seeds ('never' = infinite); the fast band of a (depth, init) is the "
        f"contiguous range of stds around the fastest whose steps are ≤ {FAST_FACTOR:g}× the "
        "fastest's, and its width is log10(high/low) plus one grid spacing (in decades)"
    )


#: Lemma 2 assumes a small step size: balancedness is judged on runs with η at most this (the
#: geometric middle of the quick grid 1e-4…1); larger η are observations.
SMALL_LR = 1e-2


def prepared(frame: pd.DataFrame) -> pd.DataFrame:
    """The seed-level frame the claims are decided on: one row per run with its cell, lr,
    seed, ``steps`` (``inf`` = never), ``margin`` (if the frame has it) and ``drift`` of
    balancedness, max_t |δ(t) − δ(0)| over the recorded path (NaN where none was recorded)."""
    runs = with_steps(frame)
    drift = [
        math.nan
        if c is None or not len(c)
        else float(np.max(np.abs(np.asarray(c, dtype=np.float64) - c[0])))
        for c in runs["balancedness_curve"]
    ]
    columns = [c for c in (*CELL, "lr", "seed", "steps", "margin") if c in runs.columns]
    return runs[columns].assign(drift=drift)


def fast_bands(runs: pd.DataFrame) -> dict[tuple[int, str], float]:
    """Per (depth, init): the width in decades of its fast band (see :func:`bands`)."""
    medians = runs.groupby([*CELL, "lr"])["steps"].median()
    best = medians.groupby(level=CELL).min()
    out = {}
    for (depth, init), part in best.groupby(level=["depth", "init"], sort=True):
        part = part.droplevel(["depth", "init"]).sort_index()
        band = fast_band(part.index.to_numpy(), part.to_numpy(), FAST_FACTOR)
        out[(int(depth), str(init))] = band.decades
    return out


def _depths(runs: pd.DataFrame) -> tuple[int, int]:
    return int(runs["depth"].min()), int(runs["depth"].max())


def _gaussian_bands(runs: pd.DataFrame) -> tuple[float, float]:
    """(shallow, deep) Gaussian band widths."""
    found, (shallow, deep) = fast_bands(runs), _depths(runs)
    return found[(shallow, "gaussian")], found[(deep, "gaussian")]


def _gaussian_narrower(runs: pd.DataFrame) -> tuple[float, float]:
    shallow, deep = _gaussian_bands(runs)
    return deep, shallow


def _balanced_keeps(runs: pd.DataFrame) -> tuple[float, float]:
    """(deep balanced band, shallow balanced band)."""
    found, (shallow, deep) = fast_bands(runs), _depths(runs)
    return found[(deep, "balanced")], found[(shallow, "balanced")]


def _balanced_against_gaussian(runs: pd.DataFrame) -> tuple[float, float]:
    """(deep balanced band, deep Gaussian band)."""
    found, (_, deep) = fast_bands(runs), _depths(runs)
    return found[(deep, "balanced")], found[(deep, "gaussian")]


def _small_lr_drifts(runs: pd.DataFrame) -> list[bool]:
    part = runs[(runs["init"] == "balanced") & (runs["lr"] <= SMALL_LR) & runs["drift"].notna()]
    return list(part["drift"] <= DRIFT_LIMIT)


def _margin_starts(runs: pd.DataFrame) -> list[bool]:
    """Per balanced start (depth, std, seed) with a positive margin: converged at some lr."""
    starts = runs[runs["init"] == "balanced"].groupby(["depth", "init_scale", "seed"])
    found = starts.agg(margin=("margin", "first"), steps=("steps", "min"))
    return list(np.isfinite(found[found["margin"] > 0]["steps"]))


def _ours_bands(init: str) -> Callable[[pd.DataFrame], str]:
    def ours(runs: pd.DataFrame) -> str:
        found, (shallow, deep) = fast_bands(runs), _depths(runs)
        text = (
            f"N={shallow}: {found[(shallow, init)]:.2f} decades; "
            f"N={deep}: {found[(deep, init)]:.2f} decades"
        )
        if init == "balanced":
            text += f" (Gaussian N={deep}: {found[(deep, 'gaussian')]:.2f} decades)"
        return text

    return ours


def _ours_drift(runs: pd.DataFrame) -> str:
    flags = _small_lr_drifts(runs)
    part = runs[(runs["init"] == "balanced") & (runs["lr"] <= SMALL_LR)]["drift"].dropna()
    shown = f", median {part.median():.2g}, max {part.max():.2g}" if len(part) else ""
    return (
        f"{sum(flags)}/{len(flags)} balanced runs at η ≤ {SMALL_LR:g} drift ≤ {DRIFT_LIMIT:g}"
        + shown
    )


def _ours_margin(runs: pd.DataFrame) -> str:
    flags = _margin_starts(runs)
    balanced = runs[runs["init"] == "balanced"].groupby(["depth", "init_scale", "seed"])
    starts = balanced.ngroups
    return (
        f"{sum(flags)}/{len(flags)} balanced starts with c > 0 reached the tolerance at some "
        f"learning rate of the grid ({starts - len(flags)} starts had c ≤ 0)"
    )


_BANDS = f"{_band_rule()}; 'shallow' and 'deep' are the grid's smallest and largest depth"

CHECKS = (
    Check(
        claim="Gaussian init: the good std band narrows sharply from the shallow to the deep net",
        paper="N=3: fast over a range of stds; N=8: a narrow band, no convergence outside it "
        "within 10⁶ steps (Fig. 2a-b)",
        parts=(
            Part(
                Order("the deep Gaussian band", "the shallow one"),
                _gaussian_narrower,
                "narrower",
            ),
            Part(
                Ratio("the shallow Gaussian band", "the deep one", at_least=2.0),
                _gaussian_bands,
                "sharply",
            ),
        ),
        conditions=_BANDS,
        ours=_ours_bands("gaussian"),
    ),
    Check(
        claim="Balanced init: fast over a wide std range at both depths",
        paper="balanced init converges fast with no exponential dependence on depth (Fig. 2a-b)",
        parts=(
            Part(
                Ratio("the deep balanced band", "the shallow one", at_least=0.5),
                _balanced_keeps,
                "keeps its width",
            ),
            Part(
                Ratio("the deep balanced band", "the deep Gaussian band", at_least=2.0),
                _balanced_against_gaussian,
                "wider than Gaussian",
            ),
        ),
        conditions=_BANDS,
        ours=_ours_bands("balanced"),
    ),
    Check(
        claim="Balancedness stays near its initial value along GD at small η (Lemma 2)",
        paper="for small enough η, approximate balancedness persists under GD: δ(t) ≤ 2δ(0) "
        "(Lemma 2, Fig. 2c)",
        parts=(
            Part(
                Fraction(
                    f"the balanced-init runs with η ≤ {SMALL_LR:g}",
                    f"the drift max_t |δ(t) − δ(0)| is ≤ {DRIFT_LIMIT:g} (the size of "
                    "‖W_jW_jᵀ‖_F at the solution, ‖Φ‖_F^(2/N) = 1)",
                    at_least=0.9,
                ),
                _small_lr_drifts,
            ),
        ),
        conditions=f"the lemma assumes a small step size, so only runs with η ≤ {SMALL_LR:g} "
        "count; δ = max_j ‖W_(j+1)ᵀW_(j+1) − W_jW_jᵀ‖_F over the recorded path",
        ours=_ours_drift,
    ),
    Check(
        claim="Balanced start with a positive deficiency margin converges (Theorem 1)",
        paper="margin c > 0 and 0-balanced ⇒ ℓ(T) ≤ ε for T ≥ log(ℓ(0)/ε)/(η c^(2(N−1)/N)) (Thm 1)",
        parts=(
            Part(
                Fraction(
                    "the balanced starts (depth, std, seed) with a positive margin",
                    "ℓ ≤ ℓ* + ε is reached within the cap at some learning rate of the grid",
                    at_least=0.9,
                ),
                _margin_starts,
            ),
        ),
        conditions="the theorem asks for a small enough η, so a start counts as converged at "
        "any learning rate of the grid",
        ours=_ours_margin,
    ),
)


def claims(frame: pd.DataFrame) -> list[Claim]:
    """The study's claims from a results frame with a ``margin`` column (:func:`with_margins`)."""
    return decide_all(CHECKS, {"runs": prepared(frame)})


def observations(frame: pd.DataFrame, best: pd.DataFrame) -> list[str]:
    """Results outside the claims' conditions: balancedness at each cell's fastest η."""
    runs = _drifts(frame, best)
    balanced = runs[(runs["init"] == "balanced") & (runs["lr"] > SMALL_LR)]
    if balanced.empty:
        return []
    over = balanced[balanced["drift"] > DRIFT_LIMIT]
    text = (
        f"At each cell's fastest η where it is above {SMALL_LR:g} (outside Lemma 2's small η), "
        f"{len(balanced) - len(over)}/{len(balanced)} balanced runs drift ≤ {DRIFT_LIMIT:g}"
        f" (max {balanced['drift'].max():.2g})"
    )
    if len(over):
        text += "; over the limit: " + ", ".join(
            f"N={d} at s = {part['init_scale'].min():.2g}…{part['init_scale'].max():.2g}"
            for d, part in over.groupby("depth")
        )
    return [text + "."]


def _drifts(frame: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Per run at its cell's best learning rate that reached the tolerance: the balancedness
    drift max_t |δ(t) − δ(0)| over the recorded path."""
    chosen = best.dropna(subset=["lr"])[[*CELL, "lr"]]
    runs = with_steps(frame).merge(chosen, on=[*CELL, "lr"])
    runs = runs[np.isfinite(runs["steps"]) & runs["balancedness_curve"].notna()]
    drift = [
        float(np.max(np.abs(np.asarray(c, dtype=np.float64) - c[0])))
        for c in runs["balancedness_curve"]
    ]
    return runs.assign(drift=drift)


def _margin_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per start (depth, init, std, seed): its margin and its fewest steps over the lr grid."""
    data = with_steps(frame)
    return data.groupby([*CELL, "seed"]).agg(margin=("margin", "first"), steps=("steps", "min"))


def _fmt_steps(steps: float) -> str:
    return "never" if math.isinf(steps) else f"{steps:.0f}"


def _best_table(best: pd.DataFrame) -> str:
    depths = sorted(int(d) for d in best["depth"].unique())
    stds = sorted(best["init_scale"].unique())
    index = best.set_index(CELL)
    headers = ["std", *(f"{init} N={d}" for d in depths for init in INITS)]
    rows = []
    for s in stds:
        row: list[Any] = [f"{s:.3g}"]
        for d in depths:
            for init in INITS:
                cell = index.loc[(d, init, s)]
                lr = "" if math.isnan(cell["lr"]) else f" (η={cell['lr']:.0e})"
                row.append(_fmt_steps(float(cell["steps"])) + lr)
        rows.append(row)
    return markdown_table(headers, rows)


def _margin_table(frame: pd.DataFrame) -> str:
    starts = _margin_outcomes(frame).reset_index()
    rows = []
    for (depth, init), part in starts.groupby(["depth", "init"], sort=True):
        for sign, group in (
            ("c > 0", part[part["margin"] > 0]),
            ("c ≤ 0", part[part["margin"] <= 0]),
        ):
            reached = group["steps"][np.isfinite(group["steps"])]
            rows.append(
                [
                    int(depth),
                    str(init),
                    sign,
                    len(group),
                    len(reached),
                    float(reached.median()) if len(reached) else math.nan,
                ]
            )
    return markdown_table(
        ["depth N", "init", "margin at init", "starts", "converged", "median steps (converged)"],
        rows,
    )


def measurements(
    size: str = "quick", data: Path | None = None, *, nonlinear: Path | None = None
) -> list[Measurement]:
    """Fig. 2 (d)'s table (the nonlinear net) at ``size``: on the classification set
    ``nonlinear`` (e.g. MNIST; ``--data nonlinear=PATH``) when given, else on digits. ``data``
    is the linear study's regression set, which the nonlinear net does not use."""
    return nonlinear_net.measurements(size, nonlinear)


def analyse(frame: pd.DataFrame, figures: Path, tables: dict[str, pd.DataFrame]) -> Analysis:
    """Steps against std at the best learning rate (headline), balancedness along the path,
    the best learning rate per cell, the margin table, the nonlinear net of Fig. 2 (d) and the
    claims."""
    frame = with_margins(frame)
    steps = int(frame["steps"].max())
    best = best_lrs(frame)
    found = bands(best)
    n, d_x = int(frame["n"].iloc[0]), int(frame["d_x"].iloc[0])
    source = str(frame["data"].iloc[0])
    fig = plots.steps_to_tol(
        best,
        x="init_scale",
        hue="init",
        facet="depth",
        column="steps",
        xlabel="init std s",
        ylabel="steps to ℓ − ℓ* ≤ 1e-5 (best η)",
        cap=steps,
        title=f"Arora et al. 2019: steps against init std ({source}, d_x = {d_x}, n = {n})",
    )
    paths = [plots.save(fig, figures / "steps_vs_std.png")]
    runs = _drifts(frame, best)
    stds = sorted(best["init_scale"].unique())
    picks = [stds[0], stds[len(stds) // 2], stds[-4]] if len(stds) >= 4 else stds
    shown = runs[runs["init_scale"].isin(picks)]
    if not shown.empty:
        shown = shown.assign(
            start=[
                f"{i}, s = {s:.2g}" for i, s in zip(shown["init"], shown["init_scale"], strict=True)
            ]
        )
        fig = plots.curves(
            shown,
            hue="start",
            facet="depth",
            column="balancedness_curve",
            relative=False,
            ylabel="balancedness δ(t)",
            xscale="symlog",
            xlim=(0.0, 1.5 * float(shown["steps"].max())),
            ylim=(1e-17, 1e2),
            styles={k: "--" for k in shown["start"].unique() if k.startswith("gaussian")},
            title="δ(t) = max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F along GD at the best η "
            "(median over seeds; until the slowest stops)",
        )
        paths.append(plots.save(fig, figures / "balancedness.png"))
    band_rows = [
        [d, i, b.describe(), f"{b.best:.3g}" if b.best else "–", _fmt_steps(b.best_steps)]
        for (d, i), b in found.items()
    ]
    sections = [
        (
            "Definitions",
            f"ℓ* = {frame_optimum(frame):.6g} is the least-squares optimum of the data (computed "
            f"from X and Y); a run stops, and counts as converged, at the first step with "
            f"ℓ ≤ ℓ* + {float(frame['tol'].iloc[0]):g} (the engine's steps_to_tol), within "
            f"{steps} steps. {_band_rule()[0].upper()}{_band_rule()[1:]}.",
        ),
        (
            "Fast bands",
            markdown_table(["depth N", "init", "fast band", "fastest std", "its steps"], band_rows),
        ),
        ("Steps at the best learning rate per cell", _best_table(best)),
        (
            "Deficiency margin at initialisation",
            "Margin c = σ_min(Φ) − ‖W_N⋯W_1 − Φ‖_F of the initial end-to-end matrix, per start "
            "(depth, init, std, seed), against its fewest steps over the learning-rate grid. "
            "With tiny std the end-to-end matrix is near 0 and c ≈ 0 with either sign (the "
            "paper's Claim 3: probability about ½).\n\n" + _margin_table(frame),
        ),
    ]
    paths += nonlinear_net.figures(tables, figures)
    sections += nonlinear_net.sections(tables)
    findings = {"bands": found, "best": best}
    return Analysis(
        paths,
        sections,
        claims(frame) + nonlinear_net.claims(tables),
        findings,
        observations(frame, best),
    )


def frame_optimum(frame: pd.DataFrame) -> float:
    """ℓ* of the frame's data (its first run's)."""
    return optimum(run_configs(frame.iloc[:1])[0])


STUDY = register(
    Study(
        name="arora2019",
        title="Arora, Cohen, Golowich & Hu 2019: balanced initialisation of deep linear nets",
        spec=spec,
        analyse=analyse,
        measurements=measurements,
        description=(
            "Scalar linear regression on whitened data with ‖Φ‖_F = 1, by deep linear nets of "
            "depth 3 and 8 (hidden width 32) from layer-wise Gaussian or balanced "
            "initialisation over a grid of init stds; full-batch GD with the learning rate "
            "grid-searched per cell (1e-4…1), until ℓ ≤ ℓ* + 1e-5. Expected: the Gaussian "
            "U-curve of steps against std has a good band that narrows sharply with depth; "
            "balanced init converges fast over a wide std range at both depths, and "
            "balancedness persists along the GD path. Fig. 2 (d): a ReLU net input → 128 → 32 "
            "→ 10 trained by SGD with cross-entropy from Gaussian or balanced init (Procedure 1 "
            "ignoring the ReLUs) over init stds; expected: balanced converges faster and more "
            "stably."
        ),
        data_help="an .npz with X (n, d) and real targets y (n,), e.g. the UCI gas-sensor "
        "'Ethanol' set (2565 × 128); whitened like the default diabetes data",
        extra_data={
            "nonlinear": "a classification .npz (X, integer labels y; pixels / 255), e.g. "
            "MNIST, for Fig. 2 (d)'s ReLU net (default: digits)"
        },
        sizes={
            "quick": "~1 min: 15 stds × 9 η, 3 seeds, cap 10⁴. Decides the bands and Lemma 2; "
            "the margin theorem needs more seeds with a positive margin.",
            "standard": "~25 min (24.7 min measured on 2 cores, 2607 s of CPU time): the full 33 "
            "stds × 17 η grid, 5 seeds, cap 2·10⁴; the ReLU net on digits, 13 stds, 8 seeds.",
            "full": "the paper's cap of 10⁶ steps.",
        },
    )
)
