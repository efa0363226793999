"""The ``deeplinear`` command line: ``run``, ``reproduce``, ``plot`` and ``bench``.

Every subcommand has ``--help``. Configuration errors are reported as one line naming the key
(and the line of a TOML file) with exit status 2, before any work starts; a sweep with failed
tasks, a store another sweep is writing, or a store that cannot be written exits with status 1;
Ctrl-C exits with status 130 (finished runs are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidValueError

if TYPE_CHECKING:
    from .experiments import Reproduction

__all__ = ["build_parser", "main"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_execution(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="run tasks on a Dask cluster, e.g. tcp://10.0.0.1:8786 (needs deeplinear[dask])",
    )
    where.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="run tasks in N local worker processes (default: in this process)",
    )
    group.add_argument(
        "--threads",
        type=_positive,
        metavar="T",
        help="engine threads per task (default: all cores in-process, cores/N with --workers, "
        "1 per Dask worker thread)",
    )
    group.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="print the run count, the batched engine calls and a time estimate; run nothing",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="deeplinear",
        description="Sweeps of deep linear networks: run grids, reproduce studies, plot results.",
    )
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a sweep described by a TOML file",
        description="Run the grid of CONFIG.toml and store one Parquet part per finished task "
        "in DIR/parts. See the README section 'Sweeps' for the file format.",
    )
    run.add_argument("config", type=Path, metavar="CONFIG.toml", help="sweep file")
    run.add_argument("--out", type=Path, required=True, metavar="DIR", help="store directory")
    run.add_argument(
        "--resume", action="store_true", help="skip runs already stored in DIR (after a crash)"
    )
    _add_execution(run)

    from .experiments import STUDIES

    data_help = "; ".join(f"{n}: {s.data_help}" for n, s in STUDIES.items() if s.data_help)
    extra_help = "; ".join(
        f"{n} {key}=PATH: {text}" for n, s in STUDIES.items() for key, text in s.extra_data.items()
    )
    reproduce = sub.add_parser(
        "reproduce",
        help="reproduce a published study: store, figures, claims and report.md",
        description="Run a study's preset grid (resuming what DIR already holds), then write "
        "DIR/figures/*.png and DIR/report.md, which opens with the paper's claims, our numbers "
        "and a verdict for each. 'all' runs every study into DIR/<study>/ and writes the index "
        "DIR/report.md.",
    )
    reproduce.add_argument("study", choices=[*sorted(STUDIES), "all"], help="which study")
    size = reproduce.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", dest="size", action="store_const", const="quick", help="small grid (default)"
    )
    size.add_argument(
        "--standard",
        dest="size",
        action="store_const",
        const="standard",
        help="between quick and full: at most about 25 minutes a study on 2 cores",
    )
    size.add_argument(
        "--full", dest="size", action="store_const", const="full", help="the paper's grid"
    )
    reproduce.set_defaults(size="quick")
    reproduce.add_argument("--out", type=Path, required=True, metavar="DIR", help="output dir")
    reproduce.add_argument(
        "--data",
        action="append",
        metavar="[NAME=]PATH",
        help=f"a data file (.npz) for studies that take one ({data_help}); NAME=PATH gives a "
        f"study's further named data files ({extra_help}); repeat for several",
    )
    reproduce.add_argument(
        "--gallery",
        type=Path,
        metavar="DIR",
        help="also copy each study's headline figure, scaled down, to DIR/<study>.png",
    )
    _add_execution(reproduce)

    plot = sub.add_parser(
        "plot",
        help="write PNG figures for a store",
        description="Write a heat map, loss curves and (with a tolerance) steps-to-tolerance "
        "figures for the sweep stored in DIR.",
    )
    plot.add_argument("dir", type=Path, metavar="DIR", help="store directory")
    plot.add_argument(
        "--out", type=Path, metavar="FIGDIR", help="where to write (default: DIR/figures)"
    )

    bench = sub.add_parser(
        "bench",
        help="run the benchmark suite (deeplinear vs NumPy reference)",
        description="Run the pytest-benchmark suite in the source tree's benches/ folder "
        "(needs the dev extra). Extra arguments are passed to pytest.",
    )
    bench.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
    return parser


def _version_line() -> str:
    from . import __version__

    return f"deeplinear {__version__} (Python {sys.version.split()[0]})"


def _executor_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "executor": args.scheduler,
        "workers": args.workers,
        "threads": args.threads,
        "progress": not args.no_progress,
    }


def _run(args: argparse.Namespace) -> int:
    from .sweep import load_spec, run_sweep

    spec = load_spec(args.config)
    if args.dry_run:
        _print_plan(args.config.name, spec, args.out, args.threads)
        return 0
    summary = run_sweep(spec, args.out, resume=args.resume, **_executor_args(args))
    print(summary.line())
    _print_failures(summary)
    print(f"results: {args.out}/parts (load with deeplinear.sweep.load({str(args.out)!r}))")
    return 1 if summary.failures else 0


def _print_plan(name: str, spec: Any, out: Path | None, threads: int | None) -> None:
    from .sweep import plan_sweep

    print(f"{name}: {plan_sweep(spec, out, threads=threads).line()}")


def _print_failures(summary: Any) -> None:
    """The first few failed tasks on stderr, and where all of them are kept."""
    for error in summary.errors[:5]:
        print(f"  failed {error}", file=sys.stderr)
    if summary.failures_file is not None:
        more = len(summary.errors) - 5
        extra = f"{more} more, and " if more > 0 else ""
        print(f"  {extra}tracebacks of every failed task: {summary.failures_file}", file=sys.stderr)


def _print_reproduction(result: Reproduction) -> None:
    print(f"{result.study}: {result.summary.line()}")
    _print_failures(result.summary)
    for claim in result.analysis.claims:
        print(f"  [{claim.verdict}] {claim.claim}: {claim.ours}")
    print(f"  wrote {result.report}")
    for figure in result.analysis.figures:
        print(f"  wrote {figure}")
    print(
        f"  total {result.wall_s:.1f} s (stored training time of its runs {result.compute_s:.1f} s)"
    )


def _data_files(study: str, values: list[str] | None) -> tuple[Path | None, dict[str, Path]]:
    """``--data`` values -> (the study's data file, its named data files). ``NAME=PATH`` names
    one of the study's ``extra_data``; any other value is the one plain data file."""
    from .experiments import STUDIES

    if not values:
        return None, {}
    if study == "all":
        raise InvalidValueError("data: --data is per study; use 'reproduce STUDY --data PATH'")
    named = STUDIES[study].extra_data
    main: Path | None = None
    extra: dict[str, Path] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if sep and key in named:
            if key in extra:
                raise InvalidValueError(f"data: {key}= given twice")
            extra[key] = Path(path)
        elif sep and key.isidentifier() and not Path(value).exists():
            known = ", ".join(sorted(named)) or "none"
            raise InvalidValueError(
                f"data: {study} takes no data named {key!r} (named data it takes: {known})"
            )
        elif main is not None:
            raise InvalidValueError(f"data: two data files for {study}: {main} and {value}")
        else:
            main = Path(value)
    return main, extra


def _reproduce(args: argparse.Namespace) -> int:
    from .experiments import IncompleteError, reproduce, reproduce_all, write_gallery

    data, extra_data = _data_files(args.study, args.data)
    if args.dry_run:
        from .experiments import STUDIES

        names = sorted(STUDIES) if args.study == "all" else [args.study]
        for name in names:
            out = args.out / name if args.study == "all" else args.out
            spec = STUDIES[name].spec(args.size, data)
            _print_plan(name, spec, out, args.threads)
        return 0
    execution = _executor_args(args)
    if args.study == "all":
        done, failed = reproduce_all(args.out, size=args.size, **execution)
        for result in done:
            _print_reproduction(result)
        for name, error in failed.items():
            print(f"{name}: failed: {error}", file=sys.stderr)
        print(f"wrote {args.out / 'report.md'}")
    else:
        try:
            done = [
                reproduce(
                    args.study,
                    args.out,
                    size=args.size,
                    data=data,
                    extra_data=extra_data,
                    **execution,
                )
            ]
        except IncompleteError as err:
            print(f"deeplinear reproduce: {err}", file=sys.stderr)
            return 1
        failed = {}
        _print_reproduction(done[0])
    if args.gallery is not None:
        for path in write_gallery(done, args.gallery):
            print(f"wrote {path}")
    return 1 if failed or any(r.summary.failures for r in done) else 0


def _plot(args: argparse.Namespace) -> int:
    from .plots import default_figures
    from .sweep import load, read_spec

    if not args.dir.is_dir():
        raise InvalidValueError(f"directory: {args.dir} does not exist or is not a directory")
    frame = load(args.dir)
    if frame.empty:
        raise InvalidValueError(f"directory: {args.dir} holds no finished runs")
    spec = read_spec(args.dir) or {}
    out = args.out if args.out is not None else args.dir / "figures"
    for path in default_figures(
        frame, out, axes=list(spec.get("axes", {})), name=spec.get("name", "sweep")
    ):
        print(f"wrote {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    benches = Path(__file__).resolve().parents[2] / "benches"
    if not benches.is_dir():
        print(
            "deeplinear bench: error: the benches/ folder is not here (it ships with the "
            "source tree, not the wheel); run it from a source checkout",
            file=sys.stderr,
        )
        return 2
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(benches),
        "-q",
        "-m",
        "benchmark",
        "--benchmark-only",
        "--benchmark-columns=min,median,rounds",
        *args.pytest_args,
    ]
    return subprocess.call(command, cwd=benches.parent)


@contextlib.contextmanager
def _plain_warnings(command: str) -> Iterator[None]:
    """Print warnings (e.g. a corrupt part moved aside) as one line, without the source line."""
    previous = warnings.formatwarning

    def one_line(message: Warning | str, *args: object, **kwargs: object) -> str:
        return f"deeplinear {command}: warning: {message}\n"

    warnings.formatwarning = one_line
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deeplinear`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"run": _run, "reproduce": _reproduce, "plot": _plot, "bench": _bench}
    from .sweep.store import StoreLockedError, StoreWriteError

    try:
        with _plain_warnings(args.command):
            return handlers[args.command](args)
    except (ValueError, TypeError) as err:
        print(f"deeplinear {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (StoreLockedError, StoreWriteError) as err:
        print(f"deeplinear {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"deeplinear {args.command}: interrupted; every finished run is stored, and running "
            "the same command again (run: with --resume) continues where it stopped",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
