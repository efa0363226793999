"""dl.train against the NumPy reference on the shapes S1-S4 of DESIGN.md."""

from __future__ import annotations

import pytest

import deeplinear as dl
from deeplinear import reference
from shapes import TRAIN_SHAPES


@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("backend", ["deeplinear", "reference"])
def test_train(benchmark, record, shape, backend):
    weights, X, Y, kwargs = shape.problem()
    fn = dl.train if backend == "deeplinear" else reference.train
    record(
        benchmark,
        f"train {shape.name}",
        backend,
        shape.flops_per_call,
        lambda: fn(weights, X, Y, **kwargs),
    )
