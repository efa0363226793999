"""Hu, Xiao & Pennington 2020: orthogonal vs Gaussian init of deep linear nets (SPEC §5.1).

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

import numpy as np

from .. import plots
from ..report import markdown_table
from ..sweep import SweepSpec
from . import Analysis, Study, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FULL", "QUICK", "TRAINABLE_BELOW", "Grid", "boundary", "spec"]

#: "Trainable" threshold on the median log10(ℓ(t)/ℓ(0)).
TRAINABLE_BELOW = -3.0
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
    c: float = 0.5
    data_seed: int = 0


def _log_grid(low: float, high: float, count: int) -> tuple[int, ...]:
    return tuple(sorted({round(v) for v in np.geomspace(low, high, count)}))


#: Quick: minutes on 2 cores. Small data as in SPEC §5.1's check (d_x = 32, n = 8, d_y = 4,
#: c = ½, 1000 steps); widths from 16 (below it even orthogonal nets train slowly with n = 8) to
#: 96, depths 1..64 on log grids, 3 seeds (about 7·10¹¹ flops).
QUICK = Grid(
    d_x=32,
    n=8,
    d_y=4,
    depths=(1, 2, 4, 8, 16, 32, 64),
    widths=(16, 24, 32, 48, 64, 96),
    seeds=(0, 1, 2),
    steps=1000,
    record_every=10,
    report_steps=(100, 1000),
)

#: Full: the paper's grid (d_x = 1024, n = 16, d_y = 10; widths 10..1000 and depths 1..700 on
#: log grids; t = 10³ and 10⁴). About 10¹⁶ flops: a cluster job.
FULL = Grid(
    d_x=1024,
    n=16,
    d_y=10,
    depths=_log_grid(1, 700, 12),
    widths=_log_grid(10, 1000, 11),
    seeds=(0,),
    steps=10_000,
    record_every=100,
    report_steps=(1_000, 10_000),
)

GRIDS = {"quick": QUICK, "full": FULL}


def spec(size: str = "quick") -> SweepSpec:
    """The sweep spec of the study at ``size`` ("quick" or "full")."""
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
    ratio = plots.log10_ratio_at(frame, step)
    cells = frame.assign(ratio=ratio).groupby(["init", "depth", "width"])["ratio"].median()
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
    finite = [math.inf if v is None else v for v in values]
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


def analyse(frame: pd.DataFrame, figures: Path) -> Analysis:
    """Heat maps at each report step, loss curves, steps to 10⁻³, and the boundary tables."""
    steps = int(frame["steps"].max())
    grid = next((g for g in GRIDS.values() if g.steps == steps), QUICK)
    report_steps = [t for t in grid.report_steps if t <= steps] or [steps]
    d_x, n, d_y = (int(frame[c].iloc[0]) for c in ("d_x", "n", "d_y"))
    narrowest = int(frame["width"].min())
    paths = []
    sections = []
    findings: dict[str, Any] = {"threshold": TRAINABLE_BELOW, "boundary": {}}
    for t in report_steps:
        shown = frame.assign(log10_ratio=plots.log10_ratio_at(frame, t))
        fig = plots.heatmap(
            shown,
            value="log10_ratio",
            x="width",
            y="depth",
            facet="init",
            vmax=0.0,
            label="median log10 ℓ(t)/ℓ(0)",
            title=f"Hu et al. 2020: log10 ℓ(t)/ℓ(0) at t = {t} (d_x={d_x}, n={n}, d_y={d_y})",
        )
        paths.append(plots.save(fig, figures / f"heatmap_t{t}.png"))
        bounds = boundary(frame, t)
        findings["boundary"][t] = bounds
        depths = sorted(int(d) for d in frame["depth"].unique())
        rows = [[d, *(_cell(bounds[i][d]) for i in INITS)] for d in depths]
        text = markdown_table(["depth L", *(f"{i} init" for i in INITS)], rows)
        text += "\n\n" + "\n".join(
            f"- **{i}**: the smallest trainable width {describe_trend(bounds[i], narrowest)}."
            for i in INITS
        )
        sections.append((f"Smallest trainable width at t = {t}", text))
    narrow = int(frame["width"].min())
    curves = frame[frame["width"] == narrow]
    fig = plots.loss_curves(
        curves, hue="depth", facet="init", title=f"median ℓ(t)/ℓ(0) at width {narrow}"
    )
    paths.append(plots.save(fig, figures / "loss_curves.png"))
    reach = frame[frame["width"] == narrow].assign(
        steps_to_1e3=plots.steps_to_ratio(frame[frame["width"] == narrow], 1e-3)
    )
    fig = plots.steps_to_tol(
        reach,
        x="depth",
        hue="init",
        column="steps_to_1e3",
        ylabel="steps until ℓ(t)/ℓ(0) ≤ 1e-3",
        title=f"steps to a 1000× loss reduction at width {narrow}",
    )
    paths.append(plots.save(fig, figures / "steps_to_1e-3.png"))
    definition = (
        f"A (depth, width) cell is **trainable** at step t when no seed diverged and the median "
        f"over seeds of log10(ℓ(t)/ℓ(0)) is ≤ {TRAINABLE_BELOW:g} (the loss fell at least "
        "1000×). The **smallest trainable width** at a depth is the smallest grid width from "
        "which every wider grid width is trainable ('none': not even the widest)."
    )
    sections.insert(0, ("Definitions", definition))
    return Analysis(paths, sections, findings)


STUDY = register(
    Study(
        name="hu2020",
        title="Hu, Xiao & Pennington 2020: orthogonal vs Gaussian initialisation",
        spec=spec,
        analyse=analyse,
        description=(
            "Deep linear networks f(X) = α W_L⋯W_1 X trained by gradient descent on "
            "teacher data Y = W*X, with α = (m^(L−1) d_y)^(−1/2) and η = c·d_y/(L‖X‖₂²), "
            "c = ½. Expected (SPEC §5.1): Gaussian nets train only above a width that grows "
            "roughly linearly with depth; orthogonal nets train above a width that does not "
            "depend on depth."
        ),
    )
)
