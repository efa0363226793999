"""Collects every benchmark's best time and prints one GFLOP/s table with ratios at the end."""

from __future__ import annotations

import os
import platform
from collections import defaultdict

import numpy as np
import pytest

# problem name -> backend -> (best seconds, flops per call)
RESULTS: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.benchmark)


@pytest.fixture
def record():
    """Run ``fn`` under pytest-benchmark and remember its best time for the summary table."""

    def run(benchmark, problem: str, backend: str, flops: float, fn, rounds: int = 3):
        benchmark.group = problem
        benchmark.extra_info.update(backend=backend, flops=flops)
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
        best = benchmark.stats.stats.min
        benchmark.extra_info["gflops"] = flops / best / 1e9
        RESULTS[problem][backend] = (best, flops)

    return run


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, numpy {np.__version__}"


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    backends = sorted({b for r in RESULTS.values() for b in r}, key=lambda b: b != "deeplinear")
    others = [b for b in backends if b != "deeplinear"]
    write = terminalreporter.write_line
    write("")
    write(f"GFLOP/s (best of rounds), f64 unless marked; machine: {_machine()}")
    header = f"| {'problem':<22} | " + " | ".join(f"{b:>12}" for b in backends)
    header += "".join(f" | {'vs ' + b:>13}" for b in others) + " |"
    write(header)
    write("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for problem, by_backend in RESULTS.items():
        cells = []
        for b in backends:
            best, flops = by_backend.get(b, (np.nan, np.nan))
            cells.append(f"{flops / best / 1e9:>12.2f}")
        ratios = []
        for b in others:
            if "deeplinear" in by_backend and b in by_backend:
                ratios.append(f"{by_backend[b][0] / by_backend['deeplinear'][0]:>12.2f}x")
            else:
                ratios.append(f"{'-':>13}")
        write(f"| {problem:<22} | " + " | ".join(cells) + "".join(f" | {r}" for r in ratios) + " |")
