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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import plots
from ..errors import InvalidValueError
from ..report import Claim, Verdict, markdown_table
from ..sweep import SweepSpec, log10_ratio_at, steps_to_ratio
from .analysis import log_grid, loglog_fit
from .base import Analysis, Study, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FULL",
    "QUICK",
    "TRAINABLE_BELOW",
    "Grid",
    "boundary",
    "claim_gaussian_grows",
    "claim_orthogonal_flat",
    "claim_orthogonal_narrower",
    "claims",
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

GRIDS = {"quick": QUICK, "full": FULL}


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


def boundary(
    frame: pd.DataFrame, step: int | None = None, threshold: float = TRAINABLE_BELOW
) -> dict[str, dict[int, int | None]]:
    """Smallest trainable width per depth per init at ``step`` (default: the last step).

    A (depth, width) cell is trainable when no seed diverged and the median over seeds of
    log10(ℓ(step)/ℓ(0)) is ≤ ``threshold``. The smallest trainable width is the smallest width
    from which every wider width of the grid is trainable; None when the widest is not.
    """
    ratio = log10_ratio_at(frame, step)
    cells = frame.assign(ratio=ratio).groupby(["init", "depth", "width"])["ratio"]
    # A cell with a diverged seed is not trainable, whatever the median says.
    cells = cells.median().where(cells.max() < math.inf, math.inf)
    out: dict[str, dict[int, int | None]] = {}
    for init in sorted(frame["init"].unique()):
        per_depth: dict[int, int | None] = {}
        for depth in sorted(frame["depth"].unique()):
            column = cells.loc[(init, depth)].sort_index()
            smallest: int | None = None
            for width, value in zip(column.index[::-1], column.to_numpy()[::-1], strict=True):
                if not (math.isfinite(value) and value <= threshold):
                    break
                smallest = int(width)
            per_depth[int(depth)] = smallest
        out[str(init)] = per_depth
    return out


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


def _trend(widths: dict[int, int | None]) -> tuple[list[int], float | None]:
    """The depths ≥ 2 (depth 1 has no hidden layer, so no width) and the log-log slope of the
    smallest trainable width against depth over those where one exists."""
    depths = [d for d in sorted(widths) if d >= 2]
    points = [(d, widths[d]) for d in depths if widths[d] is not None]
    fit = loglog_fit([d for d, _ in points], [float(w or 0) for _, w in points])
    return depths, None if fit is None else fit[0]


def _shown(widths: dict[int, int | None], depths: list[int]) -> str:
    return ", ".join(f"L={d}: {_cell(widths[d])}" for d in depths)


#: The slope range that counts as "linear" growth of the Gaussian boundary with depth.
LINEAR_SLOPE = (0.5, 1.5)
#: At most this log-log slope counts as "independent of depth" for the orthogonal boundary.
FLAT_SLOPE = 0.1


def claim_gaussian_grows(bounds: dict[str, dict[int, int | None]]) -> Claim:
    """Gaussian: the smallest trainable width grows about linearly with depth."""
    widths = bounds["gaussian"]
    depths, slope = _trend(widths)
    finite = [_as_float(widths[d]) for d in depths]
    monotone = all(a <= b for a, b in itertools.pairwise(finite))
    grows = len(finite) > 1 and finite[-1] > finite[0]
    low, high = LINEAR_SLOPE
    verdict: Verdict
    if monotone and grows and slope is not None and low <= slope <= high:
        verdict = "reproduced"
    elif grows:
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return Claim(
        claim="Gaussian init: the smallest trainable width grows ~linearly with depth",
        paper="transition where width and depth are in a nearly linear relation (Thm 5.1)",
        ours=f"{_shown(widths, depths)}; log-log slope "
        + ("–" if slope is None else f"{slope:.2f}"),
        verdict=verdict,
        rule=f"over depths L ≥ 2, 'reproduced' if the smallest trainable width never decreases "
        f"with depth ('none' counts as wider than the grid), grows from the shallowest to the "
        f"deepest, and its log-log slope against depth (over depths where it exists) is in "
        f"[{low:g}, {high:g}]; 'partly' if it grows but is not monotone or the slope is "
        f"outside that range; else 'not reproduced'.",
    )


