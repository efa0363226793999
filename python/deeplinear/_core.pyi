"""Type stubs of the Rust extension. Call the public wrappers in deeplinear, not these."""

from typing import Any

import numpy as np

__version__: str

def haar_orthogonal(
    rows: int,
    cols: int,
    batch: int,
    seed: int | list[int],
    dtype: str,
    threads: int | None = None,
) -> np.ndarray: ...
def init_gaussian(
    dims: list[int],
    batch: int,
    seed: int | list[int],
    std: float,
    dtype: str,
    threads: int | None = None,
) -> list[np.ndarray]: ...
def init_orthogonal(
    dims: list[int],
    batch: int,
    seed: int | list[int],
    gain: float,
    dtype: str,
    threads: int | None = None,
) -> list[np.ndarray]: ...
def init_xavier(
    dims: list[int], batch: int, seed: int | list[int], dtype: str, threads: int | None = None
) -> list[np.ndarray]: ...
def init_he(
    dims: list[int], batch: int, seed: int | list[int], dtype: str, threads: int | None = None
) -> list[np.ndarray]: ...
def init_lecun(
    dims: list[int], batch: int, seed: int | list[int], dtype: str, threads: int | None = None
) -> list[np.ndarray]: ...
def init_identity(
    dims: list[int], batch: int, dtype: str, threads: int | None = None
) -> list[np.ndarray]: ...
def init_near_identity(
    dims: list[int],
    batch: int,
    seed: int | list[int],
    sigma: float,
    dtype: str,
    threads: int | None = None,
) -> list[np.ndarray]: ...
def init_zas(
    dims: list[int], batch: int, dtype: str, threads: int | None = None
) -> list[np.ndarray]: ...
def init_balanced(
    dims: list[int],
    batch: int,
    seed: int | list[int],
    std: float,
    product: np.ndarray | None,
    randomize: bool,
    dtype: str,
    threads: int | None = None,
) -> list[np.ndarray]: ...
def init_mean_field(
    dims: list[int],
    batch: int,
    seed: int | list[int],
    sigma_w: float,
    sigma_b: float,
    weights: str,
    ntk: bool,
    dtype: str,
    threads: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]: ...
def critical_sigmas(q_star: float) -> tuple[float, float]: ...
def max_threads() -> int: ...
def train(
    weights: list[np.ndarray],
    x: np.ndarray | None,
    y: np.ndarray,
    *,
    lr: float | list[float],
    steps: int,
    alpha: float,
    tol: float | None,
    record_every: int,
    dtype: str,
    threads: int | None = None,
    biases: list[np.ndarray | None] | None = None,
    activation: str = "linear",
    parameterization: str = "standard",
    sigma_w: float = 1.0,
    record: list[str] = ...,
    manifold: str = "euclidean",
) -> dict[str, Any]: ...
def metric_singular_values(
    weights: list[np.ndarray], *, alpha: float, dtype: str, threads: int | None = None
) -> np.ndarray: ...
def metric_partial_product_singular_values(
    weights: list[np.ndarray], i: int, j: int, *, dtype: str, threads: int | None = None
) -> np.ndarray: ...
def metric_balancedness(
    weights: list[np.ndarray], *, dtype: str, threads: int | None = None
) -> np.ndarray: ...
def metric_deficiency_margin(
    weights: list[np.ndarray],
    phi: np.ndarray,
    *,
    alpha: float,
    dtype: str,
    threads: int | None = None,
) -> np.ndarray: ...
def metric_relative_weight_change(
    w0: list[np.ndarray], w1: list[np.ndarray], *, dtype: str, threads: int | None = None
) -> np.ndarray: ...
def metric_network(
    weights: list[np.ndarray],
    x: np.ndarray,
    *,
    quantity: str,
    alpha: float,
    activation: str,
    parameterization: str,
    sigma_w: float,
    biases: list[np.ndarray] | None,
    method: str = "auto",
    dtype: str,
    threads: int | None = None,
) -> np.ndarray: ...
def metric_ntk_relative_change(
    w0: list[np.ndarray],
    w1: list[np.ndarray],
    x: np.ndarray,
    *,
    alpha: float,
    activation: str,
    parameterization: str,
    sigma_w: float,
    biases0: list[np.ndarray] | None,
    biases1: list[np.ndarray] | None,
    dtype: str,
    threads: int | None = None,
) -> np.ndarray: ...
def _activation(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def infinite_width_kernel(
    dims: list[int],
    x1: np.ndarray,
    x2: np.ndarray | None = None,
    *,
    kernel: str,
    activation: str,
    parameterization: str,
    sigma_w: float,
    sigma_b: float | None,
    alpha: float,
    method: str,
    threads: int | None = None,
) -> np.ndarray: ...
