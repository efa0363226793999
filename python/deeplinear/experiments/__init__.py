"""Presets that reproduce published studies: ``deeplinear reproduce STUDY``.

Each :class:`Study` gives a sweep spec at a *quick* size (minutes on 2 cores) and a *full* size
(the paper's grid), and an ``analyse`` step that turns the stored results into figures, report
sections and a claims table (the paper's claims, our numbers, and a verdict from a stated rule).
:data:`STUDIES` maps names to studies; :func:`reproduce` runs one, :func:`reproduce_all` runs
every registered study and writes an index.

Adding a study: write a module that builds a :class:`Study` and calls :func:`register`, and
import it below; ``reproduce all``, the CLI and the gallery pick it up.
"""

from __future__ import annotations

from . import arora2019, hu2020, huang2021, sokol2020, wu2019
from .base import SIZES, STUDIES, Analysis, Measurement, Study, register
from .reproduction import (
    IncompleteError,
    Reproduction,
    reproduce,
    reproduce_all,
    write_gallery,
)

__all__ = [
    "SIZES",
    "STUDIES",
    "Analysis",
    "IncompleteError",
    "Measurement",
    "Reproduction",
    "Study",
    "arora2019",
    "hu2020",
    "huang2021",
    "register",
    "reproduce",
    "reproduce_all",
    "sokol2020",
    "write_gallery",
    "wu2019",
]
