"""The sweep registry (data recipes, initialisers) and the recipes (η, tolerance, ℓ*)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deeplinear as dl
from deeplinear.sweep import SweepSpec, load, recipes, registry, run_sweep
from deeplinear.sweep.registry import DataRequest
from sweep_helpers import small_spec


def test_target_matrix_recipes():
    X, Y = registry.minus_identity(DataRequest(5, 5, 5))
    np.testing.assert_array_equal(X, np.eye(5))
    np.testing.assert_array_equal(Y, -np.eye(5))
    X, Y = registry.symmetric_negative(DataRequest(6, 6, 6, seed=3))
    np.testing.assert_array_equal(X, np.eye(6))
    np.testing.assert_allclose(Y, Y.T, atol=1e-15)
    np.testing.assert_allclose(np.linalg.eigvalsh(Y), np.linspace(-1, 1, 6), atol=1e-12)
    _, again = registry.symmetric_negative(DataRequest(6, 6, 6, seed=3))
    np.testing.assert_array_equal(Y, again)
    _, other = registry.symmetric_negative(DataRequest(6, 6, 6, seed=4))
    assert not np.allclose(Y, other)
    with pytest.raises(ValueError, match="needs d_x = n = d_y"):
        registry.minus_identity(DataRequest(5, 6, 5))


def test_shipped_data_recipes():
    X, Y = registry.digits(DataRequest(64, 1797, 10))
    assert X.shape == (64, 1797) and X.min() >= 0 and X.max() == 1.0
    np.testing.assert_array_equal(Y.sum(axis=0), 1.0)
    np.testing.assert_array_equal(Y.argmax(axis=0), dl.data.digits().y)
    Xs, Ys = registry.digits(DataRequest(64, 100, 10, seed=1))
    assert Xs.shape == (64, 100) and Ys.shape == (10, 100)
    X, Y = registry.diabetes(DataRequest(10, 442, 1))
    np.testing.assert_allclose(X.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=1), 1, rtol=1e-12)
    assert Y.shape == (1, 442) and abs(Y.std() - 1) < 1e-12
    with pytest.raises(ValueError, match=r"'digits' has \(d_x, n, d_y\) = \(64, n, 10\)"):
        registry.digits(DataRequest(32, 100, 10))
    with pytest.raises(ValueError, match="has 442 examples"):
        registry.diabetes(DataRequest(10, 500, 1))


def test_arora_form_is_whitened_and_scaled():
    """Summed loss on (X', Y') is the paper's mean loss: X'X'ᵀ = I, ‖Y'X'ᵀ‖ = 1."""
    X, Y = registry.diabetes_whitened(DataRequest(10, 442, 1))
    np.testing.assert_allclose(X @ X.T, np.eye(10), atol=1e-12)
    assert np.linalg.norm(Y @ X.T) == pytest.approx(1.0, rel=1e-12)
    raw = dl.data.diabetes()
    Xw, yw = dl.data.whiten(raw.X, raw.y)
    W = np.random.default_rng(0).standard_normal((1, 10))
    mean_loss = np.sum((W @ Xw - yw) ** 2) / (2 * 442)
    assert 0.5 * np.sum((W @ X - Y) ** 2) == pytest.approx(mean_loss, rel=1e-12)


