"""Analysis helpers the studies share: log-log fits, step counts with a cap, best learning rate
per cell, bands of good settings and grids (verdicts: :mod:`.rules`).

Conventions: a step count is a float, ``inf`` where the run never reached its tolerance (within
the cap, or it diverged); medians over seeds count "never" as infinitely many steps, so a median
is finite only when more than half of the runs got there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Band",
    "best_per_cell",
    "fast_band",
    "log_grid",
    "loglog_fit",
    "median_steps",
    "steps_or_inf",
]


def log_grid(low: float, high: float, count: int) -> tuple[int, ...]:
    """``count`` log-spaced points from ``low`` to ``high``, rounded to distinct integers."""
    return tuple(sorted({round(v) for v in np.geomspace(low, high, count)}))


def steps_or_inf(steps: pd.Series) -> pd.Series:
    """Step counts as floats, with "never" (−1 or NaN) as ``inf``."""
    values = steps.astype(np.float64)
    return values.where(values >= 0, math.inf).fillna(math.inf)


def median_steps(frame: pd.DataFrame, by: Sequence[str], column: str = "steps") -> pd.Series:
    """Median of ``column`` (``inf`` = never) over the runs of each group of ``by``."""
    return frame.groupby(list(by))[column].median()


def loglog_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares fit log10(y) = intercept + slope·log10(x) over the finite, positive
    points; returns (slope, intercept), or None with fewer than two distinct x."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    if np.unique(xs[keep]).size < 2:
        return None
    slope, intercept = np.polyfit(np.log10(xs[keep]), np.log10(ys[keep]), 1)
    return float(slope), float(intercept)


def best_per_cell(
    frame: pd.DataFrame, cell: Sequence[str], over: str = "lr", column: str = "steps"
) -> pd.DataFrame:
    """For each cell (group of ``cell``), the value of ``over`` whose median ``column`` over the
    cell's other runs (e.g. seeds) is smallest: the paper's "grid search, keep the fastest".

    Ties go to the smaller value of ``over``. Returns one row per cell with the ``cell``
    columns, ``over`` (the best value; NaN if no value reached), ``column`` (its median steps,
    ``inf`` if none reached) and ``runs`` (how many runs that median is over).
    """
    import pandas as pd

    medians = frame.groupby([*cell, over])[column].agg(["median", "size"]).reset_index()
    rows = []
    for key, part in medians.groupby(list(cell), sort=True):
        values = key if isinstance(key, tuple) else (key,)
        part = part.sort_values(["median", over], kind="stable")
        best = part.iloc[0]
        reached = math.isfinite(best["median"])
        rows.append(
            [*values, best[over] if reached else math.nan, float(best["median"]), int(best["size"])]
        )
    return pd.DataFrame(rows, columns=[*cell, over, column, "runs"])


@dataclass(frozen=True)
class Band:
    """A contiguous range of grid values whose steps are within ``factor`` of the best.

    Attributes:
        low, high: the ends of the band (None when nothing reached the tolerance).
        best: the grid value with the fewest steps, and ``best_steps`` those steps.
        decades: log10(high/low) plus one grid spacing (a one-point band is one spacing wide;
            0 when empty).
    """

    low: float | None
    high: float | None
    best: float | None
    best_steps: float
    decades: float

    def describe(self) -> str:
        if self.low is None or self.high is None:
            return "none (never reached)"
        return f"{self.low:.3g}…{self.high:.3g} ({self.decades:.2f} decades)"


def fast_band(x: Sequence[float], steps: Sequence[float], factor: float = 10.0) -> Band:
    """The band of "fast" values around the best: the contiguous run of grid points, containing
    the point with the fewest steps, whose steps are ≤ ``factor`` × the fewest.

    ``x`` must be a log-spaced grid (sorted ascending); its spacing in decades is taken from the
    first two points.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(steps, dtype=np.float64)
    if xs.size == 0 or not np.isfinite(ys).any():
        return Band(None, None, None, math.inf, 0.0)
    spacing = float(np.log10(xs[1] / xs[0])) if xs.size > 1 else 1.0
    best = int(np.argmin(ys))
    fast = ys <= factor * ys[best]
    low = high = best
    while low > 0 and fast[low - 1]:
        low -= 1
    while high < xs.size - 1 and fast[high + 1]:
        high += 1
    decades = float(np.log10(xs[high] / xs[low])) + spacing
    return Band(float(xs[low]), float(xs[high]), float(xs[best]), float(ys[best]), decades)
