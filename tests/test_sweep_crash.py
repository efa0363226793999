"""Crash safety: SIGKILL a sweep at several points, resume, and get exactly the uninterrupted store.

A sweep runs in a subprocess; the test kills it with SIGKILL when a condition on the store holds
(k finished parts, or a part caught mid-write as a temporary file), checks the store is healthy
(every key once), and resumes. The final store must hold exactly the grid's keys, once each, with
values identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeplinear.sweep import SweepSpec, load, run_sweep, store
from sweep_helpers import assert_same_results

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

SCRIPT = """
import json, sys
from deeplinear.sweep import run_sweep
run_sweep(json.loads(sys.argv[1]), sys.argv[2], resume=True, progress=False, threads=1)
"""


def crash_spec() -> dict:
    """40 one-network tasks of ~10-50 ms each: plenty of moments to kill at."""
    return {
        "name": "crash",
        "axes": {
            "depth": [6, 12],
            "width": [24, 40],
            "init": ["gaussian", "orthogonal"],
            "seed": [0, 1, 2, 3, 4],
        },
        "fixed": {
            "d_x": 16,
            "n": 8,
            "d_y": 4,
            "steps": 300,
            "lr": 0.5,
            "lr_rule": "hu2020",
            "alpha_rule": "fanout",
        },
        "execution": {"task_flops": 1.0},
    }


def _parts(out: Path) -> int:
    return len(store.part_paths(out))


def _temporaries(out: Path) -> int:
    parts = out / "parts"
    return len(list(parts.glob(".part-*.tmp"))) if parts.is_dir() else 0


def _run_and_kill(out: Path, spec: dict, condition, timeout: float = 60.0) -> bool:
    """Start the sweep, SIGKILL it as soon as ``condition(out)`` holds; True if it was killed
    before finishing."""
    log = out.parent / f"{out.name}.stderr"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, json.dumps(spec), str(out)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if condition(out):
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return True
                time.sleep(0.0005)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
    return False


def _assert_healthy(out: Path, grid_keys: set[str]) -> int:
    counts = store.count_rows_by_key(out)
    assert set(counts.values()) <= {1}, "a run was stored twice"
    assert set(counts) <= grid_keys
    frame = load(out)  # every finished part is readable
    assert len(frame) == len(counts)
    return len(counts)


def test_sigkill_at_several_points_then_resume_gives_the_uninterrupted_store(tmp_path):
    spec = crash_spec()
    grid_keys = {r.key for r in SweepSpec.from_dict(spec).runs()}
    assert len(grid_keys) == 40
    reference = tmp_path / "reference"
    run_sweep(spec, reference, progress=False, threads=1)

    out = tmp_path / "killed"
    kill_points = [
        ("first part", lambda o: _parts(o) >= 1),
        ("mid-write", lambda o: _temporaries(o) >= 1),
        ("8 parts", lambda o: _parts(o) >= 8),
        ("20 parts", lambda o: _parts(o) >= 20),
        ("mid-write again", lambda o: _temporaries(o) >= 1),
    ]
    stored = []
    killed = 0
    for name, condition in kill_points:
        killed += _run_and_kill(out, spec, condition)
        stored.append(_assert_healthy(out, grid_keys))
        assert stored[-1] < 40 or name.startswith("mid-write"), f"finished before the {name} kill"
    assert killed >= 4, "most kills must land before the sweep finished"
    assert stored == sorted(stored)  # resumed progress is never lost

    assert not _run_and_kill(out, spec, lambda o: False)  # resume to the end
    counts = store.count_rows_by_key(out)
    assert set(counts) == grid_keys and set(counts.values()) == {1}
    assert _temporaries(out) == 0
    assert_same_results(load(reference), load(out))
