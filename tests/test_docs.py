"""The documentation runs: docstring examples as doctests, README's Python blocks, and the docs
site built with mkdocs --strict."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: A Python block of README.md, with the marker comment that may precede it:
#: ``<!-- readme-test: slow (why) -->`` runs it only in the slow test,
#: ``<!-- readme-test: skip (why) -->`` never (it needs what the tests do not have).
BLOCK = re.compile(r"(?:<!-- readme-test: (\w+)[^\n]*-->\n)?```python\n(.*?)```", re.S)


def _modules() -> list[str]:
    names = ["deeplinear"]
    for info in pkgutil.walk_packages(dl.__path__, "deeplinear."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in finder.find(module, name):
        if (
            test.filename is not None
            and Path(test.filename).resolve() != Path(str(module.__file__)).resolve()
        ):
            continue  # an object imported from another module is tested there
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_package_has_docstring_examples():
    """The doctest collection finds the examples (a broken finder would pass vacuously)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    count = sum(
        len(test.examples)
        for name in _modules()
        for test in finder.find(importlib.import_module(name), name)
    )
    assert count >= 40


def _blocks() -> list[tuple[str | None, str]]:
    return [(mark or None, code) for mark, code in BLOCK.findall(README)]


def _prepare(directory: Path) -> None:
    """What README's blocks expect in the working directory: the sweep file of the Sweeps
    section (its first TOML block) as sweep.toml, and a small cifar10.npz in the layout the Data
    section describes."""
    sweeps = README[README.index("## Sweeps") :]
    (directory / "sweep.toml").write_text(
        re.findall(r"```toml\n(.*?)```", sweeps, re.S)[0], encoding="utf-8"
    )
    rng = np.random.default_rng(0)
    np.savez(
        directory / "cifar10.npz",
        X=rng.integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8),
        y=rng.integers(0, 10, size=60),
        X_test=rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8),
        y_test=rng.integers(0, 10, size=20),
    )


def _run_readme(directory: Path, run_slow: bool) -> int:
    _prepare(directory)
    namespace: dict[str, object] = {"__name__": "readme"}
    ran = 0
    for index, (mark, code) in enumerate(_blocks()):
        if mark == "skip" or (mark == "slow" and not run_slow):
            continue
        assert mark in (None, "slow"), f"unknown readme-test marker {mark!r}"
        exec(compile(code, f"README.md python block {index}", "exec"), namespace)
        ran += 1
    return ran


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    """Every README block not marked slow or skip runs, in order, in one namespace (as a reader
    pasting them into one session would)."""
    monkeypatch.chdir(tmp_path)
    ran = _run_readme(tmp_path, run_slow=False)
    assert ran >= 7 and ran >= len(_blocks()) - 5  # 3 slow, 2 skip
    out = capsys.readouterr().out
    assert "gaussian   median loss ratio after 500 steps" in out  # the quickstart printed
    assert (tmp_path / "results" / "mysweep" / "parts").is_dir()
    assert (tmp_path / "heatmap.png").is_file()


@pytest.mark.slow
def test_readme_python_blocks_run_with_the_slow_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run_readme(tmp_path, run_slow=True) >= 9


def test_readme_quickstart_prints_what_readme_shows(tmp_path, monkeypatch, capsys):
    """The quickstart's printed output in README is the output it gives."""
    monkeypatch.chdir(tmp_path)
    section = README[README.index("## Quickstart") : README.index("## Results")]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    shown = re.findall(r"```text\n(.*?)```", section, re.S)[0]
    assert len(code.strip().splitlines()) <= 12
    exec(compile(code, "quickstart", "exec"), {"__name__": "quickstart"})
    assert capsys.readouterr().out == shown


def test_readme_references_only_files_in_the_repository():
    """Every repository path README names exists, and it cites no tracker numbers."""
    paths = set(re.findall(r"\]\(((?!https?:)[^)#]+)", README))
    paths |= set(
        re.findall(r"`((?:docs|benches|tests|tools|rust|python|\.github)/[\w./-]+)`", README)
    )
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing
    assert not re.search(r"\b(issue|#)\s?\d+\b", README, re.I)


def test_docs_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra (make build installs it)")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index.html", "api/train/index.html", "studies/hu2020/index.html"):
        assert (tmp_path / page).is_file()
    api = (tmp_path / "api" / "sweep" / "index.html").read_text(encoding="utf-8")
    assert "to_xarray" in api and "plan_sweep" in api
    claims = (tmp_path / "gallery" / "index.html").read_text(encoding="utf-8")
    assert claims.count("<tr>") >= 20  # README's claims table, included by snippet


def test_getting_started_sweep_runs(tmp_path, monkeypatch, capsys):
    """The first sweep of docs/getting-started.md: its TOML plans, runs and loads as shown."""
    from deeplinear.cli import main

    monkeypatch.chdir(tmp_path)
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    (tmp_path / "first.toml").write_text(
        re.findall(r"```toml\n(.*?)```", page, re.S)[0], encoding="utf-8"
    )
    assert main(["run", "first.toml", "--out", "results/first", "--dry-run"]) == 0
    assert "runs 18 (0 already stored, 18 to compute)" in capsys.readouterr().out
    assert main(["run", "first.toml", "--out", "results/first", "--no-progress"]) == 0
    namespace: dict[str, object] = {}
    exec(re.findall(r"```python\n(.*?)```", page, re.S)[0], namespace)
    assert dict(namespace["ds"].sizes) == {"depth": 3, "init": 2, "seed": 3, "step": 101}  # type: ignore[attr-defined]
