"""dl.data: shipped data sets, user .npz files (round trips and bad files), preprocessing checked
against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import data

# --- shipped data sets -------------------------------------------------------------------------


def test_digits_and_diabetes_are_in_the_library_layout():
    from sklearn import datasets

    digits = data.digits()
    raw = datasets.load_digits()
    assert digits.X.shape == (64, 1797) and digits.y.shape == (1797,)
    assert digits.y.dtype == np.int64 and set(np.unique(digits.y)) == set(range(10))
    np.testing.assert_array_equal(digits.X[:, 5], raw.data[5])  # one example per column
    assert digits.classes == 10
    diabetes = data.diabetes()
    raw = datasets.load_diabetes(scaled=False)
    assert diabetes.X.shape == (10, 442) and diabetes.y.dtype == np.float64
    np.testing.assert_array_equal(diabetes.X[:, 7], raw.data[7])
    np.testing.assert_array_equal(diabetes.y, raw.target)
    assert diabetes.classes is None
    assert dl.data is data


# --- user files ----------------------------------------------------------------------------


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_round_trip_with_images_and_a_test_set(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 4, 4, 3), dtype=np.uint8)
    labels = np.array([0, 2, 1, 2, 0, 1])
    test_images = rng.integers(0, 256, size=(3, 4, 4, 3), dtype=np.uint8)
    path = _save(tmp_path / "d.npz", X=images, y=labels, X_test=test_images, y_test=[2, 0, 1])
    loaded = data.load_npz(path)
    assert loaded.X.shape == (48, 6) and loaded.X.dtype == np.float64
    np.testing.assert_array_equal(loaded.X[:, 4], images[4].ravel())
    np.testing.assert_array_equal(loaded.y, labels)
    assert loaded.X_test.shape == (48, 3) and list(loaded.y_test) == [2, 0, 1]
    assert loaded.classes == 3 and loaded.name == str(path)


def test_npz_real_targets_one_and_several_outputs(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    loaded = data.load_npz(_save(tmp_path / "a.npz", X=X, y=[0.5, 1.5, 2.5, 3.5]))
    np.testing.assert_array_equal(loaded.X, X.T)
    assert loaded.y.dtype == np.float64 and loaded.y.shape == (4,)
    targets = np.arange(8.0).reshape(4, 2)
    loaded = data.load_npz(_save(tmp_path / "b.npz", X=X, y=targets))
    np.testing.assert_array_equal(loaded.y, targets.T)  # (k, n)


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"y": [0, 1]}, "missing key 'X'"),
        ({"X": np.ones((2, 3))}, "missing key 'y'"),
        ({"X": np.ones((2, 3)), "y": [0, 1], "X_test": np.ones((1, 3))}, "missing key 'y_test'"),
        ({"X": np.ones(3), "y": [0, 1, 2]}, "key 'X': expected shape (n, features...)"),
        ({"X": np.ones((2, 3)), "y": [0, 1, 1]}, "key 'y': expected shape (2,)"),
        ({"X": np.ones((0, 3)), "y": np.zeros(0)}, "key 'X': empty array"),
        ({"X": [[1.0, np.nan], [0.0, 1.0]], "y": [0, 1]}, "key 'X': 1 non-finite value"),
        ({"X": np.ones((2, 2)), "y": [0.5, np.inf]}, "key 'y': 1 non-finite value"),
        ({"X": np.ones((2, 2)), "y": [0, -1]}, "key 'y': labels must be ≥ 0"),
        ({"X": np.array([["a", "b"]]), "y": [0]}, "key 'X': expected a numeric array"),
        (
            {"X": np.ones((2, 2)), "y": [0, 1], "X_test": np.ones((1, 3)), "y_test": [0]},
            "key 'X_test': examples of shape (3,) do not match",
        ),
        (
            {"X": np.ones((2, 2)), "y": [0, 1], "X_test": np.ones((1, 2)), "y_test": [5]},
            "key 'y_test': label 5 out of range",
        ),
        (
            {"X": np.ones((2, 2)), "y": [0, 1], "X_test": np.ones((1, 2)), "y_test": [0.5]},
            "key 'y_test'",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path, arrays, needle):
    path = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="bad.npz") as info:
        data.load_npz(path)
    assert needle in str(info.value)


def test_unreadable_files_and_label_ranges(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        data.load_npz(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz file"):
        data.load_npz(junk)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.ones((2, 2)), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):
        data.load_npz(pickled)
    ok = _save(tmp_path / "ok.npz", X=np.ones((3, 2)), y=[0, 1, 2])
    assert data.load_npz(ok, classes=10).classes == 3
    with pytest.raises(ValueError, match=r"label 2 out of range; expected labels in \[0, 2\)"):
        data.load_npz(ok, classes=2)
    real = _save(tmp_path / "real.npz", X=np.ones((3, 2)), y=[0.1, 1.0, 2.0])
    with pytest.raises(ValueError, match="holds real targets"):
        data.load_npz(real, classes=3)


# --- preprocessing -----------------------------------------------------------------------------


def test_cifar10_standardise_by_hand():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.float64)
    X = images.reshape(2, -1).T  # hwc columns, as load_npz gives them
    out = data.cifar10_standardise(X)
    # pixel (row 5, column 7) of image 1, blue channel
    raw = images[1, 5, 7, 2]
    expected = (raw / 255 - 0.44666667) / 0.26156863
    assert out[(5 * 32 + 7) * 3 + 2, 1] == pytest.approx(expected, rel=1e-15)
    chw = images.transpose(0, 3, 1, 2).reshape(2, -1).T  # channel-major rows
    out_chw = data.cifar10_standardise(chw, layout="chw")
    assert out_chw[2 * 1024 + 5 * 32 + 7, 1] == pytest.approx(expected, rel=1e-15)
    with pytest.raises(ValueError, match="3072 rows"):
        data.cifar10_standardise(np.ones((3071, 2)))
    with pytest.raises(ValueError, match="layout"):
        data.cifar10_standardise(X, layout="whc")


def test_scale_to_q_star_by_hand():
    X = np.array([[1.0, -2.0], [3.0, 0.0]])  # mean square (1 + 4 + 9 + 0)/4 = 3.5
    out = data.scale_to_q_star(X, 1 / 64)
    np.testing.assert_allclose(out, X * np.sqrt((1 / 64) / 3.5), rtol=1e-15)
    assert np.mean(out**2) == pytest.approx(1 / 64, rel=1e-14)
    fixed = data.scale_to_q_star(X, 0.5, mean_square=2.0)
    np.testing.assert_allclose(fixed, X * 0.5, rtol=1e-15)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="q_star"):
            data.scale_to_q_star(X, bad)


def test_whiten_by_hand_and_its_properties():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 50)) * np.array([[1.0], [5.0], [0.2]]) + 7.0
    X[1] += 2 * X[0]  # correlated features
    y = rng.standard_normal(50) + 3.0
    Xw, yw = data.whiten(X, y)
    n = X.shape[1]
    np.testing.assert_allclose(Xw.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(Xw @ Xw.T / n, np.eye(3), atol=1e-12)
    phi = yw @ Xw.T / n
    assert np.linalg.norm(phi) == pytest.approx(1.0, rel=1e-12)
    # By hand: Λ^{-1/2}Uᵀ(X − μ) with the eigen-decomposition of the covariance.
    centred = X - X.mean(axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(centred @ centred.T / n)
    by_hand = np.diag(values**-0.5) @ vectors.T @ centred
    np.testing.assert_allclose(Xw, by_hand, atol=1e-10)
    scale = np.linalg.norm(y @ by_hand.T / n)
    np.testing.assert_allclose(yw, y / scale, rtol=1e-12)
    Xw2, Y2 = data.whiten(X, y[None, :])  # (k, n) targets keep their shape
    assert Y2.shape == (1, 50)
    with pytest.raises(ValueError, match="singular"):
        data.whiten(np.vstack([X, X[:1]]), y)
    with pytest.raises(ValueError, match="more examples than features"):
        data.whiten(X[:, :3], y[:3])
    with pytest.raises(ValueError, match="Y: expected shape"):
        data.whiten(X, y[:10])


def test_one_hot_and_split():
    np.testing.assert_array_equal(data.one_hot([2, 0, 1]), np.eye(3)[:, [2, 0, 1]])
    assert data.one_hot([0, 1], classes=4).shape == (4, 2)
    with pytest.raises(ValueError, match="labels must be in"):
        data.one_hot([0, 5], classes=3)
    full = data.Dataset(X=np.arange(20.0).reshape(2, 10), y=np.arange(10))
    part = data.split(full, test=0.3, seed=4)
    assert part.X.shape == (2, 7) and part.X_test.shape == (2, 3)
    assert sorted([*part.y, *part.y_test]) == list(range(10))
    np.testing.assert_array_equal(part.X[0], part.y)  # columns stay with their labels
    np.testing.assert_array_equal(part.X_test[1], part.y_test + 10.0)
    again = data.split(full, test=3, seed=4)
    np.testing.assert_array_equal(again.y_test, part.y_test)  # seeded
    assert not np.array_equal(data.split(full, test=3, seed=5).y_test, part.y_test)
    for bad in (0.0, 1.0, 0, 10):
        with pytest.raises(ValueError, match="test"):
            data.split(full, test=bad)
    with pytest.raises(ValueError, match="already has a test set"):
        data.split(part)
