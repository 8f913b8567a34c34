"""Language codes to files: ``en`` -> the English PUD file, ``fr_gsd`` -> the French GSD treebank.

The resolver scans a UD folder once (following folder links), so whatever treebanks it holds are
available without a table of languages: ``xx`` is language ``xx``'s PUD file (else its only
treebank), ``xx_tb`` treebank ``tb`` (split ``test``), ``xx_tb:split`` that split. An unknown
code lists what is there; one file name at two real paths (two releases) is refused, naming both.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from crossling.core.errors import ConfigError

_UD_FILE = re.compile(r"^(?P<lang>[a-z]{2,3})_(?P<tb>[a-z0-9]+)-ud-(?P<split>train|dev|test)"
                      r"\.conllu$")


@dataclass(frozen=True)
class UDFile:
    lang: str
    treebank: str
    split: str
    path: Path


def scan_ud(root: str | Path) -> list[UDFile]:
    """All UD files below ``root`` (searched recursively, folder symlinks followed), sorted by
    path; a real file reached by several paths is listed once (at its first path)."""
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f"{base}: UD data folder does not exist")
    seen_dirs: set[str] = set()
    seen_files: set[str] = set()
    found = []
    for folder, dirs, names in os.walk(base, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen_dirs:  # a symlink cycle, or a second link to a folder already seen
            dirs[:] = []
            continue
        seen_dirs.add(real)
        dirs.sort()
        for name in sorted(names):
            m = _UD_FILE.match(name)
            path = Path(folder) / name
            if m and os.path.realpath(path) not in seen_files and path.is_file():
                seen_files.add(os.path.realpath(path))
                found.append(UDFile(m["lang"], m["tb"], m["split"], path))
    return sorted(found, key=lambda f: f.path)


def _one(files: list[UDFile], what: str, root: str | Path) -> Path:
    """The path of the only file of ``files``; two copies of one treebank file are an error."""
    if len(files) > 1:
        raise ConfigError(f"{what} is found twice in {root}: {files[0].path} and {files[1].path}; "
                          "move or remove one copy (e.g. an old release)")
    return files[0].path


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
        return _one(candidates, f"{name}:{want_split}", root)
    pud = [f for f in of_lang if f.treebank == "pud" and f.split == want_split]
    if pud:
        return _one(pud, f"{lang}_pud:{want_split}", root)
    others = [f for f in of_lang if f.split == want_split]
    if len({f.treebank for f in others}) == 1:
        return _one(others, f"{lang}_{others[0].treebank}:{want_split}", root)
    have = sorted({f"{f.lang}_{f.treebank}" for f in of_lang})
    raise ConfigError(f"language {lang!r} is ambiguous in {root}: name a treebank "
                      f"({', '.join(have)})")


def pud_languages(root: str | Path) -> list[str]:
    """Languages that have a PUD test file under ``root`` (the parallel set)."""
    return sorted({f.lang for f in scan_ud(root) if f.treebank == "pud" and f.split == "test"})
