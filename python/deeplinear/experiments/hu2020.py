"""Hu, Xiao & Pennington 2020: orthogonal vs Gaussian init of deep linear nets.

See docs/science.md, "Hu et al. 2020".

Data: X (d_x × n) and a teacher W* (d_y × d_x) with N(0, 1) entries from a fixed data seed,
Y = W* X. Networks f(X) = α W_L ⋯ W_1 X with hidden width m, α = (m^{L−1} d_y)^{−1/2}, trained by
full-batch GD with η = c·d_y/(L‖X‖₂²). The metric is log10(ℓ(t)/ℓ(0)), read from the stored loss
curve at each report step t.

**Trainable** (our definition, stated in the report): the median over seeds of log10(ℓ(t)/ℓ(0))
is ≤ :data:`TRAINABLE_BELOW` (the loss fell by at least 1000×) and no seed diverged. The *smallest
trainable width* at a depth is the smallest grid width from which every wider grid width is
trainable (None when even the widest is not). Expected: it grows roughly linearly with depth for
Gaussian init and does not depend on depth for orthogonal init.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import plots
from ..errors import InvalidValueError
from ..report import Claim, markdown_table
from ..sweep import SweepSpec, log10_ratio_at, steps_to_ratio
from .analysis import log_grid
from .base import Analysis, Study, register
from .rules import Check, Fraction, Monotone, Order, Part, Slope, decide_all

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHECKS",
    "FULL",
    "QUICK",
    "STANDARD",
    "TRAINABLE_BELOW",
    "Grid",
    "boundary",
    "claims",
    "observations",
    "spec",
]

#: "Trainable" threshold on the median log10(ℓ(t)/ℓ(0)).
TRAINABLE_BELOW = -3.0
#: Heat-map colours stop here: below it every cell has converged, and the boundary region
#: (between this and 0) gets the whole colour range.
COLOUR_FLOOR = -12.0
INITS = ("gaussian", "orthogonal")


@dataclass(frozen=True)
class Grid:
    """One size of the study."""

    d_x: int
    n: int
    d_y: int
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int
    record_every: int
    report_steps: tuple[int, ...]
    curve_width: int
    c: float = 0.5
    data_seed: int = 0


#: Quick: under a minute on 2 cores. Small data (d_x = 32, n = 8, d_y = 4, c = ½, 1000 steps);
#: widths from d_y = 4 (narrower would be a rank bottleneck, ℓ* > 0) to 96, so that the grid
#: reaches below the orthogonal boundary too; depths 1..64 on log grids, 3 seeds.
QUICK = Grid(
    d_x=32,
    n=8,
    d_y=4,
    depths=(1, 2, 4, 8, 16, 32, 64),
    widths=(4, 6, 8, 12, 16, 24, 32, 48, 64, 96),
    seeds=(0, 1, 2),
    steps=1000,
    record_every=10,
    report_steps=(100, 1000),
    curve_width=16,
)

#: Standard: d_x = 128, n = 16, d_y = 10 (the paper's n, d_x an eighth of its 1024), widths 10 …
#: 256 (from d_y, below the orthogonal boundary, to twice d_x: Theorem 4.1's regime m ≥ d_x is in
#: the grid), depths 1 … 128, 5 seeds, 1000 steps. 12.1 minutes on 2 cores (7 Dec 2026, a niced
#: build sharing the cores).
STANDARD = Grid(
    d_x=128,
    n=16,
    d_y=10,
    depths=log_grid(1, 128, 8),
    widths=log_grid(10, 256, 10),
    seeds=(0, 1, 2, 3, 4),
    steps=1000,
    record_every=10,
    report_steps=(100, 1000),
    curve_width=29,
)

#: Full: the paper's grid (d_x = 1024, n = 16, d_y = 10; widths 10..1000 and depths 1..700 on
#: log grids; t = 10³ and 10⁴). About 10¹⁶ flops: a cluster job.
FULL = Grid(
    d_x=1024,
    n=16,
    d_y=10,
    depths=log_grid(1, 700, 12),
    widths=log_grid(10, 1000, 11),
    seeds=(0,),
    steps=10_000,
    record_every=100,
    report_steps=(1_000, 10_000),
    curve_width=40,
)

GRIDS = {"quick": QUICK, "standard": STANDARD, "full": FULL}


def spec(size: str = "quick", data: Path | None = None) -> SweepSpec:
    """The sweep spec of the study at ``size`` ("quick" or "full"); ``data`` must be None (the
    study's data are synthetic)."""
    if data is not None:
        raise InvalidValueError("data: hu2020 uses synthetic teacher data and takes no data file")
    grid = GRIDS[size]
    return SweepSpec.from_dict(
        {
            "name": f"hu2020-{size}",
            "axes": {
                "depth": list(grid.depths),
                "width": list(grid.widths),
                "init": list(INITS),
                "seed": list(grid.seeds),
            },
            "fixed": {
                "d_x": grid.d_x,
                "n": grid.n,
                "d_y": grid.d_y,
                "data": "teacher",
                "data_seed": grid.data_seed,
                "steps": grid.steps,
                "record_every": grid.record_every,
                "lr": grid.c,
                "lr_rule": "hu2020",
                "alpha_rule": "fanout",
            },
        }
    )


def trainable_ratios(frame: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """The seed-level frame the claims are decided on: one row per run with its ``ratio``,
    log10(ℓ(step)/ℓ(0)) (``inf`` where it diverged), and its init, depth, width, d_x, seed."""
    columns = [c for c in ("init", "depth", "width", "d_x", "seed") if c in frame.columns]
    return frame[columns].assign(ratio=log10_ratio_at(frame, step).to_numpy())


def boundary_of(
    ratios: pd.DataFrame, threshold: float = TRAINABLE_BELOW
) -> dict[str, dict[int, int | None]]:
    """:func:`boundary` from a :func:`trainable_ratios` frame."""
    cells = ratios.groupby(["init", "depth", "width"])["ratio"]
    # A cell with a diverged seed is not trainable, whatever the median says.
    trainable = (cells.median() <= threshold) & (cells.max() < math.inf)
    out: dict[str, dict[int, int | None]] = {}
    for (init, depth), column in trainable.groupby(level=["init", "depth"], sort=True):
        flags = column.to_numpy()
        widths = column.index.get_level_values("width").to_numpy()
        failing = np.flatnonzero(~flags)
        first = 0 if failing.size == 0 else int(failing[-1]) + 1
        out.setdefault(str(init), {})[int(depth)] = (
            int(widths[first]) if first < widths.size else None
        )
    return out


def boundary(
    frame: pd.DataFrame, step: int | None = None, threshold: float = TRAINABLE_BELOW
) -> dict[str, dict[int, int | None]]:
    """Smallest trainable width per depth per init at ``step`` (default: the last step).

    A (depth, width) cell is trainable when no seed diverged and the median over seeds of
    log10(ℓ(step)/ℓ(0)) is ≤ ``threshold``. The smallest trainable width is the smallest width
    from which every wider width of the grid is trainable; None when the widest is not.
    """
    return boundary_of(trainable_ratios(frame, step), threshold)


def describe_trend(widths: dict[int, int | None], narrowest: int | None = None) -> str:
    """One sentence on how the smallest trainable width moves with depth."""
    depths = sorted(widths)
    values = [widths[d] for d in depths]
    shown = ", ".join(
        f"L={d}: {'none' if w is None else w}" for d, w in zip(depths, values, strict=True)
    )
    finite = [_as_float(v) for v in values]
    if len(set(finite)) == 1:
        edge = ", the narrowest width of the grid" if values[0] == narrowest else ""
        verdict = f"is the same at every depth ({'none' if values[0] is None else values[0]}{edge})"
    elif all(a <= b for a, b in itertools.pairwise(finite)):
        verdict = "grows with depth"
    else:
        verdict = "changes with depth, not monotonically"
    return f"{verdict} ({shown})"


def _cell(width: int | None) -> int | str:
    return "none" if width is None else width


def _as_float(width: int | None) -> float:
    """A boundary width as a number: 'none' (not even the widest trains) is wider than all."""
    return math.inf if width is None else float(width)


def _shown(widths: dict[int, int | None], depths: list[int]) -> str:
    return ", ".join(f"L={d}: {_cell(widths[d])}" for d in depths)


#: The slope range that counts as "linear" growth of the Gaussian boundary with depth.
LINEAR_SLOPE = (0.5, 1.5)
#: At most this log-log slope (in absolute value) counts as "independent of depth".
FLAT_SLOPE = 0.1
#: The depths the boundary trends are taken over: depth 1 has no hidden layer, so no width.
HIDDEN = "depths L ≥ 2"


def _widths(init: str) -> Callable[[pd.DataFrame], dict[int, float]]:
    """Measure: ``init``'s smallest trainable width per depth L ≥ 2 ('none' = inf)."""

    def measure(ratios: pd.DataFrame) -> dict[int, float]:
        found = boundary_of(ratios)[init]
        return {d: _as_float(w) for d, w in found.items() if d >= 2}

    return measure


def _slope(init: str) -> Callable[[pd.DataFrame], float]:
    slope = Slope("w", "L")

    def measure(ratios: pd.DataFrame) -> float:
        return slope.evaluate(_widths(init)(ratios))[0]

    return measure


def _orthogonal_against_gaussian(ratios: pd.DataFrame) -> tuple[float, float]:
    """(orthogonal boundary's slope, half the Gaussian boundary's slope)."""
    return _slope("orthogonal")(ratios), _slope("gaussian")(ratios) / 2


def _deepest(ratios: pd.DataFrame) -> tuple[float, float]:
    """(orthogonal, Gaussian) smallest trainable width at the deepest depth ('none' = inf)."""
    found = boundary_of(ratios)
    deepest = max(found["orthogonal"])
    return _as_float(found["orthogonal"][deepest]), _as_float(found["gaussian"][deepest])


def _trains_at_every_depth(ratios: pd.DataFrame) -> list[bool]:
    return [w is not None for d, w in boundary_of(ratios)["orthogonal"].items() if d >= 2]


def _below_boundary(ratios: pd.DataFrame) -> tuple[float, float]:
    """(the narrowest grid width, the widest orthogonal boundary over depths L ≥ 2)."""
    widths = [w for w in _widths("orthogonal")(ratios).values() if math.isfinite(w)]
    return float(ratios["width"].min()), max(widths, default=math.nan)


def _regime(ratios: pd.DataFrame) -> list[bool]:
    """Per (depth, width ≥ d_x) cell: whether orthogonal nets train there."""
    part = ratios[(ratios["init"] == "orthogonal") & (ratios["width"] >= ratios["d_x"])]
    cells = part.groupby(["depth", "width"])["ratio"]
    return list((cells.median() <= TRAINABLE_BELOW) & (cells.max() < math.inf))


def _ours_widths(init: str, note: bool = False) -> Callable[[pd.DataFrame], str]:
    def ours(ratios: pd.DataFrame) -> str:
        widths = boundary_of(ratios)[init]
        depths = [d for d in sorted(widths) if d >= 2]
        slope = _slope(init)(ratios)
        text = f"{_shown(widths, depths)}; log-log slope " + (
            "–" if math.isnan(slope) else f"{slope:.2f}"
        )
        narrowest = int(ratios["width"].min())
        if note and all(widths[d] in (None, narrowest) for d in depths):
            text += " (every depth trains at the narrowest grid width)"
        return text

    return ours


def _ours_deepest(ratios: pd.DataFrame) -> str:
    ortho, gauss = _deepest(ratios)
    shown = ["none" if math.isinf(w) else f"{w:.0f}" for w in (ortho, gauss)]
    return f"smallest trainable width {shown[0]} (orthogonal) vs {shown[1]} (Gaussian)"


def _ours_regime(ratios: pd.DataFrame) -> str:
    flags = _regime(ratios)
    d_x = int(ratios["d_x"].iloc[0])
    return f"orthogonal trains in {sum(flags)}/{len(flags)} (depth, width ≥ d_x = {d_x}) cells"


_TRAINABLE = (
    f"'trainable' = no seed diverged and the median over seeds of log10(ℓ(t)/ℓ(0)) is ≤ "
    f"{TRAINABLE_BELOW:g}; the smallest trainable width at a depth is the smallest grid width "
    "from which every wider one is trainable ('none' = wider than the grid)"
)

CHECKS = (
    Check(
        claim="Gaussian init: the smallest trainable width grows ~linearly with depth",
        paper='"a transition … where width and depth are in a nearly linear relation" '
        "(Thm 5.1, Fig. 1)",
        parts=(
            Part(
                Monotone("the Gaussian smallest trainable width", "depth"),
                _widths("gaussian"),
                "grows",
            ),
            Part(
                Slope("the Gaussian smallest trainable width", "depth", *LINEAR_SLOPE),
                _widths("gaussian"),
                "linear",
            ),
        ),
        conditions=f"over {HIDDEN}; {_TRAINABLE}",
        ours=_ours_widths("gaussian"),
        decide_with="more seeds or more depths",
    ),
    Check(
        claim="Orthogonal init: the smallest trainable width does not depend on depth",
        paper="the orthogonal boundary is flat in depth (Fig. 1, widths below d_x)",
        parts=(
            Part(
                Slope("the orthogonal smallest trainable width", "depth", -FLAT_SLOPE, FLAT_SLOPE),
                _widths("orthogonal"),
                "flat",
            ),
            Part(
                Order("the orthogonal boundary's slope", "half the Gaussian boundary's slope"),
                _orthogonal_against_gaussian,
                "flatter than Gaussian",
            ),
        ),
        requires=(
            Part(
                Fraction(HIDDEN, "orthogonal nets train at some grid width"),
                _trains_at_every_depth,
            ),
            Part(
                Order("the narrowest grid width", "the widest orthogonal boundary over depths"),
                _below_boundary,
            ),
        ),
        conditions=f"over {HIDDEN}; {_TRAINABLE}",
        ours=_ours_widths("orthogonal", note=True),
        decide_with="more seeds or a grid reaching narrower widths",
    ),
    Check(
        claim="Orthogonal init with m ≥ d_x trains at every depth (Theorem 4.1)",
        paper="m ≥ C·r̃κ²(d_y(1+‖W*‖²)+log(r/δ)) and m ≥ d_x ⇒ GD converges, for any L (Thm 4.1)",
        parts=(
            Part(
                Fraction(
                    "the (depth, width) cells with width m ≥ d_x", "orthogonal nets are trainable"
                ),
                _regime,
            ),
        ),
        conditions=f"in the theorem's regime m ≥ d_x only (its constant C is not given, so "
        f"m ≥ d_x is the part we can check); {_TRAINABLE}",
        ours=_ours_regime,
    ),
    Check(
        claim="Deep nets: orthogonal trains narrower than Gaussian",
        paper="orthogonal converges efficiently at widths where Gaussian needs exp(Ω(L)) steps",
        parts=(
            Part(
                Order(
                    "the orthogonal one",
                    "the Gaussian smallest trainable width at the deepest depth",
                ),
                _deepest,
            ),
        ),
        conditions=f"at the deepest depth of the grid; {_TRAINABLE}",
        ours=_ours_deepest,
    ),
)


def in_regime(frame: pd.DataFrame) -> bool:
    """Whether the grid reaches Theorem 4.1's regime m ≥ d_x."""
    return bool((frame["width"] >= frame["d_x"]).any())


def claims(frame: pd.DataFrame, step: int | None = None) -> list[Claim]:
    """The study's claims, judged at ``step`` (default: the last) from the stored curves; the
    Theorem 4.1 claim only where the grid reaches m ≥ d_x (see :func:`observations`)."""
    ratios = trainable_ratios(frame, step)
    chosen = [c for c in CHECKS if in_regime(frame) or "Theorem 4.1" not in c.claim]
    return decide_all(chosen, {"runs": ratios})


def observations(frame: pd.DataFrame, step: int | None = None) -> list[str]:
    """Results outside the claims' conditions."""
    found = boundary(frame, step)
    d_x = int(frame["d_x"].iloc[0])
    notes = []
    if not in_regime(frame):
        notes.append(
            f"The grid's widths stop below d_x = {d_x}: Theorem 4.1's regime m ≥ d_x is not "
            "reached, so its claim is not judged at this size."
        )
    below = [d for d, w in found["orthogonal"].items() if d >= 2 and w is not None and w < d_x]
    if below:
        notes.append(
            f"The orthogonal boundary lies below d_x = {d_x} at {len(below)} of the depths "
            f"(L = {', '.join(str(d) for d in below)}): outside Theorem 4.1's regime, so its "
            "depth (in)dependence there is the paper's Fig. 1 observation, not the theorem."
        )
    return notes


def analyse(frame: pd.DataFrame, figures: Path) -> Analysis:
    """Heat maps at each report step (the last first: the headline), loss curves and steps to
    10⁻³ at one width, the boundary tables and the claims (judged at the last report step)."""
    steps = int(frame["steps"].max())
    d_x, n, d_y = (int(frame[c].iloc[0]) for c in ("d_x", "n", "d_y"))
    grid = next((g for g in GRIDS.values() if (g.steps, g.d_x) == (steps, d_x)), QUICK)
    report_steps = [t for t in grid.report_steps if t <= steps] or [steps]
    narrowest = int(frame["width"].min())
    paths = []
    sections = []
    findings: dict[str, Any] = {"threshold": TRAINABLE_BELOW, "boundary": {}}
    for t in reversed(report_steps):
        shown = frame.assign(log10_ratio=log10_ratio_at(frame, t))
        bounds = boundary(frame, t)
        fig = plots.heatmap(
            shown,
            value="log10_ratio",
            x="width",
            y="depth",
            facet="init",
            vmin=COLOUR_FLOOR,
            vmax=0.0,
            label=f"median log10 ℓ(t)/ℓ(0) (colours clipped at {COLOUR_FLOOR:g})",
            title=f"Hu et al. 2020: log10 ℓ(t)/ℓ(0) at t = {t} (d_x={d_x}, n={n}, d_y={d_y})",
            outline=bounds,
            outline_label="smallest trainable width "
            f"(median log10 ℓ(t)/ℓ(0) ≤ {TRAINABLE_BELOW:g})",
        )
        paths.append(plots.save(fig, figures / f"heatmap_t{t}.png"))
        findings["boundary"][t] = bounds
        depths = sorted(int(d) for d in frame["depth"].unique())
        rows = [[d, *(_cell(bounds[i][d]) for i in INITS)] for d in depths]
        text = markdown_table(["depth L", *(f"{i} init" for i in INITS)], rows)
        text += "\n\n" + "\n".join(
            f"- **{i}**: the smallest trainable width {describe_trend(bounds[i], narrowest)}."
            for i in INITS
        )
        sections.append((f"Smallest trainable width at t = {t}", text))
    width = grid.curve_width if grid.curve_width in set(frame["width"]) else narrowest
    at_width = frame[frame["width"] == width]
    fig = plots.loss_curves(
        at_width, hue="depth", facet="init", title=f"median ℓ(t)/ℓ(0) at width {width}"
    )
    paths.append(plots.save(fig, figures / "loss_curves.png"))
    reach = at_width.assign(steps_to_1e3=steps_to_ratio(at_width, 1e-3))
    fig = plots.steps_to_tol(
        reach,
        x="depth",
        hue="init",
        column="steps_to_1e3",
        ylabel="steps until ℓ(t)/ℓ(0) ≤ 1e-3",
        title=f"steps to a 1000× loss reduction at width {width}",
        cap=steps,
    )
    paths.append(plots.save(fig, figures / "steps_to_1e-3.png"))
    definition = (
        f"A (depth, width) cell is **trainable** at step t when no seed diverged and the median "
        f"over seeds of log10(ℓ(t)/ℓ(0)) is ≤ {TRAINABLE_BELOW:g} (the loss fell at least "
        "1000×). The **smallest trainable width** at a depth is the smallest grid width from "
        "which every wider grid width is trainable ('none': not even the widest). Claims are "
        f"judged at t = {report_steps[-1]}."
    )
    sections.insert(0, ("Definitions", definition))
    return Analysis(
        paths,
        sections,
        claims(frame, report_steps[-1]),
        findings,
        observations(frame, report_steps[-1]),
    )


STUDY = register(
    Study(
        name="hu2020",
        title="Hu, Xiao & Pennington 2020: orthogonal vs Gaussian initialisation",
        spec=spec,
        analyse=analyse,
        description=(
            "Deep linear networks f(X) = α W_L⋯W_1 X trained by gradient descent on "
            "teacher data Y = W*X, with α = (m^(L−1) d_y)^(−1/2) and η = c·d_y/(L‖X‖₂²), "
            "c = ½. Expected: Gaussian nets train only above a width that grows "
            "roughly linearly with depth; orthogonal nets train above a width that does not "
            "depend on depth."
        ),
        sizes={
            "quick": "~11 s: d_x = 32, widths 4 … 96, depths 1 … 64, 3 seeds. Decides the "
            "Gaussian trend and Theorem 4.1 (m ≥ d_x is in the grid); the orthogonal "
            "boundary's flatness needs more seeds.",
            "standard": "~12 min (12.1 min measured on 2 cores, 1315 s of CPU time): "
            "d_x = 128, widths 10 … 256, depths 1 … 128, 5 seeds: the orthogonal boundary on "
            "both sides of d_x.",
            "full": "the paper's grid (d_x = 1024, depths to 700, t = 10⁴): a cluster job.",
        },
    )
)