def test_npz_whitened_reads_the_file_and_checks_its_digest(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "ethanol.npz"
    np.savez(path, X=rng.standard_normal((40, 5)), y=rng.standard_normal(40))
    digest = registry.file_digest(path)
    X, Y = registry.npz_whitened(DataRequest(5, 40, 1, file=str(path), sha256=digest))
    np.testing.assert_allclose(X @ X.T, np.eye(5), atol=1e-12)
    with pytest.raises(ValueError, match="not the file the sweep was planned with"):
        registry.npz_whitened(DataRequest(5, 40, 1, file=str(path), sha256="0" * 64))
    with pytest.raises(ValueError, match="needs data_file"):
        registry.npz_whitened(DataRequest(5, 40, 1))
    labels = tmp_path / "labels.npz"
    np.savez(labels, X=rng.standard_normal((40, 5)), y=np.arange(40) % 3)
    with pytest.raises(ValueError, match="needs real targets"):
        registry.npz_whitened(DataRequest(5, 40, 1, file=str(labels)))


WEIGHT_ONLY = sorted(n for n in registry.INITIALISERS if not registry.is_mean_field(n))
MEAN_FIELD = sorted(n for n in registry.INITIALISERS if registry.is_mean_field(n))


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_every_initialiser_matches_its_scheme(name):
    dims = [3, 5, 5, 3]
    got = registry.INITIALISERS[name](dims, [7, 8], 0.3, "float64", 1)
    scheme = getattr(dl.init, name)
    keyword = {"gaussian": "std", "balanced": "std", "orthogonal": "gain"}.get(name)
    keyword = "sigma" if name == "near_identity" else keyword
    extra = {keyword: 0.3} if keyword else {}
    for seed, b in ((7, 0), (8, 1)):
        alone = scheme(dims, batch=1, seed=[seed], **extra)
        for layer, single in zip(got, alone, strict=True):
            np.testing.assert_array_equal(layer[b], single[0])


@pytest.mark.parametrize("parameterization", ["standard", "ntk"])
@pytest.mark.parametrize("name", MEAN_FIELD)
def test_every_mean_field_initialiser_matches_dl_init(name, parameterization):
    """mean_field_* and critical_* draw what dl.init.mean_field / critical draw for each seed
    alone; the critical ones take (σ_w, σ_b) from q*."""
    assert MEAN_FIELD == [
        "critical_gaussian",
        "critical_orthogonal",
        "mean_field_gaussian",
        "mean_field_orthogonal",
    ]
    dims = [3, 5, 5, 3]
    kind = name.rsplit("_", 1)[1]
    q_star = 0.3
    configs = [
        _replaced(
            init=name,
            seed=seed,
            sigma_w=1.3,
            sigma_b=0.2,
            q_star=q_star,
            biases="all",
            activation="tanh",
            parameterization=parameterization,
        )
        for seed in (7, 8)
    ]
    made = recipes.make_weights(
        [dataclasses.replace(c, width=5, depth=3, d_x=3, d_y=3) for c in configs], threads=1
    )
    for seed, b in ((7, 0), (8, 1)):
        if registry.is_critical(name):
            alone = dl.init.critical(
                dims,
                batch=1,
                seed=[seed],
                q_star=q_star,
                weights=kind,
                parameterization=parameterization,
            )
        else:
            alone = dl.init.mean_field(
                dims,
                batch=1,
                seed=[seed],
                sigma_w=1.3,
                sigma_b=0.2,
                weights=kind,
                parameterization=parameterization,
            )
        for layer, single in zip(made.weights, alone[0], strict=True):
            np.testing.assert_array_equal(layer[b], single[0])
        for bias, single in zip(made.biases, alone[1], strict=True):
            np.testing.assert_array_equal(bias[b], single[0])


def test_weight_only_inits_get_seeded_gaussian_biases():
    """biases = "all" with a weight-only init: N(0, σ_b²) per network from its own stream,
    the same whatever the batch; zeros when σ_b = 0; no biases with biases = "none"."""
    runs = [
        _replaced(init="orthogonal", seed=s, biases="all", sigma_b=0.5, activation="tanh")
        for s in (1, 2, 3)
    ]
    batch = recipes.make_weights(runs, threads=1)
    alone = recipes.make_weights(runs[1:2], threads=1)
    for together, single in zip(batch.biases, alone.biases, strict=True):
        np.testing.assert_array_equal(together[1], single[0])
    spread = np.concatenate([b.ravel() for b in batch.biases])
    assert 0.3 < spread.std() < 0.7 and not np.array_equal(batch.biases[0][0], batch.biases[0][1])
    zeros = recipes.make_weights([dataclasses.replace(r, sigma_b=0.0) for r in runs])
    assert all(not b.any() for b in zeros.biases)
    assert recipes.make_weights([_replaced(init="orthogonal")]).biases is None


def _config(**fixed):
    return SweepSpec.from_dict(small_spec(**fixed)).runs()[0]


def _replaced(**changes):
    """The first run of the small spec with ``changes`` (no validation)."""
    return dataclasses.replace(_config(), **changes)


def test_learning_rate_rules():
    run = _config(lr_rule="inverse_depth", lr=0.5)
    assert recipes.learning_rate(run) == 0.5 / run.depth
    assert recipes.learning_rate(_config(lr_rule="constant", lr=0.5)) == 0.5


def test_optimum_and_tolerance_rules():
    run = _config(data="diabetes", d_x=10, n=442, d_y=1, tol=1e-5, tol_rule="above_optimum")
    X, Y = recipes.make_data(run)
    w = np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T
    by_hand = 0.5 * np.sum((w @ X - Y) ** 2)
    assert recipes.optimum(run) == pytest.approx(by_hand, rel=1e-12)
    assert recipes.tolerance(run) == pytest.approx(by_hand + 1e-5, rel=1e-14)
    assert recipes.tolerance(dataclasses.replace(run, tol_rule="absolute")) == 1e-5
    assert recipes.tolerance(dataclasses.replace(run, tol=None)) is None
    teacher = _config()  # realisable: Y = W*X with n ≤ d_x
    assert recipes.optimum(teacher) == pytest.approx(0.0, abs=1e-20)


def test_a_sweep_records_balancedness_and_stops_above_the_optimum(tmp_path):
    spec = small_spec(
        data="diabetes_whitened",
        d_x=10,
        n=442,
        d_y=1,
        lr_rule="constant",
        lr=0.1,
        alpha_rule="constant",
        tol=1e-5,
        tol_rule="above_optimum",
        record="balancedness",
        steps=400,
    )
    spec["axes"]["init"] = ["balanced", "gaussian"]
    spec["axes"]["width"] = [12]
    spec["fixed"]["init_scale"] = 0.1
    run_sweep(spec, tmp_path, progress=False)
    frame = load(tmp_path)
    run = SweepSpec.from_dict(spec).runs()[0]
    optimum = recipes.optimum(run)
    for _, row in frame.iterrows():
        curve = np.asarray(row["loss_curve"])
        balance = np.asarray(row["balancedness_curve"])
        assert balance.shape == curve.shape
        if row["steps_to_tol"] >= 0:
            assert row["final_loss"] <= optimum + 1e-5
            assert curve.min() > optimum  # the offset ℓ* is part of every reported loss
        configs = [c for c in SweepSpec.from_dict(spec).runs() if c.key == row["key"]]
        weights = recipes.make_weights(configs).weights
        assert balance[0] == pytest.approx(dl.metrics.balancedness(weights)[0], abs=1e-12)
    balanced = frame[frame["init"] == "balanced"]
    assert all(np.asarray(c)[0] < 1e-12 for c in balanced["balancedness_curve"])


# --- Oblique starts ---------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 3),
    d_out=st.integers(1, 12),
    d_in=st.integers(2, 12),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_onto_oblique_gives_rows_of_one_norm_and_keeps_the_frobenius_norm(
    batch, d_out, d_in, seed, dtype
):
    layer = np.random.default_rng(seed).standard_normal((batch, d_out, d_in)).astype(dtype)
    out = recipes.onto_oblique(layer)
    assert out.dtype == layer.dtype and out.shape == layer.shape
    rows = np.linalg.norm(out.astype(np.float64), axis=2)
    tol = 8 * np.finfo(dtype).eps
    np.testing.assert_allclose(rows, rows[:, :1] * np.ones_like(rows), rtol=tol)
    np.testing.assert_allclose(
        np.linalg.norm(out.astype(np.float64), axis=(1, 2)),
        np.linalg.norm(layer.astype(np.float64), axis=(1, 2)),
        rtol=tol * d_out,
    )
    # Each row keeps its direction: the rescaling is positive per row.
    cosine = np.einsum("bij,bij->bi", out, layer) / (rows * np.linalg.norm(layer, axis=2))
    np.testing.assert_allclose(cosine, 1.0, rtol=tol * d_in)


def test_onto_oblique_leaves_wide_orthogonal_draws_bit_for_bit():
    wide = dl.init.orthogonal([16, 8], batch=3, seed=[0, 1, 2], gain=1.3)[0]  # 8 × 16: wide
    assert recipes.onto_oblique(wide) is wide
    tall = dl.init.orthogonal([8, 16], batch=3, seed=[0, 1, 2], gain=1.3)[0]  # 16 × 8: tall
    out = recipes.onto_oblique(tall)
    assert out is not tall and not np.array_equal(out, tall)
    np.testing.assert_array_equal(recipes.onto_oblique(np.zeros((1, 3, 2))), np.zeros((1, 3, 2)))


def test_oblique_nets_with_a_tall_first_layer_start_on_their_manifold_and_train():
    """A 10 × 7 first layer (tall) on the Oblique manifold: the sweep's weights start on it
    (the engine refuses a start off it, naming the layer) and the nets train."""
    spec = SweepSpec.from_dict(
        small_spec(manifold="oblique_hidden", optimizer="adam", lr_rule="constant", lr=1e-3)
    )
    runs = [r for r in spec.runs() if r.width == 10 and r.depth == 2]  # gaussian, orthogonal
    initial = recipes.make_weights(runs)
    X, Y = recipes.make_data(runs[0])
    first = np.linalg.norm(initial.weights[0], axis=2)
    np.testing.assert_allclose(first, first[:, :1] * np.ones_like(first), rtol=1e-12)
    result = dl.train(initial.weights, X, Y, lr=1e-3, steps=5, optimizer="adam",
                      manifold=["oblique"] * (runs[0].depth - 1) + ["euclidean"])  # fmt: skip
    assert np.isfinite(result.final_loss).all()
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        raw = dl.init.orthogonal(runs[0].dims, batch=1, seed=0)
        dl.train(raw, X, Y, lr=1e-3, steps=1, manifold=["oblique"] * runs[0].depth)
