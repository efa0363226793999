"""dl.train against the NumPy reference (and JAX when installed) on the shapes S1-S4."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deeplinear as dl
import jax_peer
from deeplinear import reference
from shapes import TRAIN_SHAPES


@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("backend", ["deeplinear", "deeplinear 1 thread", "reference", "jax"])
def test_train(benchmark, record, shape, backend):
    weights, X, Y, kwargs = shape.problem()
    if backend == "jax":
        if not jax_peer.available():
            pytest.skip("JAX not installed (pip install 'deeplinear[bench]')")
        fn = jax_peer.make_train(weights, X, Y, kwargs)
    elif backend == "reference":
        fn = lambda: reference.train(weights, X, Y, **kwargs)  # noqa: E731
    else:
        threads = 1 if backend.endswith("1 thread") else None
        fn = lambda: dl.train(weights, X, Y, threads=threads, **kwargs)  # noqa: E731
    record(benchmark, f"train {shape.name}", backend, shape.flops_per_call, fn)


@pytest.mark.parametrize(
    "shape", [s for s in TRAIN_SHAPES if s.name in ("S2", "S3")], ids=lambda s: s.name
)
def test_train_float32(benchmark, record, shape):
    weights, X, Y, kwargs = shape.problem(np.float32)
    record(
        benchmark,
        f"train {shape.name}",
        "deeplinear f32",
        shape.flops_per_call,
        lambda: dl.train(weights, X, Y, **kwargs),
    )


def test_train_short_calls(benchmark, record):
    """S2 at 3 steps per call: what a call's fixed cost (fresh output pages) leaves of the
    throughput when calls are short. Reported without a target."""
    shape = next(s for s in TRAIN_SHAPES if s.name == "S2")
    short = dataclasses.replace(shape, steps=3)
    weights, X, Y, kwargs = short.problem()
    record(
        benchmark,
        "train S2, 3 steps/call",
        "deeplinear",
        short.flops_per_call,
        lambda: dl.train(weights, X, Y, **kwargs),
    )
