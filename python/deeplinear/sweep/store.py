"""The result store: a directory of Parquet part files, one per finished task.

Layout of a store directory::

    DIR/sweep.json                 the spec of the latest run (axes, fixed values, execution)
    DIR/sweep.lock                 the writer's lock (see :func:`writer_lock`)
    DIR/parts/part-<task>.parquet  one row per run (see :data:`SCHEMA`)
    DIR/parts/corrupt/             parts that could not be read, moved aside

A part is written under a temporary name in the same directory, flushed and fsynced, then renamed
with :func:`os.replace` (atomic on POSIX), and the directory is fsynced. A part is therefore either
absent or complete: killing the writer at any moment (SIGKILL included) can lose only the task in
flight, never a finished run, and can never leave half a file. A write that fails (disk full, I/O
error, permission) removes its temporary file and raises :class:`StoreWriteError` naming the
directory to fix. Resuming reads the keys of the existing parts and skips them, so a finished run
is neither recomputed nor stored twice; :func:`load` also drops any duplicate key defensively.

Parts carry page checksums. A part that cannot be read anyway (truncated by a full disk or a
half-finished copy, zero-filled, bit rot) never makes the store unusable: reading it moves it to
``parts/corrupt/`` with a :class:`CorruptPartWarning` naming it, :func:`load` returns the other
runs and says how many are missing, and resuming the sweep recomputes them.

Only one process writes a store at a time: the writer holds ``DIR/sweep.lock`` (an advisory
``flock``, which the kernel releases when its holder dies however it dies, so a killed sweep never
leaves a stale lock), and a second writer is refused with :class:`StoreLockedError` naming the
holder.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import logging
import os
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValueError
from .grid import FIELDS, RECORDABLE

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "CORRUPT_DIR",
    "LOCK_FILE",
    "PARTS_DIR",
    "SPEC_FILE",
    "CorruptPartWarning",
    "StoreLockedError",
    "StoreWriteError",
    "count_rows_by_key",
    "finished_keys",
    "load",
    "part_paths",
    "read_spec",
    "schema",
    "write_json",
    "write_part",
    "write_table",
    "writer_lock",
]

PARTS_DIR = "parts"
CORRUPT_DIR = "corrupt"
SPEC_FILE = "sweep.json"
LOCK_FILE = "sweep.lock"
_PART_GLOB = "part-*.parquet"

_log = logging.getLogger(__name__)


class StoreLockedError(RuntimeError):
    """Another process is writing this store (it holds ``DIR/sweep.lock``)."""


class StoreWriteError(OSError):
    """A part or the spec could not be written. ``errno`` is the operating system's, ``filename``
    the directory to fix, and the message says so. Finished runs are kept: resume the sweep once
    it is fixed."""

    def __str__(self) -> str:
        return str(self.strerror)


class CorruptPartWarning(UserWarning):
    """A part file could not be read and was moved to ``parts/corrupt/``; its runs are missing
    until the sweep is resumed."""


#: Result columns after the config columns: name, Arrow type name, meaning.
RESULT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("lr_value", "float64", "the step size η actually used"),
    ("alpha_value", "float64", "the output scale α actually used"),
    ("initial_loss", "float64", "ℓ(0)"),
    ("final_loss", "float64", "loss when the network stopped (non-finite if diverged)"),
    ("rel_loss", "float64", "final_loss / initial_loss"),
    ("log10_rel_loss", "float64", "log10(final_loss / initial_loss); +inf if diverged"),
    ("steps_to_tol", "int64", "first step with loss ≤ tol, -1 if never (or no tol)"),
    (
        "steps_to_accuracy",
        "int64",
        "first step whose (mini-)batch accuracy is ≥ target_accuracy, -1 if never (or none)",
    ),
    ("diverged", "bool", "the loss became non-finite (the network was frozen)"),
    ("wall_time_s", "float64", "this run's share of its batched task's wall time"),
    ("loss_curve", "list<float64>", "loss every record_every steps; entry 0 is ℓ(0)"),
    *(
        (f"{name}_curve", "list<float64>", f"{name} every its record interval, if recorded")
        for name in RECORDABLE
    ),
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
        "optional_int": pa.int64(),
        "bool": pa.bool_(),
        "choice": pa.string(),
        "names": pa.string(),
        "string": pa.string(),
        "schedule": pa.string(),
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
        pa.field(f.name, config_types[f.kind], nullable=f.kind.startswith("optional"))
        for f in FIELDS
    ]
    fields += [pa.field(name, result_types[kind]) for name, kind, _ in RESULT_COLUMNS]
    return pa.schema(fields)


def part_paths(directory: str | Path) -> list[Path]:
    """The finished part files of a store, sorted by name (temporary files are never listed)."""
    parts = Path(directory) / PARTS_DIR
    return sorted(parts.glob(_PART_GLOB)) if parts.is_dir() else []


# --- writing --------------------------------------------------------------------------------


def _write_error(err: OSError, what: str, directory: Path) -> StoreWriteError:
    """``err`` as a :class:`StoreWriteError` that says which directory to fix."""
    reason = err.strerror or str(err)
    fix = {
        errno.ENOSPC: "free some space there",
        errno.EDQUOT: "free some space there (disk quota exceeded)",
        errno.EACCES: "make it writable",
        errno.EPERM: "make it writable",
        errno.EROFS: "it is on a read-only file system; choose another --out",
        errno.EFBIG: "a file-size limit (ulimit -f) or the file system refuses the file",
        errno.EIO: "check the disk (an I/O error)",
    }.get(err.errno or 0, "check it")
    message = (
        f"cannot write {what} in {directory}: {reason}; {fix}, then resume the sweep "
        "(--resume): every finished run is kept"
    )
    return StoreWriteError(err.errno or errno.EIO, message, str(directory))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(target: Path, write: Any) -> None:
    """Call ``write(tmp_path)``, fsync the file, rename it to ``target``, fsync the directory.

    On any failure (or interruption) the temporary file is removed, so ``target`` is either
    complete or absent; an OSError becomes a :class:`StoreWriteError` naming the directory.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, StoreWriteError):
            raise _write_error(err, target.name, target.parent) from err
        raise
    try:
        _fsync_dir(target.parent)
    except OSError as err:
        raise _write_error(err, target.name, target.parent) from err


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _write_error(err, f"the directory {path.name}", path.parent) from err


