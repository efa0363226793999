"""The names a sweep may use for its ``init`` and ``data`` fields, and what each one builds.

A leaf of :mod:`deeplinear.sweep`: it depends on :mod:`deeplinear.init` and
:mod:`deeplinear.data` only, so the grid (which validates names against it) and the recipes
(which call the entries) both import it without importing each other.

The two registries are open: a preset or a user may add an entry
(``DATA_RECIPES["mine"] = fn``) and sweep files can then name it. An entry must be
deterministic in its arguments, because a run's key is a hash of its config, not of its arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import data as datasets
from .. import init
from ..errors import InvalidValueError, ShapeError

__all__ = [
    "DATA_RECIPES",
    "INITIALISERS",
    "DataRecipe",
    "DataRequest",
    "Initialiser",
    "MeanField",
    "critical_sigmas",
    "file_digest",
    "is_critical",
    "is_mean_field",
]


@dataclass(frozen=True)
class DataRequest:
    """What a data recipe is asked for: the shape fields of a run and its data source.

    Attributes:
        d_x, n, d_y: the run's input dimension, number of examples and output dimension.
        seed: the run's ``data_seed``.
        file: the run's ``data_file`` ("" when none), for recipes that read a user file.
        sha256: the run's ``data_sha256``: the file's expected digest ("" to skip the check).
        n_test: the run's held-out examples (``n_test``). A recipe returns either (X, Y) with
            :attr:`total` = n + n_test examples, which the sweep splits (seeded by ``seed``),
            or its own split (X, Y, X_test, Y_test) with n and n_test examples.
    """

    d_x: int
    n: int
    d_y: int
    seed: int = 0
    file: str = ""
    sha256: str = ""
    n_test: int = 0

    @property
    def total(self) -> int:
        """Examples asked for, training and held-out: n + n_test."""
        return self.n + self.n_test

    def expect(self, name: str, d_x: int, d_y: int, n: int | None = None) -> None:
        """Raise ValueError unless the run's d_x, d_y (and n + n_test, if ``n`` is given) are a
        data set's."""
        wanted = (d_x, self.total if n is None else n, d_y)
        if (self.d_x, self.total, self.d_y) != wanted:
            asked = f"n + n_test = {self.total}" if self.n_test else f"n = {self.n}"
            raise InvalidValueError(
                f"data: {name!r} has (d_x, n, d_y) = ({d_x}, {'n' if n is None else n}, {d_y}); "
                f"the run asks for d_x = {self.d_x}, {asked}, d_y = {self.d_y}"
            )


#: DataRequest -> (X (d_x, n + n_test), Y (d_y, n + n_test)) float64, or its own split
#: (X, Y, X_test, Y_test) with n and n_test examples; the loss of a run is ½‖f(X) − Y‖_F², and
#: classification recipes give one-hot Y (cross-entropy runs take its argmax as labels).
DataRecipe = Callable[[DataRequest], tuple[np.ndarray, ...]]
#: (dims, seeds (one per network), scale, dtype, threads) -> layers (batch, d_out, d_in).
Initialiser = Callable[[list[int], list[int], float, str, "int | None"], list[np.ndarray]]


# --- data recipes -----------------------------------------------------------------------------