def claim_orthogonal_flat(bounds: dict[str, dict[int, int | None]], narrowest: int) -> Claim:
    """Orthogonal: the smallest trainable width does not depend on depth."""
    widths = bounds["orthogonal"]
    depths, slope = _trend(widths)
    _, gaussian_slope = _trend(bounds["gaussian"])
    observed = any(widths[d] is not None and widths[d] != narrowest for d in depths)
    defined = all(widths[d] is not None for d in depths)
    verdict: Verdict
    if defined and slope is not None and abs(slope) <= FLAT_SLOPE and observed:
        verdict = "reproduced"
    elif (
        defined
        and slope is not None
        and (
            abs(slope) <= FLAT_SLOPE or (gaussian_slope is not None and slope < gaussian_slope / 2)
        )
    ):
        verdict = "partly"
    else:
        verdict = "not reproduced"
    note = "" if observed else " (every depth trains at the narrowest grid width)"
    return Claim(
        claim="Orthogonal init: the smallest trainable width does not depend on depth",
        paper="width m ≥ C·r̃κ²(d_y(1+‖W*‖²)+log(r/δ)) and m ≥ d_x, no L (Thm 4.1)",
        ours=f"{_shown(widths, depths)}; log-log slope "
        + ("–" if slope is None else f"{slope:.2f}")
        + note,
        verdict=verdict,
        rule=f"over depths L ≥ 2, 'reproduced' if a trainable width exists at every depth, its "
        f"log-log slope against depth is within ±{FLAT_SLOPE:g}, and the grid reaches below it "
        "(it is above the narrowest grid width at some depth); 'partly' if it exists at every "
        "depth and is flat but the grid does not reach below it, or its slope is under half "
        "the Gaussian boundary's; else 'not reproduced'.",
    )


def claim_orthogonal_narrower(bounds: dict[str, dict[int, int | None]]) -> Claim:
    """At the deepest depth, orthogonal nets train at widths where Gaussian nets do not."""
    deepest = max(bounds["orthogonal"])
    ortho, gauss = bounds["orthogonal"][deepest], bounds["gaussian"][deepest]
    if ortho is not None and (gauss is None or ortho < gauss):
        verdict: Verdict = "reproduced"
    else:
        verdict = "not reproduced"
    return Claim(
        claim=f"Deep nets (L = {deepest}): orthogonal trains narrower than Gaussian",
        paper="orthogonal converges efficiently at widths where Gaussian needs exp(Ω(L)) steps",
        ours=f"smallest trainable width {_cell(ortho)} (orthogonal) vs {_cell(gauss)} (Gaussian)",
        verdict=verdict,
        rule="at the deepest depth of the grid, 'reproduced' if orthogonal init has a smallest "
        "trainable width and it is narrower than Gaussian init's ('none' counts as wider than "
        "the grid); else 'not reproduced'.",
    )


def claims(frame: pd.DataFrame, step: int | None = None) -> list[Claim]:
    """The study's claims, judged at ``step`` (default: the last) from the stored curves."""
    bounds = boundary(frame, step)
    return [
        claim_gaussian_grows(bounds),
        claim_orthogonal_flat(bounds, int(frame["width"].min())),
        claim_orthogonal_narrower(bounds),
    ]


def analyse(frame: pd.DataFrame, figures: Path) -> Analysis:
    """Heat maps at each report step (the last first: the headline), loss curves and steps to
    10⁻³ at one width, the boundary tables and the claims (judged at the last report step)."""
    steps = int(frame["steps"].max())
    grid = next((g for g in GRIDS.values() if g.steps == steps), QUICK)
    report_steps = [t for t in grid.report_steps if t <= steps] or [steps]
    d_x, n, d_y = (int(frame[c].iloc[0]) for c in ("d_x", "n", "d_y"))
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
    return Analysis(paths, sections, claims(frame, report_steps[-1]), findings)


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
    )
)
