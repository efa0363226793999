"""Wu, Wang & Ma 2019: zero-asymmetric (ZAS) initialisation of deep linear residual networks.

Square d × d networks W_L⋯W_1 fitted to a target matrix Φ (X = I: ℓ = ½‖W_L⋯W_1 − Φ‖_F²) by
full-batch gradient descent with η = c/L. A residual net's layers are W_l = I + U_l, and GD on
U_l is GD on W_l, so "residual" is the initialisation: ZAS (W_1 … W_{L−1} = I, W_L = 0),
identity, near-identity (I + N(0, σ²/d)) and, as the non-residual baseline, Xavier. Targets:
Φ = −I, and a seeded symmetric Φ with negative eigenvalues. The metric is the number of steps
until ℓ(t)/ℓ(0) ≤ ε, read from the loss curve (recorded at every step). See docs/science.md,
"Wu et al. 2019".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import plots
from ..errors import InvalidValueError
from ..report import Claim, Verdict, markdown_table
from ..sweep import SweepSpec, steps_to_ratio
from .analysis import loglog_fit, steps_or_inf, verdict_from_fraction
from .base import Analysis, Study, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EPSILON",
    "FULL",
    "QUICK",
    "STALL_FACTOR",
    "Grid",
    "claim_polynomial",
    "claim_saddle",
    "claim_xavier_fails",
    "claim_zas_converges",
    "claims",
    "spec",
    "steps_table",
]

#: Converged: ℓ(t)/ℓ(0) ≤ EPSILON.
EPSILON = 1e-6
#: A start "stalls" when it needs at least this many times ZAS's steps (or never gets there).
STALL_FACTOR = 10.0
#: The paper's bound: O(L³ log(1/ε)) steps under ZAS.
MAX_EXPONENT = 3.0
INITS = ("zas", "near_identity", "identity", "xavier")
TARGETS = ("minus_identity", "symmetric_negative")
TARGET_NAMES = {"minus_identity": "Φ = −I", "symmetric_negative": "Φ random symmetric"}
#: A slope is fitted to an init's steps against depth when it reached ε at this many depths.
MIN_FIT_POINTS = 3


@dataclass(frozen=True)
class Grid:
    """One size of the study."""

    d: int
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int
    curve_depths: tuple[int, ...]
    c: float = 0.5
    sigma: float = 0.1
    data_seed: int = 0


#: Quick: d = 8, depths 2…128, 5 seeds, 5000 steps: about half a minute on 2 cores.
QUICK = Grid(
    d=8,
    depths=(2, 4, 8, 16, 32, 64, 128),
    seeds=(0, 1, 2, 3, 4),
    steps=5_000,
    curve_depths=(4, 32, 128),
)
#: Full: d = 16, depths 2…512, 5 seeds, 20000 steps.
FULL = Grid(
    d=16,
    depths=(2, 4, 8, 16, 32, 64, 128, 256, 512),
    seeds=(0, 1, 2, 3, 4),
    steps=20_000,
    curve_depths=(4, 64, 512),
)
GRIDS = {"quick": QUICK, "full": FULL}


def spec(size: str = "quick", data: Path | None = None) -> SweepSpec:
    """The sweep spec at ``size``; ``data`` must be None (the targets are synthetic)."""
    if data is not None:
        raise InvalidValueError(
            "data: wu2019 fits synthetic target matrices and takes no data file"
        )
    grid = GRIDS[size]
    return SweepSpec.from_dict(
        {
            "name": f"wu2019-{size}",
            "axes": {
                "depth": list(grid.depths),
                "data": list(TARGETS),
                "init": list(INITS),
                "seed": list(grid.seeds),
            },
            "fixed": {
                "width": grid.d,
                "d_x": grid.d,
                "n": grid.d,
                "d_y": grid.d,
                "data_seed": grid.data_seed,
                "init_scale": grid.sigma,
                "steps": grid.steps,
                "record_every": 1,
                "lr": grid.c,
                "lr_rule": "inverse_depth",
            },
        }
    )


def _with_steps(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``steps``: steps to ℓ/ℓ(0) ≤ ε (``inf`` if never or diverged)."""
    steps = steps_to_ratio(frame, EPSILON).where(~frame["diverged"], math.nan)
    return frame.assign(steps=steps_or_inf(steps))


