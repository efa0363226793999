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
    for row in (
        "train S1",
        "train S4",
        "haar n=256",
        "dgemm 2048, ",  # the default OpenBLAS kernel, named
        "tanh MLP M2: float32 / float64",
        "linear MLP M2: deeplinear / dgemm (median of pairs)",
        "[best of the row / fastest dgemm of the run: ",
        "sgemm 2048, ",
        # the paired thread scaling, with the machine's own (dgemm) in the same pairs
        "S1: all cores / 1 thread (median of pairs)",
        "[dgemm in the same pairs: ",
        "pairs, dgemm 256: ",
        # the bounds printed beside the targets that the machine or the API limit
        "[the API's floor (a forward pass more per call): 0.78]",
        "[1.3× needs the Stiefel work at ",
    ):
        assert row in out.stdout, row


TINY_SWEEP = """
name = "tiny"
[axes]
depth = [2, 4]
seed = [0, 1, 2, 3, 4]
[fixed]
init = "gaussian"
d_x = 8
n = 8
d_y = 3
width = 8
steps = 50
lr = 0.5
lr_rule = "hu2020"
alpha_rule = "fanout"
"""


def test_sweep_efficiency_profiles_a_tiny_sweep(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SWEEP, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(BENCHES / "sweep_efficiency.py"), str(spec), "--threads", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for line in (
        "sweep engine calls (2 dl.train)",  # one task per group of 5 on 2 threads
        "useful flops over 10 networks",
        "representative call, depth 4 width 8: 5 networks × 50 steps",
        "busy fraction: sweep",
        # 5 equal networks on 2 threads: 3 network-times of wall for 5 of work
        "model (steps run, greedy scheduling): this cut 0.833",
    ):
        assert line in out.stdout, (line, out.stdout)
