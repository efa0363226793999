"""Dask distributed: the same sweep on a LocalCluster (2 worker processes) equals in-process."""

from __future__ import annotations

import pytest

from deeplinear.cli import main
from deeplinear.sweep import load, run_sweep
from sweep_helpers import assert_same_results, small_spec

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as local:
        yield local


def test_dask_client_matches_in_process_bit_for_bit(tmp_path, cluster):
    spec = small_spec()
    spec["execution"] = {"task_flops": 1.0}  # 16 tasks spread over both workers
    run_sweep(spec, tmp_path / "local", progress=False)
    with distributed.Client(cluster) as client:
        summary = run_sweep(spec, tmp_path / "dask", executor=client, progress=False)
        assert client.status == "running"  # a user's client is left open
    assert summary.completed == 16 and summary.failures == 0 and summary.tasks == 16
    assert "2 worker threads" in summary.where
    frame = load(tmp_path / "dask")
    assert (frame["threads"] == 1).all()  # one engine thread per Dask thread slot
    assert_same_results(load(tmp_path / "local"), frame)


def test_cli_scheduler_address_and_resume(tmp_path, cluster, capsys):
    config = tmp_path / "sweep.toml"
    config.write_text(
        """
[axes]
depth = [2, 3]
width = [4, 6]
init = ["gaussian", "orthogonal"]
[fixed]
d_x = 5
n = 4
d_y = 2
steps = 30
lr = 0.5
lr_rule = "hu2020"
alpha_rule = "fanout"
[execution]
task_flops = 1.0
"""
    )
    local = tmp_path / "local"
    assert main(["run", str(config), "--out", str(local), "--no-progress"]) == 0
    remote = tmp_path / "remote"
    args = ["run", str(config), "--out", str(remote), "--no-progress"]
    assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    assert "runs 8 done + 0 already stored / 8" in capsys.readouterr().out
    assert main([*args, "--scheduler", cluster.scheduler_address, "--resume"]) == 0
    assert "runs 0 done + 8 already stored / 8" in capsys.readouterr().out
    assert_same_results(load(local), load(remote))
