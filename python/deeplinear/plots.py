"""Figures from a results frame (matplotlib; no display needed).

Every function takes a pandas DataFrame (one row per run, as :func:`deeplinear.sweep.load`
gives) and column names, and returns a matplotlib Figure; :func:`save` writes it. Nothing here
reads files: derived columns (e.g. :func:`deeplinear.sweep.log10_ratio_at`) are computed by the
caller.

Figures are built as :class:`matplotlib.figure.Figure` objects, without pyplot, so nothing here
selects or switches the user's matplotlib backend, and everything works headless. Every plotting
function takes ``ax=``: an Axes (or, for a figure of several panels, a sequence with one Axes
per panel) to draw into instead of a new figure; it then returns that Axes' figure.

* :func:`heatmap`: a metric over two axes (e.g. depth × width), faceted by a third (e.g. init);
* :func:`curves`: median curves of a list column (loss, balancedness) against step;
* :func:`steps_to_tol`: steps to reach a tolerance against an axis (log-log), with fitted lines;
* :func:`step_count_maps`: median step counts over two axes per facet (log colours), and the
  ratio of two facets;
* :func:`default_figures`: sensible figures for any sweep (``deeplinear plot DIR``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "curves",
    "default_figures",
    "heatmap",
    "loss_curves",
    "median_band",
    "save",
    "scatter",
    "seed_band_curves",
    "step_count_maps",
    "steps_to_tol",
    "tau_lines",
]


def _colormap(name: str) -> Any:
    import matplotlib

    return matplotlib.colormaps[name]


def _figure(
    ax: Any, count: int, figsize: tuple[float, float], sharey: bool = False
) -> tuple[Any, Any]:
    """The figure and a (1, count) array of axes for ``count`` panels: the user's ``ax`` (one
    Axes, or a sequence of ``count``) when given, else those of a new constrained-layout Figure,
    built without pyplot (so no backend is selected or switched)."""
    if ax is not None:
        given = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(given) != count:
            raise InvalidValueError(
                f"ax: this figure has {count} panel(s), so expected {count} Axes, got {len(given)}"
            )
        grid = np.empty((1, count), dtype=object)
        grid[0, :] = given
        return given[0].figure, grid
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(1, count, squeeze=False, sharey=sharey)


def _panels(count: int, width: float, height: float, ax: Any = None) -> tuple[Any, Any]:
    """A figure with ``count`` panels side by side sharing the y axis; axes as a (1, count)
    array."""
    return _figure(ax, count, (width * count, height), sharey=True)


def _title(fig: Any, axes: Any, title: str | None, ax: Any) -> None:
    """The figure's title: a suptitle on a new figure; on the user's Axes (one panel without a
    title) rather than over the user's figure."""
    if not title:
        return
    if ax is None:
        fig.suptitle(title)
    elif axes.shape[1] == 1 and not axes[0][0].get_title():
        axes[0][0].set_title(title)


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
    outline: Mapping[Any, Mapping[Any, Any]] | None = None,
    outline_label: str = "boundary",
    ax: Any = None,
) -> Figure:
    """Heat map of ``agg(value)`` over ``x`` × ``y``, one panel per value of ``facet``.

    Non-finite cells (diverged runs) are drawn grey and labelled "div"; values beyond the colour
    range are clipped. Cells are annotated with their value when the grid is small enough
    (``annotate=None``), in black or white, whichever contrasts with the cell.

    ``outline`` draws a boundary: per facet value (None without facets), per ``y`` value, the
    first ``x`` value of a region (e.g. the smallest trainable width at each depth); a red line
    runs along the left edge of those cells (None: the region is empty in that row).
    """
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
    cmap = _colormap("viridis_r").with_extremes(bad="#9e9e9e")
    annotate = len(xs) * len(ys) <= 144 if annotate is None else annotate
    width = 1.6 + 0.55 * max(len(xs), 6)
    fig, axes = _figure(ax, len(facets), (width * len(facets) + 1.2, 1.4 + 0.42 * max(len(ys), 6)))
    image = None
    for panel, f, grid in zip(axes[0], facets, grids, strict=True):
        shown = np.ma.masked_invalid(np.clip(grid, low, high))
        shown.mask |= ~np.isfinite(grid)
        image = panel.imshow(shown, origin="lower", cmap=cmap, vmin=low, vmax=high, aspect="auto")
        step_x, step_y = _thin(len(xs)), _thin(len(ys))
        panel.set_xticks(range(0, len(xs), step_x), _labels(xs)[::step_x])
        panel.set_yticks(range(0, len(ys), step_y), _labels(ys)[::step_y])
        panel.set_xlabel(x)
        panel.set_ylabel(y)
        if f is not None:
            panel.set_title(f"{facet} = {f}")
        if outline is not None and f in outline:
            _outline(panel, outline[f], xs, ys, outline_label)
        if annotate:
            for (r, c), v in np.ndenumerate(grid):
                if np.isnan(v):
                    continue
                if not np.isfinite(v):
                    panel.text(c, r, "div", ha="center", va="center", fontsize=8, color="k")
                    continue
                rgba = cmap((min(max(v, low), high) - low) / (high - low))
                luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
                panel.text(
                    c,
                    r,
                    f"{v:.0f}" if abs(v) >= 9.5 else f"{v:.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="k" if luminance > 0.5 else "w",
                )
    fig.colorbar(image, ax=axes[0].tolist(), label=label or f"{agg} {value}", shrink=0.9)
    if outline is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", fontsize=9, frameon=False)
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def _cell_text(ax: Any, row: int, column: int, text: str, rgba: Sequence[float]) -> None:
    luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
    colour = "k" if luminance > 0.5 else "w"
    ax.text(column, row, text, ha="center", va="center", fontsize=8, color=colour)


