"""The house: the package's imports point one way and form no cycle.

Layers, top to bottom: cli → experiments → (sweep, plots, report) → (train, init, metrics,
data, ...) → _core. A module may import its own layer's leaves and anything below, never above;
plots and report take data frames and never read the store.
"""

from __future__ import annotations

import ast
from pathlib import Path

import deeplinear

PACKAGE = Path(deeplinear.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _compiled() -> set[str]:
    """Extension modules (the Rust core), known by their stubs."""
    return {_module_name(p) for p in PACKAGE.rglob("*.pyi")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its file (functions included);
    ``from X import y`` counts as importing X.y when that is a module, else X."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif target in known:
                    found.add(target)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules) | _compiled()
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    for name in _compiled():
        graph.setdefault(name, set())
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_detector_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "deeplinear"


#: What each layer may not import (by first-level name under deeplinear).
FORBIDDEN = {
    "experiments": {"cli"},
    "sweep": {"cli", "experiments", "plots", "report", "deeplinear"},
    "plots": {"cli", "experiments", "sweep", "report", "deeplinear"},
    "report": {"cli", "experiments", "sweep", "plots", "deeplinear"},
    "data": {"cli", "experiments", "sweep", "plots", "report", "deeplinear"},
}
for _low in ("train", "init", "metrics", "haar", "reference", "_validation"):
    FORBIDDEN[_low] = {"cli", "experiments", "sweep", "plots", "report", "deeplinear"}


def test_arrows_point_one_way():
    wrong = []
    for module, targets in _graph().items():
        for target in targets:
            if _layer(target) in FORBIDDEN.get(_layer(module), set()):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_plots_take_frames_and_never_read_files():
    source = (PACKAGE / "plots.py").read_text(encoding="utf-8")
    for needle in ("read_parquet", "read_table", "load(", "open(", "read_spec"):
        assert needle not in source, needle
