"""The machine's practical f64 peak: a large NumPy (OpenBLAS) dgemm on all cores (and the f32 one,
sgemm, for the float32 rows).

OpenBLAS picks its kernel from the CPU at load time, and on some CPUs (AMD Zen 4 among them) the
one it picks is not its fastest: on the Zen 4 VM of early December it chose the Haswell (AVX2)
kernel, while the SkylakeX (AVX-512) kernel ran about 1.4× faster. On a CPU without AVX-512 that
kernel cannot run, and its row is skipped. The peak is therefore measured with the default kernel
in this process and with each kernel of ``KERNELS`` in a subprocess (``OPENBLAS_CORETYPE`` is
read only when the library loads), and the fastest is the peak that the targets divide by.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import PEAK_N as N
from conftest import default_kernel
from shapes import SMOKE

KERNELS = ["SkylakeX"]

# Times one dgemm (best of `rounds`) with the kernel this interpreter's OpenBLAS loaded.
_PROBE = """
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_info
n, rounds = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
a @ b
best = float("inf")
for _ in range(rounds):
    t = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t)
blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"seconds": best, "kernel": blas[0].get("architecture") if blas else None}))
"""


def test_dgemm_peak(benchmark, record):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((N, N)), rng.standard_normal((N, N))
    problem = f"dgemm {N}, {default_kernel()} kernel"
    record(benchmark, problem, "numpy", 2.0 * N**3, lambda: a @ b, rounds=5)


def test_sgemm_peak(benchmark, record):
    """The float32 counterpart, with the default kernel: the ceiling of the float32 rows (a
    target of "1.2× JAX float32" asks for more than this wherever JAX runs near it)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((N, N)).astype(np.float32) for _ in range(2))
    problem = f"sgemm {N}, {default_kernel()} kernel"
    record(benchmark, problem, "numpy", 2.0 * N**3, lambda: a @ b, rounds=5)


@pytest.mark.parametrize("kernel", KERNELS)
def test_dgemm_peak_with_kernel(benchmark, record_value, kernel):
    pytest.importorskip("threadpoolctl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    env["OPENBLAS_CORETYPE"] = kernel

    def probe() -> dict[str, float | str | None] | None:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(N), "1" if SMOKE else "5"],
            env=env,
            capture_output=True,
            text=True,
        )
        # A kernel for instructions this CPU lacks dies of SIGILL (AVX-512 on an AVX2 machine).
        return dict(json.loads(out.stdout)) if out.returncode == 0 else None

    # One benchmark round (the subprocess and its start-up); the time recorded is the probe's
    # own best dgemm.
    result = benchmark.pedantic(probe, rounds=1, iterations=1)
    if result is None:
        pytest.skip(f"OpenBLAS's {kernel} kernel does not run on this CPU")
    problem = f"dgemm {N}, {result['kernel']} kernel"
    benchmark.group = problem
    record_value(problem, "numpy", 2.0 * N**3, float(result["seconds"]))  # type: ignore[arg-type]
