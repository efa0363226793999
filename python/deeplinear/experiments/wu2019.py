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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import plots
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..sweep import SweepSpec, steps_to_ratio
from .analysis import loglog_fit, steps_or_inf
from .base import Analysis, Study, register
from .rules import Check, Fraction, Monotone, Part, Slope, decide_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "EPSILON",
    "FULL",
    "QUICK",
    "STALL_FACTOR",
    "STANDARD",
    "Grid",
    "claims",
    "observations",
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
#: Standard: d = 16 (the full size's), depths 2…256, 5 seeds, 10000 steps: 3.3 minutes on 2 quiet
#: cores (7 Dec 2026).
STANDARD = Grid(
    d=16,
    depths=(2, 4, 8, 16, 32, 64, 128, 256),
    seeds=(0, 1, 2, 3, 4),
    steps=10_000,
    curve_depths=(4, 32, 256),
)
#: Full: d = 16, depths 2…512, 5 seeds, 20000 steps.
FULL = Grid(
    d=16,
    depths=(2, 4, 8, 16, 32, 64, 128, 256, 512),
    seeds=(0, 1, 2, 3, 4),
    steps=20_000,
    curve_depths=(4, 64, 512),
)
GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


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


def fit(series: dict[int, float]) -> tuple[float, float] | None:
    """log-log fit (slope, intercept) of median steps against depth over the depths where the
    median reached ε; None with fewer than :data:`MIN_FIT_POINTS` of them."""
    if sum(math.isfinite(v) for v in series.values()) < MIN_FIT_POINTS:
        return None
    return loglog_fit(list(series), list(series.values()))


def zas_fits(table: pd.Series) -> dict[str, tuple[float, float] | None]:
    """Per target: :func:`fit` of ZAS's median steps against depth."""
    return {t: fit(_series(table, t, "zas")) for t in sorted({t for t, _, _ in table.index})}


def step_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """The seed-level frame the claims are decided on: one row per run with its target
    (``data``), init, depth, seed and ``steps`` to ε (``inf`` = never)."""
    return _with_steps(frame)[["data", "init", "depth", "seed", "steps"]]


def _medians(runs: pd.DataFrame, target: str, init: str) -> dict[int, float]:
    """Median steps over seeds per depth, for one target and init."""
    part = runs[(runs["data"] == target) & (runs["init"] == init)]
    return {int(d): float(v) for d, v in part.groupby("depth")["steps"].median().items()}


