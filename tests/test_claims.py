"""The verdict rules of every claims table, on synthetic results frames where each claim holds
and where it fails (a rule that says "reproduced" whatever the data is a defect), plus the
shared analysis helpers and the table rendering."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deeplinear.experiments import analysis, arora2019, hu2020, wu2019
from deeplinear.report import Claim, claims_table, markdown_table, write_report

# --- shared helpers ------------------------------------------------------------------------


def test_loglog_fit_recovers_a_power_law():
    x = [2, 4, 8, 16]
    slope, intercept = analysis.loglog_fit(x, [3 * v**1.5 for v in x])
    assert slope == pytest.approx(1.5) and 10**intercept == pytest.approx(3)
    assert analysis.loglog_fit([2, 4, 8], [1, math.inf, 8]) == pytest.approx((1.5, -1.5 * 0.30103))
    assert analysis.loglog_fit([2, 4], [1, math.inf]) is None


def test_fast_band_is_the_contiguous_run_around_the_best():
    x = [0.01, 0.1, 1, 10, 100]
    band = analysis.fast_band(x, [500, 20, 10, 150, 30])  # 30 is fast but cut off by 150
    assert (band.low, band.high, band.best, band.best_steps) == (0.1, 1, 1, 10)
    assert band.decades == pytest.approx(2.0)  # one decade plus one spacing
    single = analysis.fast_band(x, [math.inf, math.inf, 5, math.inf, math.inf])
    assert single.decades == pytest.approx(1.0) and single.low == single.high == 1
    empty = analysis.fast_band(x, [math.inf] * 5)
    assert empty.low is None and empty.decades == 0 and "never" in empty.describe()


def test_best_per_cell_takes_the_fastest_median_and_breaks_ties_low():
    frame = pd.DataFrame(
        {
            "cell": ["a"] * 6 + ["b"] * 2,
            "lr": [0.1, 0.1, 1.0, 1.0, 0.01, 0.01, 0.1, 1.0],
            "steps": [10, 30, 15, 15, 20, math.inf, math.inf, math.inf],
        }
    )
    best = analysis.best_per_cell(frame, ["cell"]).set_index("cell")
    assert best.loc["a", "lr"] == 1.0 and best.loc["a", "steps"] == 15  # median 15 < 20
    assert math.isnan(best.loc["b", "lr"]) and math.isinf(best.loc["b", "steps"])
    tie = pd.DataFrame({"cell": ["c", "c"], "lr": [1.0, 0.1], "steps": [5, 5]})
    assert analysis.best_per_cell(tie, ["cell"])["lr"].iloc[0] == 0.1


def test_verdict_scale():
    assert analysis.verdict_from_fraction(1.0) == "reproduced"
    assert analysis.verdict_from_fraction(0.6) == "partly"
    assert analysis.verdict_from_fraction(0.2) == "not reproduced"


def test_claims_table_renders_and_refuses_made_up_verdicts(tmp_path):
    claim = Claim("c | d", "paper 1", "ours 2", "partly", "rule 3")
    table = claims_table([claim])
    assert table.splitlines()[0] == "| claim | paper | ours | verdict |"
    assert "c \\| d" in table and "🟡 partly" in table
    with pytest.raises(ValueError, match="verdict"):
        Claim("c", "p", "o", "mostly", "r")  # type: ignore[arg-type]
    report = write_report(
        tmp_path / "report.md", title="T", intro="I", figures=[], sections=[], claims=[claim]
    ).read_text()
    assert report.index("## Claims") < report.index("I") < report.index("rule 3")
    assert markdown_table(["a"], [["x|y"]]).endswith("| x\\|y |")


# --- Hu et al. 2020 ------------------------------------------------------------------------

DEPTHS = (1, 2, 4, 8, 16, 32)
WIDTHS = (4, 8, 16, 32, 64, 128, 256)


def hu_frame(gaussian, orthogonal, diverge=()):
    """Curves whose ratio at t = 1000 is 1e-10 where width ≥ boundary(depth), else 0.5."""
    rows = []
    for init, rule in (("gaussian", gaussian), ("orthogonal", orthogonal)):
        for depth in DEPTHS:
            for width in WIDTHS:
                for seed in (0, 1, 2):
                    edge = rule(depth)
                    ratio = 1e-10 if edge is not None and width >= edge else 0.5
                    bad = (init, depth, width) in diverge and seed == 0
                    rows.append(
                        {
                            "init": init,
                            "depth": depth,
                            "width": width,
                            "seed": seed,
                            "record_every": 1000,
                            "loss_curve": [1.0, math.inf if bad else ratio],
                            "diverged": bad,
                        }
                    )
    return pd.DataFrame(rows)


def verdicts(claims):
    return [c.verdict for c in claims]


def test_hu_claims_hold_on_the_papers_picture():
    frame = hu_frame(lambda L: 4 * L if L > 1 else 4, lambda L: 16 if L > 1 else 4)
    assert verdicts(hu2020.claims(frame)) == ["reproduced"] * 3


def test_hu_claims_fail_on_the_opposite_picture():
    frame = hu_frame(lambda L: 16, lambda L: 4 * L if L > 1 else 4)
    assert verdicts(hu2020.claims(frame)) == ["not reproduced"] * 3


def test_hu_partial_verdicts():
    # Gaussian grows but slower than linearly; orthogonal flat at the narrowest width.
    slow = {1: 4, 2: 8, 4: 8, 8: 8, 16: 16, 32: 16}
    frame = hu_frame(lambda L: slow[L], lambda L: 4)
    got = hu2020.claims(frame)
    assert verdicts(got)[:2] == ["partly", "partly"]
    assert "narrowest grid width" in got[1].ours


def test_hu_a_diverged_seed_makes_a_cell_untrainable():
    frame = hu_frame(lambda L: 16, lambda L: 16, diverge={("orthogonal", 32, 256)})
    bounds = hu2020.boundary(frame)
    assert bounds["orthogonal"][32] is None and bounds["orthogonal"][16] == 16


# --- Wu et al. 2019 ------------------------------------------------------------------------

WU_DEPTHS = (2, 4, 8, 16, 32, 64, 128)


def wu_frame(steps):
    """steps(target, init, depth, seed) -> steps to ε (None: never)."""
    rows = []
    for target in wu2019.TARGETS:
        for init in wu2019.INITS:
            for depth in WU_DEPTHS:
                for seed in (0, 1, 2):
                    k = steps(target, init, depth, seed)
                    # Recorded every k steps, the curve hits ε at its second entry: step k.
                    rows.append(
                        {
                            "data": target,
                            "init": init,
                            "depth": depth,
                            "seed": seed,
                            "record_every": 1 if k is None else k,
                            "loss_curve": [1.0, 0.5 if k is None else 1e-7],
                            "diverged": False,
                        }
                    )
    return pd.DataFrame(rows)


def wu_paper(target, init, depth, seed):
    if init == "zas":
        return round(10 * depth**0.5)
    if init == "near_identity":
        return 2000
    if init == "xavier":
        return 50 if depth <= 4 else None
    return None  # identity


def test_wu_claims_hold_on_the_papers_picture():
    assert verdicts(wu2019.claims(wu_frame(wu_paper))) == ["reproduced"] * 4


def test_wu_claims_fail_on_the_opposite_picture():
    def opposite(target, init, depth, seed):
        if init == "zas":
            return None if depth >= 8 else depth**4
        return 5  # everything else converges at once

    assert verdicts(wu2019.claims(wu_frame(opposite))) == ["not reproduced"] * 4


def test_wu_partial_verdicts():
    def partial(target, init, depth, seed):
        if init == "zas":
            return None if depth == 128 and seed == 0 else round(10 * depth**0.5)
        if init == "near_identity":
            return 15 if depth <= 4 else 2000  # escapes fast at shallow depths
        if init == "xavier":
            return None if depth == 128 else 50
        return None

    got = verdicts(wu2019.claims(wu_frame(partial)))
    # ZAS misses one cell (a seed at L = 128) but its median still reaches; the saddle claim
    # fails at L = 2 and 4 only; Xavier fails only at the deepest depth.
    assert got == ["partly", "reproduced", "partly", "partly"]


def test_wu_zas_exponent_above_three_is_not_reproduced():
    steps = lambda t, i, d, s: round(d**3.5) if i == "zas" else wu_paper(t, i, d, s)  # noqa: E731
    claim = wu2019.claim_polynomial(wu_frame(steps))
    assert claim.verdict == "not reproduced" and "3.50" in claim.ours


# --- Arora et al. 2019 ---------------------------------------------------------------------

STDS = tuple(10.0**e for e in np.arange(-3, 0.51, 0.5))


def arora_frame(steps, drift=0.01, margin=0.1):
    """steps(depth, init, std) -> steps at the best lr (None: never); the other lr is 3× slower.
    Balancedness curves drift by ``drift``; every start has deficiency margin ``margin``."""
    rows = []
    for depth in (3, 8):
        for init in ("gaussian", "balanced"):
            for std in STDS:
                for lr, factor in ((0.1, 1), (0.01, 3)):
                    for seed in (0, 1):
                        k = steps(depth, init, std)
                        rows.append(
                            {
                                "depth": depth,
                                "init": init,
                                "init_scale": std,
                                "lr": lr,
                                "seed": seed,
                                "steps_to_tol": -1 if k is None else k * factor,
                                "diverged": False,
                                "balancedness_curve": [0.0, drift / 2, drift],
                                "margin": margin,
                            }
                        )
    return pd.DataFrame(rows)


def arora_paper(depth, init, std):
    if init == "balanced":
        return 50
    if depth == 3:
        return 20 if 0.01 <= std <= 1 else 5000
    return 30 if std == STDS[4] else None  # one std only at depth 8


def test_arora_claims_hold_on_the_papers_picture():
    frame = arora_frame(arora_paper)
    assert verdicts(arora2019.claims(frame)) == ["reproduced"] * 4
    best = arora2019.best_lrs(frame)
    assert set(best["lr"].dropna()) == {0.1}  # the faster learning rate wins every cell


def test_arora_claims_fail_on_the_opposite_picture():
    def opposite(depth, init, std):
        if init == "gaussian":
            return 40  # wide at both depths
        if depth == 3:
            return 50
        return 30 if std == STDS[4] else None  # balanced at depth 8: one std only

    frame = arora_frame(opposite, drift=0.5, margin=0.1)
    got = verdicts(arora2019.claims(frame))
    assert got[:3] == ["not reproduced"] * 3
    assert got[3] == "partly"  # 18 of 32 positive-margin balanced starts converge


def test_arora_partial_verdicts():
    def partial(depth, init, std):
        if init == "gaussian" and depth == 8:
            return 20 if 0.01 <= std <= 0.1 else 5000  # narrower, but not by half
        if init == "balanced" and depth == 8:
            return 30 if std >= 0.1 else 5000  # narrower than at depth 3, still wide
        return 20 if init == "balanced" or 0.01 <= std <= 1 else 5000

    frame = arora_frame(partial)
    drifted = frame["init"].eq("balanced") & frame["init_scale"].ge(1.0)
    frame.loc[drifted, "balancedness_curve"] = pd.Series([[0.0, 0.3]] * drifted.sum()).values
    got = verdicts(arora2019.claims(frame))
    assert got[:3] == ["partly", "partly", "partly"]


def test_arora_margin_claim_counts_only_positive_margins():
    def never_balanced(depth, init, std):
        return None if init == "balanced" else 20

    assert arora2019.claim_margin_converges(arora_frame(never_balanced)).verdict == (
        "not reproduced"
    )
    negative = arora_frame(never_balanced, margin=-0.2)
    claim = arora2019.claim_margin_converges(negative)
    assert claim.verdict == "not reproduced" and "0/0" in claim.ours
