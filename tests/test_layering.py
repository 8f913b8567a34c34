"""The architecture's import rules, read from the source with ``ast``: no upward import, no circle.

Every import form counts (``import crossling.x``, ``from crossling.x import y``, ``from crossling
import x``, relative imports, imports inside functions), and the order is the one docs/design.md
states. ``crossling/__init__.py`` is the lazy public API: it names modules of every level, so it
is the one module left out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crossling"
DESIGN = Path(__file__).resolve().parents[1] / "docs" / "design.md"
ORDER = [["core"], ["results"], ["data"], ["models"], ["training", "similarity"],
         ["probing", "retrieval"], ["analysis"], ["workflows"], ["report"], ["experiments"],
         ["cli"]]
"""Packages from the bottom up; a package may import its own level and the levels below it."""
LEVEL = {pkg: i for i, level in enumerate(ORDER) for pkg in level}


def _module_name(path: Path, root: Path = SRC) -> str:
    parts = ["crossling", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = SRC) -> Iterator[tuple[int, str]]:
    """(line, module) of every crossling module ``path`` imports, in any form."""
    here = _module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from crossling import x` and `from crossling.pkg import mod` name modules too
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the crossling modules it imports (names resolved to existing modules)."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name == "crossling":
            continue
        edges = set()
        for _, target in _imports(path, root):
            while target and target not in modules:  # `pkg.mod.attr` -> `pkg.mod`
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("crossling"):
                edges.add(target)
        graph[name] = edges
    return graph


def _level(module: str) -> int | None:
    parts = module.split(".")
    return LEVEL.get(parts[1]) if len(parts) > 1 else None


def _upward(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for source, targets in graph.items():
        for target in targets:
            if target == "crossling":
                wrong.append(f"{source} imports the top package crossling")
                continue
            low, high = _level(source), _level(target)
            if low is not None and high is not None and high > low:
                wrong.append(f"{source} imports {target}")
    return sorted(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_a_higher_level() -> None:
    wrong = _upward(_graph())
    assert not wrong, "\n".join(wrong)


def test_no_import_circle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_every_package_has_a_level_and_top_modules_are_only_the_api() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(LEVEL)
    assert sorted(p.name for p in SRC.glob("*.py")) == ["__init__.py"]


def test_the_order_is_the_one_docs_design_states() -> None:
    """docs/design.md's layering line lists the same levels, bottom first."""
    line = next(x for x in DESIGN.read_text(encoding="utf-8").splitlines()
                if x.startswith("- Layering: "))
    stated = [re.findall(r"[a-z]+", level) for level in line.split(":", 1)[1].split("<")]
    assert stated == ORDER


def test_the_checks_see_every_import_form(tmp_path: Path) -> None:
    pkg = tmp_path / "data"
    pkg.mkdir()
    (tmp_path / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from ..cli import main\n    return main\n")
    (pkg / "b.py").write_text("import crossling.models.x\nfrom crossling import report\n")
    (pkg / "c.py").write_text("from . import d\n")
    (pkg / "d.py").write_text("from .c import thing\n")
    for name in ("cli", "models", "report"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "models" / "x.py").write_text("")
    graph = _graph(tmp_path)
    assert graph["crossling.data.a"] == {"crossling.cli"}  # relative, inside a function
    assert graph["crossling.data.b"] == {"crossling.models.x", "crossling.report"}
    assert _cycles(graph) == [["crossling.data.c", "crossling.data.d"]]
