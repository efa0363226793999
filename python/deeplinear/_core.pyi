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
def train(
    weights: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    lr: float | list[float],
    steps: int,
    alpha: float,
    tol: float | None,
    record_every: int,
    dtype: str,
    threads: int | None = None,
) -> dict[str, Any]: ...
