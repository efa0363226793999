"""Presets that reproduce published studies (SPEC §5): ``deeplinear reproduce STUDY``.

Each :class:`Study` gives a sweep spec at a *quick* size (minutes on 2 cores) and a *full* size
(the paper's grid), and an ``analyse`` step that turns the stored results into figures and report
sections. Register a new study with :func:`register`; :data:`STUDIES` maps names to studies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..report import summary_table, write_report
from ..sweep import SweepSpec, SweepSummary, load, run_sweep

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SIZES", "STUDIES", "Analysis", "Reproduction", "Study", "register", "reproduce"]

SIZES = ("quick", "full")


@dataclass
class Analysis:
    """What a study's ``analyse`` step produced.

    Attributes:
        figures: PNG paths (shown at the top of the report).
        sections: (heading, markdown) pairs.
        findings: machine-readable results (what tests check), e.g. boundaries per init.
    """

    figures: list[Path]
    sections: list[tuple[str, str]]
    findings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    """A reproducible study.

    Attributes:
        name: the CLI name (``deeplinear reproduce NAME``).
        title: a one-line title for the report.
        spec: size ("quick" or "full") -> the sweep spec.
        analyse: (results frame, figure directory) -> :class:`Analysis`.
        description: what the study checks and what to expect (Markdown).
    """

    name: str
    title: str
    spec: Callable[[str], SweepSpec]
    analyse: Callable[[pd.DataFrame, Path], Analysis]
    description: str = ""


STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    """Add ``study`` to :data:`STUDIES` (a name may be registered once)."""
    if study.name in STUDIES:
        raise ValueError(f"study: {study.name!r} is already registered")
    STUDIES[study.name] = study
    return study


@dataclass
class Reproduction:
    """What :func:`reproduce` did: the sweep summary, the report path and the analysis."""

    summary: SweepSummary
    report: Path
    analysis: Analysis
    wall_s: float


def reproduce(
    name: str,
    out: str | Path,
    *,
    size: str = "quick",
    executor: Any = None,
    threads: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Reproduction:
    """Run study ``name`` at ``size`` into ``out`` (resuming whatever is already there), then
    write its figures to ``out/figures`` and ``out/report.md``."""
    if name not in STUDIES:
        raise ValueError(f"study: unknown study {name!r}; known: {', '.join(sorted(STUDIES))}")
    if size not in SIZES:
        raise ValueError(f"size: expected one of {SIZES}, got {size!r}")
    study = STUDIES[name]
    out = Path(out)
    start = time.perf_counter()
    summary = run_sweep(
        study.spec(size),
        out,
        executor=executor,
        resume=True,
        threads=threads,
        workers=workers,
        progress=progress,
    )
    frame = load(out)
    keys = {r.key for r in study.spec(size).runs()}
    frame = frame[frame["key"].isin(keys)].reset_index(drop=True)
    analysis = study.analyse(frame, out / "figures")
    intro = (
        f"{study.description.strip()}\n\n"
        f"Size: **{size}** · command: `deeplinear reproduce {name} --{size} --out {out}`\n\n"
        f"Sweep: {summary.line()}"
    )
    sections = [
        *analysis.sections,
        ("Summary by init", summary_table(frame, ["init"])),
    ]
    report = write_report(
        out / "report.md",
        title=study.title,
        intro=intro,
        figures=analysis.figures,
        sections=sections,
    )
    return Reproduction(summary, report, analysis, time.perf_counter() - start)


# Built-in studies register themselves on import.
from . import hu2020 as hu2020  # noqa: E402
