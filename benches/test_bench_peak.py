"""The machine's practical f64 peak: a large NumPy (OpenBLAS) dgemm on all cores."""

from __future__ import annotations

import numpy as np

N = 2048


def test_dgemm_peak(benchmark, record):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((N, N)), rng.standard_normal((N, N))
    record(benchmark, "dgemm 2048 (peak)", "numpy", 2.0 * N**3, lambda: a @ b, rounds=5)
