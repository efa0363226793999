"""Impossible sizes and absurd thread counts raise clear exceptions; they never abort or hang.

Each case runs in a fresh interpreter, so an abort in Rust's allocation-error handler (the old
behaviour: SIGABRT, taking a notebook kernel with it) or a hang fails the test instead of killing
or stalling the test run. The child runs the call bare: an uncaught Python exception exits with
status 1 and prints ``ExceptionType: message`` as the last line of stderr, which is checked.
"""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import sys

import pytest

import deeplinear as dl
from deeplinear import _core

#: Generous: every case returns in well under a second; a hang is what this catches.
HANG_TIMEOUT_S = 120

PRELUDE = "import deeplinear as dl, numpy as np\n"

#: A valid one-run sweep spec, so that only the execution options are wrong.
SPEC = (
    "{'axes': {'depth': [1]}, 'fixed': {'width': 2, 'init': 'gaussian', 'steps': 1, 'lr': 0.1, "
    "'d_x': 2, 'n': 2, 'd_y': 2}}"
)

#: A bytes count, or the message for a size whose byte count overflows.
BYTES = r"(cannot allocate \d+ bytes \(\d+\.\d+ [KMGTPEZY]iB\)|the requested size overflows)"


def _oom(arg: str) -> str:
    return rf"MemoryError: {re.escape(arg)}: {BYTES}"


THREADS = r"ValueError: threads: must be at most \d+ \(4 per core available to this process"

# (id, statement, regex the last line of stderr must match)
CASES = [
    # The four aborts.
    ("haar 10^6 x 10^6", "dl.haar_orthogonal(10**6)", _oom("rows")),
    ("haar batch 10^12", "dl.haar_orthogonal(64, batch=10**12)", _oom("batch")),
    ("gaussian 10^6 x 10^6", "dl.init.gaussian([10**6, 10**6])", _oom("dims")),
    ("orthogonal batch 10^12", "dl.init.orthogonal([64, 64], batch=10**12)", _oom("batch")),
    # Sizes whose product overflows, or that no machine word holds.
    ("haar wide", "dl.haar_orthogonal(3, 2**62)", _oom("cols")),
    ("haar 2^70", "dl.haar_orthogonal(2**70)", _oom("rows")),
    ("haar batch 2^70", "dl.haar_orthogonal(2, batch=2**70)", _oom("batch")),
    ("xavier overflow", "dl.init.xavier([2**40, 2**40])", _oom("dims")),
    ("dims 2^70", "dl.init.gaussian([2**70, 3])", _oom("dims[0]")),
    ("identity batch", "dl.init.identity([3, 4], batch=2**62)", _oom("batch")),
    ("zas batch", "dl.init.zas([3, 4, 5], batch=10**15)", _oom("batch")),
    ("near identity", "dl.init.near_identity([3, 2**40, 3], seed=0)", _oom("dims")),
    ("balanced", "dl.init.balanced([2**21, 2**21, 4], seed=0)", _oom("dims")),
    ("balanced batch", "dl.init.balanced([3, 3, 3], batch=10**13, seed=0)", _oom("batch")),
    ("critical", "dl.init.critical([2**20, 2**21, 2], seed=0)", _oom("dims")),
    (
        "mean field batch",
        "dl.init.mean_field([8, 8], batch=10**14, sigma_w=1, sigma_b=0)",
        _oom("batch"),
    ),
    # Diagnostics whose results or scratch are far larger than their inputs.
    (
        "singular values of a bottleneck",  # 16 MB of weights, a 10^6 x 10^6 product
        "dl.metrics.singular_values([np.ones((1, 1, 10**6)), np.ones((1, 10**6, 1))])",
        _oom("weights"),
    ),
    (
        "partial product of a bottleneck",
        "dl.metrics.partial_product_singular_values("
        "[np.ones((1, 1, 10**6)), np.ones((1, 10**6, 1))], 0, 1)",
        _oom("weights"),
    ),
    (
        "ntk of 10^6 examples",
        "dl.metrics.ntk([np.ones((1, 1, 1))], np.ones((1, 10**6)))",
        _oom("X"),
    ),
    (
        "dense-route fisher of 10^6 examples",
        "dl.metrics.fisher_max_eigenvalue([np.ones((1, 1, 1))], np.ones((1, 10**6)), "
        "method='dense')",
        _oom("X"),
    ),
    (
        "ntk change of 10^6 examples",
        "w = [np.ones((1, 1, 1))]; dl.metrics.ntk_relative_change(w, w, np.ones((1, 10**6)))",
        _oom("X"),
    ),
    (
        "tanh ntk of 10^6 examples",
        "dl.metrics.ntk([np.ones((1, 1, 1))], np.ones((1, 10**6)), activation='tanh')",
        _oom("X"),
    ),
    # Absurd thread counts: refused at once, in every function.
    ("haar threads 10^4", "dl.haar_orthogonal(4, threads=10**4)", THREADS),
    ("haar threads 2^31", "dl.haar_orthogonal(4, threads=2**31)", THREADS),
    ("haar threads 2^70", "dl.haar_orthogonal(4, threads=2**70)", THREADS),
    ("init threads 10^4", "dl.init.orthogonal([4, 4], threads=10**4)", THREADS),
    (
        "metrics threads 10^4",
        "dl.metrics.balancedness([np.ones((1, 2, 2))], threads=10**4)",
        THREADS,
    ),
    (
        "train threads 10^4",
        "dl.train([np.eye(2)[None]], np.eye(2), np.eye(2), lr=0.1, steps=1, threads=10**4)",
        THREADS,
    ),
    (
        "train threads 2^31",
        "dl.train([np.eye(2)[None]], np.eye(2), np.eye(2), lr=0.1, steps=1, threads=2**31)",
        THREADS,
    ),
    (
        "sweep threads",
        "dl.sweep.run_sweep(" + SPEC + ", '/nonexistent/never', threads=10**4)",
        THREADS,
    ),
    (
        "sweep workers",
        "dl.sweep.run_sweep(" + SPEC + ", '/nonexistent/never', workers=2**31)",
        r"ValueError: workers: must be at most \d+",
    ),
    (
        "sweep workers x threads",
        "dl.sweep.run_sweep(" + SPEC + ", '/nonexistent/never', workers=64, threads=64)",
        r"ValueError: threads: 64 workers × 64 threads = 4096 engine threads",
    ),
    # Counts a machine word cannot hold: ValueError naming them, not PyO3's OverflowError.
    (
        "train steps 2^70",
        "dl.train([np.eye(2)[None]], np.eye(2), np.eye(2), lr=0.1, steps=2**70)",
        r"ValueError: steps: must be at most 9223372036854775807",
    ),
]