def steps_table(frame: pd.DataFrame) -> pd.Series:
    """Median (over seeds) steps to ε, indexed by (data, init, depth); ``inf`` = never."""
    return _with_steps(frame).groupby(["data", "init", "depth"])["steps"].median()


def _fmt(steps: float) -> str:
    return "never" if math.isinf(steps) else f"{steps:.0f}"


def _series(table: pd.Series, target: str, init: str) -> dict[int, float]:
    part = table.loc[(target, init)]
    return {int(d): float(v) for d, v in part.items()}


def claim_zas_converges(frame: pd.DataFrame) -> Claim:
    """ZAS reaches ε at every depth, for every target and seed."""
    steps = _with_steps(frame[frame["init"] == "zas"])
    cells = steps.groupby(["data", "depth"])["steps"].max()  # the slowest seed
    ok = int(np.isfinite(cells).sum())
    verdict = verdict_from_fraction(ok / len(cells)) if len(cells) else "not reproduced"
    spread = cells[np.isfinite(cells)]
    ours = f"every seed reached ε = {EPSILON:g} at {ok}/{len(cells)} (target, depth) cells"
    if len(spread):
        ours += f"; slowest seed {spread.min():.0f}…{spread.max():.0f} steps"
    return Claim(
        claim="ZAS converges at every depth",
        paper="GD from ZAS reaches ε for an arbitrary target (global convergence)",
        ours=ours,
        verdict=verdict,
        rule=f"per (target, depth) cell, ZAS holds if every seed reaches ℓ/ℓ(0) ≤ {EPSILON:g} "
        "within the step cap; 'reproduced' if it holds in every cell, 'partly' in at least "
        "half, else 'not reproduced'.",
    )


def fit(series: dict[int, float]) -> tuple[float, float] | None:
    """log-log fit (slope, intercept) of median steps against depth over the depths where the
    median reached ε; None with fewer than :data:`MIN_FIT_POINTS` of them."""
    if sum(math.isfinite(v) for v in series.values()) < MIN_FIT_POINTS:
        return None
    return loglog_fit(list(series), list(series.values()))


def zas_fits(table: pd.Series) -> dict[str, tuple[float, float] | None]:
    """Per target: :func:`fit` of ZAS's median steps against depth."""
    return {t: fit(_series(table, t, "zas")) for t in sorted({t for t, _, _ in table.index})}


def claim_polynomial(frame: pd.DataFrame) -> Claim:
    """ZAS's step count grows at most polynomially in depth: fitted exponent ≤ 3."""
    table = steps_table(frame)
    fits = zas_fits(table)
    complete = all(np.isfinite(list(_series(table, t, "zas").values())).all() for t in fits)
    slopes = {t: (None if f is None else f[0]) for t, f in fits.items()}
    within = all(s is not None and s <= MAX_EXPONENT for s in slopes.values())
    verdict: Verdict
    if within and complete:
        verdict = "reproduced"
    elif within:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    shown = "; ".join(
        f"{TARGET_NAMES.get(t, t)}: " + ("no fit" if s is None else f"{s:.2f}")
        for t, s in slopes.items()
    )
    return Claim(
        claim=f"ZAS steps grow at most polynomially in L (fitted exponent ≤ {MAX_EXPONENT:g})",
        paper="O(L³ log(1/ε)) iterations",
        ours=f"log-log slope of median steps against L: {shown}",
        verdict=verdict,
        rule="per target, fit log10(median steps to ε) = a + b·log10(L) over the depths "
        f"where ZAS's median reached ε (at least {MIN_FIT_POINTS}); 'reproduced' if "
        f"b ≤ {MAX_EXPONENT:g} for every target and the fit covers every depth, 'partly' if b ≤ "
        f"{MAX_EXPONENT:g} but some depth is missing, else 'not reproduced'.",
    )


