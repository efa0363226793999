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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics, plots
from ..data import load_npz
from ..errors import InvalidValueError
from ..report import Claim, Verdict, markdown_table
from ..sweep import SweepSpec, run_configs
from ..sweep.recipes import make_data, make_weights, optimum
from ..sweep.registry import file_digest
from .analysis import Band, best_per_cell, fast_band, steps_or_inf, verdict_from_fraction
from .base import Analysis, Study, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DRIFT_LIMIT",
    "FAST_FACTOR",
    "FULL",
    "QUICK",
    "Grid",
    "bands",
    "best_lrs",
    "claim_balanced_wide",
    "claim_balancedness_persists",
    "claim_gaussian_narrows",
    "claim_margin_converges",
    "claims",
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
GRIDS = {"quick": QUICK, "full": FULL}


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


def claim_gaussian_narrows(found: dict[tuple[int, str], Band]) -> Claim:
    """Gaussian's good std band narrows sharply from the shallow to the deep net."""
    shallow, deep = min(d for d, _ in found), max(d for d, _ in found)
    a, b = found[(shallow, "gaussian")], found[(deep, "gaussian")]
    verdict: Verdict
    if a.decades > 0 and b.decades <= a.decades / 2:
        verdict = "reproduced"
    elif a.decades > 0 and b.decades < a.decades:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Claim(
        claim=f"Gaussian init: the good std band narrows sharply from depth {shallow} to {deep}",
        paper=f"N={shallow}: fast (a few hundred steps or less) over a range of stds; "
        f"N={deep}: a narrow band, no convergence outside it within 10⁶ steps",
        ours=f"N={shallow}: {a.describe()}, best {a.best_steps:.0f} steps; "
        f"N={deep}: {b.describe()}, best {b.best_steps:.0f} steps",
        verdict=verdict,
        rule=f"{_band_rule()}; 'reproduced' if the depth-{deep} Gaussian band is at most half "
        f"as wide as the depth-{shallow} one, 'partly' if narrower but more than half, else "
        "'not reproduced'.",
    )


def claim_balanced_wide(found: dict[tuple[int, str], Band]) -> Claim:
    """Balanced init converges fast over a wide std range at both depths."""
    shallow, deep = min(d for d, _ in found), max(d for d, _ in found)
    a, b = found[(shallow, "balanced")], found[(deep, "balanced")]
    gaussian = found[(deep, "gaussian")]
    keeps = a.decades > 0 and b.decades >= a.decades / 2
    wider = b.decades > 0 and b.decades >= 2 * gaussian.decades
    verdict: Verdict = (
        "reproduced" if keeps and wider else "partly" if keeps or wider else "not reproduced"
    )
    return Claim(
        claim="Balanced init: fast over a wide std range at both depths",
        paper="balanced init converges fast with no exponential dependence on depth",
        ours=f"N={shallow}: {a.describe()}, best {a.best_steps:.0f} steps; "
        f"N={deep}: {b.describe()}, best {b.best_steps:.0f} steps "
        f"(Gaussian N={deep}: {gaussian.decades:.2f} decades)",
        verdict=verdict,
        rule=f"{_band_rule()}; two conditions: (a) the depth-{deep} balanced band is at least "
        f"half as wide as the depth-{shallow} one, (b) it is at least twice as wide as the "
        f"depth-{deep} Gaussian band; 'reproduced' if both hold, 'partly' if one, else "
        "'not reproduced'.",
    )


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


def claim_balancedness_persists(frame: pd.DataFrame, best: pd.DataFrame) -> Claim:
    """Balancedness stays near its initial value along GD from balanced init."""
    runs = _drifts(frame, best)
    parts = {init: runs[runs["init"] == init]["drift"] for init in INITS}
    balanced = parts["balanced"]
    fraction = float((balanced <= DRIFT_LIMIT).mean()) if len(balanced) else 0.0
    verdict = verdict_from_fraction(fraction, full=0.9) if len(balanced) else "not reproduced"
    shown = "; ".join(
        f"{init}: {int((p <= DRIFT_LIMIT).sum())}/{len(p)} runs, median drift "
        + (f"{p.median():.2g}, max {p.max():.2g}" if len(p) else "–")
        for init, p in parts.items()
    )
    over = runs[(runs["init"] == "balanced") & (runs["drift"] > DRIFT_LIMIT)]
    if len(over):
        shown += "; balanced runs over the limit: " + ", ".join(
            f"N={d} at s = {part['init_scale'].min():.2g}…{part['init_scale'].max():.2g}"
            for d, part in over.groupby("depth")
        )
    return Claim(
        claim="Balancedness stays near its initial value along GD (balanced init)",
        paper="approximate balancedness persists under GD (Fig. 2c; Lemma 2: stays ≤ 2δ)",
        ours=f"drift ≤ {DRIFT_LIMIT:g}: {shown}",
        verdict=verdict,
        rule="for every run at its cell's best learning rate that reached the tolerance, the "
        "drift is max_t |δ(t) − δ(0)| over the recorded path, δ = max_j "
        f"‖W_(j+1)ᵀW_(j+1) − W_jW_jᵀ‖_F; 'reproduced' if at least 90% of the balanced-init "
        f"runs drift by ≤ {DRIFT_LIMIT:g} (the size of ‖W_jW_jᵀ‖_F at the solution, "
        "‖Φ‖_F^(2/N) = 1), 'partly' if at least half do, else 'not reproduced'.",
    )


