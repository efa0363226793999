"""A results frame as a labelled xarray Dataset: the sweep's axes (and ``step``) as dimensions.

:func:`deeplinear.sweep.load` gives one row per run, with the curves in list columns;
:func:`to_xarray` puts every run at its coordinates on the sweep's axes, so that curves can be
selected and reduced by name (``ds.loss.sel(depth=8).median("seed")``). xarray is an optional
dependency (``pip install xarray``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidValueError
from .grid import FIELDS, record_intervals

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["to_xarray"]

_CONFIG = tuple(f.name for f in FIELDS)
_CURVE = "_curve"


def _xarray() -> Any:
    try:
        import xarray
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "to_xarray needs xarray, an optional dependency: pip install xarray"
        ) from err
    return xarray


def _intervals(row: Any) -> dict[str, int]:
    """Each curve's recording interval in steps, for one run (a frame row)."""
    every = int(row["record_every"])
    intervals = {"loss": every}
    if isinstance(row.get("record"), str) and row["record"]:
        intervals.update(record_intervals(row["record"], every))
    return intervals


def to_xarray(frame: pd.DataFrame, axes: Sequence[str] | None = None) -> xr.Dataset:
    """A labelled view of a results frame: one dimension per sweep axis, plus ``step``.

    Args:
        frame: runs, as :func:`deeplinear.sweep.load` returns them (a filtered frame works too).
        axes: the config columns that become dimensions, in order (default: every config
            column with more than one value, in the schema's order). Together they must
            identify each run.

    Returns:
        An ``xarray.Dataset`` with a data variable per scalar result column (``final_loss``,
        ``steps_to_tol``, …) over ``axes``; one per recorded curve (``loss`` from
        ``loss_curve``, ``balancedness`` from ``balancedness_curve``, …) over ``axes`` ×
        ``step``, with ``step`` in training steps (a curve is NaN at steps it did not record,
        and where a grid point has no run); the run ``key`` over ``axes``; and the config
        values that do not vary as attributes.

    Raises:
        ModuleNotFoundError: xarray is not installed.
        InvalidValueError: ``axes`` names a column the frame lacks, or two runs share
            coordinates.

    Example:
        >>> import deeplinear as dl
        >>> frame = dl.sweep.load("results/example")  # doctest: +SKIP
        >>> ds = dl.sweep.to_xarray(frame)  # doctest: +SKIP
        >>> ds.loss.median("seed").sel(depth=8)  # doctest: +SKIP
    """
    xarray = _xarray()
    import pandas as pd

    if axes is None:
        axes = [c for c in _CONFIG if c in frame and frame[c].nunique(dropna=False) > 1]
    axes = list(axes)
    for name in axes:
        if name not in frame:
            raise InvalidValueError(f"axes: the frame has no column {name!r}")
    if frame.empty:
        raise InvalidValueError("frame: holds no runs")
    if not axes:  # a single run: a dimension of length 1 keeps the layout uniform
        frame = frame.assign(run=np.arange(len(frame)))
        axes = ["run"]
    duplicated = frame.duplicated(subset=axes)
    if duplicated.any():
        first = frame.loc[duplicated, axes].iloc[0].to_dict()
        raise InvalidValueError(
            f"axes: {axes} do not identify each run (several runs at {first}); pass every "
            "varying config column"
        )
    index = pd.MultiIndex.from_frame(frame[axes])
    curves = [c for c in frame.columns if c.endswith(_CURVE) and frame[c].notna().any()]
    scalars = [
        c
        for c in frame.columns
        if c not in axes and c not in curves and not c.endswith(_CURVE) and c not in _CONFIG
    ]
    dataset = xarray.Dataset.from_dataframe(frame[scalars].set_axis(index))
    long: dict[str, list[Any]] = {name: [] for name in [*axes, "step", "quantity", "value"]}
    for position, (_, row) in enumerate(frame.iterrows()):
        intervals = _intervals(row)
        for column in curves:
            values = row[column]
            if values is None or (isinstance(values, float) and np.isnan(values)):
                continue
            quantity = column[: -len(_CURVE)]
            values = np.asarray(values, dtype=np.float64)
            for name in axes:
                long[name].extend([index.get_level_values(name)[position]] * values.size)
            long["step"].extend((np.arange(values.size) * intervals[quantity]).tolist())
            long["quantity"].extend([quantity] * values.size)
            long["value"].extend(values.tolist())
    if long["value"]:
        table = pd.DataFrame(long).set_index([*axes, "step", "quantity"])["value"]
        table = table.unstack("quantity")
        dataset = dataset.merge(xarray.Dataset.from_dataframe(table))
    constant = [c for c in _CONFIG if c in frame and c not in axes and frame[c].nunique() == 1]
    dataset.attrs.update({c: _plain(frame[c].iloc[0]) for c in constant})
    labelled: xr.Dataset = dataset
    return labelled


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value (netCDF-friendly attributes)."""
    return value.item() if isinstance(value, np.generic) else value