def claim_saddle(frame: pd.DataFrame, target: str = "minus_identity") -> Claim:
    """On Φ = −I, identity and near-identity starts stall (a saddle) where ZAS does not."""
    table = steps_table(frame)
    zas = _series(table, target, "zas")
    near = _series(table, target, "near_identity")
    ident = _series(table, target, "identity")
    holds = [
        d
        for d in sorted(zas)
        if math.isfinite(zas[d]) and min(near[d], ident[d]) >= STALL_FACTOR * zas[d]
    ]
    verdict = verdict_from_fraction(len(holds) / len(zas)) if zas else "not reproduced"
    ours = (
        f"holds at {len(holds)}/{len(zas)} depths; median steps ZAS "
        + ", ".join(f"L={d}: {_fmt(zas[d])}" for d in sorted(zas))
        + "; near-identity "
        + ", ".join(f"{_fmt(near[d])}" for d in sorted(near))
        + "; identity "
        + ", ".join(f"{_fmt(ident[d])}" for d in sorted(ident))
    )
    return Claim(
        claim="Near-identity and identity stall on Φ = −I (saddle); ZAS does not",
        paper="near-identity needs a saddle-escape phase; ZAS meets no saddle",
        ours=ours,
        verdict=verdict,
        rule=f"at each depth, on Φ = −I, the claim holds if ZAS's median steps to ε are finite "
        f"and both identity and near-identity need at least {STALL_FACTOR:g}× as many (median "
        "over seeds, 'never' counting as infinite); 'reproduced' if it holds at every depth, "
        "'partly' at least at half of them, else 'not reproduced'.",
    )


