"""Finding a path of the machine in a generated file: an absolute POSIX path (``/root/...``,
``/tmp/...``, ``/work/...``), a home-relative one (``~/...``) or a Windows drive path."""

from __future__ import annotations

import re
from pathlib import Path

ABSOLUTE_PATH = re.compile(
    r"""(?:^|(?<=[\s,;"'(\[{=|:>]))(?:~|[A-Za-z]:)?(?:[/\\][\w.+@-]+){2,}""", re.M)
"""Two or more path components after a start of line, a space, a separator or a quote: what a
path of this machine looks like in a CSV cell, a JSON string, a Markdown table or HTML text.
Relative paths (``UD_French-PUD/fr_pud-ud-test.conllu``, ``docs/reproduction``) and URLs
(``https://host/a/b``: the ``//`` is no component) do not match."""

TEXT_SUFFIXES = {".csv", ".json", ".md", ".html", ".txt", ".tsv", ".yaml"}


def absolute_paths(text: str) -> list[str]:
    """The distinct absolute paths in ``text``, in order of appearance."""
    return list(dict.fromkeys(m.group(0) for m in ABSOLUTE_PATH.finditer(text)))


def leaks_in(folder: Path) -> dict[str, list[str]]:
    """Absolute paths in every text file below ``folder``, by file (relative to it)."""
    out: dict[str, list[str]] = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix in TEXT_SUFFIXES:
            found = absolute_paths(f.read_text(encoding="utf-8"))
            if found:
                out[f.relative_to(folder).as_posix()] = found[:3]
    return out
