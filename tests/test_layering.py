"""The import direction of the architecture holds: no package imports one above it.

data <- models <- training / similarity <- analysis <- experiments / report <- cli. Packages on
one level may use each other (similarity reuses training's length batcher); the top-level
modules (errors, atomic, provenance, results, manifest) sit below everything, and nothing but
the CLI itself imports ``crossling.cli``. Read from the source with ``ast``, so a lazy import
inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crossling"
LEVEL = {"core": 0, "results": 0.5, "data": 1, "models": 2, "training": 3, "similarity": 3,
         "analysis": 4, "experiments": 5, "report": 5, "cli": 6}
"""Level of each package; a top-level module (``crossling/x.py``) is level 0."""


def _level(module: str) -> int:
    return LEVEL.get(module, 0)


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.startswith("crossling.")]
    return out


def test_no_package_imports_a_higher_one() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).parts
        if rel == ("__init__.py",):  # re-exports the public API, lazily
            continue
        here = rel[0] if len(rel) > 1 else "(top level)"
        for line, name in _imports(path):
            target = name.split(".")[1]
            if _level(target) > _level(here):
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_map_covers_every_package() -> None:
    """A new package must be placed in LEVEL, or the check above would treat it as level 0."""
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(LEVEL)


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    """An import inside a function counts: that is how a cycle would be hidden."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from crossling.cli import main\n    return main\n")
    assert _imports(f) == [(2, "crossling.cli")]
