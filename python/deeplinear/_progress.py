"""Progress bars for long single calls: :func:`deeplinear.train` and the Fisher and Jacobian
diagnostics of :mod:`deeplinear.metrics` with ``progress=True``.

The engine runs a whole training loop in one Rust call, and a chain of calls that pass the
:class:`~deeplinear.TrainState` on equals one long call bit for bit. So progress needs no engine
hook: the steps run in chunks, each a multiple of every recording interval and at least
:data:`CHUNK_SECONDS` long (and 1/:data:`MOST_UPDATES` of the steps), and the chunks' outputs are
joined exactly as one call would have returned them. A network that stops (tolerance or accuracy
reached, or diverged) leaves the chain: later chunks train only the networks still running, and
its later columns repeat the state it stopped in, as in one call. The diagnostics run their
(independent) networks in chunks instead (:func:`over_networks`). Ctrl-C stops the running chunk
as it stops any call (KeyboardInterrupt).

Cost: each call ends with a forward pass for the loss after its last update and allocates new
output arrays, so a chain of calls is slower than one call by about that much per chunk, a few
per cent with chunks of a second. (With 0.5 s chunks of 3–5 steps, a 32-layer, width-64 batch
of 16 ran 1.1–1.5× slower; with the current sizes the difference, 300 steps of the same batch,
was below the noise of a shared 2-core machine.)
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["CHUNK_SECONDS", "MOST_UPDATES", "chunked_train", "over_networks", "progress_bar"]

#: Wall time aimed at per chunk: long against a call's fixed cost (its final forward pass and
#: new output arrays), short enough for a live bar.
CHUNK_SECONDS = 1.0

#: At most about this many chunks per call, whatever the time per step.
MOST_UPDATES = 50


def progress_bar(total: int, unit: str, description: str) -> Any:
    """A tqdm bar on stderr (tqdm.auto: a widget in Jupyter)."""
    try:
        from tqdm.auto import tqdm
    except ModuleNotFoundError as err:  # pragma: no cover - tqdm is in the sweep extra
        raise ModuleNotFoundError(
            "progress=True needs tqdm: pip install tqdm (or deeplinear[sweep])"
        ) from err
    return tqdm(total=total, unit=unit, desc=description, file=sys.stderr, smoothing=0.3)


def _per_network(value: Any, ndim: int) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == ndim


def _take(value: Any, rows: np.ndarray, ndim: int) -> Any:
    """``value`` restricted to the networks ``rows`` if it is per network (``ndim`` dims)."""
    return value[rows] if _per_network(value, ndim) else value


class _Joined:
    """One output array with a time axis (axis 1), joined over chunks: the first chunk whole,
    every later one without its column 0 (the previous chunk's last column). Networks that
    stopped repeat their last column."""

    def __init__(self, first: np.ndarray) -> None:
        self.parts = [first]
        self.last = first[:, -1].copy()

    def extend(self, chunk: np.ndarray | None, rows: np.ndarray, columns: int) -> None:
        block = np.repeat(self.last[:, None], columns, axis=1)
        if chunk is not None and rows.size:
            block[rows] = chunk[:, 1:]
            self.last[rows] = chunk[:, -1]
        self.parts.append(block)

    def array(self) -> np.ndarray:
        return np.concatenate(self.parts, axis=1) if len(self.parts) > 1 else self.parts[0]


def _state_rows(state: Any, rows: np.ndarray) -> Any:
    """The :class:`~deeplinear.TrainState` ``state`` of the networks ``rows`` only."""
    return dataclasses.replace(
        state,
        step=state.step[rows],
        data_seed=state.data_seed[rows],
        scales=None if state.scales is None else state.scales[rows],
        slots=tuple(s[rows] for s in state.slots),
    )


def _pick(arrays: Sequence[Any], rows: np.ndarray | None) -> list[Any]:
    """The per-network ``arrays`` (None entries kept) at the networks ``rows`` (None: all, as
    they are)."""
    if rows is None:
        return list(arrays)
    return [None if a is None else a[rows] for a in arrays]


def _merge(full: list[Any], new: Sequence[Any], rows: np.ndarray | None) -> list[Any]:
    """``full`` with the networks ``rows`` replaced by ``new`` (None: ``new`` is everything)."""
    if rows is None:
        return list(new)
    for target, source in zip(full, new, strict=True):
        _set_rows(target, rows, source)
    return full


def _set_rows(target: np.ndarray | None, rows: np.ndarray, source: np.ndarray | None) -> None:
    if target is not None and source is not None:
        target[rows] = source


def _per_network_rows(value: Any, rows: np.ndarray) -> Any:
    """``value`` (a float, one value per network, or :class:`deeplinear.optim.Rates` of those)
    restricted to the networks ``rows``."""
    from .optim import Rates
    from .vocabulary import LR_GROUPS

    if isinstance(value, Rates):
        taken = {g: _per_network_rows(getattr(value, g), rows) for g in LR_GROUPS}
        return Rates(taken.pop("base"), **taken)
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        return np.asarray(value, dtype=np.float64)[rows]
    return value


def chunked_train(
    train: Callable[..., Any], arguments: dict[str, Any], intervals: Mapping[str, int]
) -> Any:
    """:func:`deeplinear.train` with ``arguments`` (its keyword arguments), run in chunks under
    a progress bar; returns what one call returns (a :class:`~deeplinear.TrainResult`), bit for
    bit. ``intervals``: the recording interval of each recorded quantity, by name. (Results and
    states are typed ``Any`` here: this module sits below :mod:`deeplinear.train`.)"""
    from ._validation import integer

    arguments = dict(arguments, progress=False)
    steps = integer("steps", arguments["steps"], minimum=0)
    record_every = integer("record_every", arguments["record_every"], minimum=1)
    intervals = dict(intervals)
    if "loss" in intervals:  # train returns the loss itself as records["loss"]
        intervals["loss"] = record_every
    align = math.lcm(record_every, *intervals.values())
    loss_kind = arguments["loss"]
    y_dims = 3 if loss_kind == "mse" else 2

    def run(
        chunk: int, later: bool, rows: np.ndarray | None, weights: Any, biases: Any, state: Any
    ) -> Any:
        """One call: the first chunk, or a ``later`` one continuing the state, of the networks
        ``rows`` (None: all of them)."""
        call = dict(arguments, steps=chunk, weights=weights, biases=biases, state=state)
        if later:
            call["data_seed"] = None  # the state's streams
        if rows is not None:  # some networks stopped: the running ones only
            for name in ("lr", "weight_decay"):  # per-network values: the running rows
                call[name] = _per_network_rows(arguments[name], rows)
            call["X"] = _take(arguments["X"], rows, 3)
            call["Y"] = _take(np.asarray(arguments["Y"]), rows, y_dims)
            for name in ("eval_data", "record_data"):
                pair = arguments[name]
                if isinstance(pair, np.ndarray):
                    call[name] = _take(pair, rows, 3)
                elif pair is not None:
                    x, y = pair
                    call[name] = (
                        _take(np.asarray(x), rows, 3),
                        None if y is None else _take(np.asarray(y), rows, y_dims),
                    )
        return train(**call)

    started = time.perf_counter()
    first_chunk = min(steps, max(align, _aligned(max(steps // 100, 1), align)))
    with progress_bar(steps, "step", "train") as bar:
        result = run(
            first_chunk, False, None, arguments["weights"], arguments["biases"], arguments["state"]
        )
        bar.update(first_chunk)
        done = first_chunk
        per_step = (time.perf_counter() - started) / max(first_chunk, 1)
        if done >= steps:
            return result
        batch = result.final_loss.shape[0]
        loss = _Joined(result.loss)
        records = {name: _Joined(value) for name, value in result.records.items()}
        weights: list[Any] = list(result.weights)  # new arrays, owned from here on
        biases = None if result.biases is None else list(result.biases)
        final_loss = result.final_loss.copy()
        diverged = result.diverged.copy()
        steps_to_tol = result.steps_to_tol.copy()
        steps_to_accuracy = (
            None if result.steps_to_accuracy is None else result.steps_to_accuracy.copy()
        )
        state = result.state
        assert state is not None
        step = state.step.copy()
        data_seed = state.data_seed.copy()
        scales = None if state.scales is None else state.scales.copy()
        slots = list(state.slots)

        def running() -> np.ndarray:
            stopped = diverged | (steps_to_tol >= 0)
            if steps_to_accuracy is not None:
                stopped = stopped | (steps_to_accuracy >= 0)
            return np.flatnonzero(~stopped)

        rows = running()
        while done < steps:
            if rows.size == 0:  # every network stopped: the rest repeats their last state
                rest = steps - done
                loss.extend(None, rows, rest // record_every)
                for name, joined in records.items():
                    joined.extend(None, rows, rest // intervals[name])
                bar.update(rest)
                break
            wanted = max(int(CHUNK_SECONDS / max(per_step, 1e-9)), steps // MOST_UPDATES)
            wanted = _aligned(max(1, wanted), align)
            chunk = min(steps - done, max(align, wanted))
            columns = {name: chunk // intervals[name] for name in records}
            tick = time.perf_counter()
            subset = None if rows.size == batch else rows  # all running: no copies
            current = dataclasses.replace(
                state, step=step, data_seed=data_seed, scales=scales, slots=tuple(slots)
            )
            part = run(
                chunk,
                True,
                subset,
                _pick(weights, subset),
                None if biases is None else _pick(biases, subset),
                current if subset is None else _state_rows(current, subset),
            )
            per_step = (time.perf_counter() - tick) / chunk
            loss.extend(part.loss, rows, chunk // record_every)
            for name, joined in records.items():
                joined.extend(part.records[name], rows, columns[name])
            weights = _merge(weights, part.weights, subset)
            if biases is not None and part.biases is not None:
                biases = _merge(biases, part.biases, subset)
            final_loss[rows] = part.final_loss
            diverged[rows] = part.diverged
            reached = part.steps_to_tol >= 0
            steps_to_tol[rows[reached]] = part.steps_to_tol[reached] + done
            if steps_to_accuracy is not None and part.steps_to_accuracy is not None:
                hit = part.steps_to_accuracy >= 0
                steps_to_accuracy[rows[hit]] = part.steps_to_accuracy[hit] + done
            assert part.state is not None
            step[rows] = part.state.step
            data_seed[rows] = part.state.data_seed
            _set_rows(scales, rows, part.state.scales)
            slots = _merge(slots, part.state.slots, subset)
            done += chunk
            bar.update(chunk)
            rows = running()
            bar.set_postfix(running=f"{rows.size}/{batch}", refresh=False)
    return dataclasses.replace(
        result,
        weights=weights,
        loss=loss.array(),
        final_loss=final_loss,
        steps_to_tol=steps_to_tol,
        diverged=diverged,
        biases=biases,
        records={name: joined.array() for name, joined in records.items()},
        steps_to_accuracy=steps_to_accuracy,
        state=dataclasses.replace(
            state, step=step, data_seed=data_seed, scales=scales, slots=tuple(slots)
        ),
    )


def _aligned(count: int, align: int) -> int:
    """``count`` rounded up to a multiple of ``align``."""
    return -(-count // align) * align


def over_networks(
    compute: Callable[[np.ndarray], Any], batch: int, description: str, threads: int | None
) -> list[Any]:
    """``compute(rows)`` over consecutive chunks of the ``batch`` networks under a progress bar
    (unit: network); returns the chunks' outputs in order. Each chunk is a multiple of the
    thread count (so every core stays busy) and lasts about :data:`CHUNK_SECONDS`. For the
    per-network diagnostics, whose networks are independent, the joined outputs equal one call's.
    """
    from .sweep.executors import available_cores

    width = threads or available_cores()
    outputs: list[Any] = []
    done = 0
    per_network = 0.0
    with progress_bar(batch, "network", description) as bar:
        while done < batch:
            wanted = width if not outputs else int(CHUNK_SECONDS / max(per_network, 1e-9))
            count = min(batch - done, _aligned(max(wanted, 1), width))
            tick = time.perf_counter()
            outputs.append(compute(np.arange(done, done + count)))
            per_network = (time.perf_counter() - tick) / count
            done += count
            bar.update(count)
    return outputs
