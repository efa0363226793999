"""Data sets and the papers' preprocessing, in this library's layout.

Layout: inputs ``X`` are (d, n) with **one example per column** (as :func:`deeplinear.train`
takes them); class labels ``y`` are (n,) integers; real targets are (n,) for one output or
(k, n) for k outputs. Files and scikit-learn hold examples in rows; the loaders transpose.

* :func:`digits`, :func:`diabetes`: scikit-learn's shipped copies (nothing is downloaded;
  needs scikit-learn, in the ``sweep`` extra).
* :func:`load_npz`: a user's ``.npz`` file with ``X``, ``y`` and optionally ``X_test``,
  ``y_test`` (examples along the first axis), checked key by key.
* Preprocessing as in the papers: :func:`cifar10_standardise` (Sokol & Park 2020),
  :func:`scale_to_q_star` (mean squared input = q*), :func:`whiten` (Arora et al. 2019),
  :func:`split` (seeded train/test split) and :func:`one_hot` (targets for the squared loss).

Example:
    >>> import deeplinear as dl, numpy as np
    >>> data = dl.data.diabetes()
    >>> data.X.shape, data.y.shape
    ((10, 442), (442,))
    >>> X, Y = dl.data.whiten(data.X, data.y)
    >>> bool(abs((X @ X.T / X.shape[1]) - np.eye(10)).max() < 1e-9)
    True
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ArgumentTypeError, InvalidValueError, ShapeError

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "Dataset",
    "cifar10_standardise",
    "diabetes",
    "digits",
    "load_npz",
    "one_hot",
    "scale_to_q_star",
    "split",
    "whiten",
]

#: Per-channel (R, G, B) mean and standard deviation of the CIFAR-10 training images after /255,
#: as used by Sokol & Park 2020 (their ``ops/transformsParams.py``).
CIFAR10_MEAN = (0.49137255, 0.48235294, 0.44666667)
CIFAR10_STD = (0.24705882, 0.24352941, 0.26156863)


@dataclass(frozen=True)
class Dataset:
    """Arrays in the library's layout.

    Attributes:
        X: (d, n) float64 inputs, one example per column.
        y: (n,) int64 class labels, or float64 targets (n,) or (k, n).
        X_test, y_test: a held-out set in the same layout, or None.
        name: where the data came from (a file path or a data set name).
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    name: str = ""

    @property
    def classes(self) -> int | None:
        """Number of classes (max label + 1) for integer labels, else None."""
        if self.y.dtype.kind != "i":
            return None
        labels = [self.y] + ([] if self.y_test is None else [self.y_test])
        return int(max(int(a.max()) for a in labels)) + 1


def _sklearn_datasets() -> Any:
    try:
        from sklearn import datasets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "deeplinear.data: scikit-learn is needed for the shipped data sets; "
            "install it with pip install 'deeplinear[sweep]'"
        ) from err
    return datasets


def digits() -> Dataset:
    """scikit-learn's handwritten digits: X (64, 1797) pixel intensities 0…16 (8×8 images
    flattened row by row), y (1797,) labels 0…9. Returned unscaled; see :func:`one_hot`."""
    bunch = _sklearn_datasets().load_digits()
    return Dataset(
        X=np.ascontiguousarray(bunch.data.T, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        name="digits",
    )


def diabetes() -> Dataset:
    """scikit-learn's diabetes regression set, unscaled: X (10, 442) (age, sex, BMI, blood
    pressure and six blood serum measurements), y (442,) disease progression after one year."""
    bunch = _sklearn_datasets().load_diabetes(scaled=False)
    return Dataset(
        X=np.ascontiguousarray(bunch.data.T, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.float64),
        name="diabetes",
    )


# --- user files -------------------------------------------------------------------------------


def _examples(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """Checked (n, ...) inputs from a file → (d, n) float64."""
    if array.dtype.kind not in "biuf":
        raise InvalidValueError(
            f"{path}: key {key!r}: expected a numeric array, got dtype {array.dtype}"
        )
    if array.ndim < 2:
        raise ShapeError(
            f"{path}: key {key!r}: expected shape (n, features...) with one example per row, "
            f"got shape {array.shape}"
        )
    if array.shape[0] == 0 or math.prod(array.shape[1:]) == 0:
        raise ShapeError(f"{path}: key {key!r}: empty array of shape {array.shape}")
    flat = array.reshape(array.shape[0], -1).astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(flat)))
    if bad:
        raise InvalidValueError(f"{path}: key {key!r}: {bad} non-finite value(s) (NaN or inf)")
    return np.ascontiguousarray(flat.T)


