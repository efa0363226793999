"""Shared pytest configuration: hypothesis profiles and the import path of the test helpers.

Profiles (choose with ``HYPOTHESIS_PROFILE=<name>``; the default is ``ci``):

* ``ci``: modest ``max_examples`` so the whole default suite stays fast on 2 cores, and
  derandomised: every run draws the same examples (``make test-thorough`` draws fresh ones).
* ``dev``: fewer examples, for quick edit-test loops.
* ``thorough``: many fresh random examples, for a long soak before a release.

All profiles disable the per-example deadline: timings on a shared 2-core machine are noisy and a
slow example is not a bug.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# The helpers module lives beside this file; make it importable under any pytest import mode.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=100, derandomize=True, **_COMMON)
settings.register_profile("dev", max_examples=20, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
