"""dl.haar_orthogonal against batched NumPy QR + sign fix."""

from __future__ import annotations

import pytest

import deeplinear as dl
from deeplinear import reference
from shapes import HAAR_SHAPES


@pytest.mark.parametrize("shape", HAAR_SHAPES, ids=lambda s: f"n{s.n}")
@pytest.mark.parametrize("backend", ["deeplinear", "reference"])
def test_haar(benchmark, record, shape, backend):
    fn = dl.haar_orthogonal if backend == "deeplinear" else reference.haar_orthogonal
    record(
        benchmark,
        shape.name,
        backend,
        shape.flops_per_call,
        lambda: fn(shape.n, batch=shape.batch, seed=0),
    )