def _margin_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per start (depth, init, std, seed): its margin and its fewest steps over the lr grid."""
    data = with_steps(frame)
    return data.groupby([*CELL, "seed"]).agg(margin=("margin", "first"), steps=("steps", "min"))


def claim_margin_converges(frame: pd.DataFrame) -> Claim:
    """Theorem 1: from a 0-balanced start with a positive deficiency margin, GD converges."""
    starts = _margin_outcomes(frame)
    balanced = starts.xs("balanced", level="init")
    positive = balanced[balanced["margin"] > 0]
    converged = int(np.isfinite(positive["steps"]).sum())
    fraction = converged / len(positive) if len(positive) else 0.0
    verdict = verdict_from_fraction(fraction, full=0.9) if len(positive) else "not reproduced"
    return Claim(
        claim="Balanced start with a positive deficiency margin converges (Theorem 1)",
        paper="margin c > 0 and 0-balanced ⇒ ℓ(T) ≤ ε for T ≥ log(ℓ(0)/ε)/(η c^(2(N−1)/N))",
        ours=f"{converged}/{len(positive)} balanced starts with c > 0 reached the tolerance at "
        f"some learning rate of the grid ({len(balanced) - len(positive)} starts had c ≤ 0)",
        verdict=verdict,
        rule="a start is one (depth, std, seed) of balanced init; it converged if it reached "
        "ℓ ≤ ℓ* + ε within the step cap at any learning rate of the grid (the theorem asks for "
        "a small enough η); 'reproduced' if at least 90% of the starts with a positive margin "
        "converged, 'partly' if at least half, else 'not reproduced'.",
    )


def claims(frame: pd.DataFrame) -> list[Claim]:
    """The study's claims from a results frame with a ``margin`` column (:func:`with_margins`)."""
    best = best_lrs(frame)
    found = bands(best)
    return [
        claim_gaussian_narrows(found),
        claim_balanced_wide(found),
        claim_balancedness_persists(frame, best),
        claim_margin_converges(frame),
    ]


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


def analyse(frame: pd.DataFrame, figures: Path) -> Analysis:
    """Steps against std at the best learning rate (headline), balancedness along the path,
    the best learning rate per cell, the margin table and the claims."""
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
    findings = {"bands": found, "best": best}
    return Analysis(paths, sections, claims(frame), findings)


def frame_optimum(frame: pd.DataFrame) -> float:
    """ℓ* of the frame's data (its first run's)."""
    return optimum(run_configs(frame.iloc[:1])[0])


STUDY = register(
    Study(
        name="arora2019",
        title="Arora, Cohen, Golowich & Hu 2019: balanced initialisation of deep linear nets",
        spec=spec,
        analyse=analyse,
        description=(
            "Scalar linear regression on whitened data with ‖Φ‖_F = 1, by deep linear nets of "
            "depth 3 and 8 (hidden width 32) from layer-wise Gaussian or balanced "
            "initialisation over a grid of init stds; full-batch GD with the learning rate "
            "grid-searched per cell (1e-4…1), until ℓ ≤ ℓ* + 1e-5. Expected: the Gaussian "
            "U-curve of steps against std has a good band that narrows sharply with depth; "
            "balanced init converges fast over a wide std range at both depths, and "
            "balancedness persists along the GD path."
        ),
        data_help="an .npz with X (n, d) and real targets y (n,), e.g. the UCI gas-sensor "
        "'Ethanol' set (2565 × 128); whitened like the default diabetes data",
    )
)
