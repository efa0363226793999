"""The reference training loop's extras: recorded diagnostics and the Stiefel update."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from . import metrics
from .stiefel import orthogonal_scale, stiefel_step

_NAMES = ("loss", "balancedness", "balancedness_per_layer", "singular_values", "grad_norms")


class Hooks:
    """Records the diagnostics named in ``record`` into (batch, ncols[, width]) arrays and
    applies the Euclidean or Stiefel update."""

    def __init__(
        self,
        record: Sequence[str],
        manifold: str,
        weights: list[NDArray[np.floating]],
        alpha: float,
        ncols: int,
        every: int,
    ) -> None:
        if isinstance(record, str) or not isinstance(record, Sequence):
            raise TypeError(f"record must be a list of names, got {record!r}")
        self.names: list[str] = []
        for name in record:
            if name not in _NAMES:
                raise ValueError(f"record: unknown quantity {name!r}; expected some of {_NAMES}")
            if name not in self.names:
                self.names.append(name)
        if manifold not in ("euclidean", "stiefel"):
            raise ValueError(f"manifold must be 'euclidean' or 'stiefel', got {manifold!r}")
        self.alpha, self.ncols, self.every = alpha, ncols, every
        batch, depth = weights[0].shape[0], len(weights)
        dims = [weights[0].shape[2]] + [w.shape[1] for w in weights]
        widths = {
            "balancedness": (),
            "balancedness_per_layer": (depth - 1,),
            "singular_values": (min(dims[0], dims[-1]),),
            "grad_norms": (depth,),
        }
        self.out = {
            name: np.full((batch, ncols, *widths[name]), np.nan)
            for name in self.names
            if name != "loss"
        }
        self.scales = None
        if manifold == "stiefel":
            self.scales = [
                [orthogonal_scale(w[b], f"weights[{j}]") for j, w in enumerate(weights)]
                for b in range(batch)
            ]

    def record(
        self,
        b: int,
        col: int,
        ws: list[NDArray[np.floating]],
        grads: Callable[[], list[NDArray[np.floating]]],
    ) -> None:
        one = [w[None] for w in ws]
        with np.errstate(all="ignore"):
            if "balancedness" in self.out:
                self.out["balancedness"][b, col] = metrics.balancedness(one)[0]
            if "balancedness_per_layer" in self.out:
                self.out["balancedness_per_layer"][b, col] = metrics.balancedness(one, True)[0]
            if "singular_values" in self.out:
                self.out["singular_values"][b, col] = metrics.singular_values(one, self.alpha)[0]
            if "grad_norms" in self.out:
                self.out["grad_norms"][b, col] = [np.linalg.norm(g) for g in grads()]

    def finish(
        self,
        b: int,
        t: int,
        ws: list[NDArray[np.floating]],
        grads: Callable[[], list[NDArray[np.floating]]],
    ) -> None:
        """The network stops at step t: its state fills the columns from the next unrecorded
        one (or the current one, on a recording step) onwards."""
        col = t // self.every + (t % self.every != 0)
        if col >= self.ncols or not self.out:
            return
        if t % self.every != 0:
            self.record(b, col, ws, grads)
        for arr in self.out.values():
            arr[b, col + 1 :] = arr[b, col]

    def update(
        self,
        b: int,
        ws: list[NDArray[np.floating]],
        grads: list[NDArray[np.floating]],
        eta: np.floating,
    ) -> None:
        for j, (w, g) in enumerate(zip(ws, grads, strict=True)):
            if self.scales is None:
                w -= eta * g
            else:
                w[...] = stiefel_step(w, g, float(eta), self.scales[b][j])

    def results(self, loss: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        return {name: loss if name == "loss" else self.out[name] for name in self.names}
