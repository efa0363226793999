"""Notebook manners: short reprs with an HTML form, plots that draw into the user's Axes and leave
the matplotlib backend alone, and the version commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deeplinear as dl
from deeplinear import plots
from deeplinear.cli import main

PACKAGE = Path(dl.__file__).parent


def _result(batch: int = 8, **options: object) -> dl.TrainResult:
    dims = [10, 32, 32, 32, 5]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 50))
    Y = rng.standard_normal((5, 10)) @ X
    weights = dl.init.gaussian(dims, batch=batch, seed=0)
    return dl.train(
        weights, X, Y, lr=1e-3, steps=200, alpha=dl.fanout_alpha(dims), record_every=1, **options
    )


def test_train_result_repr_is_short_and_informative():
    result = _result(tol=1e-30, record=["balancedness"], batch_size=10)
    text = repr(result)
    assert len(text) < 1000  # the dataclass repr printed every array (24k characters)
    assert text.startswith("TrainResult\n")
    assert "8 × 10→32→32→32→5 (float64)" in text
    assert "(8, 201): steps 0..200 every 1" in text
    assert "diverged      0/8" in text
    assert "balancedness (8, 201)" in text
    assert f"data_seed     {result.data_seed}" in text
    median = float(np.median(result.final_loss))
    assert f"median {median:.3g}" in text


def test_deep_networks_show_their_ends_and_depth():
    weights = dl.init.gaussian([6] + [9] * 30 + [2], batch=2, seed=0)
    result = dl.train(weights, np.ones((6, 4)), np.ones((2, 4)), lr=1e-6, steps=1)
    assert "2 × 6→9→…→9→2, depth 31 (float64)" in repr(result)


def test_repr_length_does_not_grow_with_the_batch():
    assert len(repr(_result(batch=64))) <= len(repr(_result(batch=2))) + 10


def test_html_reprs_are_tables_of_the_same_rows():
    result = _result(batch=3, optimizer="adam")
    page = result._repr_html_()
    assert page.startswith("<div><strong>TrainResult</strong><table>")
    assert page.count("<tr>") == len(repr(result).splitlines()) - 1
    assert result.state is not None
    state_text = repr(result.state)
    assert state_text.startswith("TrainState\n") and "adam" in state_text
    assert "buffers" in state_text and "(exp_avg, exp_avg_sq)" in state_text
    assert result.state._repr_html_().count("<tr>") == len(state_text.splitlines()) - 1
    assert "<script" not in page and "&lt;" not in page


def _frame() -> pd.DataFrame:
    rows = []
    for depth in (2, 4):
        for width in (8, 16):
            for seed in (0, 1):
                curve = list(np.geomspace(1.0, 10.0 ** -(depth + seed), 11))
                rows.append(
                    {
                        "depth": depth,
                        "width": width,
                        "seed": seed,
                        "init": "gaussian" if seed else "orthogonal",
                        "log10_rel_loss": -float(depth + seed),
                        "steps_to_tol": 10 * depth * width,
                        "tol": 1e-3,
                        "loss_curve": curve,
                        "record_every": 10,
                        "diverged": False,
                    }
                )
    return pd.DataFrame(rows)


def _calls() -> list[tuple[str, dict[str, object], int]]:
    """Every plotting function with arguments for :func:`_frame`, and its panel count."""
    return [
        ("heatmap", {"value": "log10_rel_loss", "x": "width", "y": "depth"}, 1),
        ("heatmap", {"value": "log10_rel_loss", "x": "width", "y": "depth", "facet": "init"}, 2),
        ("curves", {"hue": "depth"}, 1),
        ("curves", {"hue": "depth", "facet": "init"}, 2),
        ("loss_curves", {"hue": "depth"}, 1),
        ("steps_to_tol", {"x": "width", "hue": "depth"}, 1),
        ("scatter", {"x": "steps_to_tol", "y": "steps_to_tol", "hue": "init"}, 1),
        (
            "step_count_maps",
            {
                "x": "width",
                "y": "depth",
                "facet": "init",
                "column": "steps_to_tol",
                "ratio": ("gaussian", "orthogonal"),
            },
            3,
        ),
    ]


def _user_figure(count: int):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(1, count, squeeze=False)[0]
    return fig, list(axes)


@pytest.mark.parametrize(("name", "kwargs", "panels"), _calls())
def test_plots_draw_into_the_given_axes_and_return_their_figure(name, kwargs, panels):
    fig, axes = _user_figure(panels)
    returned = getattr(plots, name)(_frame(), ax=axes[0] if panels == 1 else axes, **kwargs)
    assert returned is fig
    assert all(ax.has_data() for ax in axes)
    assert len(fig.axes) >= panels  # (a heat map adds its colour bar)


@pytest.mark.parametrize(("name", "kwargs", "panels"), _calls())
def test_plots_without_ax_make_a_figure_outside_pyplot(name, kwargs, panels):
    fig = getattr(plots, name)(_frame(), **kwargs)
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    assert sum(ax.has_data() for ax in fig.axes) >= panels  # (and colour bars)


def test_wrong_number_of_axes_is_refused():
    _, axes = _user_figure(1)
    with pytest.raises(dl.InvalidValueError, match="ax: this figure has 2 panel"):
        plots.curves(_frame(), hue="depth", facet="init", ax=axes)


def test_plots_never_switch_the_matplotlib_backend():
    assert not re.search(r"matplotlib\.use\(|\.use\(\s*['\"]agg", _package_source(), re.I)
    # and at run time: a session whose backend is set stays on it through a plot and a save
    code = (
        "import matplotlib; matplotlib.use('svg');"
        "import deeplinear.plots as p, pandas as pd, tempfile, os;"
        "f = pd.DataFrame({'loss_curve': [[1.0, 0.5]], 'record_every': [1], 'depth': [2],"
        " 'diverged': [False]});"
        "p.save(p.curves(f, hue='depth'), os.path.join(tempfile.mkdtemp(), 'c.png'));"
        "print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"


def _package_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))


def test_version_flag_and_python_dash_m(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"deeplinear {dl.__version__} (Python ")
    out = subprocess.run(
        [sys.executable, "-m", "deeplinear", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith(f"deeplinear {dl.__version__}")


def test_show_versions_lists_the_library_and_its_dependencies(capsys):
    dl.show_versions()
    pairs = (line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    lines = {name.strip(): value.strip() for name, value in pairs}
    assert lines["deeplinear"] == dl.__version__
    assert lines["numpy"] == np.__version__
    assert lines["pandas"] == pd.__version__
    assert int(lines["engine max threads"]) >= 1
    assert {"python", "platform", "pyarrow", "matplotlib", "xarray"} <= lines.keys()
