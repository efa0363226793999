"""Type stubs of the Rust extension. Call the public wrappers in deeplinear, not these."""

from typing import Any

import numpy as np

from .options import TrainOptions

__version__: str

class DeeplinearError(Exception): ...
class ShapeError(DeeplinearError, ValueError): ...
class InvalidValueError(DeeplinearError, ValueError): ...
class ArgumentTypeError(DeeplinearError, TypeError): ...
class NoConvergenceError(DeeplinearError, np.linalg.LinAlgError): ...
class OutOfMemoryError(MemoryError, DeeplinearError): ...

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

class RawTrainState:
    optimizer: str
    step: np.ndarray
    data_seed: np.ndarray
    batch_size: int | None
    n: int
    scales: np.ndarray | None
    slots: list[np.ndarray]
    slot_names: list[str]

class RawTrainOutput:
    weights: list[np.ndarray]
    biases: list[np.ndarray | None]
    loss: np.ndarray
    final_loss: np.ndarray
    steps_to_tol: np.ndarray
    steps_to_accuracy: np.ndarray
    diverged: np.ndarray
    records: list[tuple[str, np.ndarray]]
    state: RawTrainState

def train(
    weights: list[np.ndarray],
    x: np.ndarray | None,
    y: np.ndarray,
    options: TrainOptions,
    *,
    biases: list[np.ndarray | None] | None = None,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    state: Any = None,
    record_data: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> RawTrainOutput: ...
def metric_singular_values(
    weights: list[np.ndarray], *, alpha: float, threads: int | None = None
) -> np.ndarray: ...
def metric_partial_product_singular_values(
    weights: list[np.ndarray], i: int, j: int, *, threads: int | None = None
) -> np.ndarray: ...
def metric_balancedness(weights: list[np.ndarray], *, threads: int | None = None) -> np.ndarray: ...
def metric_deficiency_margin(
    weights: list[np.ndarray],
    phi: np.ndarray,
    *,
    alpha: float,
    threads: int | None = None,
) -> np.ndarray: ...
def metric_relative_weight_change(
    w0: list[np.ndarray], w1: list[np.ndarray], *, threads: int | None = None
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
    threads: int | None = None,
) -> np.ndarray: ...
def metric_fisher(
    weights: list[np.ndarray],
    x: np.ndarray,
    *,
    alpha: float,
    activation: str,
    parameterization: str,
    sigma_w: float,
    biases: list[np.ndarray] | None,
    loss: str,
    fisher: str,
    labels: np.ndarray | None,
    k: int,
    params: str,
    method: str,
    threads: int | None = None,
) -> np.ndarray: ...
def metric_jacobian_max_singular_value(
    weights: list[np.ndarray],
    x: np.ndarray,
    *,
    alpha: float,
    activation: str,
    parameterization: str,
    sigma_w: float,
    biases: list[np.ndarray] | None,
    iterations: int | None,
    tol: float,
    threads: int | None = None,
) -> tuple[np.ndarray, int]: ...
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