def _targets(path: Path, key: str, array: np.ndarray, n: int) -> np.ndarray:
    """Checked labels (n,) int64 or targets (n,) / (n, k) float64 → (n,) or (k, n)."""
    if array.dtype.kind not in "biuf":
        raise InvalidValueError(
            f"{path}: key {key!r}: expected a numeric array, got dtype {array.dtype}"
        )
    if array.ndim not in (1, 2) or array.shape[0] != n:
        raise ShapeError(
            f"{path}: key {key!r}: expected shape ({n},) or ({n}, k) to match the {n} examples "
            f"of {'X' if key == 'y' else 'X_test'}, got shape {array.shape}"
        )
    if array.dtype.kind in "biu":
        if array.ndim != 1:
            raise ShapeError(
                f"{path}: key {key!r}: integer labels must have shape ({n},), got {array.shape}"
            )
        if array.size and int(array.min()) < 0:
            raise InvalidValueError(
                f"{path}: key {key!r}: labels must be ≥ 0, got minimum {int(array.min())}"
            )
        return array.astype(np.int64)
    values = array.astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise InvalidValueError(f"{path}: key {key!r}: {bad} non-finite value(s) (NaN or inf)")
    return values if values.ndim == 1 else np.ascontiguousarray(values.T)


def load_npz(path: str | Path, *, classes: int | None = None) -> Dataset:
    """Load a user's data set from an ``.npz`` file (e.g. CIFAR-10 or MNIST saved by hand).

    The file holds ``X`` (n, features...) with one example per row (images may keep their
    shape, e.g. (n, 32, 32, 3); they are flattened in C order), ``y`` (n,) integer labels or
    real targets (n,) / (n, k), and optionally ``X_test`` and ``y_test`` (both or neither)
    in the same form. Nothing else is read, and nothing is unpickled.

    Args:
        path: the file.
        classes: for integer labels, the number of classes; every label of ``y`` and
            ``y_test`` must be in [0, classes). Default: ``y_test`` labels must lie in the range
            of ``y``'s.

    Returns:
        A :class:`Dataset` with X (d, n) float64 and y as described in the module doc.

    Raises:
        ValueError: the file cannot be read, or a key is missing, has the wrong shape, holds
            non-finite values or labels out of range; the message names the file and the key.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError as err:
        raise InvalidValueError(f"{path}: no such file") from err
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InvalidValueError(f"{path}: not a readable .npz file ({err})") from err
    for key in ("X", "y"):
        if key not in arrays:
            raise InvalidValueError(
                f"{path}: missing key {key!r} (the file holds {', '.join(sorted(arrays)) or '—'}; "
                "expected X, y and optionally X_test, y_test)"
            )
    if ("X_test" in arrays) != ("y_test" in arrays):
        missing = "y_test" if "X_test" in arrays else "X_test"
        raise InvalidValueError(
            f"{path}: missing key {missing!r} (give X_test and y_test together)"
        )
    X = _examples(path, "X", arrays["X"])
    y = _targets(path, "y", arrays["y"], X.shape[1])
    X_test = y_test = None
    if "X_test" in arrays:
        raw = arrays["X_test"]
        if raw.shape[1:] != arrays["X"].shape[1:]:
            raise ShapeError(
                f"{path}: key 'X_test': examples of shape {raw.shape[1:]} do not match X's "
                f"{arrays['X'].shape[1:]}"
            )
        X_test = _examples(path, "X_test", raw)
        y_test = _targets(path, "y_test", arrays["y_test"], X_test.shape[1])
        if (y_test.dtype.kind == "i") != (y.dtype.kind == "i") or y_test.shape[:-1] != y.shape[:-1]:
            raise ShapeError(
                f"{path}: key 'y_test': {y_test.dtype} of shape {y_test.shape} does not match "
                f"y's {y.dtype} of shape {y.shape}"
            )
    if y.dtype.kind == "i":
        limit = classes if classes is not None else int(y.max()) + 1
        for key, labels in (("y", y), ("y_test", y_test)):
            if labels is not None and labels.size and int(labels.max()) >= limit:
                raise InvalidValueError(
                    f"{path}: key {key!r}: label {int(labels.max())} out of range; expected "
                    f"labels in [0, {limit})"
                    + ("" if classes is not None else " (the range of y's labels)")
                )
    elif classes is not None:
        raise InvalidValueError(
            f"{path}: key 'y': classes={classes} given but y holds real targets"
        )
    return Dataset(X, y, X_test, y_test, name=str(path))


# --- preprocessing ----------------------------------------------------------------------------


def _matrix(name: str, X: Any) -> np.ndarray:
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"{name}: expected a real array, got dtype {array.dtype}")
    if array.ndim != 2 or 0 in array.shape:
        raise ShapeError(f"{name}: expected a non-empty (d, n) array, got shape {array.shape}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise InvalidValueError(f"{name}: holds non-finite values")
    return values


def cifar10_standardise(X: Any, *, layout: str = "hwc") -> np.ndarray:
    """CIFAR-10 preprocessing of Sokol & Park 2020: pixels / 255, then per channel
    (x − mean_c) / std_c with :data:`CIFAR10_MEAN` and :data:`CIFAR10_STD`.

    Args:
        X: (3072, n) raw pixel values 0…255, one flattened 32×32×3 image per column.
        layout: how each column was flattened: "hwc" (height, width, channel: images saved as
            (n, 32, 32, 3), as torchvision's ``CIFAR10.data`` and Keras give them) or "chw"
            (the channel-major rows of the original CIFAR-10 batches).

    Returns:
        (3072, n) float64.
    """
    values = _matrix("X", X)
    if values.shape[0] != 3072:
        raise ShapeError(f"X: expected 3072 rows (32×32×3 pixels), got {values.shape[0]}")
    if layout == "hwc":
        channel = np.arange(3072) % 3
    elif layout == "chw":
        channel = np.arange(3072) // 1024
    else:
        raise InvalidValueError(f"layout: expected 'hwc' or 'chw', got {layout!r}")
    mean = np.asarray(CIFAR10_MEAN)[channel][:, None]
    std = np.asarray(CIFAR10_STD)[channel][:, None]
    result: np.ndarray = (values / 255.0 - mean) / std
    return result


def scale_to_q_star(X: Any, q_star: float, *, mean_square: float | None = None) -> np.ndarray:
    """Scale inputs so that their mean squared entry equals q* (Sokol & Park 2020: the input
    then sits at the fixed point of the critical tanh network's variance map).

    Args:
        X: (d, n) inputs.
        q_star: the target mean square (finite, > 0).
        mean_square: the mean squared entry to divide by; default: that of ``X`` itself (the
            paper uses a constant measured on the whole training set, 0.99985631921269 for
            standardised CIFAR-10).

    Returns:
        X · √(q* / mean_square), float64.
    """
    values = _matrix("X", X)
    if not (isinstance(q_star, (int, float)) and math.isfinite(q_star) and q_star > 0):
        raise InvalidValueError(f"q_star: expected a finite number > 0, got {q_star!r}")
    average = float(np.mean(values**2)) if mean_square is None else float(mean_square)
    if not (math.isfinite(average) and average > 0):
        raise InvalidValueError(f"mean_square: expected a finite number > 0, got {average!r}")
    result: np.ndarray = values * math.sqrt(q_star / average)
    return result


def whiten(X: Any, Y: Any, *, rcond: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Arora et al. 2019's preprocessing: PCA-whiten the inputs, then rescale the targets so
    that the cross-covariance Φ = Λ_yx = (1/n)·Y·X_wᵀ has unit Frobenius norm.

    Whitening is the affine map X_w = Λ^{-1/2} Uᵀ (X − μ), with μ the mean example and
    (1/n)(X − μ)(X − μ)ᵀ = U Λ Uᵀ, so that X_w has zero mean and (1/n) X_w X_wᵀ = I. Then the
    mean squared loss (1/2n)‖W X_w − Y‖² equals ½‖W − Φ‖_F² plus a constant.

    Args:
        X: (d, n) inputs, n > d.
        Y: (n,) targets or (k, n); returned in the same shape, divided by ‖Λ_yx‖_F.
        rcond: covariance eigenvalues below rcond·(largest) mean a constant or linearly
            dependent feature, which cannot be whitened (ValueError).

    Returns:
        (X_w, Y_scaled), float64.
    """
    values = _matrix("X", X)
    d, n = values.shape
    targets = np.asarray(Y, dtype=np.float64)
    if targets.ndim not in (1, 2) or targets.shape[-1] != n:
        raise ShapeError(f"Y: expected shape ({n},) or (k, {n}) to match X, got {targets.shape}")
    if not np.isfinite(targets).all():
        raise InvalidValueError("Y: holds non-finite values")
    if n <= d:
        raise InvalidValueError(
            f"X: whitening needs more examples than features, got (d, n) = {d, n}"
        )
    centred = values - values.mean(axis=1, keepdims=True)
    eigenvalues, eigenvectors = np.linalg.eigh(centred @ centred.T / n)
    if eigenvalues[0] <= rcond * eigenvalues[-1]:
        raise InvalidValueError(
            f"X: the feature covariance is singular (eigenvalue {eigenvalues[0]:.3g} against "
            f"{eigenvalues[-1]:.3g}): a constant or linearly dependent feature cannot be whitened"
        )
    whitened = (eigenvectors / np.sqrt(eigenvalues)).T @ centred
    phi = np.atleast_2d(targets) @ whitened.T / n
    norm = float(np.linalg.norm(phi))
    if norm == 0.0:
        raise InvalidValueError(
            "Y: uncorrelated with every feature (Λ_yx = 0); cannot scale to ‖Φ‖ = 1"
        )
    return whitened, targets / norm


def one_hot(y: Any, classes: int | None = None) -> np.ndarray:
    """(n,) integer labels → (classes, n) float64 one-hot targets (for the squared loss)."""
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ShapeError(f"y: expected (n,) integer labels, got {labels.dtype} {labels.shape}")
    count = int(labels.max()) + 1 if classes is None else int(classes)
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= count):
        raise InvalidValueError(
            f"y: labels must be in [0, {count}), got {labels.min()}…{labels.max()}"
        )
    out = np.zeros((count, labels.size))
    out[labels, np.arange(labels.size)] = 1.0
    return out


def split(data: Dataset, *, test: int | float = 0.2, seed: int = 0) -> Dataset:
    """A seeded random train/test split of ``data`` (which must not have a test set yet).

    Args:
        test: the test set: a fraction in (0, 1) of the examples, or a count in [1, n).
        seed: the permutation's seed (``np.random.default_rng(seed)``).
    """
    if data.X_test is not None:
        raise InvalidValueError(f"data: {data.name or 'the data set'} already has a test set")
    n = data.X.shape[1]
    if isinstance(test, bool):
        raise ArgumentTypeError(f"test: expected a fraction or a count, got {test!r}")
    if isinstance(test, float):
        if not 0.0 < test < 1.0:
            raise InvalidValueError(f"test: a fraction must be in (0, 1), got {test}")
        count = max(1, round(test * n))
    else:
        count = int(test)
    if not 1 <= count < n:
        raise InvalidValueError(f"test: needs between 1 and {n - 1} test examples, got {count}")
    order = np.random.default_rng(seed).permutation(n)
    held, kept = np.sort(order[:count]), np.sort(order[count:])
    return Dataset(
        X=data.X[:, kept],
        y=data.y[..., kept],
        X_test=data.X[:, held],
        y_test=data.y[..., held],
        name=data.name,
    )
