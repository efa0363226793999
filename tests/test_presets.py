"""The Wu et al. and Arora et al. presets and ``reproduce all``, end to end.

The default run uses reduced grids (the presets' own code with smaller quick grids patched in:
seconds each); the whole quick grids are marked slow. Resume and SIGKILL safety are checked on
the presets' own specs with the sweep crash-test helpers.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deeplinear.cli import build_parser, main
from deeplinear.experiments import (
    SIZES,
    STUDIES,
    arora2019,
    arora2019_nonlinear,
    hu2020,
    huang2021,
    huang2021_training,
    reproduce,
    sokol2020,
    wu2019,
)
from deeplinear.sweep import SweepSpec, load, registry, run_sweep, store
from sweep_helpers import assert_same_results
from test_sweep_crash import _assert_healthy, _parts, _run_and_kill

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

REDUCED = {
    "hu2020": dataclasses.replace(
        hu2020.QUICK,
        depths=(1, 4, 16),
        widths=(4, 8, 16, 32),
        seeds=(0,),
        steps=300,
        record_every=10,
        report_steps=(100, 300),
    ),
    "wu2019": dataclasses.replace(
        wu2019.QUICK, depths=(2, 8, 32), seeds=(0, 1), steps=1500, curve_depths=(2, 8, 32)
    ),
    "arora2019": dataclasses.replace(
        arora2019.QUICK,
        stds=(0.01, 0.0316, 0.1, 0.316, 1.0),
        lrs=(0.01, 0.1, 0.3),
        seeds=(0,),
        steps=2000,
    ),
    "huang2021": dataclasses.replace(
        huang2021.QUICK,
        width=16,
        depths=(50,),
        lrs=(0.1, 0.01),
        seeds=(0, 1),
        batch_size=128,
        n=512,
        epochs=10,
        kernel_widths=(8, 32, 128),
        kernel_seeds=(0, 1),
        change_widths=(8, 16, 32),
        change_seeds=(0,),
        change_steps=20,
        change_n=64,
        change_probe=8,
    ),
    "sokol2020": dataclasses.replace(
        sokol2020.QUICK,
        depth=4,
        width=16,
        init_seeds=(0, 1),
        probe=16,
        n=300,
        n_test=60,
        batch_size=100,
        epochs=2,
        lrs=(1e-3,),
        seeds=(0,),
        validation=100,
        tune_epochs=1,
        euclidean_rates=(1e-3, 1e-2),
        base_rates=(1e-3,),
        manifold_rates=(1e-3, 1e-2),
        scale_rates=(1e-3,),
        oblique_penalties=(sokol2020.OBLIQUE_PENALTY,),
    ),
}
#: The training experiments of Huang et al. and Arora's nonlinear net, reduced the same way.
REDUCED_TABLES = {
    huang2021_training: dataclasses.replace(
        huang2021_training.QUICK,
        parity=tuple(p.scaled(8, 20, 5) for p in huang2021_training.QUICK.parity),
        sgd=huang2021_training.QUICK.sgd.scaled(8, 8, 4, batch_size=64),
        rmsprop=huang2021_training.QUICK.rmsprop.scaled(8, 8, 4, batch_size=64),
        seeds=(0, 1),
        line=dataclasses.replace(
            huang2021_training.QUICK.line, widths=(8, 16), lrs=(0.1,), seeds=(0, 1), cap=10
        ),
        n=64,
        n_test=64,
        sgd_n=256,
    ),
    arora2019_nonlinear: arora2019_nonlinear.Grid(stds=(0.1, 1.0), seeds=(0, 1), n=200, steps=10),
}
MODULES = {
    "hu2020": hu2020,
    "wu2019": wu2019,
    "arora2019": arora2019,
    "huang2021": huang2021,
    "sokol2020": sokol2020,
}


@pytest.fixture
def reduced(monkeypatch):
    """Patch every study's quick grid to its reduced grid."""
    for name, grid in REDUCED.items():
        monkeypatch.setitem(MODULES[name].GRIDS, "quick", grid)
    for module, tables in REDUCED_TABLES.items():
        monkeypatch.setitem(module.GRIDS, "quick", tables)


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 5000 and path.read_bytes()[:8] == PNG_MAGIC


def _claims(report: str) -> list[tuple[str, str]]:
    """(claim, verdict) rows of the first claims table of a report."""
    section = report.split("## Claims")[1] if "## Claims" in report else report
    rows = re.findall(
        r"^\| ([^|]+?) \|.*\| (✅ reproduced|🟡 partly|❔ inconclusive|❌ not reproduced) \|$",
        section,
        re.M,
    )
    return [(claim, verdict) for claim, verdict in rows]


def test_every_study_is_registered_with_every_size():
    assert {"hu2020", "wu2019", "arora2019", "huang2021", "sokol2020"} <= set(STUDIES)
    for study in STUDIES.values():
        for size in SIZES:
            assert study.spec(size, None).size > 0
        assert list(study.sizes) == list(SIZES), study.name  # what each size costs and decides