def claim_xavier_fails(frame: pd.DataFrame) -> Claim:
    """Xavier init fails at depth: from some depth on it never reaches ε while ZAS does."""
    table = steps_table(frame)
    depths = sorted({int(d) for _, _, d in table.index})
    targets = sorted({t for t, _, _ in table.index})

    def fails(depth: int) -> bool:
        return all(
            math.isinf(table[(t, "xavier", depth)]) and math.isfinite(table[(t, "zas", depth)])
            for t in targets
        )

    onset = None
    for depth in reversed(depths):
        if not fails(depth):
            break
        onset = depth
    middle = depths[(len(depths) - 1) // 2]
    verdict: Verdict
    if onset is not None and onset <= middle:
        verdict = "reproduced"
    elif onset is not None:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    reached = ", ".join(
        f"L={d}: " + "/".join(_fmt(table[(t, "xavier", d)]) for t in targets) for d in depths
    )
    return Claim(
        claim="Xavier init fails at depth",
        paper="exp(Ω(L)) steps for Xavier or near-identity (Shamir 2018)",
        ours=("never reaches ε from L = " + str(onset) if onset else "reaches ε at the deepest L")
        + f" (median steps per target: {reached})",
        verdict=verdict,
        rule=f"let L_f be the smallest depth from which on Xavier's median never reaches ε "
        f"(within the cap) on every target while ZAS's does; 'reproduced' if L_f exists and is "
        f"at most the middle depth of the grid (L = {middle}), 'partly' if it exists but is "
        "deeper, 'not reproduced' if Xavier reaches ε at the deepest depth.",
    )


def claims(frame: pd.DataFrame) -> list[Claim]:
    """The study's claims, judged from the stored loss curves."""
    return [
        claim_zas_converges(frame),
        claim_polynomial(frame),
        claim_saddle(frame),
        claim_xavier_fails(frame),
    ]


def analyse(frame: pd.DataFrame, figures: Path) -> Analysis:
    """Steps to ε against depth with fitted slopes (headline), loss curves at three depths,
    the steps table and the claims."""
    steps = int(frame["steps"].max())
    grid = next((g for g in GRIDS.values() if g.steps == steps), QUICK)
    d = int(frame["d_x"].iloc[0])
    data = _with_steps(frame)
    table = steps_table(frame)
    fits: dict[tuple[Any, Any], tuple[float, float]] = {}
    for target in sorted(frame["data"].unique()):
        for init in sorted(frame["init"].unique()):
            found = fit(_series(table, target, init))
            if found is not None:
                fits[(target, init)] = found
    fig = plots.steps_to_tol(
        data.assign(target=data["data"].map(TARGET_NAMES)),
        x="depth",
        hue="init",
        facet="target",
        column="steps",
        ylabel=f"steps until ℓ(t)/ℓ(0) ≤ {EPSILON:g}",
        xlabel="depth L",
        cap=steps,
        fits={(TARGET_NAMES[t], i): f for (t, i), f in fits.items()},
        title=f"Wu et al. 2019: steps to ε against depth (d = {d}, η = {grid.c:g}/L)",
    )
    paths = [plots.save(fig, figures / "steps_vs_depth.png")]
    shown_depths = [x for x in grid.curve_depths if x in set(frame["depth"])]
    for target in sorted(frame["data"].unique()):
        part = frame[(frame["data"] == target) & frame["depth"].isin(shown_depths)]
        fig = plots.curves(
            part,
            hue="init",
            facet="depth",
            xscale="log",
            ylim=(1e-12, 10.0),
            title=f"median ℓ(t)/ℓ(0), {TARGET_NAMES.get(target, target)} (d = {d})",
        )
        paths.append(plots.save(fig, figures / f"loss_curves_{target}.png"))
    depths = sorted(int(x) for x in frame["depth"].unique())
    sections = []
    for target in sorted(frame["data"].unique()):
        rows = [
            [
                init,
                *(_fmt(table[(target, init, x)]) for x in depths),
                "–" if (target, init) not in fits else f"{fits[(target, init)][0]:.2f}",
            ]
            for init in INITS
            if init in set(frame["init"])
        ]
        text = markdown_table(["init", *(f"L={x}" for x in depths), "slope"], rows)
        sections.append(
            (f"Median steps to ℓ/ℓ(0) ≤ {EPSILON:g}, {TARGET_NAMES.get(target, target)}", text)
        )
    definition = (
        f"Steps to ε: the first step t with ℓ(t)/ℓ(0) ≤ {EPSILON:g} (loss recorded at every "
        f"step), 'never' if not within {steps} steps or if the run diverged; medians over "
        f"{frame['seed'].nunique()} seeds count 'never' as infinite (ZAS and identity are "
        f"deterministic, so their seeds agree). Slopes: least-squares fits of log10(steps) "
        f"against log10(L) over the depths where the median reached ε (at least "
        f"{MIN_FIT_POINTS}). Near-identity uses "
        f"σ = {grid.sigma:g} (entries of W − I with standard deviation σ/√d)."
    )
    sections.insert(0, ("Definitions", definition))
    findings = {"steps": table, "fits": fits}
    return Analysis(paths, sections, claims(frame), findings)


STUDY = register(
    Study(
        name="wu2019",
        title="Wu, Wang & Ma 2019: zero-asymmetric initialisation of deep residual linear nets",
        spec=spec,
        analyse=analyse,
        description=(
            "Square linear networks fitted to a target matrix Φ (ℓ = ½‖W_L⋯W_1 − Φ‖²) by "
            "gradient descent with η = c/L, from ZAS (identity layers, zero last layer), "
            "identity, near-identity and Xavier starts; targets Φ = −I and a random symmetric "
            "Φ with negative eigenvalues. Expected: ZAS converges at every depth in a number "
            "of steps polynomial in L; identity and near-identity starts stall at a saddle; "
            "Xavier fails at depth."
        ),
    )
)
