"""Claims as data: rule types whose text is generated from their parameters, decided on
seed-level data by a bootstrap over seeds.

A :class:`Check` is one claim of a paper: its statement, the paper's words, and one or more
:class:`Part` s, each a *measure* (seed-level frame -> the rule's input) and a :class:`Rule`
(input -> the deciding number, and whether the claim holds). :meth:`Check.decide` draws the
seeds with replacement (:data:`RESAMPLES` times, from :data:`BOOTSTRAP_SEED`, so reports are
deterministic), recomputes every part on each resample and gives the verdict:

- "reproduced": every part holds in at least :data:`CONFIDENCE` of the resamples;
- "not reproduced": every part fails in at least :data:`CONFIDENCE` of them (a resample where
  a part's deciding number is undefined, e.g. too few points for a slope, neither holds nor
  fails);
- "partly": some parts hold with that confidence and others fail with it;
- "inconclusive": otherwise; the claim names what would decide it (more seeds, a larger size).

The rule types: :class:`Slope` and :class:`Monotone` (trends in x), :class:`Fraction` (of cells
meeting a condition), :class:`Ratio` (above a bound), :class:`Alike` (equal within a tolerance),
:class:`Order` (one group above another) and :class:`Bound` (a number within a range). Each
one's :meth:`~Rule.text` is written from its parameters, so the rule stated in the report is the
rule that decided the verdict.

API (stable; other study modules build on it):

- a rule type ``R(...)`` has ``R.evaluate(value) -> (number, holds)``, ``R.text()`` and
  ``R.number`` (what the deciding number is called);
- ``Part(rule, measure, name="")``: ``measure`` is a :data:`Measure`, seed-level frame -> the
  rule's input (a mapping x -> y for trends, booleans per cell for :class:`Fraction`, a pair
  for :class:`Ratio`, :class:`Alike` and :class:`Order`, a number for :class:`Bound`); it must
  aggregate over seeds itself (medians, ...), since the bootstrap hands it resampled frames
  whose ``seed`` column is relabelled 0, 1, …;
- ``Check(claim, paper, parts, requires=(), source="runs", conditions="", ours=None,
  decide_with="more seeds")``: ``Check.decide(frame) -> Claim`` (the claims-table row, with
  the generated rule and the interval), ``Check.rule_text()``;
- ``memo(function)``: a frame -> result function that remembers its results by the frame's
  content (for work several measures repeat on one resample);
- ``decide_all(checks, {source name: frame})`` decides every check on its source frame; a
  study's ``claims`` is usually that one call (see ``wu2019.CHECKS`` for a small example).
"""

from __future__ import annotations

import functools
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..report import Claim, Verdict

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "RESAMPLES",
    "Alike",
    "Bound",
    "Check",
    "Fraction",
    "Measure",
    "Monotone",
    "Order",
    "Part",
    "PartResult",
    "Ratio",
    "Rule",
    "Slope",
    "decide_all",
    "memo",
    "resample_seeds",
]

#: Bootstrap resamples per claim.
RESAMPLES = 2000
#: The bootstrap's random seed (fixed: the same data give the same report).
BOOTSTRAP_SEED = 0
#: A part holds (fails) when it holds (fails) in at least this fraction of the resamples.
CONFIDENCE = 0.95


def _num(value: float) -> str:
    """A bound or a number in rule text and intervals: 3 significant digits, ∞ spelled out."""
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.3g}"


def _range(low: float, high: float) -> str:
    if math.isinf(low) and math.isinf(high):
        return "any value"
    if math.isinf(low):
        return f"≤ {_num(high)}"
    if math.isinf(high):
        return f"≥ {_num(low)}"
    return f"in [{_num(low)}, {_num(high)}]"


class Rule(ABC):
    """A rule type: turns a measure's output into the deciding number and a yes/no."""

    #: What the deciding number is called in the claims table ("slope", "ratio", ...).
    number: str = "value"

    @abstractmethod
    def evaluate(self, value: Any) -> tuple[float, bool]:
        """(the deciding number, whether the rule holds) for one measure output; the number
        is NaN (and the rule fails) where it is undefined."""

    @abstractmethod
    def text(self) -> str:
        """The rule in words, generated from its parameters."""


