"""The engine's worker pools are reused between calls (they cost ~0.1 ms to start): reuse must
survive a fork and must never make concurrent calls share, or wait for, one pool."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import deeplinear as dl
from helpers import assert_results_identical

DIMS = [6, 8, 8, 3]


def _train(seed: int, threads: int) -> dl.TrainResult:
    w = dl.init.orthogonal(DIMS, batch=5, seed=seed, threads=threads)
    Y = np.random.default_rng(seed).standard_normal((3, 6))
    return dl.train(w, None, Y, lr=0.01, steps=20, alpha=dl.fanout_alpha(DIMS), threads=threads)


def _final_loss_in_child(seed: int) -> np.ndarray:
    return _train(seed, threads=2).final_loss


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads (Python ≥ 3.12)
def test_a_forked_child_trains_after_the_parent_used_the_pools() -> None:
    expected = _train(3, threads=2).final_loss  # leaves idle pools behind in the parent
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_final_loss_in_child, (3,)).get(timeout=60)
    np.testing.assert_array_equal(got, expected)


def test_concurrent_calls_from_python_threads_match_serial_calls() -> None:
    seeds = list(range(8))
    serial = [_train(s, threads=1) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as ex:
        concurrent = list(ex.map(lambda s: _train(s, threads=2), seeds))
    for a, b in zip(serial, concurrent, strict=True):
        assert_results_identical(a, b)
