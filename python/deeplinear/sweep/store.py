"""The result store: a directory of Parquet part files, one per finished task.

Layout of a store directory::

    DIR/sweep.json                 the spec of the latest run (axes, fixed values, execution)
    DIR/parts/part-<task>.parquet  one row per run (see :data:`SCHEMA`)

A part is written under a temporary name in the same directory, flushed and fsynced, then renamed
with :func:`os.replace` (atomic on POSIX), and the directory is fsynced. A part is therefore either
absent or complete: killing the writer at any moment (SIGKILL included) can lose only the task in
flight, never a finished run, and can never leave half a file. Resuming reads the keys of the
existing parts and skips them, so a finished run is neither recomputed nor stored twice;
:func:`load` also drops any duplicate key defensively (e.g. two writers on one directory).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .grid import FIELDS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "PARTS_DIR",
    "SPEC_FILE",
    "count_rows_by_key",
    "finished_keys",
    "load",
    "part_paths",
    "read_spec",
    "schema",
    "write_json",
    "write_part",
]

PARTS_DIR = "parts"
SPEC_FILE = "sweep.json"
_PART_GLOB = "part-*.parquet"

#: Result columns after the config columns: name, Arrow type name, meaning.
RESULT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("lr_value", "float64", "the step size η actually used"),
    ("alpha_value", "float64", "the output scale α actually used"),
    ("initial_loss", "float64", "ℓ(0)"),
    ("final_loss", "float64", "loss when the network stopped (non-finite if diverged)"),
    ("rel_loss", "float64", "final_loss / initial_loss"),
    ("log10_rel_loss", "float64", "log10(final_loss / initial_loss); +inf if diverged"),
    ("steps_to_tol", "int64", "first step with loss ≤ tol, -1 if never (or no tol)"),
    ("diverged", "bool", "the loss became non-finite (the network was frozen)"),
    ("wall_time_s", "float64", "this run's share of its batched task's wall time"),
    ("loss_curve", "list<float64>", "loss every record_every steps; entry 0 is ℓ(0)"),
    ("balancedness_curve", "list<float64>", "balancedness at the loss_curve's steps, if recorded"),
    ("task_id", "string", "the task (part file) the run was computed in"),
    ("threads", "int64", "engine threads the task used"),
    ("deeplinear_version", "string", "library version that computed the run"),
)


def schema() -> pa.Schema:
    """The Arrow schema of a part file: ``key``, every config field, then :data:`RESULT_COLUMNS`."""
    import pyarrow as pa

    config_types = {
        "int": pa.int64(),
        "float": pa.float64(),
        "optional_float": pa.float64(),
        "choice": pa.string(),
        "names": pa.string(),
        "string": pa.string(),
    }
    result_types = {
        "float64": pa.float64(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "list<float64>": pa.list_(pa.float64()),
    }
    fields = [pa.field("key", pa.string(), nullable=False)]
    fields += [
        pa.field(f.name, config_types[f.kind], nullable=f.kind == "optional_float") for f in FIELDS
    ]
    fields += [pa.field(name, result_types[kind]) for name, kind, _ in RESULT_COLUMNS]
    return pa.schema(fields)


def part_paths(directory: str | Path) -> list[Path]:
    """The finished part files of a store, sorted by name (temporary files are never listed)."""
    parts = Path(directory) / PARTS_DIR
    return sorted(parts.glob(_PART_GLOB)) if parts.is_dir() else []


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(target: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, fsync the file, rename it to ``target``, fsync the directory."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_part(directory: str | Path, table: pa.Table, task_id: str) -> Path:
    """Write ``table`` as ``parts/part-<task_id>.parquet`` atomically; returns the final path."""
    import pyarrow.parquet as pq

    parts = Path(directory) / PARTS_DIR
    parts.mkdir(parents=True, exist_ok=True)
    target = parts / f"part-{task_id}.parquet"
    _atomic_write(target, lambda tmp: pq.write_table(table, tmp))
    return target


def write_json(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
    _atomic_write(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_spec(directory: str | Path) -> dict[str, Any] | None:
    """The spec stored with a sweep (``sweep.json``), or None if there is none."""
    path = Path(directory) / SPEC_FILE
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def remove_stale_temporaries(directory: str | Path) -> int:
    """Delete temporary files left by a killed writer; returns how many were removed.

    Only call this when no other process is writing to the store.
    """
    parts = Path(directory) / PARTS_DIR
    if not parts.is_dir():
        return 0
    stale = list(parts.glob(".part-*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def count_rows_by_key(directory: str | Path) -> dict[str, int]:
    """How many rows each key has across all parts (1 everywhere in a healthy store)."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    for path in part_paths(directory):
        for key in pq.read_table(path, columns=["key"]).column("key").to_pylist():
            counts[key] = counts.get(key, 0) + 1
    return counts


def finished_keys(directory: str | Path) -> set[str]:
    """Keys of every run stored in a finished part (what ``--resume`` skips)."""
    return set(count_rows_by_key(directory))


def load(directory: str | Path, *, curves: bool = True) -> pd.DataFrame:
    """Load a store as a pandas DataFrame, one row per run, sorted by key.

    Args:
        directory: the store directory (the ``--out`` of a sweep).
        curves: include the list columns (``loss_curve``, ``*_curve``; False loads faster).

    Duplicate keys (impossible with one writer, possible if two sweeps shared a directory) are
    dropped, keeping the row from the first part by name. An empty store gives an empty frame
    with the full column set.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(directory)
    if not path.is_dir():
        raise ValueError(f"directory: {path} does not exist or is not a directory")
    target = schema()
    columns = [name for name in target.names if curves or not name.endswith("_curve")]
    tables = [pq.read_table(p, columns=columns, schema=target) for p in part_paths(path)]
    table = pa.concat_tables(tables) if tables else target.empty_table().select(columns)
    frame = table.to_pandas()
    frame = frame.drop_duplicates(subset="key", keep="first")
    return frame.sort_values("key", kind="stable").reset_index(drop=True)