def write_part(directory: str | Path, table: pa.Table, task_id: str) -> Path:
    """Write ``table`` as ``parts/part-<task_id>.parquet`` atomically, with page checksums (so
    bit rot is detected on reading); returns the final path."""
    return write_table(Path(directory) / PARTS_DIR / f"part-{task_id}.parquet", table)


def write_table(path: str | Path, table: pa.Table) -> Path:
    """Write ``table`` to the Parquet file ``path`` atomically (complete or absent, as a part),
    with page checksums; creates the directory. Returns the path."""
    import pyarrow.parquet as pq

    target = Path(path)
    _make_dir(target.parent)
    _atomic_write(target, lambda tmp: pq.write_table(table, tmp, write_page_checksum=True))
    return target


def write_json(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    target = Path(path)
    _make_dir(target.parent)
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

    Only call this while holding :func:`writer_lock` (no other process may be writing).
    """
    parts = Path(directory) / PARTS_DIR
    if not parts.is_dir():
        return 0
    stale = list(parts.glob(".part-*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


# --- reading, with corrupt parts moved aside ------------------------------------------------


def _quarantine(path: Path, error: BaseException) -> None:
    """Move the unreadable part ``path`` to ``parts/corrupt/`` and warn, naming it."""
    corrupt = path.parent / CORRUPT_DIR
    target = corrupt / path.name
    for n in range(1, 1000):
        if not target.exists():
            break
        target = corrupt / f"{path.stem}.{n}{path.suffix}"
    try:
        corrupt.mkdir(exist_ok=True)
        os.replace(path, target)
    except FileNotFoundError:
        return  # another reader moved it first
    except OSError as err:
        moved = f"could not be moved aside ({err.strerror or err}), so it was skipped"
    else:
        moved = f"moved it to {target}"
    warnings.warn(
        CorruptPartWarning(
            f"part {path} cannot be read ({type(error).__name__}: {error}); {moved}. Its runs "
            "are missing until the sweep is resumed, which recomputes them."
        ),
        stacklevel=3,
    )


def _read_parts(directory: Path, columns: list[str] | None) -> list[pa.Table]:
    """Every readable part (``columns`` of :func:`schema`, all if None), verifying page
    checksums; unreadable parts are moved aside (see :func:`_quarantine`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = schema()
    tables = []
    for path in part_paths(directory):
        try:
            tables.append(
                pq.read_table(path, columns=columns, schema=target, page_checksum_verification=True)
            )
        except FileNotFoundError:
            continue  # moved aside by a concurrent reader
        except PermissionError as err:
            raise PermissionError(
                err.errno, f"cannot read part {path}: permission denied; make it readable"
            ) from err
        except (pa.ArrowException, OSError, ValueError) as err:
            _quarantine(path, err)
    return tables


def count_rows_by_key(directory: str | Path) -> dict[str, int]:
    """How many rows each key has across all readable parts (1 everywhere in a healthy store).

    Every part is read in full, so a damaged one is found (and moved aside) here, before a
    resumed sweep decides what is finished."""
    counts: dict[str, int] = {}
    for table in _read_parts(Path(directory), None):
        for key in table.column("key").to_pylist():
            counts[key] = counts.get(key, 0) + 1
    return counts


def finished_keys(directory: str | Path) -> set[str]:
    """Keys of every run stored in a readable part (what ``--resume`` skips)."""
    return set(count_rows_by_key(directory))


def _missing_runs(directory: Path, present: Any) -> int | None:
    """How many runs of the stored spec are not in ``present`` (None without a spec)."""
    from .grid import SweepSpec

    spec = read_spec(directory)
    if spec is None:
        return None
    try:
        keys = {r.key for r in SweepSpec.from_dict(spec).runs()}
    except (ValueError, TypeError):
        return None  # a spec this version cannot read (e.g. an unknown init)
    return len(keys - set(present))


_PANDAS_TYPES = {"int": "int64", "float": "float64", "bool": "bool"}


def _with_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill the config columns that parts written before their field existed lack (read as
    nulls) with the field's default: the value those runs had."""
    for f in FIELDS:
        if f.added > 1 and f.default is not None and frame[f.name].isna().any():
            filled = frame[f.name].fillna(f.default)
            frame[f.name] = filled.astype(_PANDAS_TYPES.get(f.kind, filled.dtype))
    return frame


def load(directory: str | Path, *, curves: bool = True) -> pd.DataFrame:
    """Load a store as a pandas DataFrame, one row per run, sorted by key.

    Args:
        directory: the store directory (the ``--out`` of a sweep).
        curves: include the list columns (``loss_curve``, ``*_curve``; False loads faster).

    Duplicate keys (impossible with one writer) are dropped, keeping the row from the first part
    by name. An empty store gives an empty frame with the full column set.

    A part that cannot be read is moved to ``parts/corrupt/`` with a
    :class:`CorruptPartWarning`; the frame holds the other runs, and while the store has
    quarantined parts a warning says how many runs of its sweep are missing (resume the sweep to
    recompute them). ``frame.attrs["missing_runs"]`` is that count (None without a stored spec).
    """
    import pyarrow as pa

    path = Path(directory)
    if not path.is_dir():
        raise InvalidValueError(f"directory: {path} does not exist or is not a directory")
    target = schema()
    columns = [name for name in target.names if curves or not name.endswith("_curve")]
    tables = _read_parts(path, columns)
    table = pa.concat_tables(tables) if tables else target.empty_table().select(columns)
    frame = _with_defaults(table.to_pandas())
    frame = frame.drop_duplicates(subset="key", keep="first")
    frame = frame.sort_values("key", kind="stable").reset_index(drop=True)
    missing = _missing_runs(path, frame["key"])
    frame.attrs["missing_runs"] = missing
    corrupt = path / PARTS_DIR / CORRUPT_DIR
    if missing and corrupt.is_dir() and any(corrupt.iterdir()):
        warnings.warn(
            CorruptPartWarning(
                f"store {path}: {missing} runs of its sweep are missing (parts that could not "
                f"be read are in {corrupt}); resume the sweep to recompute them"
            ),
            stacklevel=2,
        )
    return frame


# --- the writer's lock ----------------------------------------------------------------------


def _boot_id() -> str | None:
    """This boot of this machine (Linux), so a lock from before a reboot is known stale."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), to tell it from a later
    process that reused its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces and parentheses.
    return stat.rsplit(")", 1)[1].split()[19]


def _holder_record() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "boot_id": _boot_id(),
        "start_time": _start_time(pid),
        "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:300],
    }


def _read_record(path: Path) -> dict[str, Any] | None:
    """The holder record in a lock file, or None if it is empty or unreadable (half written)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def _describe(record: dict[str, Any] | None) -> str:
    if record is None:
        return "a process that has not finished writing the lock file"
    command = f", running {record['command']!r}" if record.get("command") else ""
    return f"pid {record['pid']} on host {record.get('host')}, since {record.get('since')}{command}"


def _holder_is_running(record: dict[str, Any]) -> bool:
    """Whether the process a lock record names may still be running (False only when it is
    known dead: same machine and boot, and no process with that pid and start time)."""
    if record.get("host") != socket.gethostname():
        return True  # another machine: cannot tell, so assume it runs
    if record.get("boot_id") != _boot_id():
        return False  # the machine rebooted since
    if os.name != "posix":
        return True  # no safe liveness probe (os.kill would terminate it on Windows)
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    started = record.get("start_time")
    return started is None or started == _start_time(record["pid"])  # else: pid reused


def _write_record(fd: int) -> None:
    data = json.dumps(_holder_record()).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)
    os.fsync(fd)


def _locked_message(path: Path, record: dict[str, Any] | None) -> str:
    return (
        f"out: {path.parent} is being written by another deeplinear sweep "
        f"({_describe(record)}); wait for it to finish or stop it, then resume. "
        f"Two writers on one store would compute runs twice. (Lock: {path})"
    )


@contextlib.contextmanager
def writer_lock(directory: str | Path) -> Iterator[None]:
    """Hold the store's writer lock for the duration of the block.

    Raises :class:`StoreLockedError` at once if another process holds it. The lock is an
    advisory ``flock`` on ``DIR/sweep.lock``; the file records the holder (pid, host, start
    time, command) for that message. The kernel drops the lock when its holder exits, however
    it exits, so a lock left by a killed sweep is taken over without further ado. Where the file
    system has no ``flock`` (or off POSIX), the lock is the file's existence instead, and a
    lock file whose holder is known dead (:func:`_holder_is_running`) or that was left half
    written is taken over.
    """
    path = Path(directory) / LOCK_FILE
    _make_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _write_error(err, LOCK_FILE, path.parent) from err
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLockedError(_locked_message(path, _read_record(path))) from None
    except (ImportError, OSError):
        os.close(fd)
        with _pid_file_lock(path):
            yield
        return
    try:
        previous = _read_record(path)
        if previous is not None:
            _log.warning("took over the lock of %s left by %s", path.parent, _describe(previous))
        _write_record(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # released: no holder to name
        os.close(fd)  # releases the flock


#: How long a lock file may stay unreadable before it counts as abandoned (pid-file locks only).
_HALF_WRITTEN_GRACE_S = 10.0


@contextlib.contextmanager
def _pid_file_lock(path: Path) -> Iterator[None]:
    """The lock as the file's existence, for file systems without ``flock``.

    Weaker than ``flock``: two processes that find the same stale lock at the same instant may
    both take it over, and a holder on another host is assumed alive until its lock file is
    deleted by hand (the message names the file)."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            record = _read_record(path)
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if record is None and age < _HALF_WRITTEN_GRACE_S:
                raise StoreLockedError(_locked_message(path, None)) from None
            if record is not None and _holder_is_running(record):
                raise StoreLockedError(_locked_message(path, record)) from None
            _log.warning(
                "took over the stale lock of %s left by %s", path.parent, _describe(record)
            )
            path.unlink(missing_ok=True)
            continue
        except OSError as err:
            raise _write_error(err, LOCK_FILE, path.parent) from err
        try:
            _write_record(fd)
        finally:
            os.close(fd)
        break
    else:
        raise StoreLockedError(_locked_message(path, _read_record(path)))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