def teacher(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """Hu et al. 2020's data: X (d_x × n) and a teacher W* (d_y × d_x), entries N(0, 1) drawn in
    that order from ``np.random.default_rng(seed)``, and Y = W* X."""
    rng = np.random.default_rng(request.seed)
    X = rng.standard_normal((request.d_x, request.total))
    teacher_weights = rng.standard_normal((request.d_y, request.d_x))
    return X, teacher_weights @ X


def _square(name: str, request: DataRequest) -> int:
    if not request.d_x == request.n == request.d_y:
        raise InvalidValueError(
            f"data: {name!r} is a target-matrix problem (X = I): needs d_x = n = d_y, got "
            f"({request.d_x}, {request.n}, {request.d_y})"
        )
    return request.d_x


def minus_identity(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """Target-matrix form X = I_d, Y = Φ = −I_d (Wu et al. 2019; needs d_x = n = d_y = d).
    Every eigenvalue is negative: a net started at the identity must cross a saddle."""
    d = _square("minus_identity", request)
    return np.eye(d), -np.eye(d)


def symmetric_negative(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """Target-matrix form X = I_d, Y = Φ = Q diag(λ) Qᵀ with Q Haar and λ evenly spaced in
    [−1, 1] from −1 (so ⌈d/2⌉ negative eigenvalues; seeded by ``data_seed``). A symmetric target
    with a negative eigenvalue is the case where identity init fails at even depth (Arora et
    al. 2019, Claim 5); needs d_x = n = d_y = d."""
    d = _square("symmetric_negative", request)
    rng = np.random.default_rng(request.seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # the sign fix that makes Q Haar
    eigenvalues = np.linspace(-1.0, 1.0, d) if d > 1 else np.array([-1.0])
    return np.eye(d), (q * eigenvalues) @ q.T


def _subset(name: str, request: DataRequest, total: int) -> np.ndarray:
    """Example indices: all of them in order when n + n_test = total, else a seeded subset."""
    count = request.total
    if not 1 <= count <= total:
        asked = f"n + n_test = {count}" if request.n_test else f"n = {count}"
        raise InvalidValueError(f"data: {name!r} has {total} examples; the run asks for {asked}")
    if count == total:
        return np.arange(total)
    return np.sort(np.random.default_rng(request.seed).permutation(total)[:count])


def digits(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as a squared-loss classification problem: X = pixels / 16
    (64 × n, entries in [0, 1]), Y one-hot (10 × n). n ≤ 1797 takes a subset seeded by
    ``data_seed`` (all 1797 in order when n = 1797)."""
    full = _shipped("digits")
    request.expect("digits", 64, 10)
    columns = _subset("digits", request, full.X.shape[1])
    return full.X[:, columns] / 16.0, datasets.one_hot(full.y[columns], 10)


def digits_standardised(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """:func:`digits` standardised the way Sokol & Park 2020 treat CIFAR-10's channels:
    (X − μ)/σ with μ and σ the mean and standard deviation of all pixels of all 1797 images
    (constants of the data set, as the paper's per-channel ones), so the mean squared input is
    about 1 (use ``input_scale = "q_star"`` to set it to q*)."""
    full = _shipped("digits")
    request.expect("digits_standardised", 64, 10)
    columns = _subset("digits_standardised", request, full.X.shape[1])
    pixels = full.X / 16.0
    X = (pixels[:, columns] - pixels.mean()) / pixels.std()
    return X, datasets.one_hot(full.y[columns], 10)


def diabetes(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes as regression: features and target standardised to zero mean and
    unit variance (10 × n, 1 × n). n ≤ 442 takes a subset seeded by ``data_seed``."""
    full = _shipped("diabetes")
    request.expect("diabetes", 10, 1)
    columns = _subset("diabetes", request, full.X.shape[1])
    X, y = full.X[:, columns], full.y[columns]
    X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    return X, ((y - y.mean()) / y.std())[None, :]


def _arora_form(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whiten (:func:`deeplinear.data.whiten`) and divide by √n, so that the library's summed
    loss ½‖W X' − Y'‖² equals the paper's mean loss (1/2n)‖W X_w − y‖² = ½‖W − Φ‖² + const."""
    X_w, y_w = datasets.whiten(X, y)
    scale = 1.0 / np.sqrt(X.shape[1])
    return X_w * scale, np.atleast_2d(y_w) * scale


def diabetes_whitened(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """Arora et al. 2019's preprocessing applied to the whole diabetes set (10 × 442, 1 × 442):
    whitened inputs, ‖Φ‖_F = 1, both divided by √n (see :func:`deeplinear.data.whiten`)."""
    full = _shipped("diabetes")
    request.expect("diabetes_whitened", 10, 1, 442)
    return _arora_form(full.X, full.y)


def npz_whitened(request: DataRequest) -> tuple[np.ndarray, np.ndarray]:
    """A user's ``.npz`` (``data_file``; see :func:`deeplinear.data.load_npz`) with real targets,
    preprocessed as :func:`diabetes_whitened` (e.g. the UCI gas-sensor "Ethanol" set of Arora
    et al.). Its (d_x, n, d_y) must match the run's, and its SHA-256 ``data_sha256`` if given."""
    if not request.file:
        raise InvalidValueError("data: 'npz_whitened' needs data_file (the path of the .npz file)")
    data = _file(request.file, request.sha256)
    if data.y.dtype.kind == "i":
        raise InvalidValueError(f"{request.file}: key 'y': Arora's regression needs real targets")
    y = np.atleast_2d(data.y)
    request.expect(f"npz_whitened ({request.file})", data.X.shape[0], len(y), data.X.shape[1])
    return _arora_form(data.X, y)


def _npz_classes(
    name: str, request: DataRequest, preprocess: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, ...]:
    """A user's classification ``.npz`` (integer labels), inputs through ``preprocess``,
    targets one-hot. Training examples: all of ``X`` in order when the run asks for all of
    them, else a subset seeded by ``data_seed``; held-out examples: the first n_test of the
    file's ``X_test`` when it has one, else a split of ``X`` (made by the sweep)."""
    if not request.file:
        raise InvalidValueError(f"data: {name!r} needs data_file (the path of the .npz file)")
    data = _file(request.file, request.sha256)
    classes = data.classes
    if classes is None:
        raise InvalidValueError(f"{request.file}: key 'y': {name!r} needs integer class labels")
    if (request.d_x, request.d_y) != (data.X.shape[0], classes):
        raise ShapeError(
            f"data: {name!r} ({request.file}) has d_x = {data.X.shape[0]} and {classes} "
            f"classes; the run asks for d_x = {request.d_x}, d_y = {request.d_y}"
        )
    if data.X_test is None or request.n_test == 0:
        columns = _subset(f"{name} ({request.file})", request, data.X.shape[1])
        return preprocess(data.X[:, columns]), datasets.one_hot(data.y[columns], classes)
    assert data.y_test is not None
    if request.n_test > data.X_test.shape[1]:
        raise ShapeError(
            f"data: {request.file} holds {data.X_test.shape[1]} test examples (X_test); the "
            f"run asks for n_test = {request.n_test}"
        )
    columns = _subset(
        f"{name} ({request.file})", dataclasses.replace(request, n_test=0), data.X.shape[1]
    )
    return (
        preprocess(data.X[:, columns]),
        datasets.one_hot(data.y[columns], classes),
        preprocess(data.X_test[:, : request.n_test]),
        datasets.one_hot(data.y_test[: request.n_test], classes),
    )


def npz_classes(request: DataRequest) -> tuple[np.ndarray, ...]:
    """A user's classification ``.npz`` (``data_file``; see :func:`deeplinear.data.load_npz`)
    with integer labels, inputs as stored (flattened), targets one-hot; its own test set
    serves ``n_test``."""
    return _npz_classes("npz_classes", request, lambda X: X)


def npz_pixels(request: DataRequest) -> tuple[np.ndarray, ...]:
    """:func:`npz_classes` with pixels divided by 255 and not centred (Huang et al. 2021's
    CIFAR-10 inputs)."""
    return _npz_classes("npz_pixels", request, lambda X: X / 255.0)


def npz_cifar10(request: DataRequest) -> tuple[np.ndarray, ...]:
    """:func:`npz_classes` for CIFAR-10 saved as (n, 32, 32, 3) images: /255 and per-channel
    standardisation with the paper's means and stds (Sokol & Park 2020; see
    :func:`deeplinear.data.cifar10_standardise`)."""
    return _npz_classes("npz_cifar10", request, datasets.cifar10_standardise)


@functools.lru_cache(maxsize=4)
def _shipped(name: str) -> datasets.Dataset:
    """A scikit-learn data set, loaded once per process."""
    return {"digits": datasets.digits, "diabetes": datasets.diabetes}[name]()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), for ``data_sha256``."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _file(path: str, sha256: str) -> datasets.Dataset:
    if sha256:
        actual = file_digest(path) if Path(path).is_file() else "(missing file)"
        if actual != sha256:
            raise InvalidValueError(
                f"data_file: {path} is not the file the sweep was planned with "
                f"(SHA-256 {actual[:16]}…, expected {sha256[:16]}…)"
            )
    return datasets.load_npz(path)


#: Data recipes by name (the ``data`` run field).
DATA_RECIPES: dict[str, DataRecipe] = {
    "teacher": teacher,
    "minus_identity": minus_identity,
    "symmetric_negative": symmetric_negative,
    "digits": digits,
    "digits_standardised": digits_standardised,
    "diabetes": diabetes,
    "diabetes_whitened": diabetes_whitened,
    "npz_whitened": npz_whitened,
    "npz_classes": npz_classes,
    "npz_pixels": npz_pixels,
    "npz_cifar10": npz_cifar10,
}


# --- initialisers -----------------------------------------------------------------------------


def _scaled(scheme: Callable[..., list[np.ndarray]], keyword: str | None) -> Initialiser:
    """An :data:`Initialiser` calling ``scheme`` with ``init_scale`` as ``keyword`` (None: the
    scheme has no scale and ignores ``init_scale``)."""

    def initialise(
        dims: list[int], seeds: list[int], scale: float, dtype: str, threads: int | None
    ) -> list[np.ndarray]:
        extra = {} if keyword is None else {keyword: scale}
        return scheme(dims, batch=len(seeds), seed=seeds, dtype=dtype, threads=threads, **extra)

    initialise.__doc__ = f"{scheme.__name__} with init_scale as {keyword or '(unused)'}"
    return initialise


@dataclass(frozen=True)
class MeanField:
    """A mean-field initialiser of an MLP (:func:`deeplinear.init.mean_field`): weights of
    scale σ_w, Gaussian or scaled Haar-orthogonal, and biases N(0, σ_b²). ``critical`` takes
    (σ_w, σ_b) from the run's q* (:func:`deeplinear.init.critical`) instead of its ``sigma_w``
    and ``sigma_b`` fields.

    Called as (dims, seeds, σ_w, σ_b, parameterization, dtype, threads) -> (weights, biases).
    """

    weights: str
    critical: bool = False

    def __call__(
        self,
        dims: list[int],
        seeds: list[int],
        sigma_w: float,
        sigma_b: float,
        parameterization: str,
        dtype: str,
        threads: int | None,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return init.mean_field(
            dims,
            batch=len(seeds),
            seed=seeds,
            sigma_w=sigma_w,
            sigma_b=sigma_b,
            weights=self.weights,
            parameterization=parameterization,
            dtype=dtype,
            threads=threads,
        )


def is_mean_field(name: str) -> bool:
    """Whether init scheme ``name`` draws weights and biases from (σ_w, σ_b)."""
    return isinstance(INITIALISERS.get(name), MeanField)


def is_critical(name: str) -> bool:
    """Whether init scheme ``name`` takes (σ_w, σ_b) from q* (a critical init)."""
    scheme = INITIALISERS.get(name)
    return isinstance(scheme, MeanField) and scheme.critical


def critical_sigmas(q_star: float) -> tuple[float, float]:
    """(σ_w, σ_b) of a critical tanh net with fixed point q* (see
    :func:`deeplinear.init.critical_sigmas`)."""
    return init.critical_sigmas(q_star)


#: Init schemes by name (the ``init`` run field). Weight-only schemes are :data:`Initialiser`
#: s, given ``init_scale`` as their scale: std (gaussian, balanced), gain (orthogonal), sigma
#: (near_identity), unused by the others. :class:`MeanField` schemes (mean_field_*,
#: critical_*) use ``sigma_w``, ``sigma_b`` or ``q_star`` and draw the biases too.
INITIALISERS: dict[str, Initialiser | MeanField] = {
    "gaussian": _scaled(init.gaussian, "std"),
    "orthogonal": _scaled(init.orthogonal, "gain"),
    "balanced": _scaled(init.balanced, "std"),
    "near_identity": _scaled(init.near_identity, "sigma"),
    "identity": _scaled(init.identity, None),
    "zas": _scaled(init.zas, None),
    "xavier": _scaled(init.xavier, None),
    "he": _scaled(init.he, None),
    "lecun": _scaled(init.lecun, None),
    "mean_field_gaussian": MeanField("gaussian"),
    "mean_field_orthogonal": MeanField("orthogonal"),
    "critical_gaussian": MeanField("gaussian", critical=True),
    "critical_orthogonal": MeanField("orthogonal", critical=True),
}
