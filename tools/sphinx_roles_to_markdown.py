"""Rewrite the Sphinx roles of docstrings as Markdown code spans, the form mkdocstrings renders.

``:func:`crossling.x.f```, ``:class:`~crossling.core.errors.ModelError``` and the like (roles
``func class meth attr data mod exc obj const``, with or without the ``py:`` domain) become
`` `crossling.x.f` `` and `` `ModelError` `` (a leading ``~`` keeps the last part only, as Sphinx
shows it). A role broken over two lines is joined: re-wrap the few lines that then run past
100 characters. tests/test_docstrings.py checks that no role is left in src/.

Usage, from the repository root: ``python tools/sphinx_roles_to_markdown.py src``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")


def _span(match: re.Match[str]) -> str:
    target = re.sub(r"\s+", "", match.group(2))  # a role broken over two docstring lines
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def convert(text: str) -> str:
    """``text`` with every role written as a Markdown code span."""
    return ROLE.sub(_span, text)


def main(roots: list[str]) -> int:
    changed = 0
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            new = convert(text)
            if new != text:
                path.write_text(new, encoding="utf-8")
                changed += len(ROLE.findall(text))
                print(f"{path}: {len(ROLE.findall(text))} roles")
    print(f"{changed} roles rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["src"]))
