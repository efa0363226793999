"""The rule types of :mod:`deeplinear.experiments.rules`, each on synthetic seed-level frames
built so that the claim holds, fails, or cannot be decided from the seeds given.

The undecidable frames have two seeds that disagree: seed 0 makes the claim hold, seed 1 makes
it fail, and mixing them fails too, so a bootstrap over seeds sees it hold in about a quarter of
the resamples (both draws seed 0): neither 95 % nor 5 %.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deeplinear.experiments.rules import (
    RESAMPLES,
    Alike,
    Bound,
    Check,
    Fraction,
    Monotone,
    Order,
    Part,
    Ratio,
    Slope,
    decide_all,
    memo,
    resample_seeds,
)
from deeplinear.report import claims_table


def per_x(frame: pd.DataFrame) -> pd.Series:
    """Median y over seeds at each x."""
    return frame.groupby("x")["y"].median()


def groups(frame: pd.DataFrame) -> tuple[float, float]:
    """(median y of group a, median y of group b) over seeds."""
    medians = frame.groupby("group")["y"].median()
    return float(medians["a"]), float(medians["b"])


def trend_frame(per_seed: dict[int, list[float]], xs=(1, 2, 4, 8, 16)) -> pd.DataFrame:
    rows = [
        {"seed": s, "x": x, "y": y}
        for s, ys in per_seed.items()
        for x, y in zip(xs, ys, strict=True)
    ]
    return pd.DataFrame(rows)


def group_frame(per_seed: dict[int, tuple[float, float]]) -> pd.DataFrame:
    rows = [{"seed": s, "group": g, "y": v} for s, ab in per_seed.items() for g, v in zip("ab", ab)]
    return pd.DataFrame(rows)


def verdict(rule, measure, frame) -> str:
    return Check("c", "p", (Part(rule, measure),)).decide(frame).verdict


XS = (1, 2, 4, 8, 16)
LINEAR = [float(x) for x in XS]  # slope exactly 1
FLAT = [3.0] * len(XS)  # slope 0


def test_slope_holds_fails_and_is_undecidable():
    rule = Slope("y", "x", low=0.5, high=1.5)
    wobble = {s: [x * (1.1 if s % 2 else 0.9) for x in LINEAR] for s in range(6)}
    assert verdict(rule, per_x, trend_frame(wobble)) == "reproduced"
    assert verdict(rule, per_x, trend_frame(dict.fromkeys(range(6), FLAT))) == "not reproduced"
    # Seed 0 rises linearly; seed 1 is flat at 16 (the median of the two is slope ~0.4 < 0.5).
    split = trend_frame({0: LINEAR, 1: [16.0] * len(XS)})
    assert verdict(rule, per_x, split) == "inconclusive"


def test_slope_needs_enough_points_and_states_its_range():
    assert Slope("y", "x", low=0.5).evaluate({1: 1.0, 2: math.inf})[1] is False
    assert math.isnan(Slope("y", "x").evaluate({1: 1.0})[0])
    assert "in [0.5, 1.5]" in Slope("w", "L", low=0.5, high=1.5).text()
    assert "≤ 3" in Slope("steps", "L", high=3.0).text()


def test_monotone_holds_fails_and_is_undecidable():
    rule = Monotone("y", "x", "rises")
    rising = {s: [v + 0.1 * s for v in LINEAR] for s in range(5)}
    assert verdict(rule, per_x, trend_frame(rising)) == "reproduced"
    falling = dict.fromkeys(range(5), LINEAR[::-1])
    assert verdict(rule, per_x, trend_frame(falling)) == "not reproduced"
    # Seed 1 dips in the middle: the median of seeds 0 and 1 dips too.
    split = trend_frame({0: LINEAR, 1: [1.0, 2.0, 0.1, 0.1, 16.0]})
    assert verdict(rule, per_x, split) == "inconclusive"
    assert Monotone("y", "x", "falls").evaluate({1: 3.0, 2: 2.0, 3: 2.0})[1] is True
    assert Monotone("y", "x", "rises").evaluate({1: 1.0, 2: math.inf})[1] is True
    assert Monotone("y", "x").evaluate({1: 2.0, 2: 2.0}) == (1.0, False)  # flat is not a rise


def fraction_measure(frame: pd.DataFrame) -> list[bool]:
    """Per x, whether the median y over seeds is below 1."""
    return list(per_x(frame) < 1.0)


def test_fraction_holds_fails_and_is_undecidable():
    rule = Fraction("the x", "y is below 1", at_least=0.8)
    assert verdict(rule, fraction_measure, trend_frame({s: [0.5] * 5 for s in range(4)})) == (
        "reproduced"
    )
    assert verdict(rule, fraction_measure, trend_frame({s: [2.0] * 5 for s in range(4)})) == (
        "not reproduced"
    )
    split = trend_frame({0: [0.5] * 5, 1: [3.0] * 5})
    assert verdict(rule, fraction_measure, split) == "inconclusive"
    assert "at least 80%" in rule.text() and "every one" in Fraction("c", "d").text()


def test_ratio_holds_fails_and_is_undecidable():
    rule = Ratio("a", "b", at_least=2.0)
    assert verdict(rule, groups, group_frame({s: (10.0 + s, 1.0) for s in range(5)})) == (
        "reproduced"
    )
    assert verdict(rule, groups, group_frame({s: (1.0, 1.0 + s) for s in range(5)})) == (
        "not reproduced"
    )
    assert verdict(rule, groups, group_frame({0: (4.0, 1.0), 1: (1.0, 4.0)})) == "inconclusive"
    assert Ratio("a", "b", 2.0).evaluate((1.0, 0.0)) == (math.inf, True)
    assert "at least 2" in rule.text()


def test_alike_holds_fails_and_is_undecidable():
    rule = Alike("median loss", "a", "b", tolerance=0.1, relative=True)
    assert verdict(rule, groups, group_frame({s: (1.0 + 0.01 * s, 1.0) for s in range(5)})) == (
        "reproduced"
    )
    assert verdict(rule, groups, group_frame(dict.fromkeys(range(5), (2.0, 1.0)))) == (
        "not reproduced"
    )
    assert verdict(rule, groups, group_frame({0: (1.0, 1.0), 1: (1.0, 3.0)})) == "inconclusive"
    assert "at most 0.1" in rule.text()


def test_order_holds_fails_and_is_undecidable():
    rule = Order("a", "b")
    assert verdict(rule, groups, group_frame({s: (1.0, 2.0 + s) for s in range(5)})) == (
        "reproduced"
    )
    assert verdict(rule, groups, group_frame(dict.fromkeys(range(5), (3.0, 2.0)))) == (
        "not reproduced"
    )
    assert verdict(rule, groups, group_frame({0: (1.0, 2.0), 1: (3.0, 0.0)})) == "inconclusive"
    assert Order("a", "b").evaluate((1.0, math.inf)) == (math.inf, True)


def test_bound_holds_fails_and_is_undecidable():
    rule = Bound("the median of y", high=1.0)

    def median(frame):
        return frame["y"].median()

    assert verdict(rule, median, trend_frame({s: [0.5] * 5 for s in range(3)})) == "reproduced"
    assert verdict(rule, median, trend_frame({s: [5.0] * 5 for s in range(3)})) == (
        "not reproduced"
    )
    assert verdict(rule, median, trend_frame({0: [0.5] * 5, 1: [5.0] * 5})) == "inconclusive"


def test_a_claim_with_parts_is_partly_only_when_parts_disagree_with_confidence():
    frame = trend_frame({s: [x * 4 for x in LINEAR] for s in range(5)})  # slope 1, rising
    grows = Part(Monotone("y", "x"), per_x, "grows")
    steep = Part(Slope("y", "x", low=2.0), per_x, "steep")
    flat = Part(Slope("y", "x", high=0.1), per_x, "flat")
    assert Check("c", "p", (grows, steep)).decide(frame).verdict == "partly"
    assert Check("c", "p", (steep, flat)).decide(frame).verdict == "not reproduced"
    split = trend_frame({0: LINEAR, 1: [16.0] * len(XS)})
    got = Check("c", "p", (grows, Part(Slope("y", "x", 0.5, 1.5), per_x, "s"))).decide(split)
    assert got.verdict == "inconclusive" and "more seeds would decide it" in got.interval


def test_claim_carries_its_interval_and_generated_rule():
    frame = group_frame({s: (10.0 + s, 1.0) for s in range(5)})
    rule = Ratio("Gaussian steps", "orthogonal steps", at_least=2.0)
    check = Check("gap", "paper 2×", (Part(rule, groups),), conditions="at η = 0.1")
    claim = check.decide(frame)
    assert claim.interval.startswith("ratio 12 [1")
    assert "holds in 100% of resamples" in claim.interval
    assert claim.rule.startswith("at η = 0.1: Gaussian steps / orthogonal steps is at least 2")
    assert f"{RESAMPLES} resamples" in claim.rule
    assert "deciding number" in claims_table([claim])
    assert check.decide(frame) == claim  # deterministic: the bootstrap's seed is fixed


def test_resampling_draws_whole_seeds_and_relabels_them():
    frame = group_frame({s: (float(s), float(s)) for s in range(4)})
    for sample in resample_seeds(frame, 50, seed=3):
        assert len(sample) == len(frame) and sample["seed"].nunique() == 4
        for _, part in sample.groupby("seed"):
            assert part["y"].nunique() == 1  # a and b of one drawn seed travel together
    drawn = {tuple(sorted(s["y"])) for s in resample_seeds(frame, 200)}
    assert len(drawn) > 10  # really resampled
    single = frame[frame["seed"] == 0]
    assert all(s is single for s in resample_seeds(single, 3))


def test_decide_all_uses_each_checks_source():
    a = group_frame(dict.fromkeys(range(3), (10.0, 1.0)))
    b = group_frame(dict.fromkeys(range(3), (1.0, 10.0)))
    rule = Ratio("a", "b", at_least=2.0)
    checks = [Check("x", "p", (Part(rule, groups),), source=name) for name in ("a", "b")]
    assert [c.verdict for c in decide_all(checks, {"a": a, "b": b})] == [
        "reproduced",
        "not reproduced",
    ]


@pytest.mark.parametrize("value", [np.nan, math.nan])
def test_undefined_numbers_fail(value):
    assert Bound("v", low=0.0).evaluate(value)[1] is False
    assert Ratio("a", "b", 1.0).evaluate((value, 1.0))[1] is False


def test_an_undefined_number_neither_holds_nor_fails():
    # Seed 0 has points at two x, seed 1 at one: resamples of seed 1 alone cannot fit a slope
    # (a quarter of them), so the claim is undecided even though every defined slope holds.
    frame = trend_frame({0: LINEAR, 1: LINEAR})
    frame = frame[
        (frame["seed"] == 0) & (frame["x"] <= 2) | (frame["seed"] == 1) & (frame["x"] == 1)
    ]
    claim = Check("c", "p", (Part(Slope("y", "x", low=0.5), per_x),)).decide(frame)
    assert claim.verdict == "inconclusive"
    assert "holds in 75% of resamples; undefined in 25%" in claim.interval
    empty = Check("c", "p", (Part(Fraction("cells", "d"), lambda f: []),)).decide(frame)
    assert empty.verdict == "inconclusive" and empty.interval.startswith("fraction undefined")


def test_memo_remembers_by_content_not_identity():
    calls = []

    @memo
    def medians(frame):
        calls.append(1)
        return frame.groupby("x")["y"].median()

    frame = trend_frame({0: LINEAR, 1: FLAT})
    assert medians(frame).equals(medians(frame.copy()))  # same content: computed once
    changed = frame.assign(y=frame["y"] + 1)
    assert medians(changed).iloc[0] == medians(frame).iloc[0] + 1
    assert len(calls) == 2
