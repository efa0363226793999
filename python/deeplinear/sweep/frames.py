"""Read the loss curves of a results frame (:func:`deeplinear.sweep.load`) at any step.

The store keeps each run's loss every ``record_every`` steps (``loss_curve``, entry 0 = ℓ(0));
these helpers turn the curves into per-run numbers, as pandas Series aligned with the frame.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .grid import FIELDS, RunConfig

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["log10_ratio_at", "run_configs", "steps_to_ratio"]


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


def run_configs(frame: pd.DataFrame) -> list[RunConfig]:
    """The :class:`RunConfig` of every row (the config columns of a results frame)."""
    configs = []
    for row in frame[[f.name for f in FIELDS]].itertuples(index=False):
        values = dict(zip((f.name for f in FIELDS), row, strict=True))
        for f in FIELDS:
            value = values[f.name]
            if f.kind.startswith("optional") and (value is None or math.isnan(value)):
                values[f.name] = None
            elif f.kind in ("int", "optional_int"):
                values[f.name] = int(value)
            elif f.kind == "bool":
                values[f.name] = bool(value)
            elif f.kind in ("float", "optional_float"):
                values[f.name] = float(value)
        configs.append(RunConfig(**values))
    return configs