def _deep(depths: list[int]) -> list[int]:
    """The deeper half of the grid's depths (from its middle depth on): where a claim about
    large L is judged."""
    return depths[(len(depths) - 1) // 2 :]


def _zas_every_seed(runs: pd.DataFrame) -> list[bool]:
    """Per (target, depth): whether every seed of ZAS reached ε."""
    zas = runs[runs["init"] == "zas"]
    return list(np.isfinite(zas.groupby(["data", "depth"])["steps"].max()))


def _zas_steps(target: str) -> Callable[[pd.DataFrame], dict[int, float]]:
    def measure(runs: pd.DataFrame) -> dict[int, float]:
        return _medians(runs, target, "zas")

    return measure


def _stall_ratio(target: str) -> Callable[[pd.DataFrame], dict[int, float]]:
    """Per depth: min(identity, near-identity) median steps / ZAS's ('never' = inf)."""

    def measure(runs: pd.DataFrame) -> dict[int, float]:
        zas = _medians(runs, target, "zas")
        near = _medians(runs, target, "near_identity")
        ident = _medians(runs, target, "identity")
        with np.errstate(invalid="ignore", divide="ignore"):
            return {d: min(near[d], ident[d]) / zas[d] for d in zas}

    return measure


def _stalls_deep(target: str) -> Callable[[pd.DataFrame], list[bool]]:
    def measure(runs: pd.DataFrame) -> list[bool]:
        ratio = _stall_ratio(target)(runs)
        zas = _medians(runs, target, "zas")
        return [math.isfinite(zas[d]) and ratio[d] >= STALL_FACTOR for d in _deep(sorted(ratio))]

    return measure


def _xavier_fails_deep(runs: pd.DataFrame) -> list[bool]:
    """Per depth of the deeper half: Xavier's median never reaches ε on every target while
    ZAS's does."""
    targets = sorted(runs["data"].unique())
    xavier = {t: _medians(runs, t, "xavier") for t in targets}
    zas = {t: _medians(runs, t, "zas") for t in targets}
    depths = sorted(zas[targets[0]])
    return [
        all(math.isinf(xavier[t][d]) and math.isfinite(zas[t][d]) for t in targets)
        for d in _deep(depths)
    ]


def _ours_converges(runs: pd.DataFrame) -> str:
    zas = runs[runs["init"] == "zas"]
    cells = zas.groupby(["data", "depth"])["steps"].max()  # the slowest seed
    ok = int(np.isfinite(cells).sum())
    text = f"every seed reached ε = {EPSILON:g} at {ok}/{len(cells)} (target, depth) cells"
    spread = cells[np.isfinite(cells)]
    if len(spread):
        text += f"; slowest seed {spread.min():.0f}…{spread.max():.0f} steps"
    return text


def _ours_polynomial(runs: pd.DataFrame) -> str:
    slope = Slope("steps", "L", min_points=MIN_FIT_POINTS)
    shown = "; ".join(
        f"{TARGET_NAMES.get(t, t)}: {slope.evaluate(_zas_steps(t)(runs))[0]:.2f}"
        for t in sorted(runs["data"].unique())
    )
    return f"log-log slope of median steps against L: {shown}"


def _ours_saddle(runs: pd.DataFrame, target: str = "minus_identity") -> str:
    zas, near, ident = (_medians(runs, target, i) for i in ("zas", "near_identity", "identity"))
    return (
        "median steps ZAS "
        + ", ".join(f"L={d}: {_fmt(zas[d])}" for d in sorted(zas))
        + "; near-identity "
        + ", ".join(_fmt(near[d]) for d in sorted(near))
        + "; identity "
        + ", ".join(_fmt(ident[d]) for d in sorted(ident))
    )


def _ours_xavier(runs: pd.DataFrame) -> str:
    targets = sorted(runs["data"].unique())
    xavier = {t: _medians(runs, t, "xavier") for t in targets}
    depths = sorted(xavier[targets[0]])
    return "median steps per target: " + ", ".join(
        f"L={d}: " + "/".join(_fmt(xavier[t][d]) for t in targets) for d in depths
    )


_STEPS = (
    f"steps to ε = the first step with ℓ(t)/ℓ(0) ≤ {EPSILON:g} ('never' = infinite: not within "
    "the cap, or diverged); medians over seeds"
)
_DEEP = "the deeper half of the grid's depths (from its middle depth on)"

CHECKS = (
    Check(
        claim="ZAS converges at every depth",
        paper='"GD with ZAS converges to the global minimum for an arbitrary target" (Thm 1)',
        parts=(
            Part(
                Fraction(
                    "the (target, depth) cells", f"every seed of ZAS reaches ℓ/ℓ(0) ≤ {EPSILON:g}"
                ),
                _zas_every_seed,
            ),
        ),
        conditions=_STEPS,
        ours=_ours_converges,
    ),
    Check(
        claim=f"ZAS steps grow at most polynomially in L (fitted exponent ≤ {MAX_EXPONENT:g})",
        paper="O(L³ log(1/ε)) iterations (Thm 1)",
        parts=tuple(
            Part(
                Slope(
                    f"ZAS's median steps on {TARGET_NAMES[t]}",
                    "L",
                    high=MAX_EXPONENT,
                    min_points=MIN_FIT_POINTS,
                ),
                _zas_steps(t),
                TARGET_NAMES[t],
            )
            for t in TARGETS
        ),
        conditions=_STEPS,
        ours=_ours_polynomial,
        decide_with="more seeds or deeper nets",
    ),
    Check(
        claim="Near-identity and identity stall on Φ = −I (saddle), more so with depth; ZAS "
        "does not",
        paper="near-identity init needs exp(Ω(L)) iterations on targets with negative "
        "eigenvalues (Shamir 2018, cited in §1); ZAS meets no saddle",
        parts=(
            Part(
                Fraction(
                    _DEEP,
                    f"on Φ = −I, ZAS reaches ε and identity and near-identity both need at "
                    f"least {STALL_FACTOR:g}× its median steps",
                ),
                _stalls_deep("minus_identity"),
                "stalls at depth",
            ),
            Part(
                Monotone(
                    "on Φ = −I, min(identity, near-identity) median steps / ZAS's",
                    "depth",
                ),
                _stall_ratio("minus_identity"),
                "grows with L",
            ),
        ),
        conditions=f"an asymptotic claim in L, tested as a trend in L and at {_DEEP}; {_STEPS}",
        ours=_ours_saddle,
        decide_with="more seeds or deeper nets",
    ),
    Check(
        claim="Xavier init fails at depth",
        paper="exp(Ω(L)) steps for Xavier init (Shamir 2018, cited in §1)",
        parts=(
            Part(
                Fraction(_DEEP, "Xavier's median never reaches ε on any target while ZAS's does"),
                _xavier_fails_deep,
            ),
        ),
        conditions=f"an asymptotic claim in L, tested at {_DEEP}; {_STEPS}",
        ours=_ours_xavier,
        decide_with="more seeds or deeper nets",
    ),
)


def claims(frame: pd.DataFrame) -> list[Claim]:
    """The study's claims, judged from the stored loss curves."""
    return decide_all(CHECKS, {"runs": step_counts(frame)})


def observations(frame: pd.DataFrame) -> list[str]:
    """Results outside the claims' conditions: the stall at the shallow half of the grid."""
    runs = step_counts(frame)
    ratio = _stall_ratio("minus_identity")(runs)
    depths = sorted(ratio)
    shallow = depths[: (len(depths) - 1) // 2]
    if not shallow:
        return []
    shown = ", ".join(
        f"L={d}: " + ("∞" if math.isinf(ratio[d]) else f"{ratio[d]:.1f}×") for d in shallow
    )
    return [
        "Shallow depths (outside the asymptotic claim in L): on Φ = −I, min(identity, "
        f"near-identity) median steps / ZAS's = {shown}."
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
    return Analysis(paths, sections, claims(frame), findings, observations(frame))


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
        sizes={
            "quick": "~15 s: d = 8, depths 2 … 128, 5 seeds. Decides convergence, the exponent "
            "and Xavier; the saddle's growth with L needs deeper nets.",
            "standard": "~3 min (3.3 min measured on 2 quiet cores, 360 s of CPU time): d = 16, "
            "depths 2 … 256, 10⁴ steps.",
            "full": "d = 16, depths 2 … 512, 2·10⁴ steps.",
        },
    )
)