def _points(value: Mapping[Any, float] | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) sorted by x from a mapping or Series x -> y."""
    items = sorted((float(k), float(v)) for k, v in dict(value).items())
    xs = np.array([k for k, _ in items], dtype=np.float64)
    ys = np.array([v for _, v in items], dtype=np.float64)
    return xs, ys


@dataclass(frozen=True)
class Slope(Rule):
    """Trend in x: the log-log least-squares slope of ``of`` against ``against`` lies in
    [``low``, ``high``]. Input: a mapping x -> y; points with a non-finite or non-positive y
    are left out, and at least ``min_points`` distinct x must remain."""

    of: str
    against: str
    low: float = -math.inf
    high: float = math.inf
    min_points: int = 2
    number = "slope"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        xs, ys = _points(value)
        keep = np.isfinite(ys) & (ys > 0) & (xs > 0)
        if np.unique(xs[keep]).size < max(self.min_points, 2):
            return math.nan, False
        slope = float(np.polyfit(np.log10(xs[keep]), np.log10(ys[keep]), 1)[0])
        return slope, self.low <= slope <= self.high

    def text(self) -> str:
        return (
            f"the log-log slope of {self.of} against {self.against} (least squares over the "
            f"points where it is finite, at least {self.min_points}) is "
            f"{_range(self.low, self.high)}"
        )


@dataclass(frozen=True)
class Monotone(Rule):
    """Trend in x: ``of`` moves one way with ``against`` (``direction`` "rises" or "falls"):
    no step between neighbouring x goes the other way, and the last point differs from the
    first in that direction. Input: a mapping x -> y (±inf allowed, NaN fails). The deciding
    number is the fraction of neighbouring steps that do not go the other way."""

    of: str
    against: str
    direction: Literal["rises", "falls"] = "rises"
    number = "steps not against the trend"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        _, ys = _points(value)
        if ys.size < 2 or np.isnan(ys).any():
            return math.nan, False
        sign = 1.0 if self.direction == "rises" else -1.0
        with np.errstate(invalid="ignore"):
            ok = [not (sign * b < sign * a) for a, b in itertools.pairwise(ys)]
            ends = bool(sign * ys[-1] > sign * ys[0])
        fraction = sum(ok) / len(ok)
        return fraction, fraction == 1.0 and ends

    def text(self) -> str:
        word = "decreases" if self.direction == "rises" else "increases"
        end = "larger" if self.direction == "rises" else "smaller"
        return (
            f"{self.of} never {word} from one {self.against} to the next and is {end} at the "
            f"last {self.against} than at the first"
        )


@dataclass(frozen=True)
class Fraction(Rule):
    """The fraction of ``cells`` where ``condition`` holds is at least ``at_least``. Input: a
    sequence of booleans, one per cell (none: the rule fails)."""

    cells: str
    condition: str
    at_least: float = 1.0
    number = "fraction"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        flags = np.asarray(list(value), dtype=bool)
        if flags.size == 0:
            return math.nan, False
        fraction = float(flags.mean())
        return fraction, fraction >= self.at_least - 1e-12

    def text(self) -> str:
        share = "every one" if self.at_least >= 1.0 else f"at least {self.at_least:.0%}"
        return f"{self.condition} in {share} of {self.cells}"


@dataclass(frozen=True)
class Ratio(Rule):
    """``numerator`` / ``denominator`` is at least ``at_least``. Input: (numerator,
    denominator); a positive numerator over a zero denominator is an infinite ratio."""

    numerator: str
    denominator: str
    at_least: float
    number = "ratio"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        top, bottom = (float(v) for v in value)
        if math.isnan(top) or math.isnan(bottom) or (math.isinf(top) and math.isinf(bottom)):
            return math.nan, False
        ratio = (math.inf if top > 0 else math.nan) if bottom == 0 else top / bottom
        return ratio, (not math.isnan(ratio)) and ratio >= self.at_least

    def text(self) -> str:
        return f"{self.numerator} / {self.denominator} is at least {_num(self.at_least)}"


@dataclass(frozen=True)
class Alike(Rule):
    """Equivalence: ``quantity`` of ``first`` and ``second`` differ by at most ``tolerance``
    (relative to the larger of the two when ``relative``). Input: (first, second)."""

    quantity: str
    first: str
    second: str
    tolerance: float
    relative: bool = False
    number = "difference"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        a, b = (float(v) for v in value)
        if not (math.isfinite(a) and math.isfinite(b)):
            return math.nan, False
        gap = abs(a - b)
        if self.relative:
            scale = max(abs(a), abs(b))
            gap = gap / scale if scale > 0 else 0.0
        return gap, gap <= self.tolerance

    def text(self) -> str:
        how = "relative difference |a − b|/max(|a|, |b|)" if self.relative else "difference |a − b|"
        return (
            f"{self.quantity} of {self.first} (a) and {self.second} (b) are alike: their {how} "
            f"is at most {_num(self.tolerance)}"
        )


@dataclass(frozen=True)
class Order(Rule):
    """Ordering of two groups: ``larger`` exceeds ``smaller`` (by more than ``margin``). Input:
    (smaller, larger); the deciding number is larger − smaller (±inf allowed)."""

    smaller: str
    larger: str
    margin: float = 0.0
    number = "difference"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        low, high = (float(v) for v in value)
        if math.isnan(low) or math.isnan(high) or (math.isinf(low) and low == high):
            return math.nan, False
        gap = high - low
        return gap, gap > self.margin

    def text(self) -> str:
        by = "" if self.margin == 0 else f" by more than {_num(self.margin)}"
        return f"{self.larger} exceeds {self.smaller}{by}"


@dataclass(frozen=True)
class Bound(Rule):
    """A number lies in [``low``, ``high``]. Input: the number."""

    quantity: str
    low: float = -math.inf
    high: float = math.inf
    number = "value"

    def evaluate(self, value: Any) -> tuple[float, bool]:
        number = float(value)
        return number, (not math.isnan(number)) and self.low <= number <= self.high

    def text(self) -> str:
        return f"{self.quantity} is {_range(self.low, self.high)}"


#: A measure: seed-level frame -> a rule's input.
Measure = Callable[["pd.DataFrame"], Any]

#: How many results :func:`memo` keeps per function (then it starts again).
MEMO_SIZE = 4096


def memo(function: Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], Any]:
    """``function`` (frame -> anything) remembering its results by the frame's content, for
    work that several parts or checks repeat on the same resample (e.g. medians over seeds).
    The frame must hold scalar columns only (list columns cannot be hashed); the results are
    shared: callers must not modify them."""
    import pandas as pd

    cache: dict[bytes, Any] = {}

    @functools.wraps(function)
    def remembered(frame: pd.DataFrame) -> Any:
        key = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
        if key not in cache:
            if len(cache) >= MEMO_SIZE:
                cache.clear()
            cache[key] = function(frame)
        return cache[key]

    return remembered


@dataclass(frozen=True)
class Part:
    """One part of a claim: ``measure`` (seed-level frame -> the rule's input) and ``rule``.
    ``name`` labels the part in multi-part claims ("grows", "slope", ...)."""

    rule: Rule
    measure: Measure
    name: str = ""


@dataclass(frozen=True)
class PartResult:
    """A part decided: the deciding number on the data, its 95 % bootstrap interval, the share
    of resamples in which the part held and the share in which it failed (a resample where the
    deciding number is undefined, e.g. too few points for a slope, does neither), and whether
    that is confident either way."""

    part: Part
    value: float
    low: float
    high: float
    share: float
    failed: float

    @property
    def undefined(self) -> float:
        """The share of resamples where the deciding number is undefined."""
        return max(0.0, 1.0 - self.share - self.failed)

    @property
    def outcome(self) -> Literal["holds", "fails", "undecided"]:
        if self.share >= CONFIDENCE:
            return "holds"
        if self.failed >= CONFIDENCE:
            return "fails"
        return "undecided"

    def describe(self) -> str:
        """E.g. "slope 0.70 [0.62, 0.81]"."""
        label = f"{self.part.name}: " if self.part.name else ""
        if math.isnan(self.value) and math.isnan(self.low):
            return f"{label}{self.part.rule.number} undefined"
        return (
            f"{label}{self.part.rule.number} {_num(self.value)} [{_num(self.low)}, "
            f"{_num(self.high)}]"
        )


def _seed_draws(
    frame: pd.DataFrame, resamples: int, seed: int
) -> tuple[list[np.ndarray], np.ndarray] | None:
    """(the frame's row indices per seed, the ``resamples`` × seeds draws, each sorted); None
    for a frame with no ``seed`` column or a single seed (nothing to resample)."""
    if "seed" not in frame.columns or frame["seed"].nunique() < 2:
        return None
    codes, uniques = frame["seed"].factorize(sort=True)
    rows = [np.flatnonzero(codes == k) for k in range(len(uniques))]
    rng = np.random.default_rng(seed)
    draws = np.sort(rng.integers(len(rows), size=(resamples, len(rows))), axis=1)
    return rows, draws


def _sample(frame: pd.DataFrame, rows: list[np.ndarray], draw: np.ndarray) -> pd.DataFrame:
    """``frame`` with the seeds of ``draw``, relabelled 0, 1, … (a seed drawn twice counts
    twice)."""
    index = np.concatenate([rows[d] for d in draw])
    sample = frame.take(index)
    sample["seed"] = np.repeat(np.arange(len(draw)), [rows[d].size for d in draw])
    return sample


def resample_seeds(
    frame: pd.DataFrame, resamples: int, seed: int = BOOTSTRAP_SEED
) -> Iterator[pd.DataFrame]:
    """``resamples`` copies of ``frame`` with its seeds drawn with replacement (every cell
    keeps the same draw), each drawn seed relabelled 0, 1, … so that a seed drawn twice counts
    twice. A frame with no ``seed`` column or a single seed is returned unchanged each time."""
    found = _seed_draws(frame, resamples, seed)
    if found is None:
        for _ in range(resamples):
            yield frame
        return
    rows, draws = found
    for draw in draws:
        yield _sample(frame, rows, draw)


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(kept, [0.025, 0.975], method="inverted_cdf")
    return float(low), float(high)


@dataclass(frozen=True)
class Check:
    """One claim of a paper, as data.

    Attributes:
        claim: the claim in a few words.
        paper: the paper's statement or number, cited (section, theorem or figure).
        parts: the rule(s) that decide it; several parts can make a "partly".
        requires: what the grid must show for the claim to be testable at all (e.g. it
            reaches below a boundary); checked on the data, and where one fails the verdict
            is "inconclusive" (a larger grid would decide it), never a failure of the claim.
        source: which frame it is decided on ("runs": the sweep's, else a table's name).
        conditions: the paper's conditions under which it is tested (stated in the rule).
        ours: (frame) -> what our data say in words (the point values; not the verdict).
        decide_with: what would decide an inconclusive verdict.
        resamples, seed: the bootstrap's.
    """

    claim: str
    paper: str
    parts: tuple[Part, ...]
    requires: tuple[Part, ...] = ()
    source: str = "runs"
    conditions: str = ""
    ours: Callable[[pd.DataFrame], str] | None = None
    decide_with: str = "more seeds"
    resamples: int = RESAMPLES
    seed: int = BOOTSTRAP_SEED

    def rule_text(self) -> str:
        """The whole rule, generated from the parts' parameters."""
        if len(self.parts) == 1:
            body = self.parts[0].rule.text()
        else:
            body = "; ".join(
                f"({p.name or chr(ord('a') + i)}) {p.rule.text()}" for i, p in enumerate(self.parts)
            )
        scope = f"{self.conditions.rstrip('.')}: " if self.conditions else ""
        if self.requires:
            scope += (
                "testable only if "
                + " and ".join(p.rule.text() for p in self.requires)
                + " (else 'inconclusive'); "
            )
        confidence = f"{CONFIDENCE:.0%}"
        several = len(self.parts) > 1
        verdicts = (
            "'reproduced' if every part holds in at least {c} of the resamples, 'not "
            "reproduced' if every part fails in at least {c}, 'partly' if some parts hold and "
            "others fail with that confidence, else 'inconclusive'"
            if several
            else "'reproduced' if it holds in at least {c} of the resamples, 'not reproduced' "
            "if it fails in at least {c}, else 'inconclusive'"
        ).format(c=confidence)
        verdicts += " (a resample where a deciding number is undefined neither holds nor fails)"
        return (
            f"{scope}{body}. Decided by a bootstrap over seeds ({self.resamples} resamples of "
            f"the seeds with replacement, random seed {self.seed}): {verdicts}."
        )

    def results(self, frame: pd.DataFrame) -> list[PartResult]:
        """Each part on ``frame`` and on its seed resamples."""
        point = [p.rule.evaluate(p.measure(frame)) for p in self.parts]
        values = np.full((self.resamples, len(self.parts)), math.nan)
        held = np.zeros((self.resamples, len(self.parts)), dtype=bool)
        found = _seed_draws(frame, self.resamples, self.seed)
        if found is None:
            values[:] = [v for v, _ in point]
            held[:] = [h for _, h in point]
        else:
            # A measure aggregates over seeds, so it depends only on which seeds were drawn
            # and how often: each distinct draw is evaluated once (few with few seeds).
            rows, draws = found
            unique, inverse = np.unique(draws, axis=0, return_inverse=True)
            for k, draw in enumerate(unique):
                sample = _sample(frame, rows, draw)
                at = inverse.reshape(-1) == k
                for j, p in enumerate(self.parts):
                    values[at, j], held[at, j] = p.rule.evaluate(p.measure(sample))
        out = []
        for j, p in enumerate(self.parts):
            low, high = _quantiles(values[:, j])
            failed = ~held[:, j] & ~np.isnan(values[:, j])
            out.append(
                PartResult(
                    p, point[j][0], low, high, float(held[:, j].mean()), float(failed.mean())
                )
            )
        return out

    def decide(self, frame: pd.DataFrame) -> Claim:
        """The claim's row of the claims table, decided on ``frame`` (seed-level)."""
        found = self.results(frame)
        outcomes = {r.outcome for r in found}
        unmet = [p.rule.text() for p in self.requires if not p.rule.evaluate(p.measure(frame))[1]]
        verdict: Verdict
        if unmet:
            verdict = "inconclusive"
        elif outcomes == {"holds"}:
            verdict = "reproduced"
        elif outcomes == {"fails"}:
            verdict = "not reproduced"
        elif "holds" in outcomes and "fails" in outcomes:
            verdict = "partly"
        else:
            verdict = "inconclusive"
        interval = "; ".join(r.describe() for r in found)
        shares = ", ".join(f"{r.share:.0%}" for r in found)
        interval += f" (holds in {shares} of resamples"
        if any(r.undefined > 0 for r in found):
            undefined = ", ".join(f"{r.undefined:.0%}" for r in found)
            interval += f"; undefined in {undefined}"
        interval += ")"
        if unmet:
            interval += f"; not testable here: not ({'; '.join(unmet)})"
        if verdict == "inconclusive":
            interval += f"; {self.decide_with} would decide it"
        ours = (
            self.ours(frame)
            if self.ours is not None
            else "; ".join(f"{r.part.rule.number} {_num(r.value)}" for r in found)
        )
        return Claim(
            claim=self.claim,
            paper=self.paper,
            ours=ours,
            verdict=verdict,
            rule=self.rule_text(),
            interval=interval,
        )


def decide_all(checks: Sequence[Check], sources: Mapping[str, pd.DataFrame]) -> list[Claim]:
    """Every check decided on its source frame."""
    return [c.decide(sources[c.source]) for c in checks]
