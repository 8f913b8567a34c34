"""The writing system of a text, read from its characters (a P6 covariate: same script as the
source or not).

Python's ``unicodedata`` has no script property, but every letter's Unicode name starts with
its script (``LATIN SMALL LETTER E``, ``CYRILLIC ...``, ``CJK UNIFIED IDEOGRAPH-4E00``,
``HIRAGANA ...``); `char_script` reads it from there, so no hand-typed table of languages is
needed. Only letters (general category ``L*``) count: digits and punctuation are shared.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

WIDTH_PREFIXES = ("FULLWIDTH ", "HALFWIDTH ")
"""Name prefixes of width variants (``FULLWIDTH LATIN CAPITAL LETTER A``): the script follows."""
RENAMED = {"CJK": "HAN"}
"""Unicode name heads that are not the script's name: CJK ideographs are the Han script."""


@lru_cache(maxsize=65536)
def char_script(char: str) -> str | None:
    """The script of a letter as an upper-case word (``LATIN``, ``CYRILLIC``, ``HAN``,
    ``HIRAGANA``, ...), read from its Unicode name; None for a non-letter or a nameless one."""
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    for prefix in WIDTH_PREFIXES:
        name = name.removeprefix(prefix)
    head = name.split(" ", 1)[0].split("-", 1)[0]
    return RENAMED.get(head, head) or None


@dataclass(frozen=True)
class Script:
    """The majority script of a text: its name, the share of letters in it, letters counted."""

    name: str | None
    share: float
    letters: int


def majority_script(texts: Iterable[str]) -> Script:
    """The script most letters of ``texts`` are written in (ties: alphabetical first); name
    None and share NaN when there is no letter at all."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(s for s in map(char_script, text) if s is not None)
    total = sum(counts.values())
    if not total:
        return Script(None, float("nan"), 0)
    name, top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Script(name, top / total, total)
