"""Short text and HTML summaries of training results, for the console and notebooks.

The dataclass default repr prints every array (tens of thousands of characters for a handful of
networks); these summaries give shapes and a few numbers instead, and stay a few lines long
whatever the batch size. The functions take a :class:`~deeplinear.TrainResult` or
:class:`~deeplinear.TrainState` (typed ``Any``: this module sits below :mod:`deeplinear.train`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["result_rows", "state_rows", "state_summary", "table_html", "text"]


def _number(value: float) -> str:
    return f"{value:.3g}"


def _spread(values: np.ndarray) -> str:
    """median (min–max) of the finite entries, or "none finite"."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "none finite"
    median, low, high = np.median(finite), finite.min(), finite.max()
    if low == high:
        return _number(float(median))
    return (
        f"median {_number(float(median))} (min {_number(float(low))}, max {_number(float(high))})"
    )


def _shape(array: np.ndarray | None) -> str:
    return "—" if array is None else "(" + ", ".join(map(str, array.shape)) + ")"


def _dims(weights: Sequence[np.ndarray]) -> str:
    if not weights:
        return "no layers"
    widths = [weights[0].shape[-1]] + [w.shape[-2] for w in weights]
    if len(widths) <= 6:
        return "→".join(map(str, widths))
    shown = [*widths[:2], "…", *widths[-2:]]
    return "→".join(map(str, shown)) + f", depth {len(weights)}"


def _reached(steps: np.ndarray) -> str:
    """How many networks reached a target (steps ≥ 0), and their median step."""
    reached = steps[steps >= 0]
    text = f"{reached.size}/{steps.size}"
    if reached.size:
        text += f" (median step {int(np.median(reached))})"
    return text


def result_rows(result: Any) -> list[tuple[str, str]]:
    """(label, value) rows summarising a :class:`TrainResult`."""
    batch = result.final_loss.shape[0]
    first = result.weights[0] if result.weights else None
    dtype = "" if first is None else f" ({first.dtype})"
    columns = result.loss.shape[1] if result.loss.ndim == 2 else 0
    rows = [
        ("networks", f"{batch} × {_dims(result.weights)}{dtype}"),
        (
            "loss",
            f"{_shape(result.loss)}: steps 0..{max(columns - 1, 0) * result.record_every} "
            f"every {result.record_every}",
        ),
        ("initial loss", _spread(result.loss[:, 0]) if columns else "—"),
        ("final loss", _spread(result.final_loss)),
        ("diverged", f"{int(np.count_nonzero(result.diverged))}/{batch}"),
    ]
    for label, steps in (
        ("reached tol", result.steps_to_tol),
        ("reached accuracy", result.steps_to_accuracy),
    ):
        if steps is not None and bool((steps >= 0).any()):  # (no target: all −1, no row)
            rows.append((label, _reached(steps)))
    if result.biases is not None:
        rows.append(("biases", ", ".join(_shape(b) for b in result.biases)))
    if result.records:
        rows.append(
            ("records", ", ".join(f"{name} {_shape(v)}" for name, v in result.records.items()))
        )
    if result.state is not None:
        rows.append(("state", state_summary(result.state)))
    if result.data_seed is not None:
        seed = result.data_seed
        rows.append(
            ("data_seed", f"{len(seed)} per network" if isinstance(seed, list) else str(seed))
        )
    return rows


def _steps_done(state: Any) -> str:
    steps = state.step
    if not steps.size:
        return "0"
    low, high = int(steps.min()), int(steps.max())
    return str(high) if low == high else f"{low}..{high}"


def _schedule(state: Any) -> str:
    batches = "full batch" if state.batch_size is None else f"batch_size {state.batch_size}"
    return f"{batches} of n={state.n}"


def state_summary(state: Any) -> str:
    """One line: optimiser, steps done, schedule and buffers."""
    text = f"{state.optimizer}, step {_steps_done(state)}, {_schedule(state)}"
    if state.slots:
        text += f", {len(state.slots)} optimiser buffers"
    if state.scales is not None:
        text += f", Stiefel scales {_shape(state.scales)}"
    return text


def state_rows(state: Any) -> list[tuple[str, str]]:
    """(label, value) rows summarising a :class:`TrainState`."""
    rows = [
        ("networks", str(state.step.shape[0])),
        ("optimizer", state.optimizer),
        ("step", _steps_done(state)),
        ("schedule", _schedule(state)),
    ]
    if state.batch_size is not None:
        rows.append(("data_seed", f"{_shape(state.data_seed)}: (seed, stream) per network"))
    if state.slots:
        kinds = sorted({name.split(":", 1)[0] for name in state.slot_names})
        rows.append(("buffers", f"{len(state.slots)} ({', '.join(kinds)})"))
    if state.scales is not None:
        rows.append(("Stiefel scales", _shape(state.scales)))
    return rows


def text(name: str, rows: list[tuple[str, str]]) -> str:
    """``name`` and its rows as an indented block of ``label: value`` lines."""
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join([f"{name}"] + [f"  {label.ljust(width)}  {value}" for label, value in rows])


def table_html(name: str, rows: list[tuple[str, str]]) -> str:
    """``name`` and its rows as a small HTML table (for Jupyter's rich display)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<div><strong>{html.escape(name)}</strong><table>{body}</table></div>"
