"""The one timing rule of the standalone bench scripts: best wall time over rounds."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(fn: Callable[[], object], rounds: int, *, warm_up: bool = False) -> float:
    """Fastest of ``rounds`` calls of ``fn``, in seconds; ``warm_up`` makes one untimed call
    first (thread pools, page cache). The minimum, because on a shared machine noise only ever
    adds time."""
    if warm_up:
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
