"""Markdown reports for sweeps: tables, claims tables, a per-group summary, ``report.md``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "VERDICTS",
    "Claim",
    "Verdict",
    "claims_table",
    "format_value",
    "markdown_table",
    "rules_list",
    "summary_table",
    "write_report",
]

Verdict = Literal["reproduced", "partly", "inconclusive", "not reproduced"]
#: The verdicts a claim can get, best first.
VERDICTS: tuple[Verdict, ...] = ("reproduced", "partly", "inconclusive", "not reproduced")


@dataclass(frozen=True)
class Claim:
    """One headline claim of a paper, checked against stored results.

    Attributes:
        claim: the claim, in a few words.
        paper: the paper's own number or statement ("–" if it gives none).
        ours: what our data say, with the numbers.
        verdict: one of :data:`VERDICTS`, computed by ``rule`` (never written by hand).
        rule: the rule that turned the data into the verdict, stated in words (generated from
            the rule's parameters, see :mod:`deeplinear.experiments.rules`).
        interval: the deciding number(s) with a 95 % bootstrap interval over seeds, e.g.
            "ratio 2.1 [1.4, 3.0] (holds in 99 % of resamples)"; "–" if none.
    """

    claim: str
    paper: str
    ours: str
    verdict: Verdict
    rule: str
    interval: str = "–"

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise InvalidValueError(f"verdict: expected one of {VERDICTS}, got {self.verdict!r}")


def claims_table(claims: Sequence[Claim]) -> str:
    """The claims as a Markdown table: claim, the paper's number, ours, the deciding number with
    its interval over seeds, verdict."""
    marks = {
        "reproduced": "✅ reproduced",
        "partly": "🟡 partly",
        "inconclusive": "❔ inconclusive",
        "not reproduced": "❌ not reproduced",
    }
    rows = [[c.claim, c.paper, c.ours, c.interval, marks[c.verdict]] for c in claims]
    return markdown_table(
        ["claim", "paper", "ours", "deciding number [95 % interval]", "verdict"], rows
    )


def rules_list(claims: Sequence[Claim]) -> str:
    """The verdict rule of every claim, as a numbered Markdown list."""
    return "\n".join(f"{i}. **{c.claim}**: {c.rule}" for i, c in enumerate(claims, start=1))


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
    # A "|" inside a cell would end it: escape it.
    cells = [[format_value(v).replace("|", "\\|") for v in row] for row in rows]
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
    claims: Sequence[Claim] = (),
    observations: Sequence[str] = (),
) -> Path:
    """Write ``report.md``: title, the claims table (if any) with the observations made outside
    the claims' conditions under it, intro, the figures (relative links), titled sections, and
    last the rule behind each verdict."""
    path = Path(path)
    lines = [f"# {title}", ""]
    if claims:
        lines += ["## Claims", "", claims_table(claims), ""]
    if observations:
        lines += ["Observations outside the claims' conditions (not verdicts):", ""]
        lines += [f"- {o}" for o in observations] + [""]
    lines += [intro.strip(), ""]
    for figure in figures:
        rel = Path(figure).resolve().relative_to(path.parent.resolve())
        lines += [f"![{rel.stem}]({rel.as_posix()})", ""]
    for heading, body in sections:
        lines += [f"## {heading}", "", body.strip(), ""]
    if claims:
        lines += ["## How each verdict is decided", "", rules_list(claims), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
