"""Parsed CoNLL-U files, kept for the life of the process: a study parses each file once.

Every fine-tuning cell reads its treebanks in full, and parsing them is seconds per file on a
busy CPU. `read_conllu_once` returns what `crossling.data.conllu.read_conllu` does, keyed by the
path, size and modification time (a changed file is parsed again); sentences are frozen, so
sharing them is safe, and each call gets its own list.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from crossling.data.conllu import Sentence, read_conllu


@lru_cache(maxsize=64)
def _parsed(path: str, size: int, mtime_ns: int) -> tuple[Sentence, ...]:
    return tuple(read_conllu(path))


def read_conllu_once(path: str | Path) -> list[Sentence]:
    """All sentences of a CoNLL-U file, parsed once per process and file version."""
    p = Path(path)
    if not p.is_file():
        return read_conllu(p)  # its one-line DataError
    st = p.stat()
    return list(_parsed(str(path), st.st_size, st.st_mtime_ns))