def test_standard_sizes_lie_between_quick_and_full_and_reach_the_papers_conditions():
    hu = hu2020.spec("standard")
    d_x = hu.fixed["d_x"]
    assert d_x > hu2020.QUICK.d_x and max(hu.axes["width"]) >= d_x  # Theorem 4.1's m ≥ d_x
    assert min(hu.axes["width"]) == hu.fixed["d_y"]
    assert wu2019.spec("standard").axes["depth"][-1] == 256
    arora = arora2019.spec("standard")
    full = arora2019.spec("full")
    assert arora.axes["init_scale"] == full.axes["init_scale"]
    assert arora.axes["lr"] == full.axes["lr"]
    assert arora2019.QUICK.steps < arora.fixed["steps"] < full.fixed["steps"]
    huang = huang2021.STANDARD
    assert huang.width > huang2021.QUICK.width and max(huang.change_widths) == 2048
    assert min(huang.lrs) == pytest.approx(1e-3) and len(huang.seeds) > len(huang2021.QUICK.seeds)
    assert sokol2020.STANDARD.at_init_shape == (200, 400)  # the paper's networks
    for name in ("hu2020", "wu2019", "arora2019", "huang2021", "sokol2020"):
        quick, standard = (STUDIES[name].spec(s, None).size for s in ("quick", "standard"))
        assert quick < standard, name


def test_the_cli_takes_the_standard_size():
    args = build_parser().parse_args(["reproduce", "all", "--standard", "--out", "x"])
    assert args.size == "standard"
    assert build_parser().parse_args(["reproduce", "wu2019", "--out", "x"]).size == "quick"


def test_full_sizes_are_the_papers_settings():
    wu = wu2019.spec("full")
    assert wu.axes["depth"][-1] == 512 and wu.fixed["d_x"] == 16
    arora = arora2019.spec("full")
    assert arora.fixed["steps"] == 10**6 and arora.fixed["tol"] == 1e-5
    assert min(arora.axes["lr"]) == pytest.approx(1e-4) and max(arora.axes["lr"]) == 1.0
    assert arora.axes["depth"] == (3, 8) and arora.fixed["width"] == 32
    with pytest.raises(ValueError, match="takes no data file"):
        wu2019.spec("quick", Path("x.npz"))
    for size in SIZES:  # Huang's τ sweep in the precision of the paper's JAX runs
        assert huang2021.spec(size).fixed["dtype"] == "float32"


def test_reproduce_wu2019_reduced_end_to_end(tmp_path, reduced):
    result = reproduce("wu2019", tmp_path, progress=False)
    report = result.report.read_text()
    assert [c for c, _ in _claims(report)] == [c.claim for c in result.analysis.claims]
    assert len(result.analysis.claims) == 4
    assert report.index("## Claims") < report.index("![steps_vs_depth]")
    assert "## How each verdict is decided" in report
    assert "Sizes (cost on 2 cores; what each can decide)" in report and "- **standard**:" in report
    for figure in result.analysis.figures:
        assert _is_png(figure)
    assert result.analysis.headline.name == "steps_vs_depth.png"
    # ZAS reaches ε quickly at every depth of the reduced grid; identity never does on −I.
    steps = result.analysis.findings["steps"]
    assert all(np.isfinite(steps[("minus_identity", "zas")]))
    assert steps[("minus_identity", "zas")].max() < 100
    assert all(np.isinf(steps[("minus_identity", "identity")]))
    assert result.analysis.claims[0].verdict == "reproduced"


