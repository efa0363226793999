"""The deeplinear CLI, the plots, and the hu2020 preset (its whole quick grid is slow)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from deeplinear.cli import main
from deeplinear.experiments import STUDIES, hu2020, reproduce
from deeplinear.sweep import load, log10_ratio_at, run_sweep, steps_to_ratio
from sweep_helpers import small_spec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 5000 and path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("command", [[], ["run"], ["reproduce"], ["plot"], ["bench"]])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: deeplinear" in capsys.readouterr().out


def test_console_script_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "deeplinear.cli", "reproduce", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--quick" in out.stdout and "--full" in out.stdout and "--data" in out.stdout
    for name in ("hu2020", "wu2019", "arora2019", "all"):
        assert name in out.stdout


def test_unknown_study_and_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "nope", "--out", str(tmp_path)])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["run", "x.toml", "--out", str(tmp_path), "--workers", "0"])
    assert "positive integer" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown study"):
        reproduce("nope", tmp_path)


def test_plot_command_writes_non_empty_pngs(tmp_path, capsys):
    spec = small_spec(tol=0.5)
    run_sweep(spec, tmp_path, progress=False)
    assert main(["plot", str(tmp_path)]) == 0
    written = capsys.readouterr().out
    names = {"heatmap.png", "loss_curves.png", "steps_to_tol.png"}
    assert {p.name for p in (tmp_path / "figures").iterdir()} == names
    for name in names:
        assert f"figures/{name}" in written
        assert _is_png(tmp_path / "figures" / name)


def test_plot_of_an_empty_store_is_an_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err


def test_log10_ratio_and_steps_to_ratio_read_the_curves(tmp_path):
    run_sweep(small_spec(), tmp_path, progress=False)
    frame = load(tmp_path)
    at_end = log10_ratio_at(frame)
    assert (at_end - frame["log10_rel_loss"]).abs().max() < 1e-12
    at_zero = log10_ratio_at(frame, 0)
    assert (at_zero == 0).all()
    reach = steps_to_ratio(frame, 1.0)
    assert (reach == 0).all()
    never = steps_to_ratio(frame, 0.0)
    assert never.isna().all()


def test_hu2020_full_is_the_papers_grid():
    spec = hu2020.spec("full")
    fixed = spec.fixed
    assert (fixed["d_x"], fixed["n"], fixed["d_y"], fixed["steps"]) == (1024, 16, 10, 10_000)
    assert spec.axes["width"][0] == 10 and spec.axes["width"][-1] == 1000
    assert spec.axes["depth"][0] == 1 and spec.axes["depth"][-1] == 700
    assert set(spec.axes["init"]) == {"gaussian", "orthogonal"}
    assert hu2020.FULL.report_steps == (1_000, 10_000)
    assert "hu2020" in STUDIES


def _boundary_table(report: str, step: int) -> dict[int, tuple[int | None, int | None]]:
    """Parse the 'Smallest trainable width at t = step' table of report.md."""
    section = report.split(f"## Smallest trainable width at t = {step}")[1].split("## ")[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|\s*(\S+)\s*\|\s*(\S+)\s*\|", line)
        if match:
            depth, g, o = match.groups()
            rows[int(depth)] = tuple(None if v == "none" else int(v) for v in (g, o))
    return rows


@pytest.mark.slow
def test_reproduce_hu2020_quick_shows_both_boundaries(tmp_path, capsys):
    """The quick preset end to end (about a minute on 2 cores). The grid reaches below the
    orthogonal boundary, so both boundaries show: the smallest trainable width grows with depth
    for Gaussian init, and much less (if at all) for orthogonal init, which stays narrower."""
    out = tmp_path / "hu2020"
    assert main(["reproduce", "hu2020", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "failures 0" in printed and "wrote" in printed
    report = (out / "report.md").read_text()
    assert report.index("## Claims") < report.index("![heatmap_t1000]")
    for figure in ("heatmap_t100.png", "heatmap_t1000.png", "loss_curves.png", "steps_to_1e-3.png"):
        assert f"figures/{figure}" in report
        assert _is_png(out / "figures" / figure)
    table = _boundary_table(report, 1000)
    depths = sorted(table)
    assert depths == list(hu2020.QUICK.depths)
    gaussian = [table[d][0] or 10**9 for d in depths]
    orthogonal = [table[d][1] or 10**9 for d in depths]
    narrowest = min(hu2020.QUICK.widths)
    assert all(a <= b for a, b in zip(gaussian, gaussian[1:]))
    assert gaussian[-1] >= 4 * gaussian[1]  # grows with depth
    assert max(orthogonal) > narrowest  # the grid reaches below the orthogonal boundary
    assert orthogonal[-1] < gaussian[-1]
    assert "gaussian**: the smallest trainable width grows with depth" in report
    # Rerunning resumes: nothing is recomputed.
    assert main(["reproduce", "hu2020", "--quick", "--out", str(out), "--no-progress"]) == 0
    total = hu2020.spec("quick").size
    assert f"runs 0 done + {total} already stored / {total}" in capsys.readouterr().out


# --- named data files (--data NAME=PATH) -----------------------------------------------------


def _recording_study(monkeypatch, seen: dict) -> None:
    """Register a tiny study 'named' whose measurements record the data files they get."""
    import pandas as pd

    from deeplinear.experiments import Analysis, Measurement, Study
    from deeplinear.sweep import SweepSpec

    def measurements(size, data, **extra):
        seen.update(size=size, data=data, extra=extra)
        return [Measurement("t", {"x": 1}, lambda: pd.DataFrame({"v": [1.0]}))]

    study = Study(
        name="named",
        title="a test study",
        spec=lambda size, data: SweepSpec.from_dict(small_spec(steps=5)),
        analyse=lambda frame, figures, tables: Analysis(figures=[], sections=[]),
        data_help="a regression file",
        extra_data={"second": "a classification file"},
        measurements=measurements,
    )
    monkeypatch.setitem(STUDIES, "named", study)


def test_named_data_reaches_the_measurements_and_the_report(tmp_path, monkeypatch):
    seen: dict = {}
    _recording_study(monkeypatch, seen)
    out = tmp_path / "out"
    main_file, second = tmp_path / "main.npz", tmp_path / "second.npz"
    args = ["--data", f"second={second}", "--data", str(main_file), "--out", str(out)]
    assert main(["reproduce", "named", "--quick", *args]) == 0
    assert seen == {"size": "quick", "data": main_file, "extra": {"second": second}}
    command = (out / "report.md").read_text()
    assert f"--data {main_file} --data second={second}" in command


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["third=x.npz"], "takes no data named 'third'"),
        (["second=a.npz", "second=b.npz"], "second= given twice"),
        (["a.npz", "b.npz"], "two data files"),
    ],
)
def test_bad_named_data_is_refused_naming_the_argument(
    tmp_path, monkeypatch, capsys, values, message
):
    _recording_study(monkeypatch, {})
    data = [arg for value in values for arg in ("--data", value)]
    assert main(["reproduce", "named", *data, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="extra_data: named takes no data named 'third'"):
        reproduce("named", tmp_path, extra_data={"third": "x.npz"})


def test_all_takes_no_data(tmp_path, capsys):
    assert main(["reproduce", "all", "--data", "x.npz", "--out", str(tmp_path)]) == 2
    assert "--data is per study" in capsys.readouterr().err


def test_arora_nonlinear_net_trains_on_the_named_classification_file(tmp_path):
    import numpy as np

    from deeplinear.experiments import arora2019, arora2019_nonlinear

    rng = np.random.default_rng(0)
    path = tmp_path / "mnist_like.npz"
    np.savez(path, X=rng.integers(0, 256, (300, 20)).astype(np.uint8), y=np.arange(300) % 10)
    (measurement,) = arora2019.measurements("quick", None, nonlinear=path)
    assert measurement.params["data_sha256"] == arora2019.file_digest(path)
    grid = arora2019_nonlinear.Grid(stds=(1.0,), seeds=(0,), n=200, steps=4)
    table = arora2019_nonlinear.loss_table(grid, path)
    assert set(table["data"]) == {str(path)} and set(table["n"]) == {200}
    # The step-0 loss, by hand on the file's first 200 examples with pixels / 255.
    pixels = np.load(path)["X"][:200].T / 255.0
    labels = np.arange(200) % 10
    row = table[table["init"] == "gaussian"].iloc[0]
    h = pixels
    weights = arora2019_nonlinear._weights("gaussian", [20, 128, 32, 10], 1.0, (0,))
    for j, w in enumerate(weights):
        h = w[0].astype(np.float64) @ h
        h = np.maximum(h, 0.0) if j < len(weights) - 1 else h
    shifted = h - h.max(axis=0)
    loss = np.mean(np.log(np.exp(shifted).sum(axis=0)) - shifted[labels, np.arange(200)])
    assert row["loss_curve"][0] == pytest.approx(loss, rel=1e-4)