def step_count_maps(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    facet: str,
    column: str,
    ratio: tuple[Any, Any] | None = None,
    cap: float | None = None,
    label: str = "median steps",
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    ax: Any = None,
) -> Figure:
    """Median step counts over ``x`` × ``y``, one panel per ``facet`` value on one logarithmic
    colour scale, and (with ``ratio = (a, b)``) a last panel with the ratio of facet a's
    median to facet b's on a diverging logarithmic scale centred on 1.

    Args:
        column: the steps of each run; −1, NaN or inf mean "never" (within the cap). A cell's
            median over its runs counts "never" as infinitely many steps; cells whose median
            is "never" are drawn hatched and labelled "never".
        ratio: the two facet values whose ratio to draw (a/b > 1: a needs more steps). A cell
            where only b got there shows "> cap/b" (a lower bound, at the top colour); where
            neither did it is blank.
        cap: the step cap, used for those lower bounds (default: the largest finite step).
    """
    import matplotlib.colors as mcolors
    from matplotlib.patches import Rectangle

    steps = frame[column].astype(np.float64)
    data = frame.assign(_steps=steps.where(steps >= 0, math.inf).fillna(math.inf))
    facets = sorted(data[facet].unique())
    xs = sorted(data[x].unique())
    ys = sorted(data[y].unique())
    grids = {}
    for f in facets:
        part = data[data[facet] == f]
        table = part.groupby([y, x])["_steps"].median().unstack(x)
        grids[f] = table.reindex(index=ys, columns=xs).to_numpy(dtype=np.float64)
    finite = np.concatenate([g[np.isfinite(g)] for g in grids.values()])
    top = float(cap) if cap is not None else float(finite.max()) if finite.size else 10.0
    low = max(float(finite.min()) if finite.size else 1.0, 1.0)
    norm = mcolors.LogNorm(vmin=low, vmax=max(top, low * 10))
    cmap = _colormap("viridis_r")
    panels = len(facets) + (ratio is not None)
    fig, axes = _figure(
        ax, panels, ((1.4 + 0.55 * max(len(xs), 5)) * panels, 2.4 + 0.45 * max(len(ys), 4))
    )
    ticks = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in xs]

    def frame_axes(panel: Any, name: str) -> None:
        panel.set_xticks(range(len(xs)), ticks, rotation=45)
        panel.set_yticks(range(len(ys)), _labels(ys))
        panel.set_xlabel(xlabel or x)
        panel.set_ylabel(ylabel or y)
        panel.set_title(name)

    image = None
    for panel, f in zip(axes[0], facets, strict=False):
        grid = grids[f]
        shown = np.ma.masked_invalid(np.where(np.isfinite(grid), np.maximum(grid, low), np.nan))
        image = panel.imshow(shown, origin="lower", cmap=cmap, norm=norm, aspect="auto")
        for (r, c), v in np.ndenumerate(grid):
            if np.isnan(v):
                continue
            if np.isinf(v):
                panel.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", lw=0))
                panel.text(
                    c,
                    r,
                    "never",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="0.1",
                    bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1},
                )
                continue
            _cell_text(panel, r, c, f"{v:.0f}", cmap(norm(max(v, low))))
        frame_axes(panel, f"{facet} = {f}")
    fig.colorbar(image, ax=axes[0][: len(facets)].tolist(), label=label, shrink=0.95)
    if ratio is not None:
        a, b = ratio
        upper, lower = grids[a], grids[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(
                np.isfinite(upper) & np.isfinite(lower),
                upper / lower,
                np.where(np.isinf(upper) & np.isfinite(lower), top / lower, np.nan),
            )
        bound = np.isinf(upper) & np.isfinite(lower)
        finite_ratio = values[np.isfinite(values)]
        extent = max(float(np.abs(np.log10(finite_ratio)).max()) if finite_ratio.size else 1.0, 0.5)
        rnorm = mcolors.LogNorm(vmin=10.0**-extent, vmax=10.0**extent)
        rmap = _colormap("RdBu_r").with_extremes(bad="white")
        last = axes[0][-1]
        rimage = last.imshow(
            np.ma.masked_invalid(values), origin="lower", cmap=rmap, norm=rnorm, aspect="auto"
        )
        for (r, c), v in np.ndenumerate(values):
            if np.isfinite(v):
                text = f"> {v:.3g}" if bound[r, c] else f"{v:.3g}"
                _cell_text(last, r, c, text, rmap(rnorm(v)))
        frame_axes(last, f"ratio {a} / {b} (> 1: {a} slower)")
        fig.colorbar(rimage, ax=last, label=f"{a} / {b}", shrink=0.95)
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def _outline(
    ax: Any, edges: Mapping[Any, Any], xs: Sequence[Any], ys: Sequence[Any], label: str
) -> None:
    """A step line along the left edge of cell (edges[y], y) in every row of a heat map."""
    points: list[tuple[float, float]] = []
    for row, y in enumerate(ys):
        edge = edges.get(y)
        left = len(xs) - 0.5 if edge is None or edge not in xs else xs.index(edge) - 0.5
        points += [(left, row - 0.5), (left, row + 0.5)]
    px, py = zip(*points, strict=True)
    ax.plot(px, py, color="red", linewidth=2.0, label=label)


def curves(
    frame: pd.DataFrame,
    *,
    hue: str,
    facet: str | None = None,
    column: str = "loss_curve",
    relative: bool = True,
    ylabel: str | None = None,
    yscale: str = "log",
    xscale: str = "linear",
    ylim: tuple[float, float] | None = None,
    xlim: tuple[float, float] | None = None,
    title: str | None = None,
    styles: Mapping[Any, str] | None = None,
    xlabel: str = "step",
    ax: Any = None,
) -> Figure:
    """Median (over the other axes, e.g. seeds) of the list column ``column`` against step,
    one line per value of ``hue``, one panel per value of ``facet``.

    Args:
        column: a list column recorded every ``record_every`` steps (``loss_curve``,
            ``balancedness_curve``); non-finite entries are left out of the median.
        relative: divide each curve by its first entry (ℓ(t)/ℓ(0) for the loss).
        ylabel: the y label (default: ℓ(t)/ℓ(0) or ℓ(t) for the loss, else ``column``).
        yscale: "log" or "linear". Zeros are drawn at 1e-300 on a log scale.
        xscale: "linear", "log" (step 0 is then left out) or "symlog" (linear up to one
            recording interval, so step 0 shows, logarithmic beyond).
        ylim, xlim: the axis ranges (e.g. to keep curves that reach 0 readable on a log scale).
        styles: line style per hue value (e.g. {"zas": "-", "xavier": ":"}).
        xlabel: the x label (entry k of a curve is at ``k·record_every``).
    """
    facets = sorted(frame[facet].unique()) if facet else [None]
    hues = sorted(frame[hue].unique())
    if frame[hue].dtype.kind in "iuf":  # ordered values: a sequential map
        colours = _colormap("plasma")(np.linspace(0.0, 0.85, max(len(hues), 2)))
    else:  # categories: distinct colours
        colours = _colormap("tab10")(np.arange(len(hues)) % 10)
    fig, axes = _panels(len(facets), 5.2, 4.0, ax)
    if ylabel is None:
        ylabel = ("ℓ(t)/ℓ(0)" if relative else "ℓ(t)") if column == "loss_curve" else column
    for panel, f in zip(axes[0], facets, strict=True):
        part = frame if f is None else frame[frame[facet] == f]
        for colour, h in zip(colours, hues, strict=False):
            rows = part[part[hue] == h]
            rows = rows[rows[column].notna()]
            if rows.empty:
                continue
            values = np.stack([np.asarray(c, dtype=np.float64) for c in rows[column]])
            if relative:
                values = values / values[:, :1]
            steps = np.arange(values.shape[1]) * int(rows["record_every"].iloc[0])
            with np.errstate(invalid="ignore"):
                median = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=0)
            if yscale == "log":
                median = np.maximum(median, 1e-300)
            shown = steps > 0 if xscale == "log" else np.ones(steps.size, dtype=bool)
            style = (styles or {}).get(h, "-")
            panel.plot(steps[shown], median[shown], style, color=colour, label=f"{hue} = {h}")
        panel.set_yscale(yscale)
        if xscale == "symlog":  # linear near 0 (step 0 shown), logarithmic beyond
            panel.set_xscale("symlog", linthresh=max(int(frame["record_every"].min()), 1))
        else:
            panel.set_xscale(xscale)
        if ylim is not None:
            panel.set_ylim(*ylim)
        if xlim is not None:
            panel.set_xlim(*xlim)
        panel.set_xlabel(xlabel)
        panel.set_ylabel(ylabel)
        panel.grid(True, which="major", alpha=0.3)
        if f is not None:
            panel.set_title(f"{facet} = {f}")
    _legend(axes[0])
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def _legend(axes: Sequence[Any]) -> None:
    """One legend, on the last panel, with the lines of every panel (a hue missing from the
    last panel still gets its entry)."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if entries:
        axes[-1].legend(list(entries.values()), list(entries), fontsize=8)


def loss_curves(
    frame: pd.DataFrame,
    *,
    hue: str,
    facet: str | None = None,
    title: str | None = None,
    relative: bool = True,
    ax: Any = None,
) -> Figure:
    """Median relative loss curves: :func:`curves` of ``loss_curve``."""
    return curves(frame, hue=hue, facet=facet, title=title, relative=relative, ax=ax)


def _log_ticks(ax: Any) -> None:
    """Plain numbers (50, not 5×10¹) on both log axes: 1-2-5 ticks over up to three decades,
    powers of ten beyond (so that labels do not collide)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        decades = math.log10(max(limits) / max(min(limits), 1e-300))
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def steps_to_tol(
    frame: pd.DataFrame,
    *,
    x: str,
    hue: str | None = None,
    facet: str | None = None,
    column: str = "steps_to_tol",
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str = "steps to tolerance",
    cap: float | None = None,
    fits: Mapping[tuple[Any, Any], tuple[float, float]] | None = None,
    fit_from: float | None = None,
    ax: Any = None,
) -> Figure:
    """Median steps to reach a tolerance against ``x`` (log-log), one line per ``hue`` value,
    one panel per ``facet`` value.

    Args:
        column: the steps of each run (−1 or NaN: never reached). The median over the runs of
            a point counts "never" as infinitely many steps.
        cap: the step cap. Points whose median is "never" are drawn as hollow markers at the
            cap (left out when None); the legend counts the runs that never reached it.
        fits: per (facet value, hue value) (None for an unused one), (slope, intercept) of a
            fit log10(steps) = intercept + slope·log10(x), drawn dashed and quoted in the
            legend.
        fit_from: draw the fits from this ``x`` on (where they were fitted; default: the
            smallest ``x`` that reached).
    """
    facets = sorted(frame[facet].unique()) if facet else [None]
    hues = sorted(frame[hue].unique()) if hue else [None]
    colours = _colormap("tab10")(np.arange(len(hues)) % 10)
    markers = "osD^v<>"
    fig, axes = _panels(len(facets), 6.0, 5.0, ax)
    for panel, f in zip(axes[0], facets, strict=True):
        part = frame if f is None else frame[frame[facet] == f]
        for i, h in enumerate(hues):
            rows = part if h is None else part[part[hue] == h]
            if rows.empty:
                continue
            steps = rows[column].astype(np.float64)
            steps = steps.where(steps >= 0, math.inf).fillna(math.inf)
            grouped = steps.groupby(rows[x]).median()
            never = int(np.isinf(steps).sum())
            label = str(h) if h is not None else column
            fit = (fits or {}).get((f, h))
            if fit is not None:
                label += f" (slope {fit[0]:.2f})"
            label += f" ({never} never)" if never else ""
            xs = grouped.index.to_numpy(dtype=np.float64)
            ys = grouped.to_numpy(dtype=np.float64)
            done = np.isfinite(ys)
            marker = markers[i % len(markers)]
            panel.plot(xs[done], ys[done], marker=marker, color=colours[i], label=label)
            if cap is not None and (~done).any():
                panel.plot(
                    xs[~done],
                    np.full((~done).sum(), float(cap)),
                    linestyle="none",
                    marker=marker,
                    markerfacecolor="none",
                    color=colours[i],
                )
            if fit is not None and done.any():
                slope, intercept = fit
                start = xs[done].min() if fit_from is None else max(fit_from, xs[done].min())
                line = np.geomspace(start, xs[done].max(), 50)  # no extrapolation
                panel.plot(
                    line, 10.0 ** (intercept + slope * np.log10(line)), "--", color=colours[i]
                )
        if cap is not None:
            panel.axhline(cap, color="0.6", linewidth=0.8, linestyle=":")
            panel.annotate(
                "cap (hollow: never reached)",
                (0.01, cap),
                xycoords=("axes fraction", "data"),
                fontsize=7,
                color="0.4",
                va="bottom",
            )
        panel.set_xscale("log")
        panel.set_yscale("log")
        _log_ticks(panel)
        panel.set_xlabel(xlabel or x)
        panel.set_ylabel(ylabel)
        panel.grid(True, which="major", alpha=0.3)
        if f is not None:
            panel.set_title(f"{facet} = {f}")
        # Per panel (the counts and slopes differ), below it: never over the data or the cap.
        panel.legend(title=hue, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def scatter(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    logx: bool = True,
    logy: bool = True,
    labels: Mapping[Any, str] | None = None,
    note: str | None = None,
    ax: Any = None,
) -> Figure:
    """One point per row, ``y`` against ``x``, coloured by ``hue`` (ordered values get a
    sequential map, in order), on log axes by default.

    Args:
        labels: the legend text of each hue value (default: ``hue = value``).
        note: a line of text in the upper left corner (e.g. a correlation).
    """
    hues = list(dict.fromkeys(frame[hue]))
    colours = _colormap("plasma")(np.linspace(0.0, 0.85, max(len(hues), 2)))
    fig, axes = _panels(1, 6.4, 5.0, ax)
    panel = axes[0][0]
    markers = "osD^v<>P"
    for i, h in enumerate(hues):
        rows = frame[frame[hue] == h]
        text = (labels or {}).get(h, f"{hue} = {h}")
        panel.scatter(
            rows[x], rows[y], color=colours[i], marker=markers[i % len(markers)], label=text
        )
    if logx:
        panel.set_xscale("log")
    if logy:
        panel.set_yscale("log")
    panel.set_xlabel(xlabel or x)
    panel.set_ylabel(ylabel or y)
    panel.grid(True, which="major", alpha=0.3)
    panel.legend(fontsize=8, loc="lower right")
    if note:
        panel.text(0.02, 0.97, note, transform=panel.transAxes, va="top", fontsize=9)
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save a figure (and close it, if pyplot manages it); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # a figure made through pyplot is freed only by closing it
        pyplot.close(fig)
    return path


def default_figures(
    frame: pd.DataFrame,
    out: str | Path,
    *,
    axes: Sequence[str] = (),
    name: str = "sweep",
) -> list[Path]:
    """Write default figures for any sweep's results (``deeplinear plot DIR``); returns paths.

    * a heat map of log10(ℓ(T)/ℓ(0)) over the two numeric axes with most values (depth on y when
      present), faceted by the first other axis with several values (seeds are aggregated);
    * median loss curves coloured by the first numeric axis;
    * steps to tolerance against that axis, when the runs have a tolerance.

    Args:
        frame: the results (:func:`deeplinear.sweep.load`).
        out: the figure directory.
        axes: the sweep's axes in order (e.g. from the stored spec); only those with several
            values in ``frame`` are used.
        name: the sweep's name, for titles.
    """
    if frame.empty:
        raise InvalidValueError("frame: holds no finished runs")
    out = Path(out)
    varied = [a for a in axes if a in frame and frame[a].nunique() > 1]
    numeric = [a for a in varied if a != "seed" and frame[a].dtype.kind in "if"]
    numeric.sort(key=lambda a: (a != "depth", a != "width"))
    others = [a for a in varied if a not in numeric[:2] and a != "seed"]
    facet = others[0] if others else None
    written = []
    if len(numeric) >= 2:
        y_axis, x_axis = numeric[0], numeric[1]
        fig = heatmap(
            frame,
            value="log10_rel_loss",
            x=x_axis,
            y=y_axis,
            facet=facet,
            label="median log10 ℓ(T)/ℓ(0)",
            title=f"{name}: log10 ℓ(T)/ℓ(0) after training",
        )
        written.append(save(fig, out / "heatmap.png"))
    hue = numeric[0] if numeric else None
    if hue is not None:
        fig = curves(frame, hue=hue, facet=facet, title="median relative loss")
        written.append(save(fig, out / "loss_curves.png"))
        if frame["tol"].notna().any():
            fig = steps_to_tol(frame, x=hue, hue=facet, title="steps to tolerance")
            written.append(save(fig, out / "steps_to_tol.png"))
    return written


def seed_band_curves(
    frame: pd.DataFrame,
    *,
    facet: str,
    hue: str,
    panels: Mapping[str, Sequence[str]],
    log: Sequence[str] = (),
    styles: Mapping[Any, str] | None = None,
    title: str | None = None,
    xlabel: str = "step",
    ax: Any = None,
) -> Figure:
    """Mean curves with a band of ± 1 standard deviation over the rows (seeds), one row of
    panels per value of ``facet``, one column per entry of ``panels``.

    Args:
        panels: column title → the list columns drawn in it (each recorded every
            ``record_every`` steps, entry 0 at step 0); several columns share a colour per
            column and the line style of their ``hue`` value.
        log: the panel titles drawn on a log y axis.
        styles: line style per ``hue`` value (e.g. Gaussian solid, orthogonal dotted, as the
            paper draws them).
    """
    facets = list(dict.fromkeys(frame[facet]))
    hues = sorted(frame[hue].unique())
    colours = _colormap("tab10")(np.arange(10))
    figsize = (5.2 * len(panels), 3.6 * len(facets))
    if ax is not None or len(facets) == 1:
        if len(facets) != 1:
            raise InvalidValueError(
                f"ax: this figure has {len(facets)} rows of panels; ax= "
                "takes one row only (select one value of the facet)"
            )
        fig, axes = _figure(ax, len(panels), figsize)
    else:
        from matplotlib.figure import Figure as _Figure

        fig = _Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(len(facets), len(panels), squeeze=False)
    for r, f in enumerate(facets):
        part = frame[frame[facet] == f]
        every = int(part["record_every"].iloc[0])
        for c, (name, columns) in enumerate(panels.items()):
            panel = axes[r][c]
            for k, column in enumerate(columns):
                for h in hues:
                    rows = part[part[hue] == h]
                    values = np.stack([np.asarray(v, dtype=np.float64) for v in rows[column]])
                    steps = np.arange(values.shape[1]) * every
                    mean, spread = values.mean(axis=0), values.std(axis=0)
                    style = (styles or {}).get(h, "-")
                    label = f"{column} · {h}" if len(columns) > 1 else str(h)
                    panel.plot(steps, mean, style, color=colours[k], label=label)
                    low = mean - spread
                    if name in log:
                        low = np.maximum(low, mean / 10.0)
                    panel.fill_between(steps, low, mean + spread, color=colours[k], alpha=0.15)
            if name in log:
                panel.set_yscale("log")
            panel.set_xlabel(xlabel)
            panel.set_ylabel(name)
            panel.grid(True, which="major", alpha=0.3)
            panel.set_title(f"{facet} {f}: {name}")
            panel.legend(fontsize=8)
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def tau_lines(
    frame: pd.DataFrame,
    *,
    columns: Mapping[str, str],
    colour: str,
    style: str,
    x: str = "lr",
    styles: Mapping[Any, str] | None = None,
    cap: float | None = None,
    title: str | None = None,
    xlabel: str = "learning rate η",
    ax: Any = None,
) -> Figure:
    """Median step counts (−1 = never, counted as infinite) against ``x`` on log-log axes, one
    panel per entry of ``columns`` (panel title → column), one colour per ``colour`` value and
    one line style per ``style`` value (Huang et al.'s Fig. 4: widths in colour, orthogonal
    dotted). Medians that are "never" are left out; the cap is drawn as a dotted line."""
    colours_of = sorted(frame[colour].unique())
    palette = _colormap("viridis")(np.linspace(0.0, 0.85, max(len(colours_of), 2)))
    fig, axes = _panels(len(columns), 5.6, 4.6, ax)
    for panel, (name, column) in zip(axes[0], columns.items(), strict=True):
        for i, value in enumerate(colours_of):
            for s in sorted(frame[style].unique()):
                rows = frame[(frame[colour] == value) & (frame[style] == s)]
                steps = rows[column].astype(np.float64)
                steps = steps.where(steps >= 0, math.inf)
                medians = steps.groupby(rows[x]).median()
                done = np.isfinite(medians.to_numpy())
                panel.plot(
                    medians.index.to_numpy()[done],
                    medians.to_numpy()[done],
                    (styles or {}).get(s, "-"),
                    marker="o",
                    markersize=4,
                    color=palette[i],
                    label=f"{colour} {value}, {s}",
                )
        if cap is not None:
            panel.axhline(cap, color="0.6", linewidth=0.8, linestyle=":")
        panel.set_xscale("log")
        panel.set_yscale("log")
        panel.set_xlabel(xlabel)
        panel.set_ylabel("steps τ")
        panel.set_title(name)
        panel.grid(True, which="major", alpha=0.3)
    _legend(axes[0])
    _title(fig, axes, title, ax)
    return cast("Figure", fig)


def median_band(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax: Any = None,
) -> Figure:
    """The median of ``y`` over the rows of each ``x`` against ``x`` on log-log axes, one line
    per ``hue`` value, with the range (min to max) over the rows shaded. Non-finite values
    (e.g. a diverged run's loss) count as +inf in the median; medians that are inf are drawn as
    crosses at the top of the panel, and the legend counts the non-finite runs."""
    hues = list(dict.fromkeys(frame[hue]))
    colours = _colormap("tab10")(np.arange(len(hues)) % 10)
    fig, axes = _panels(1, 6.4, 4.8, ax)
    panel = axes[0][0]
    finite = frame[y].astype(np.float64)
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) * 2.0 if len(finite) else 1.0
    for colour, h in zip(colours, hues, strict=True):
        rows = frame[frame[hue] == h]
        values = rows[y].astype(np.float64).where(np.isfinite(rows[y].astype(np.float64)), math.inf)
        grouped = values.groupby(rows[x])
        xs = np.array(list(grouped.groups), dtype=np.float64)
        median = grouped.median().to_numpy()
        low = grouped.min().to_numpy()
        high = np.minimum(grouped.max().to_numpy(), top)
        bad = int((~np.isfinite(values)).sum())
        label = f"{h}" + (f" ({bad} diverged)" if bad else "")
        done = np.isfinite(median)
        panel.plot(xs[done], median[done], marker="o", color=colour, label=label)
        panel.fill_between(xs, np.minimum(low, top), high, color=colour, alpha=0.15)
        if (~done).any():
            panel.plot(xs[~done], np.full((~done).sum(), top), "x", color=colour)
    panel.set_xscale("log")
    panel.set_yscale("log")
    panel.set_xlabel(xlabel or x)
    panel.set_ylabel(ylabel or y)
    panel.grid(True, which="major", alpha=0.3)
    panel.legend(fontsize=8)
    _title(fig, axes, title, ax)
    return cast("Figure", fig)
