"""dl.optim's values (group rates, schedules) and the training rules built on them, in the engine
and the NumPy reference alike: schedule factors and update rules against values worked out by
hand, group rates and weight decay on networks small enough to step by hand, and every bad input
naming its argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import optim
from deeplinear import reference as ref
from helpers import raises_clean

# --------------------------------------------------------------------------------------------
# schedules: f(t) against hand values


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (None, {0: 1.0, 5: 1.0, 10**6: 1.0}),
        (optim.constant(), {0: 1.0, 7: 1.0}),
        # factor ** floor(t / every)
        (optim.step_decay(3, 0.5), {0: 1.0, 2: 1.0, 3: 0.5, 5: 0.5, 6: 0.25, 7: 0.25}),
        (optim.step_decay(1, 0.0), {0: 1.0, 1: 0.0, 9: 0.0}),
        # rate ** (t / every), not a staircase
        (optim.exponential_decay(0.5, every=2), {0: 1.0, 1: 0.7071067811865476, 4: 0.25}),
        (optim.exponential_decay(0.9), {0: 1.0, 1: 0.9, 2: 0.81}),
        # optax warmup_cosine_decay_schedule(0, 1, warmup 4, decay 10, end 0.1):
        # t/4 in the warm-up, peak 1 at t = 4, 0.1 + 0.9·(1 + cos(π/2))/2 = 0.55 halfway, then 0.1
        (
            optim.warmup_cosine(10, warmup_steps=4, final=0.1),
            {0: 0.0, 1: 0.25, 2: 0.5, 4: 1.0, 7: 0.55, 10: 0.1, 11: 0.1, 1000: 0.1},
        ),
        # no warm-up: cos from 1 at t = 0; (1 + cos(π/4))/2 = 0.8535533905932737 at t = 2 of 8
        (optim.warmup_cosine(8), {0: 1.0, 2: 0.8535533905932737, 4: 0.5, 8: 0.0, 9: 0.0}),
        # warm-up as long as the horizon: a ramp, then `final` from t = decay_steps on
        (optim.warmup_cosine(4, warmup_steps=4, final=0.2), {0: 0.0, 3: 0.75, 4: 0.2, 5: 0.2}),
    ],
)
def test_schedule_factors_equal_hand_values(schedule: Any, expected: dict[int, float]) -> None:
    for t, want in expected.items():
        assert ref.lr_factor(schedule, t) == pytest.approx(want, rel=1e-15, abs=1e-15), t


def test_schedules_are_data() -> None:
    assert optim.step_decay(100, 0.5) == optim.LrSchedule("step_decay", (100, 0.5))
    assert optim.warmup_cosine(10).params == (10.0, 0.0, 0.0)
    assert optim.exponential_decay(0.5).params == (0.5, 1.0)
    table = {"kind": "step_decay", "every": 100, "factor": 0.5}
    assert optim.schedule_from_mapping(table) == optim.step_decay(100, 0.5)
    assert optim.step_decay(100, 0.5).as_mapping() == table
    assert hash(optim.warmup_cosine(10, 2)) == hash(optim.warmup_cosine(10, 2))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: optim.warmup_cosine(10, warmup_steps=11), r"lr_schedule\.warmup_steps: .*longer"),
        (lambda: optim.warmup_cosine(0), r"lr_schedule\.decay_steps"),
        (lambda: optim.warmup_cosine(10, final=-0.1), r"lr_schedule\.final"),
        (lambda: optim.warmup_cosine(10, final=math.nan), r"lr_schedule\.final"),
        (lambda: optim.step_decay(0, 0.5), r"lr_schedule\.every"),
        (lambda: optim.step_decay(10, -0.5), r"lr_schedule\.factor"),
        (lambda: optim.step_decay(10, math.inf), r"lr_schedule\.factor"),
        (lambda: optim.exponential_decay(0.0), r"lr_schedule\.rate"),
        (lambda: optim.exponential_decay(0.5, every=0), r"lr_schedule\.every"),
        (lambda: optim.LrSchedule("cosine", ()), r"lr_schedule: unknown kind 'cosine'"),
        (lambda: optim.LrSchedule("step_decay", (1.0,)), r"lr_schedule: 'step_decay' takes 2"),
        (lambda: optim.schedule_from_mapping({"kind": "linear"}), r"lr_schedule\.kind"),
        (
            lambda: optim.schedule_from_mapping({"kind": "step_decay", "every": 2, "gamma": 0.1}),
            r"lr_schedule\.gamma: not a parameter of 'step_decay'",
        ),
        (lambda: optim.schedule_from_mapping({"kind": "step_decay"}), r"'step_decay' needs"),
    ],
)
def test_bad_schedules_name_the_parameter(make: Any, match: str) -> None:
    with pytest.raises(dl.InvalidValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.step_decay(2.5, 0.5),
        lambda: optim.step_decay(True, 0.5),
        lambda: optim.warmup_cosine("10"),
        lambda: optim.exponential_decay(None),
    ],
)
def test_schedule_parameters_of_the_wrong_type(make: Any) -> None:
    with pytest.raises(dl.ArgumentTypeError, match=r"lr_schedule\."):
        make()


# --------------------------------------------------------------------------------------------
# rates per group


def test_rates_resolve_every_group_none_taking_base() -> None:
    rates = optim.Rates(0.1, manifold=[0.01, 0.02], scales=0.5)
    assert rates.given() == ("manifold", "scales")
    got = rates.resolve(2)
    assert set(got) == set(dl.vocabulary.LR_GROUPS)
    assert got["manifold"].tolist() == [0.01, 0.02]
    assert got["scales"].tolist() == [0.5, 0.5]
    assert got["base"].tolist() == got["output"].tolist() == got["biases"].tolist() == [0.1, 0.1]
    assert all(v.dtype == np.float64 for v in got.values())
    assert optim.Rates.from_mapping({"base": 0.1, "scales": 0.5}) == optim.Rates(0.1, scales=0.5)
    assert optim.lr_groups(0.3, 2)["manifold"].tolist() == [0.3, 0.3]


def test_weight_decay_of_a_float_is_for_euclidean_weights_only() -> None:
    got = optim.weight_decay_groups(0.1, 1)
    assert {g: float(v[0]) for g, v in got.items()} == {
        "base": 0.1,
        "output": 0.1,
        "manifold": 0.0,
        "biases": 0.0,
        "scales": 0.0,
    }
    got = optim.weight_decay_groups(optim.Rates(0.1, biases=0.2, output=0.3), 1)
    assert {g: float(v[0]) for g, v in got.items()} == {
        "base": 0.1,
        "output": 0.3,
        "manifold": 0.0,
        "biases": 0.2,
        "scales": 0.0,
    }


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: optim.Rates.from_mapping({"base": 1, "hidden": 2}), dl.InvalidValueError,
         r"unknown group 'hidden'.*'manifold'"),
        (lambda: optim.Rates.from_mapping({"manifold": 2}), dl.InvalidValueError, r"'base'"),
        (lambda: optim.Rates(0.1, manifold="fast"), dl.ArgumentTypeError, r"Rates\.manifold"),
        (lambda: optim.Rates(0.1, biases=[[0.1]]), dl.InvalidValueError, r"Rates\.biases: .*1-D"),
        (lambda: optim.Rates(0.1, biases=["fast"]), dl.ArgumentTypeError, r"Rates\.biases"),
        (lambda: optim.lr_groups(optim.Rates(-0.1), 1), dl.InvalidValueError, r"lr\.base"),
        (lambda: optim.lr_groups(optim.Rates(0.1, scales=math.inf), 1), dl.InvalidValueError,
         r"lr\.scales: must be finite"),
        (lambda: optim.lr_groups(optim.Rates(0.1, output=[0.1, math.nan]), 2),
         dl.InvalidValueError, r"lr\.output"),
        (lambda: optim.lr_groups(optim.Rates(0.1, output=[0.1, 0.2]), 3), dl.InvalidValueError,
         r"lr\.output: expected a number or one per network \(3\)"),
        (lambda: optim.weight_decay_groups(-1e-3, 1), dl.InvalidValueError,
         r"weight_decay: must be finite and >= 0"),
        (lambda: optim.weight_decay_groups(optim.Rates(0.0, biases=math.nan), 1),
         dl.InvalidValueError, r"weight_decay\.biases"),
        (lambda: optim.weight_decay_groups(optim.Rates(0.0, manifold=0.1), 1),
         dl.InvalidValueError, r"weight_decay\.manifold: .*scales="),
    ],
)  # fmt: skip
def test_bad_rates_name_the_group(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_network_groups() -> None:
    assert optim.network_groups(["euclidean"], False, False) == {"base", "output"}
    assert optim.network_groups(["oblique", "stiefel"], True, True) == {
        "base",
        "manifold",
        "biases",
        "scales",
    }
    with pytest.raises(dl.InvalidValueError, match=r"lr\.scales: the network has nothing"):
        optim.check_groups("lr", ("scales",), {"base", "manifold"})


# --------------------------------------------------------------------------------------------
# the reference's rules on networks small enough to step by hand


@pytest.fixture(params=[dl, ref], ids=["rust", "reference"])
def impl(request: pytest.FixtureRequest) -> Any:
    """The Rust-backed dl.train, or its NumPy twin: both must give the hand values."""
    return request.param


def one_by_one(*values: float) -> list[np.ndarray]:
    return [np.full((1, 1, 1), v) for v in values]


ONE = np.ones((1, 1))
ZERO = np.zeros((1, 1))


def test_group_rates_step_each_group_at_its_rate(impl: Any) -> None:
    # w1 (base) at 0.1, w2 (output) at 0.3, the bias at 0.05.
    res = impl.train(
        one_by_one(1.0, 1.0),
        ONE,
        ZERO,
        lr=optim.Rates(0.1, output=0.3, biases=0.05),
        steps=1,
        biases=[None, np.ones((1, 1))],
    )
    # ℓ = ½(w2·w1 + b2)² = ½·4: ∂/∂w1 = 2·w2 = 2, ∂/∂w2 = 2·w1 = 2, ∂/∂b2 = 2.
    assert res.weights[0].item() == pytest.approx(1 - 0.1 * 2)
    assert res.weights[1].item() == pytest.approx(1 - 0.3 * 2)
    assert res.biases[1].item() == pytest.approx(1 - 0.05 * 2)


def test_schedule_scales_the_rate_at_the_global_step(impl: Any) -> None:
    # ℓ = ½w², g = w: w ← w(1 − η f(t)); step_decay(1, 0.5): f = 1, 0.5, 0.25.
    res = impl.train(
        one_by_one(1.0), ONE, ZERO, lr=0.5, steps=3, lr_schedule=optim.step_decay(1, 0.5)
    )
    assert res.weights[0].item() == pytest.approx((1 - 0.5) * (1 - 0.25) * (1 - 0.125))
    first = impl.train(
        one_by_one(1.0), ONE, ZERO, lr=0.5, steps=2, lr_schedule=optim.step_decay(1, 0.5)
    )
    rest = impl.train(
        first.weights, ONE, ZERO, lr=0.5, steps=1, lr_schedule=optim.step_decay(1, 0.5),
        state=first.state,
    )  # fmt: skip
    assert rest.weights[0].item() == res.weights[0].item()


def test_coupled_weight_decay_adds_lambda_p_to_the_gradient(impl: Any) -> None:
    # gd: w ← w − η(g + λw) = 1 − 0.1·(1 + 0.5·1) with g = w = 1.
    res = impl.train(one_by_one(1.0), ONE, ZERO, lr=0.1, steps=1, weight_decay=0.5)
    assert res.weights[0].item() == pytest.approx(0.85)
    # Adam's first step is −η·sign(g + λw): the decay enters before the rule.
    res = impl.train(one_by_one(0.1), ONE, np.full((1, 1), 0.3), lr=0.1, steps=1,
                    optimizer="adam", weight_decay=10.0)  # fmt: skip
    # g = 0.1 − 0.3 = −0.2, g + λw = −0.2 + 1 = 0.8 > 0: the step goes down.
    assert res.weights[0].item() == pytest.approx(0.1 - 0.1, abs=1e-7)


def test_adamw_decays_the_pre_update_weight_apart_from_adam(impl: Any) -> None:
    # w = 1, g = 0.5 (Y = 0.5): w ← w − ηλw − η·m̂/(√v̂ + ε) = 1 − 0.1·0.2 − 0.1·0.5/(0.5 + ε).
    res = impl.train(one_by_one(1.0), ONE, np.full((1, 1), 0.5), lr=0.1, steps=1,
                    optimizer="adamw", weight_decay=0.2)  # fmt: skip
    assert res.weights[0].item() == pytest.approx(1 - 0.02 - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-14)
    assert res.state.slot_names == ("exp_avg:weights[0]", "exp_avg_sq:weights[0]")


@pytest.mark.parametrize(
    ("centered", "momentum", "expected"),
    [
        # v = 0.01·g² = 0.04 (g = 2), step η·g/(√v + ε) = 0.01·2/(0.2 + 1e-8)
        (False, None, 1.0 - 0.02 / (0.2 + 1e-8)),
        # ḡ = 0.01·2 = 0.02, √(0.04 − 0.0004) = 0.19899748742132398
        (True, None, 1.0 - 0.02 / (0.19899748742132398 + 1e-8)),
        # first step: buf = g/denom, the same as without momentum
        (False, 0.9, 1.0 - 0.02 / (0.2 + 1e-8)),
    ],
)
def test_rmsprop_first_step_by_hand(
    impl: Any, centered: bool, momentum: float | None, expected: float
) -> None:
    # w = 1, Y = −1: g = w − y = 2.
    res = impl.train(one_by_one(1.0), ONE, -ONE, lr=0.01, steps=1, optimizer="rmsprop",
                    centered=centered, momentum=momentum)  # fmt: skip
    assert res.weights[0].item() == pytest.approx(expected, rel=1e-12)
    names = ["square_avg"] + ["grad_avg"] * centered + ["momentum"] * (momentum is not None)
    assert res.state.slot_names == tuple(f"{n}:weights[0]" for n in names)


def test_rmsprop_momentum_accumulates_scaled_gradients(impl: Any) -> None:
    # lr 0 keeps g = 2 at every step: v_t = (1 − d^t)·4, buf_t = 0.9·buf + 2/(√v_t + ε).
    res = impl.train(one_by_one(1.0), ONE, -ONE, lr=0.0, steps=2, optimizer="rmsprop",
                    momentum=0.9, decay=0.5)  # fmt: skip
    v1, v2 = 0.5 * 4, 0.75 * 4
    buf = 0.9 * (2 / (math.sqrt(v1) + 1e-8)) + 2 / (math.sqrt(v2) + 1e-8)
    assert res.state.slots[1].item() == pytest.approx(buf, rel=1e-14)
    assert res.state.slots[0].item() == pytest.approx(v2, rel=1e-14)


# --------------------------------------------------------------------------------------------
# bad input (docs: issue 17 item 8), each naming its argument


def bad_calls() -> list[tuple[str, dict[str, Any], str]]:
    eye = np.eye(2)[None]
    return [
        ("unknown optimizer", {"optimizer": "lion"}, r"optimizer"),
        ("manifold rate, no manifold layer", {"lr": optim.Rates(0.1, manifold=0.1)},
         r"lr\.manifold: the network has nothing"),
        ("scales rate, scales not learned", {"lr": optim.Rates(0.1, scales=0.1),
         "manifold": "stiefel", "weights": [eye]}, r"lr\.scales"),
        ("biases rate, no biases", {"lr": optim.Rates(0.1, biases=0.1)}, r"lr\.biases"),
        ("output rate, last layer on a manifold", {"lr": optim.Rates(0.1, output=0.1),
         "manifold": "stiefel", "weights": [eye]}, r"lr\.output"),
        ("decay of biases, no biases", {"weight_decay": optim.Rates(0.0, biases=0.1)},
         r"weight_decay\.biases"),
        ("negative rate", {"lr": optim.Rates(0.1, output=-0.1)}, r"lr\.output: must be finite"),
        ("non-finite rate", {"lr": math.nan}, r"lr: must be finite"),
        ("negative decay", {"weight_decay": -0.1}, r"weight_decay: must be finite"),
        ("non-finite decay", {"weight_decay": math.inf}, r"weight_decay: must be finite"),
        ("rmsprop decay of 1", {"optimizer": "rmsprop", "decay": 1.0}, r"decay"),
        ("rmsprop decay nan", {"optimizer": "rmsprop", "decay": math.nan}, r"decay"),
        ("decay with adam", {"optimizer": "adam", "decay": 0.9}, r"decay: .*rmsprop"),
        ("centered with sgd", {"optimizer": "sgd", "centered": True}, r"centered: .*rmsprop"),
        ("momentum with adamw", {"optimizer": "adamw", "momentum": 0.9}, r"momentum: .*sgd"),
        ("penalty without an oblique layer", {"oblique_penalty": 0.1}, r"oblique_penalty"),
        ("negative penalty", {"oblique_penalty": -0.1, "manifold": "oblique",
         "weights": [eye]}, r"oblique_penalty"),
        ("oblique, one input per unit", {"manifold": ["euclidean", "oblique"],
         "weights": [np.ones((1, 1, 2)), np.ones((1, 2, 1))]}, r"weights\[1\]: .*oblique"),
        ("oblique, rows of unequal norm", {"manifold": "oblique",
         "weights": [np.array([[[1.0, 0.0], [0.0, 2.0]]])]}, r"weights\[0\]: .*oblique"),
    ]  # fmt: skip


@pytest.mark.parametrize(("what", "kwargs", "match"), bad_calls(), ids=[c[0] for c in bad_calls()])
def test_bad_input_names_the_argument(
    impl: Any, what: str, kwargs: dict[str, Any], match: str
) -> None:
    call: dict[str, Any] = {"lr": 0.1, "steps": 1, **kwargs}
    weights = call.pop("weights", [np.eye(2)[None]])
    with raises_clean(ValueError, match):
        impl.train(weights, np.eye(2), np.zeros((weights[-1].shape[1], 2)), **call)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr_schedule": "cosine"}, "lr_schedule"),
        ({"lr_schedule": ("step_decay", 2, 0.5)}, "lr_schedule"),
        ({"lr": {"base": 0.1, "hidden": 0.2}}, "lr"),  # groups go in dl.optim.Rates
        ({"weight_decay": "0.1"}, "weight_decay"),
        ({"centered": 1, "optimizer": "rmsprop"}, "centered"),
    ],
)
def test_options_of_the_wrong_type_name_the_argument(
    impl: Any, kwargs: dict[str, Any], match: str
) -> None:
    call = {"lr": 0.1, "steps": 1, **kwargs}
    with raises_clean(dl.ArgumentTypeError, match):
        impl.train(one_by_one(1.0), ONE, ZERO, **call)


def test_an_unknown_group_names_it() -> None:
    with pytest.raises(dl.InvalidValueError, match=r"unknown group 'hidden'"):
        optim.Rates.from_mapping({"base": 0.1, "hidden": 0.2})
    with pytest.raises(TypeError, match=r"hidden"):
        optim.Rates(0.1, hidden=0.2)  # type: ignore[call-arg]


def test_a_constant_schedule_and_equal_group_rates_change_nothing(impl: Any) -> None:
    """lr_schedule=constant() and Rates whose groups all equal the base rate give the plain
    call's trajectory bit for bit (the factor is exactly 1)."""
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 3))]
    biases = [rng.standard_normal((2, 3)), None]
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((2, 5))
    call = {"steps": 4, "optimizer": "adam", "biases": biases, "activation": "tanh"}
    plain = impl.train(weights, x, y, lr=[0.01, 0.02], **call)
    same = impl.train(
        weights,
        x,
        y,
        lr=optim.Rates([0.01, 0.02], output=[0.01, 0.02], biases=[0.01, 0.02]),
        lr_schedule=optim.constant(),
        weight_decay=optim.Rates(0.0, biases=0.0),
        **call,
    )
    for a, b in zip(plain.weights, same.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain.loss, same.loss)
