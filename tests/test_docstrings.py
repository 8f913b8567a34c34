"""Docstrings are Markdown, as the API reference (mkdocs + mkdocstrings) renders them: no Sphinx
role (``:func:`x```, ``:class:`~a.B```, ...) is left in src/. tools/sphinx_roles_to_markdown.py
rewrites roles as code spans."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROLE = re.compile(r":(?:py:)?[a-z]+:`")
"""A Sphinx role's opening, e.g. ``:func:`` or ``:py:class:`` directly followed by a backtick."""


def test_no_sphinx_role_is_left_in_src() -> None:
    found = [f"{path.relative_to(SRC)}:{n}: {line.strip()}"
             for path in sorted(SRC.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if ROLE.search(line)]
    assert not found, "Sphinx roles (write `name` instead):\n" + "\n".join(found[:20])


def test_the_rewrite_keeps_the_name_sphinx_showed() -> None:
    import sys

    sys.path.insert(0, str(SRC.parent / "tools"))
    try:
        from sphinx_roles_to_markdown import convert
    finally:
        sys.path.pop(0)
    assert convert("see :func:`crossling.x.f` and :class:`~crossling.core.errors.ModelError`") \
        == "see `crossling.x.f` and `ModelError`"
    assert convert("(:func:`~crossling.similarity.\n    checks.check_seed`)") == "(`check_seed`)"
    assert convert(":py:meth:`Products.without_diagonals`") == "`Products.without_diagonals`"
    assert ROLE.search(":data:`X`") and not ROLE.search("a :: b `c` and key:`v`")
