"""Where issue 3's network forms meet issue 4's recording and manifold training."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl


def test_recording_with_identity_input_matches_explicit_eye():
    dims = [5, 7, 7, 5]
    w = dl.init.orthogonal(dims, batch=3, seed=4)
    Y = np.random.default_rng(0).standard_normal((5, 5))
    kwargs = {"lr": 1e-2, "steps": 12, "alpha": dl.fanout_alpha(dims), "record_every": 3}
    record = ["balancedness", "singular_values", "grad_norms"]
    implicit = dl.train(w, None, Y, record=record, **kwargs)
    explicit = dl.train(w, np.eye(5), Y, record=record, **kwargs)
    np.testing.assert_allclose(implicit.loss, explicit.loss, rtol=1e-12)
    for name in record:
        np.testing.assert_allclose(
            implicit.records[name], explicit.records[name], rtol=1e-10, atol=1e-12
        )


def test_stiefel_with_identity_input_matches_explicit_eye():
    dims = [4, 6, 4]
    w = dl.init.orthogonal(dims, batch=2, seed=1)
    Y = np.random.default_rng(1).standard_normal((4, 4))
    a = dl.train(w, None, Y, lr=1e-2, steps=10, manifold="stiefel")
    b = dl.train(w, np.eye(4), Y, lr=1e-2, steps=10, manifold="stiefel")
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("option", "value", "form"),
    [
        ("record", ["balancedness"], {"activation": "tanh"}),
        ("record", ["singular_values"], {"parameterization": "ntk"}),
    ],
)
def test_linear_only_options_are_rejected_for_other_forms(option, value, form):
    dims = [3, 4, 2]
    w = dl.init.orthogonal(dims, batch=1, seed=0)
    X = np.ones((3, 2))
    Y = np.zeros((2, 2))
    with pytest.raises(ValueError, match=option):
        dl.train(w, X, Y, lr=0.1, steps=2, **{option: value}, **form)
