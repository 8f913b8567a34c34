"""Language codes to files: ``en`` -> the English PUD file, ``fr_gsd`` -> the French GSD treebank.

Users name languages the way UD names its files (``{lang}_{treebank}-ud-{split}.conllu``), so the
resolver scans a UD folder once and needs no hand-written table of languages: whatever treebanks
the folder holds are available, and an unknown code lists what is there.

- ``xx``            -> the PUD file of language ``xx`` (the parallel test set), else the only
                       treebank of ``xx`` if there is exactly one;
- ``xx_tb``         -> treebank ``tb`` of language ``xx``, split ``test`` unless told otherwise;
- ``xx_tb:split``   -> that split (``train``, ``dev``, ``test``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crossling.errors import ConfigError

_UD_FILE = re.compile(r"^(?P<lang>[a-z]{2,3})_(?P<tb>[a-z0-9]+)-ud-(?P<split>train|dev|test)"
                      r"\.conllu$")


@dataclass(frozen=True)
class UDFile:
    lang: str
    treebank: str
    split: str
    path: Path


def scan_ud(root: str | Path) -> list[UDFile]:
    """All UD files below ``root`` (searched recursively), sorted by path."""
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f"{base}: UD data folder does not exist")
    found = []
    for p in sorted(base.rglob("*.conllu")):
        m = _UD_FILE.match(p.name)
        if m:
            found.append(UDFile(m["lang"], m["tb"], m["split"], p))
    return found


def resolve_ud(root: str | Path, spec: str, split: str = "test") -> Path:
    """Resolve a language spec (see module docstring) to a CoNLL-U file under ``root``."""
    files = scan_ud(root)
    name, _, explicit_split = spec.partition(":")
    want_split = explicit_split or split
    lang, _, tb = name.partition("_")
    if not lang:
        raise ConfigError(f"empty language spec {spec!r}")
    of_lang = [f for f in files if f.lang == lang]
    if not of_lang:
        langs = sorted({f.lang for f in files})
        raise ConfigError(f"unknown language {lang!r} in {root} (available: {', '.join(langs)})")
    if tb:
        candidates = [f for f in of_lang if f.treebank == tb and f.split == want_split]
        if not candidates:
            have = sorted({f"{f.lang}_{f.treebank}:{f.split}" for f in of_lang})
            raise ConfigError(f"no {want_split} file for treebank {name!r} in {root} "
                              f"(available: {', '.join(have)})")
        return candidates[0].path
    pud = [f for f in of_lang if f.treebank == "pud" and f.split == want_split]
    if pud:
        return pud[0].path
    others = [f for f in of_lang if f.split == want_split]
    if len({f.treebank for f in others}) == 1:
        return others[0].path
    have = sorted({f"{f.lang}_{f.treebank}" for f in of_lang})
    raise ConfigError(f"language {lang!r} is ambiguous in {root}: name a treebank "
                      f"({', '.join(have)})")


def pud_languages(root: str | Path) -> list[str]:
    """Languages that have a PUD test file under ``root`` (the parallel set)."""
    return sorted({f.lang for f in scan_ud(root) if f.treebank == "pud" and f.split == "test"})
