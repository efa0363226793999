"""The losses of ``deeplinear.train`` for one network, in NumPy: value, output signal, accuracy.

``z`` is the last pre-activation (d_L, m) and ``f = alpha * z`` the network's output. ``mse``:
``0.5 * ||f_i - y_i||**2`` per example. ``cross_entropy``: ``-log softmax(f_i)[y_i]`` per example,
evaluated in float64 as ``max f + log(sum exp(f - max f)) - f[y]``. The reduction multiplies the
per-example sum by ``scale`` (1 for "sum", 1/m for "mean").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["accuracy_count", "loss_and_signal"]


def loss_and_signal(
    kind: str, z: NDArray[np.floating], targets: NDArray[Any], alpha: float, scale: float
) -> tuple[float, NDArray[np.floating]]:
    """The unscaled per-example loss sum and ``dl/dz`` of ``scale * sum``, in z's dtype."""
    dtype = z.dtype.type
    f = dtype(alpha) * z
    c = dtype(scale) * dtype(alpha)
    if kind == "mse":
        e = f - targets
        return float(0.5 * np.sum(e.astype(np.float64) ** 2)), c * e
    f64 = f.astype(np.float64)
    top = f64.max(axis=0)
    shifted = np.exp(f64 - top)
    total = shifted.sum(axis=0)
    columns = np.arange(z.shape[1])
    raw = float(np.sum(top + np.log(total) - f64[targets, columns]))
    p = shifted / total
    p[targets, columns] -= 1.0
    return raw, c * p.astype(z.dtype)


def accuracy_count(kind: str, z: NDArray[np.floating], targets: NDArray[Any], alpha: float) -> int:
    """Examples whose argmax output is the label (MSE: the argmax of the one-hot target)."""
    predicted = np.argmax(z.dtype.type(alpha) * z, axis=0)
    labels = targets if kind == "cross_entropy" else np.argmax(targets, axis=0)
    return int(np.sum(predicted == labels))