# Training outputs sized by the user: the engine's allocations (its rewrite makes them fallible).
ENGINE_CASES = [
    (
        "train loss record of 10^15 steps",
        "dl.train([np.eye(2)[None]], np.eye(2), np.eye(2), lr=0.0, steps=10**15, tol=1.0)",
        _oom("steps"),
    ),
    (
        "train on the identity of a 10^6-wide input",  # 16 MB of inputs, 8 TB of scratch
        "dl.train([np.ones((1, 1, 10**6)), np.ones((1, 1, 1))], None, np.ones((1, 10**6)), "
        "lr=0.0, steps=1)",
        r"MemoryError: ",
    ),
]


def _run(statement: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + statement],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )


#: deeplinear's exception classes, by the built-in class the patterns below name (each derives
#: from it, so ``except MemoryError`` catches it).
BUILTIN_OF = {
    "deeplinear.errors.OutOfMemoryError": "MemoryError",
    "deeplinear.errors.InvalidValueError": "ValueError",
    "deeplinear.errors.ShapeError": "ValueError",
    "deeplinear.errors.ArgumentTypeError": "TypeError",
}


def _check(statement: str, pattern: str) -> None:
    proc = _run(statement)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    name, _, message = last.partition(": ")
    if name in BUILTIN_OF:
        assert issubclass(
            getattr(dl.errors, name.rsplit(".", 1)[1]), getattr(builtins, BUILTIN_OF[name])
        )
        last = f"{BUILTIN_OF[name]}: {message}"
    assert proc.returncode == 1, (
        f"exit status {proc.returncode} (negative: killed by signal {-proc.returncode}); "
        f"stderr:\n{proc.stderr[-3000:]}"
    )
    assert re.match(pattern, last), f"last line {last!r} does not match {pattern!r}"


@pytest.mark.parametrize(
    ("statement", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_impossible_requests_raise_a_clear_exception_in_a_child(statement: str, pattern: str):
    _check(statement, pattern)


@pytest.mark.parametrize(
    ("statement", "pattern"), [c[1:] for c in ENGINE_CASES], ids=[c[0] for c in ENGINE_CASES]
)
def test_impossible_training_outputs_raise_memory_error(statement: str, pattern: str):
    _check(statement, pattern)


def test_the_thread_cap_is_four_per_core_and_at_least_64():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cap = _core.max_threads()
    # The engine counts cores as Rust does (affinity and cgroup quota), at most the affinity.
    assert cap >= 64 and cap <= max(64, 4 * (cores or 1))
    # The cap itself is allowed (and cheap), one more is refused naming both.
    q = dl.haar_orthogonal(3, batch=2, seed=0, threads=cap)
    assert q.shape == (2, 3, 3)
    with pytest.raises(ValueError, match=rf"threads: must be at most {cap} .* got {cap + 1}"):
        dl.haar_orthogonal(3, seed=0, threads=cap + 1)


def test_memory_errors_name_the_argument_and_the_bytes_in_process():
    """The same refusals, in process: they happen before anything is allocated."""
    with pytest.raises(MemoryError, match=r"rows: cannot allocate 32000000000000 bytes"):
        # Output (10^12 doubles) plus the one worker's sampler scratch (3 × 8 TB).
        dl.haar_orthogonal(10**6, threads=1)
    with pytest.raises(
        MemoryError, match=r"dims: cannot allocate 8000000000000 bytes \(7\.276 TiB\)"
    ):
        dl.init.gaussian([10**6, 10**6])
    with pytest.raises(MemoryError, match="dims: the requested size overflows the address space"):
        dl.init.lecun([2**40, 2**40])
