"""What a study is, and the registry of studies (a leaf of :mod:`deeplinear.experiments`).

A study module builds a :class:`Study` and passes it to :func:`register` when it is imported;
``deeplinear reproduce NAME`` and ``reproduce all`` then find it in :data:`STUDIES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValueError
from ..report import Claim

if TYPE_CHECKING:
    import pandas as pd

    from ..sweep import SweepSpec

__all__ = ["SIZES", "STUDIES", "Analysis", "Measurement", "Study", "register"]

#: The sizes every study has: "quick" (minutes on 2 cores), "standard" (at most about 25 minutes
#: on 2 cores, as near the paper's size as that allows) and "full" (the paper's grid).
SIZES = ("quick", "standard", "full")


@dataclass
class Analysis:
    """What a study's ``analyse`` step produced from the stored results.

    Attributes:
        figures: PNG paths (shown in the report, the headline first).
        sections: (heading, markdown) pairs.
        claims: the paper's headline claims with our numbers and verdicts (the report opens
            with them).
        findings: machine-readable results (what tests check), e.g. boundaries per init.
        observations: results outside a claim's conditions (e.g. a lemma's statement at a step
            size larger than it assumes), reported under the claims table, never as a verdict.
    """

    figures: list[Path]
    sections: list[tuple[str, str]]
    claims: list[Claim] = field(default_factory=list)
    findings: dict[str, Any] = field(default_factory=dict)
    observations: list[str] = field(default_factory=list)

    @property
    def headline(self) -> Path | None:
        """The study's headline figure (the first), shown in the README gallery."""
        return self.figures[0] if self.figures else None


@dataclass(frozen=True)
class Measurement:
    """A table a study computes besides its sweep (e.g. kernels or curvature at
    initialisation), stored as ``DIR/tables/<name>-<digest>.parquet``.

    Attributes:
        name: the table's name (the key of ``tables`` passed to the study's ``analyse``).
        params: everything the table depends on (JSON-serialisable); its digest names the
            file, so a changed grid computes a new table and an unchanged one is read back.
        compute: () -> the table (one row per measured network or point).
    """

    name: str
    params: Mapping[str, Any]
    compute: Callable[[], pd.DataFrame]


@dataclass(frozen=True)
class Study:
    """A reproducible study.

    Attributes:
        name: the CLI name (``deeplinear reproduce NAME``).
        title: a one-line title for the report.
        spec: (size, data file or None) -> the sweep spec. ``size`` is one of :data:`SIZES`.
        analyse: (results frame, figure directory) -> :class:`Analysis`; a study with
            ``measurements`` also gets ``tables=`` (name -> data frame).
        description: what the study checks and what to expect (Markdown).
        data_help: what ``--data PATH`` means for this study; "" if it takes no data file.
        extra_data: data files besides ``--data PATH`` that the study's measurements take, by
            name -> what the file is (``--data NAME=PATH`` on the command line, the
            ``extra_data`` mapping of :func:`~deeplinear.experiments.reproduce`); each is passed
            to ``measurements`` as the keyword NAME.
        measurements: (size, data file or None, **extra data files) -> the tables the study
            computes besides its sweep (see :class:`Measurement`); None if it has none.
        sizes: per size, what it costs and what it can decide (one line each, Markdown; the
            report lists them).
    """

    name: str
    title: str
    spec: Callable[[str, Path | None], SweepSpec]
    analyse: Callable[..., Analysis]
    description: str = ""
    data_help: str = ""
    extra_data: Mapping[str, str] = field(default_factory=dict)
    measurements: Callable[..., list[Measurement]] | None = None
    sizes: Mapping[str, str] = field(default_factory=dict)


#: Registered studies by name, in registration order (the order of ``reproduce all``).
STUDIES: dict[str, Study] = {}


def register(study: Study) -> Study:
    """Add ``study`` to :data:`STUDIES` (a name may be registered once)."""
    if study.name in STUDIES:
        raise InvalidValueError(f"study: {study.name!r} is already registered")
    if study.name == "all":
        raise InvalidValueError("study: 'all' is reserved for reproducing every study")
    STUDIES[study.name] = study
    return study
