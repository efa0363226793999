"""``show_versions()``: what to paste into a bug report."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

__all__ = ["show_versions", "versions"]

#: Optional dependencies whose versions matter to deeplinear (the ``sweep``, ``dask`` and
#: ``docs`` extras).
_OPTIONAL = (
    "pandas",
    "pyarrow",
    "tqdm",
    "matplotlib",
    "scikit-learn",
    "xarray",
    "distributed",
    "scipy",
)


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """deeplinear's version, the platform, the engine's thread cap and the versions of NumPy
    and of the optional dependencies, by name."""
    from . import _core
    from .sweep.executors import available_cores

    info = {
        "deeplinear": _core.__version__,
        "python": sys.version.replace("\n", " "),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cores": str(available_cores()),
        "engine max threads": str(_core.max_threads()),
        "numpy": _installed("numpy"),
    }
    info.update({name: _installed(name) for name in _OPTIONAL})
    return info


def show_versions() -> None:
    """Print :func:`versions`, one ``name: version`` line each (for bug reports).

    Example:
        >>> import deeplinear as dl
        >>> dl.show_versions()  # doctest: +ELLIPSIS
        deeplinear ...
    """
    info = versions()
    width = max(map(len, info))
    for name, value in info.items():
        print(f"{name.ljust(width)}: {value}")
