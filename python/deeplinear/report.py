"""Markdown reports for sweeps: tables, a per-group summary, and ``report.md`` itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["format_value", "markdown_table", "summary_table", "write_report"]


def format_value(value: Any) -> str:
    """A compact cell: ints as ints, floats to 3 significant digits, None/NaN as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "diverged" if value > 0 else "-inf"
        return f"{value:.3g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    cells = [[format_value(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) if rows else False
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def summary_table(frame: pd.DataFrame, by: Sequence[str]) -> str:
    """Per group of ``by``: runs, diverged, median and best log10(ℓ(T)/ℓ(0)), total wall time."""
    rows = []
    for name, part in frame.groupby(list(by), sort=True):
        values = name if isinstance(name, tuple) else (name,)
        finite = part["log10_rel_loss"][~part["diverged"]]
        rows.append(
            [
                *values,
                len(part),
                int(part["diverged"].sum()),
                float(finite.median()) if len(finite) else math.nan,
                float(finite.min()) if len(finite) else math.nan,
                float(part["wall_time_s"].sum()),
            ]
        )
    headers = [*by, "runs", "diverged", "median log10 ℓ(T)/ℓ(0)", "best", "wall s"]
    return markdown_table(headers, rows)


def write_report(
    path: str | Path,
    *,
    title: str,
    intro: str,
    figures: Sequence[Path],
    sections: Sequence[tuple[str, str]],
) -> Path:
    """Write ``report.md``: title, intro, the figures (relative links), then titled sections."""
    path = Path(path)
    lines = [f"# {title}", "", intro.strip(), ""]
    for figure in figures:
        rel = Path(figure).resolve().relative_to(path.parent.resolve())
        lines += [f"![{rel.stem}]({rel.as_posix()})", ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", body.strip(), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