def test_reproduce_arora2019_reduced_with_a_data_file(tmp_path, reduced, capsys):
    """--data: a user's .npz (regression targets), whitened like diabetes; the spec records
    the file and its digest, and a changed file is refused on resume."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6))
    y = X @ rng.standard_normal(6) + 0.1 * rng.standard_normal(300)
    path = tmp_path / "regression.npz"
    np.savez(path, X=X, y=y)
    out = tmp_path / "arora"
    args = ["reproduce", "arora2019", "--quick", "--data", str(path), "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "arora2019: runs" in printed
    assert re.search(r"\[(reproduced|partly|inconclusive|not reproduced)\] Gaussian init", printed)
    frame = load(out)
    assert set(frame["data"]) == {"npz_whitened"} and set(frame["d_x"]) == {6}
    assert set(frame["data_file"]) == {str(path.resolve())}
    assert frame["balancedness_curve"].notna().all()
    report = (out / "report.md").read_text()
    assert f"--data {path}" in report and "ℓ* = " in report
    assert "Steps at the best learning rate per cell" in report
    for figure in ("steps_vs_std.png", "balancedness.png"):
        assert _is_png(out / "figures" / figure)
    np.savez(path, X=X, y=y + 1.0)  # the file changes: its runs are new runs
    assert main([*args, "--no-progress"]) == 0
    assert len(load(out)) == 2 * len(frame)


def test_reproduce_all_writes_the_index_and_the_gallery(tmp_path, reduced, capsys):
    out, gallery = tmp_path / "all", tmp_path / "gallery"
    args = ["reproduce", "all", "--quick", "--out", str(out), "--gallery", str(gallery)]
    assert main([*args, "--no-progress"]) == 0
    index = (out / "report.md").read_text()
    for name in STUDIES:
        assert f"[{name}]({name}/report.md)" in index
        assert (out / name / "report.md").is_file()
        claims = _claims((out / name / "report.md").read_text())
        assert claims, name
        for claim, _ in claims:
            assert claim in index  # every study's claims table is in the index
        with Image.open(gallery / f"{name}.png") as image:
            assert image.width <= 900
    assert len(_claims(index)) == sum(
        len(_claims((out / n / "report.md").read_text())) for n in STUDIES
    )
    capsys.readouterr()
    assert main([*args, "--no-progress"]) == 0  # resumes: nothing recomputed
    printed = capsys.readouterr().out
    assert printed.count(" 0 done + ") == len(STUDIES)


def test_a_study_with_failed_runs_is_reported_and_the_others_still_run(
    tmp_path, reduced, monkeypatch, capsys
):
    """Failed tasks: a clear error (exit 1), no analysis of a partial grid; `all` records the
    failure in the index and finishes the other studies; a rerun retries only what failed."""

    def broken(request):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(registry.DATA_RECIPES, "minus_identity", broken)
    out = tmp_path / "wu"
    assert main(["reproduce", "wu2019", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "runs are missing" in err and "disk on fire" in err and "rerun" in err
    assert not (out / "report.md").exists()
    assert main(["reproduce", "all", "--out", str(tmp_path / "all"), "--no-progress"]) == 1
    index = (tmp_path / "all" / "report.md").read_text()
    assert "**Failed:**" in index and "disk on fire" in index
    assert "[hu2020](hu2020/report.md)" in index and "[arora2019](arora2019/report.md)" in index
    monkeypatch.setitem(registry.DATA_RECIPES, "minus_identity", registry.minus_identity)
    capsys.readouterr()
    assert main(["reproduce", "wu2019", "--out", str(out), "--no-progress"]) == 0
    total = wu2019.spec("quick").size
    assert f"runs {total // 2} done + {total // 2} already stored" in capsys.readouterr().out


def test_reproduce_all_refuses_a_data_file(tmp_path, capsys):
    assert main(["reproduce", "all", "--out", str(tmp_path), "--data", "x.npz"]) == 2
    assert "--data is per study" in capsys.readouterr().err


# --- crash safety of the presets' own specs ---------------------------------------------------


@pytest.mark.parametrize("name", ["wu2019", "arora2019", "huang2021", "sokol2020"])
def test_sigkill_and_resume_on_a_preset(tmp_path, name, monkeypatch):
    """Kill the preset's sweep twice mid-run, resume: the store equals an uninterrupted run."""
    monkeypatch.setitem(MODULES[name].GRIDS, "quick", REDUCED[name])
    spec = STUDIES[name].spec("quick", None).to_dict()
    spec["execution"] = {"task_flops": 1.0}  # one network per task: many moments to kill at
    if name == "wu2019":
        spec["axes"]["depth"] = [8, 32]
        spec["fixed"]["steps"] = 600
    elif name == "arora2019":
        spec["axes"]["init_scale"] = [0.1, 1.0]
    else:
        spec["axes"]["seed"] = [0, 1, 2]
    keys = {r.key for r in SweepSpec.from_dict(spec).runs()}
    reference = tmp_path / "reference"
    run_sweep(spec, reference, progress=False, threads=1)
    out = tmp_path / "killed"
    stored = []
    for parts in (2, 6):
        _run_and_kill(out, spec, lambda o, k=parts: _parts(o) >= k)
        stored.append(_assert_healthy(out, keys))
    assert stored[0] < len(keys) and stored == sorted(stored)
    assert not _run_and_kill(out, spec, lambda o: False)  # resume to the end
    counts = store.count_rows_by_key(out)
    assert set(counts) == keys and set(counts.values()) == {1}
    assert_same_results(load(reference), load(out))


# --- the whole quick grids ----------------------------------------------------------------


@pytest.mark.slow
def test_reproduce_wu2019_quick(tmp_path):
    """The whole quick grid (about a minute on 2 cores)."""
    result = reproduce("wu2019", tmp_path, progress=False)
    verdicts = {c.claim: c.verdict for c in result.analysis.claims}
    assert len(verdicts) == 4 and result.summary.failures == 0
    assert verdicts["ZAS converges at every depth"] == "reproduced"
    assert result.analysis.findings["steps"][("minus_identity", "zas")].max() < 100
    for figure in result.analysis.figures:
        assert _is_png(figure)


@pytest.mark.slow
def test_reproduce_arora2019_quick(tmp_path):
    """The whole quick grid (a few minutes on 2 cores): 1620 runs, every std band found."""
    result = reproduce("arora2019", tmp_path, progress=False)
    assert result.summary.failures == 0 and len(result.analysis.claims) == 4
    bands = result.analysis.findings["bands"]
    assert set(bands) == {(3, "gaussian"), (3, "balanced"), (8, "gaussian"), (8, "balanced")}
    assert bands[(3, "gaussian")].decades > bands[(8, "gaussian")].decades
    for figure in result.analysis.figures:
        assert _is_png(figure)
