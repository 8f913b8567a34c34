"""Functions stay readable: none over 80 lines, no public one with more than 6 parameters.

A workflow with many knobs takes one validated settings object instead of a long argument list
(docs/design.md); ``self``/``cls`` do not count, ``*args``/``**kwargs`` do.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crossling"
MAX_LINES = 80
MAX_PARAMS = 6


def _functions(root: Path) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((f"{path.relative_to(root)}:{node.lineno} {node.name}", node))
    return out


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    named = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
    return len([n for n in named if n not in ("self", "cls")]) + bool(a.vararg) + bool(a.kwarg)


def _long(root: Path) -> list[str]:
    return [f"{where}: {node.end_lineno - node.lineno + 1} lines"  # type: ignore[operator]
            for where, node in _functions(root)
            if node.end_lineno - node.lineno + 1 > MAX_LINES]  # type: ignore[operator]


def _wide(root: Path) -> list[str]:
    return [f"{where}: {_params(node)} parameters" for where, node in _functions(root)
            if not node.name.startswith("_") and _params(node) > MAX_PARAMS]


def test_no_function_is_over_80_lines() -> None:
    long = _long(SRC)
    assert not long, "\n".join(long)


def test_no_public_function_takes_more_than_6_parameters() -> None:
    wide = _wide(SRC)
    assert not wide, "\n".join(wide)


def test_the_checks_count_what_they_say(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    (tmp_path / "m.py").write_text(
        f"def long():\n{body}\n\n"
        "def wide(a, b, c, d, e, f, *, g): pass\n\n"
        "def _private(a, b, c, d, e, f, g): pass\n\n"
        "class K:\n    def method(self, a, b, c, d, e, f): pass\n\n"
        "def star(a, b, c, d, e, *args, **kw): pass\n")
    assert _long(tmp_path) == ["m.py:1 long: 81 lines"]
    assert _wide(tmp_path) == ["m.py:83 wide: 7 parameters", "m.py:90 star: 7 parameters"]
