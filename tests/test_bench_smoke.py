"""The benchmark suite still runs (CI does not run the real benchmarks): every benchmark on tiny
problems, one round each, and the summary table with the targets is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHES = Path(__file__).resolve().parents[1] / "benches"


def test_benchmark_suite_runs_and_prints_the_summary() -> None:
    env = dict(os.environ, DEEPLINEAR_BENCH_SMOKE="1", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "benchmark", "-p", "no:cacheprovider"],
        cwd=BENCHES,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "GFLOP/s" in out.stdout and "Targets (DESIGN.md):" in out.stdout, out.stdout[-3000:]
    for problem in ("train S1", "train S4", "haar n=256", "dgemm 2048 (peak)"):
        assert problem in out.stdout, problem
