"""Small sweep specs and comparisons shared by the sweep tests."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

#: Columns that legitimately differ between two runs of the same sweep (timing, task cut, pool).
RUN_DEPENDENT = ("wall_time_s", "task_id", "threads")


def small_spec(**fixed: Any) -> dict[str, Any]:
    """A 2 depths × 2 widths × 2 inits × 2 seeds grid of tiny networks (16 runs)."""
    spec: dict[str, Any] = {
        "name": "small",
        "axes": {
            "depth": [2, 4],
            "width": [6, 10],
            "init": ["gaussian", "orthogonal"],
            "seed": [3, 11],
        },
        "fixed": {
            "d_x": 7,
            "n": 5,
            "d_y": 3,
            "steps": 60,
            "lr": 0.5,
            "lr_rule": "hu2020",
            "alpha_rule": "fanout",
            "record_every": 5,
        },
    }
    spec["fixed"].update(fixed)
    return copy.deepcopy(spec)


def assert_same_results(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Two stores hold exactly the same keys once each, and equal values bit for bit."""
    assert a["key"].is_unique and b["key"].is_unique
    assert set(a["key"]) == set(b["key"])
    a = a.sort_values("key").reset_index(drop=True)
    b = b.sort_values("key").reset_index(drop=True)
    for column in a.columns:
        if column in RUN_DEPENDENT:
            continue
        if column == "loss_curve":
            for x, y in zip(a[column], b[column], strict=True):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            pd.testing.assert_series_equal(a[column], b[column], check_exact=True)


def spec_with_a_broken_recipe(monkeypatch: Any) -> dict[str, Any]:
    """:func:`small_spec` over two data recipes, "teacher" and "broken" (registered for the test:
    it raises RuntimeError("disk on fire")), so half of its 32 runs fail."""
    from deeplinear.sweep import recipes

    def broken(request: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(recipes.DATA_RECIPES, "broken", broken)
    spec = small_spec()
    spec["axes"]["data"] = ["teacher", "broken"]
    return spec
