"""The built wheel (``make wheel``) is manylinux2014 + abi3, installs into a fresh virtualenv with
no Rust toolchain on PATH, and runs the README quickstart there (``make test-wheel``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
WHEEL_DIR = Path(os.environ.get("DEEPLINEAR_WHEEL_DIR", ROOT / "dist"))
if not WHEEL_DIR.is_absolute():
    WHEEL_DIR = ROOT / WHEEL_DIR

pytestmark = pytest.mark.slow


def _wheel() -> Path:
    wheels = sorted(WHEEL_DIR.glob("deeplinear-*.whl"))
    if not wheels:
        if "DEEPLINEAR_WHEEL_DIR" in os.environ:  # make test-wheel: the wheel must be there
            pytest.fail(f"no deeplinear wheel in {WHEEL_DIR}: run make wheel first")
        pytest.skip(f"no deeplinear wheel in {WHEEL_DIR} (make wheel builds one)")
    assert len(wheels) == 1, f"several wheels in {WHEEL_DIR}: {wheels}"
    return wheels[0]


def test_wheel_is_manylinux2014_abi3_and_has_an_sdist():
    wheel = _wheel()
    assert re.search(r"-cp310-abi3-.*manylinux2014_x86_64.*\.whl$", wheel.name), wheel.name
    assert list(WHEEL_DIR.glob("deeplinear-*.tar.gz")), "no sdist beside the wheel"
    auditwheel = shutil.which("auditwheel", path=str(Path(sys.executable).parent))
    if auditwheel is None:
        pytest.skip("auditwheel is not installed (make wheel installs it)")
    shown = subprocess.run([auditwheel, "show", str(wheel)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert 'consistent with the following platform tag: "manylinux_2_17_x86_64"' in text, text


def _readme_quickstart() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quickstart") : readme.index("## Results")]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    shown = re.findall(r"```text\n(.*?)```", section, re.S)[0]
    return code, shown


def test_wheel_installs_without_rust_and_runs_the_quickstart(tmp_path):
    wheel = _wheel()
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    # PATH without ~/.cargo/bin (or any other Rust toolchain), and no Rust variables
    path = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "RUST"))}
    env.update(PATH=path, PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel],
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = time.perf_counter()
    code, shown = _readme_quickstart()
    work = tmp_path / "work"  # away from the source tree, so the installed package is imported
    work.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import deeplinear; print(deeplinear.__file__)"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    ran = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=work, env=env
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == shown
    version = subprocess.run(
        [str(python), "-m", "deeplinear", "--version"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert version.returncode == 0 and version.stdout.startswith("deeplinear "), version.stderr
    done = time.perf_counter()
    print(
        f"\nfresh venv + wheel install: {installed - started:.1f} s; "
        f"quickstart and --version: {done - installed:.1f} s"
    )
