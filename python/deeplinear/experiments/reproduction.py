"""Run a study end to end (sweep, analysis, report), or every registered study with an index."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValueError
from ..report import VERDICTS, claims_table, markdown_table, summary_table, write_report
from ..sweep import SweepSummary, load, run_sweep, store
from .base import SIZES, STUDIES, Analysis, Measurement

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "IncompleteError",
    "Reproduction",
    "measure",
    "reproduce",
    "reproduce_all",
    "table_path",
    "write_gallery",
]


class IncompleteError(RuntimeError):
    """Some runs of a study failed, so it cannot be analysed; rerunning retries them."""


@dataclass
class Reproduction:
    """What :func:`reproduce` did: the study's name, the sweep summary, the report path, the
    analysis, the wall time of this call (sweep, analysis and report) and ``compute_s``, the
    stored training time of all the study's runs (whichever call computed them)."""

    study: str
    summary: SweepSummary
    report: Path
    analysis: Analysis
    wall_s: float
    compute_s: float


def reproduce(
    name: str,
    out: str | Path,
    *,
    size: str = "quick",
    data: str | Path | None = None,
    extra_data: Mapping[str, str | Path] | None = None,
    executor: Any = None,
    threads: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Reproduction:
    """Run study ``name`` at ``size`` into ``out`` (resuming whatever is already there), then
    write its figures to ``out/figures`` and ``out/report.md`` (claims table first).

    Args:
        name: a registered study (see :data:`deeplinear.experiments.STUDIES`).
        out: the study's directory: the Parquet store, figures and report.
        size: "quick" (minutes on 2 cores), "standard" (at most about 25 minutes on 2 cores)
            or "full" (the paper's grid).
        data: a data file for studies that take one (``Study.data_help``), else None.
        extra_data: further data files by name, for studies that name them
            (``Study.extra_data``), e.g. ``{"nonlinear": "mnist.npz"}`` for arora2019.
        executor, threads, workers, progress: as for :func:`deeplinear.sweep.run_sweep`.
    """
    if name not in STUDIES:
        raise InvalidValueError(
            f"study: unknown study {name!r}; known: {', '.join(sorted(STUDIES))}"
        )
    if size not in SIZES:
        raise InvalidValueError(f"size: expected one of {SIZES}, got {size!r}")
    study = STUDIES[name]
    if data is not None and not study.data_help:
        raise InvalidValueError(f"data: {name} takes no data file")
    extra = {key: Path(path) for key, path in (extra_data or {}).items()}
    for key in extra:
        if key not in study.extra_data:
            known = ", ".join(sorted(study.extra_data)) or "none"
            raise InvalidValueError(
                f"extra_data: {name} takes no data named {key!r} (it takes: {known})"
            )
    out = Path(out)
    start = time.perf_counter()
    spec = study.spec(size, None if data is None else Path(data))
    summary = run_sweep(
        spec,
        out,
        executor=executor,
        resume=True,
        threads=threads,
        workers=workers,
        progress=progress,
    )
    keys = {r.key for r in spec.runs()}
    frame = load(out)
    frame = frame[frame["key"].isin(keys)].reset_index(drop=True)
    if len(frame) < len(keys):
        first = f": {summary.errors[0]}" if summary.errors else ""
        raise IncompleteError(
            f"{name}: {len(keys) - len(frame)} of {len(keys)} runs are missing from {out} "
            f"({summary.failures} failed{first}); rerun the same command to retry them"
        )
    analysed: dict[str, Any] = {}
    tables: dict[str, pd.DataFrame] = {}
    if study.measurements is not None:
        main = None if data is None else Path(data)
        tables = measure(study.measurements(size, main, **extra), out, progress=progress)
        analysed["tables"] = tables
    analysis = study.analyse(frame, out / "figures", **analysed)
    data_note = f" --data {data}" if data is not None else ""
    data_note += "".join(f" --data {key}={path}" for key, path in extra.items())
    intro = (
        f"{study.description.strip()}\n\n"
        f"Size: **{size}** · command: `deeplinear reproduce {name} --{size}{data_note} "
        f"--out {out}`\n\nSweep: {summary.line()}"
    )
    if study.sizes:
        intro += "\n\nSizes (cost on 2 cores; what each can decide):\n\n" + "\n".join(
            f"- **{s}**: {text}" for s, text in study.sizes.items()
        )
    sections = [*analysis.sections, ("Summary by init", summary_table(frame, ["init"]))]
    report = write_report(
        out / "report.md",
        title=study.title,
        intro=intro,
        figures=analysis.figures,
        sections=sections,
        claims=analysis.claims,
        observations=analysis.observations,
    )
    compute = float(frame["wall_time_s"].sum()) + sum(
        float(t["wall_time_s"].sum()) for t in tables.values()
    )
    return Reproduction(name, summary, report, analysis, time.perf_counter() - start, compute)


#: Where :func:`measure` keeps a study's tables, inside its directory.
TABLES_DIR = "tables"


def _digest(params: Mapping[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_path(out: str | Path, measurement: Measurement) -> Path:
    """Where ``measurement``'s table is stored: ``out/tables/<name>-<digest of params>.parquet``."""
    return Path(out) / TABLES_DIR / f"{measurement.name}-{_digest(measurement.params)}.parquet"


def measure(
    measurements: list[Measurement], out: str | Path, *, progress: bool = True
) -> dict[str, pd.DataFrame]:
    """Each measurement's table: read back from ``out/tables`` when it is there, else computed
    and written atomically (so a killed call loses at most the table it was computing, and a
    rerun computes only what is missing). A table that cannot be read is computed again.

    Every table gets a ``wall_time_s`` column: its compute time shared over its rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    tables: dict[str, pd.DataFrame] = {}
    for m in tqdm(measurements, desc="tables", unit="table", disable=not progress, file=sys.stderr):
        path = table_path(out, m)
        if path.is_file():
            try:
                tables[m.name] = pq.read_table(path, page_checksum_verification=True).to_pandas()
                continue
            except (pa.ArrowException, OSError, ValueError):
                pass  # damaged: compute it again
        start = time.perf_counter()
        table = m.compute().reset_index(drop=True)
        table["wall_time_s"] = (time.perf_counter() - start) / max(len(table), 1)
        store.write_table(path, pa.Table.from_pandas(table, preserve_index=False))
        tables[m.name] = table
    return tables


def _tally(analysis: Analysis) -> str:
    counts = [sum(c.verdict == v for c in analysis.claims) for v in VERDICTS]
    return ", ".join(f"{n} {v}" for n, v in zip(counts, VERDICTS, strict=True) if n)


def reproduce_all(
    out: str | Path,
    *,
    size: str = "quick",
    names: list[str] | None = None,
    executor: Any = None,
    threads: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> tuple[list[Reproduction], dict[str, str]]:
    """Reproduce every registered study (or ``names``) into ``out/<study>/``, then write
    ``out/report.md``: an index with every study's claims table and links to its report.

    A study that fails is recorded in the index with its error, and the others still run.
    Studies run on their default data (``--data`` is per study: use :func:`reproduce`).

    Returns:
        The reproductions that finished, and the error message of each study that failed.
    """
    out = Path(out)
    chosen = list(STUDIES) if names is None else names
    for name in chosen:
        if name not in STUDIES:
            raise InvalidValueError(f"study: unknown study {name!r}; known: {', '.join(STUDIES)}")
    done: list[Reproduction] = []
    failed: dict[str, str] = {}
    for name in chosen:
        try:
            done.append(
                reproduce(
                    name,
                    out / name,
                    size=size,
                    executor=executor,
                    threads=threads,
                    workers=workers,
                    progress=progress,
                )
            )
        except Exception as err:  # one study failing must not lose the others
            failed[name] = f"{type(err).__name__}: {err}"
            if not isinstance(err, (IncompleteError, ValueError)):
                traceback.print_exc()  # unexpected: show where
    write_index(out / "report.md", done, failed, size)
    return done, failed


def write_index(path: Path, done: list[Reproduction], failed: dict[str, str], size: str) -> Path:
    """The index report of :func:`reproduce_all`."""
    rows = [
        [
            f"[{r.study}]({r.study}/report.md)",
            STUDIES[r.study].title,
            _tally(r.analysis),
            r.compute_s,
            r.wall_s,
        ]
        for r in done
    ]
    rows += [[name, STUDIES[name].title, "failed", None, None] for name in failed]
    lines = [
        f"# deeplinear: every study reproduced ({size})",
        "",
        f"Command: `deeplinear reproduce all --{size} --out {path.parent}`. Each study's folder "
        "holds its Parquet store, figures and report; every verdict below is computed from the "
        "stored results by the rule stated in that report.",
        "",
        markdown_table(
            ["study", "title", "claims", "training s (stored)", "wall s (this call)"], rows
        ),
        "",
    ]
    for r in done:
        study = STUDIES[r.study]
        lines += [f"## {study.title}", "", f"[Full report]({r.study}/report.md)", ""]
        if r.analysis.headline is not None:
            rel = r.analysis.headline.resolve().relative_to(path.parent.resolve())
            lines += [f"![{r.study}]({rel.as_posix()})", ""]
        lines += [claims_table(r.analysis.claims), ""]
        lines += [f"- {o}" for o in r.analysis.observations]
        if r.analysis.observations:
            lines += [""]
    for name, error in failed.items():
        lines += [f"## {STUDIES[name].title}", "", f"**Failed:** `{error}`", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_gallery(
    reproductions: list[Reproduction], directory: str | Path, width: int = 900
) -> list[Path]:
    """Copy each study's headline figure to ``directory/<study>.png``, scaled down to at most
    ``width`` pixels wide (the README gallery)."""
    from PIL import Image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for r in reproductions:
        if r.analysis.headline is None:
            continue
        target = directory / f"{r.study}.png"
        with Image.open(r.analysis.headline) as image:
            if image.width > width:
                height = round(image.height * width / image.width)
                small = image.resize((width, height), Image.Resampling.LANCZOS)
                small.save(target, optimize=True)
            else:
                shutil.copyfile(r.analysis.headline, target)
        written.append(target)
    return written
