"""Figures from a sweep's results (matplotlib, Agg backend; no display needed).

* :func:`heatmap`: a metric over two axes (e.g. depth × width), faceted by a third (e.g. init);
* :func:`loss_curves`: median loss curves, one line per value of an axis, faceted;
* :func:`steps_to_tol`: steps to reach a tolerance versus an axis;
* :func:`plot_store`: picks sensible defaults for a store directory and writes PNGs
  (``deeplinear plot DIR``).

Metrics at an intermediate step come from the stored loss curves (:func:`log10_ratio_at`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "heatmap",
    "log10_ratio_at",
    "loss_curves",
    "plot_store",
    "steps_to_ratio",
    "steps_to_tol",
]

#: Plotted value for "the loss did not go down at all" (and the top of the colour scale).
_NO_PROGRESS = 0.0


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log10_ratio_at(frame: pd.DataFrame, step: int | None = None) -> pd.Series:
    """log10(ℓ(t)/ℓ(0)) per run at ``step`` (default: the last step), read from the loss curve;
    +inf for diverged runs. ``step`` is rounded down to a recorded step."""
    import pandas as pd

    values = []
    for curve, every, diverged in zip(
        frame["loss_curve"], frame["record_every"], frame["diverged"], strict=True
    ):
        curve = np.asarray(curve, dtype=np.float64)
        index = len(curve) - 1 if step is None else min(len(curve) - 1, int(step) // int(every))
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.log10(curve[index] / curve[0])
        values.append(math.inf if diverged or not np.isfinite(curve[index]) else float(value))
    return pd.Series(values, index=frame.index, dtype=np.float64)


def steps_to_ratio(frame: pd.DataFrame, ratio: float) -> pd.Series:
    """First recorded step with ℓ(t)/ℓ(0) ≤ ``ratio`` per run (NaN where never reached)."""
    import pandas as pd

    values = []
    for curve, every in zip(frame["loss_curve"], frame["record_every"], strict=True):
        curve = np.asarray(curve, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            hit = np.nonzero(curve / curve[0] <= ratio)[0]
        values.append(float(hit[0] * every) if hit.size else math.nan)
    return pd.Series(values, index=frame.index, dtype=np.float64)


def _labels(values: Sequence[Any]) -> list[str]:
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in values]


def _thin(count: int, most: int = 12) -> int:
    return max(1, math.ceil(count / most))


def heatmap(
    frame: pd.DataFrame,
    *,
    value: str,
    x: str,
    y: str,
    facet: str | None = None,
    agg: str = "median",
    vmin: float | None = None,
    vmax: float | None = None,
    label: str | None = None,
    title: str | None = None,
    annotate: bool | None = None,
) -> Figure:
    """Heat map of ``agg(value)`` over ``x`` × ``y``, one panel per value of ``facet``.

    Non-finite cells (diverged runs) are drawn grey and labelled "div"; values beyond the colour
    range are clipped. Cells are annotated with their value when the grid is small enough
    (``annotate=None``), in black or white, whichever contrasts with the cell.
    """
    plt = _pyplot()
    facets = sorted(frame[facet].unique()) if facet else [None]
    xs = sorted(frame[x].unique())
    ys = sorted(frame[y].unique())
    grids = []
    for f in facets:
        part = frame if f is None else frame[frame[facet] == f]
        table = part.pivot_table(index=y, columns=x, values=value, aggfunc=agg, dropna=False)
        grids.append(table.reindex(index=ys, columns=xs).to_numpy(dtype=np.float64))
    finite = np.concatenate([g[np.isfinite(g)] for g in grids]) if grids else np.array([])
    low = vmin if vmin is not None else (float(finite.min()) if finite.size else -1.0)
    high = vmax if vmax is not None else (float(finite.max()) if finite.size else 0.0)
    if high <= low:
        high = low + 1.0
    cmap = plt.get_cmap("viridis_r").with_extremes(bad="#9e9e9e")
    annotate = len(xs) * len(ys) <= 144 if annotate is None else annotate
    width = 1.6 + 0.55 * max(len(xs), 6)
    fig, axes = plt.subplots(
        1,
        len(facets),
        figsize=(width * len(facets) + 1.2, 1.4 + 0.42 * max(len(ys), 6)),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for ax, f, grid in zip(axes[0], facets, grids, strict=True):
        shown = np.ma.masked_invalid(np.clip(grid, low, high))
        shown.mask |= ~np.isfinite(grid)
        image = ax.imshow(shown, origin="lower", cmap=cmap, vmin=low, vmax=high, aspect="auto")
        step_x, step_y = _thin(len(xs)), _thin(len(ys))
        ax.set_xticks(range(0, len(xs), step_x), _labels(xs)[::step_x])
        ax.set_yticks(range(0, len(ys), step_y), _labels(ys)[::step_y])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if f is not None:
            ax.set_title(f"{facet} = {f}")
        if annotate:
            for (r, c), v in np.ndenumerate(grid):
                if np.isnan(v):
                    continue
                if not np.isfinite(v):
                    ax.text(c, r, "div", ha="center", va="center", fontsize=8, color="k")
                    continue
                rgba = cmap((min(max(v, low), high) - low) / (high - low))
                luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
                ax.text(
                    c,
                    r,
                    f"{v:.0f}" if abs(v) >= 9.5 else f"{v:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="k" if luminance > 0.5 else "w",
                )
    fig.colorbar(image, ax=axes[0].tolist(), label=label or f"{agg} {value}", shrink=0.9)
    if title:
        fig.suptitle(title)
    return cast("Figure", fig)


def loss_curves(
    frame: pd.DataFrame,
    *,
    hue: str,
    facet: str | None = None,
    title: str | None = None,
    relative: bool = True,
) -> Figure:
    """Median (over the other axes, e.g. seeds) loss curves, one line per value of ``hue``, one
    panel per value of ``facet``; log y axis. ``relative`` divides each curve by its ℓ(0)."""
    plt = _pyplot()
    facets = sorted(frame[facet].unique()) if facet else [None]
    hues = sorted(frame[hue].unique())
    colours = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, max(len(hues), 2)))
    fig, axes = plt.subplots(
        1,
        len(facets),
        figsize=(5.2 * len(facets), 4),
        squeeze=False,
        constrained_layout=True,
        sharey=True,
    )
    for ax, f in zip(axes[0], facets, strict=True):
        part = frame if f is None else frame[frame[facet] == f]
        for colour, h in zip(colours, hues, strict=False):
            rows = part[part[hue] == h]
            if rows.empty:
                continue
            curves = np.stack([np.asarray(c, dtype=np.float64) for c in rows["loss_curve"]])
            if relative:
                curves = curves / curves[:, :1]
            steps = np.arange(curves.shape[1]) * int(rows["record_every"].iloc[0])
            with np.errstate(invalid="ignore"):
                median = np.nanmedian(np.where(np.isfinite(curves), curves, np.nan), axis=0)
            ax.plot(steps, np.maximum(median, 1e-300), color=colour, label=f"{hue} = {h}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("ℓ(t)/ℓ(0)" if relative else "ℓ(t)")
        ax.grid(True, which="major", alpha=0.3)
        if f is not None:
            ax.set_title(f"{facet} = {f}")
    axes[0][-1].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    return cast("Figure", fig)


def steps_to_tol(
    frame: pd.DataFrame,
    *,
    x: str,
    hue: str | None = None,
    column: str = "steps_to_tol",
    title: str | None = None,
    ylabel: str = "steps to tolerance",
) -> Figure:
    """Median steps to reach the tolerance versus ``x`` (log-log), one line per ``hue`` value.

    ``column`` holds the steps (−1 or NaN: never reached; such runs are left out and counted in
    the legend).
    """
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    hues = sorted(frame[hue].unique()) if hue else [None]
    markers = "osD^v<>"
    for i, h in enumerate(hues):
        part = frame if h is None else frame[frame[hue] == h]
        steps = part[column].astype(np.float64).where(part[column] >= 0)
        grouped = steps.groupby(part[x]).median()
        missing = int(steps.isna().sum())
        label = str(h) if h is not None else column
        label += f" ({missing} never)" if missing else ""
        ax.plot(grouped.index, grouped.to_numpy(), marker=markers[i % len(markers)], label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers (50, not 5×10¹) at 1-2-5 ticks
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title=hue, fontsize=8)
    if title:
        ax.set_title(title)
    return cast("Figure", fig)


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save and close a figure; returns the path."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_store(directory: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write default figures for a store (``deeplinear plot DIR``); returns the PNG paths.

    * a heat map of log10(ℓ(T)/ℓ(0)) over the two numeric axes with most values (depth on y when
      present), faceted by the first other axis with several values (seeds are aggregated);
    * median loss curves coloured by the y axis;
    * steps to tolerance versus the y axis, when the runs have a tolerance.
    """
    from .sweep.store import load, read_spec

    directory = Path(directory)
    frame = load(directory)
    if frame.empty:
        raise ValueError(f"directory: {directory} holds no finished runs")
    out = Path(out) if out is not None else directory / "figures"
    spec = read_spec(directory) or {}
    axes = [a for a in spec.get("axes", {}) if a in frame and frame[a].nunique() > 1]
    numeric = [a for a in axes if a != "seed" and frame[a].dtype.kind in "if"]
    numeric.sort(key=lambda a: (a != "depth", a != "width"))
    others = [a for a in axes if a not in numeric[:2] and a != "seed"]
    facet = others[0] if others else None
    frame = frame.assign(log10_ratio=log10_ratio_at(frame))
    written = []
    if len(numeric) >= 2:
        y_axis, x_axis = numeric[0], numeric[1]
        fig = heatmap(
            frame,
            value="log10_ratio",
            x=x_axis,
            y=y_axis,
            facet=facet,
            label="median log10 ℓ(T)/ℓ(0)",
            title=f"{spec.get('name', 'sweep')}: log10 ℓ(T)/ℓ(0) after training",
        )
        written.append(save(fig, out / "heatmap.png"))
    hue = numeric[0] if numeric else None
    if hue is not None:
        fig = loss_curves(frame, hue=hue, facet=facet, title="median relative loss")
        written.append(save(fig, out / "loss_curves.png"))
        if frame["tol"].notna().any():
            fig = steps_to_tol(frame, x=hue, hue=facet, title="steps to tolerance")
            written.append(save(fig, out / "steps_to_tol.png"))
    return written
