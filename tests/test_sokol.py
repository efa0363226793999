"""Sokol & Park 2020's rate search: the validation split, the candidates, one batched call per
cell, and the choice of the best candidate."""

from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np
import pandas as pd
import pytest

from deeplinear.errors import InvalidValueError
from deeplinear.experiments import sokol2020
from deeplinear.sweep.recipes import make_data, make_eval_data

TINY = dataclasses.replace(
    sokol2020.QUICK,
    depth=3,
    width=16,
    n=300,
    n_test=60,
    batch_size=50,
    epochs=1,
    seeds=(0,),
    validation=60,
    tune_epochs=1,
    euclidean_rates=(1e-3, 1e-2),
    base_rates=(1e-3,),
    manifold_rates=(1e-3, 3e-3, 1e-2),
    scale_rates=(1e-4, 1e-3),
    oblique_penalties=(sokol2020.OBLIQUE_PENALTY, 10 * sokol2020.OBLIQUE_PENALTY),
)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(sokol2020.GRIDS, "quick", TINY)
    sokol2020.search.cache_clear()
    yield TINY
    sokol2020.search.cache_clear()


def _columns(X):
    return {tuple(np.round(c, 12)) for c in np.asarray(X).T}


def test_validation_is_carved_from_the_training_set(tiny):
    run = sokol2020.spec("quick").runs()[0]
    X_fit, y_fit, X_val, y_val = sokol2020._validation_split(run, tiny.validation)
    X, y = make_data(run)
    X_test, _ = make_eval_data(run)
    assert X_val.shape == (64, 60) and X_fit.shape == (64, 240)
    assert y_val.shape == (60,) and y_fit.shape == (240,)
    train_set, fit, val = _columns(X), _columns(X_fit), _columns(X_val)
    assert fit | val == train_set and not fit & val  # a partition of the training set
    assert not val & _columns(X_test)  # never the test images
    again = sokol2020._validation_split(run, tiny.validation)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_fit, y_fit, X_val, y_val)))


@pytest.mark.parametrize("count", [0, -1])
def test_validation_must_hold_examples(tiny, count):
    run = sokol2020.spec("quick").runs()[0]
    with pytest.raises(InvalidValueError, match="validation: must leave at least one batch"):
        sokol2020._validation_split(run, count)


@pytest.mark.parametrize("count", [61, 250, 10_000])
def test_validation_is_at_most_a_fifth_of_the_training_set(tiny, count):
    """The paper's 10000 of CIFAR-10's 50000: a larger request (the full size's 10000 on the
    300 training images here) takes a fifth, and the rest still trains."""
    run = sokol2020.spec("quick").runs()[0]
    X_fit, _, X_val, _ = sokol2020._validation_split(run, count)
    assert X_val.shape[-1] == 60 and X_fit.shape[-1] == 240


def test_candidates_are_the_log_grid_per_group():
    assert sokol2020.candidates(TINY, "euclidean") == [{"lr": 1e-3}, {"lr": 1e-2}]
    stiefel = sokol2020.candidates(TINY, "stiefel_hidden")
    assert len(stiefel) == 1 * 3 * 2 and all("oblique_penalty" not in c for c in stiefel)
    manifold = sokol2020.candidates(TINY, "oblique_hidden")
    assert len(manifold) == 1 * 3 * 2 * 2  # rates × ω
    assert {c["lr_manifold"] for c in manifold} == {1e-3, 3e-3, 1e-2}
    assert {c["lr_scales"] for c in manifold} == {1e-4, 1e-3}
    assert {c["oblique_penalty"] for c in manifold} == set(TINY.oblique_penalties)
    assert len({tuple(sorted(c.items())) for c in manifold}) == len(manifold)


def test_search_trains_each_cell_in_one_batched_call(tiny, monkeypatch):
    train_module = importlib.import_module("deeplinear.train")  # the module, not the function
    calls = []
    real = train_module.train

    def counting(weights, *args, **kwargs):
        calls.append((weights[0].shape[0], kwargs["lr"], kwargs.get("oblique_penalty", 0.0)))
        return real(weights, *args, **kwargs)

    monkeypatch.setattr(train_module, "train", counting)
    table = sokol2020.search("quick")
    q_stars = len(sokol2020.TRAIN_Q_STARS)
    # One call per cell; Oblique cells one per ω (the engine takes one ω a call).
    assert len(calls) == q_stars * (1 + 1 + len(TINY.oblique_penalties))
    sizes = sorted(batch for batch, _, _ in calls)
    assert sizes == [2, 2, 6, 6, 6, 6, 6, 6]  # every candidate is a network of its cell's call
    for _, lr, _ in (c for c in calls if c[0] == 6):  # per-network group rates as tried
        assert sorted(set(lr.manifold)) == [1e-3, 3e-3, 1e-2]
    penalties = sorted(omega for _, _, omega in calls if omega > 0)
    assert penalties == sorted(2 * TINY.oblique_penalties)
    oblique = table[table["manifold"] == "oblique_hidden"]
    assert sorted(set(oblique["oblique_penalty"])) == sorted(TINY.oblique_penalties)
    assert table.loc[table["manifold"] != "oblique_hidden", "oblique_penalty"].isna().all()
    assert len(table) == sum(sizes)
    assert table["validation_accuracy"].between(0, 1).all()
    assert (table["validation"] == 60).all() and (table["epochs"] == 1).all()


def test_chosen_rates_take_the_best_validation_accuracy_then_the_lower_loss():
    table = pd.DataFrame(
        {
            "manifold": ["euclidean"] * 3 + ["stiefel_hidden"] * 2 + ["oblique_hidden"] * 2,
            "q_star": [9e-4] * 7,
            "lr": [1e-4, 1e-3, 1e-2, 1e-3, 1e-2, 1e-3, 1e-3],
            "lr_manifold": [None, None, None, 1e-4, 1e-3, 1e-4, 1e-4],
            "lr_scales": [None, None, None, 1e-4, 1e-4, 1e-4, 1e-4],
            "oblique_penalty": [math.nan] * 5 + [7.1e-5, 7.1e-3],
            "validation_accuracy": [0.5, 0.8, 0.8, 0.9, 0.7, 0.6, 0.7],
            "train_loss": [1.0, 0.4, 0.3, 0.1, 0.05, 0.2, 0.3],
        }
    )
    chosen = sokol2020.chosen_rates(table)
    assert chosen[("euclidean", 9e-4)] == {"lr": 1e-2}  # tie on accuracy: the lower loss
    assert chosen[("stiefel_hidden", 9e-4)] == {"lr": 1e-3, "lr_manifold": 1e-4, "lr_scales": 1e-4}
    assert chosen[("oblique_hidden", 9e-4)] == {
        "lr": 1e-3,
        "lr_manifold": 1e-4,
        "lr_scales": 1e-4,
        "oblique_penalty": 7.1e-3,
    }


def test_oblique_nets_start_on_their_manifold_and_train(tiny):
    """The sweep's critical orthogonal weights (wide and square hidden layers) are accepted as
    Oblique starts, and the retrained Oblique nets finish with finite losses."""
    frame = sokol2020.retrain("quick")
    oblique = frame[frame["manifold"] == "oblique_hidden"]
    assert len(oblique) == 2 * len(TINY.seeds)
    assert not oblique["diverged"].any() and np.isfinite(oblique["final_loss"]).all()
    chosen = sokol2020.chosen_rates(sokol2020.search("quick"))
    for q, part in oblique.groupby("q_star"):  # retrained at the searched ω
        assert (part["oblique_penalty"] == chosen[("oblique_hidden", q)]["oblique_penalty"]).all()
