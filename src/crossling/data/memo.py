"""Parsed CoNLL-U files, kept for the life of the process: a study parses each file once.

Every fine-tuning cell reads its training, dev and test treebanks in full (a training subset is
drawn from the whole file). Parsing is the ``conllu`` library's line-by-line work: about 4.5 s
for EWT's training set and 15-20 s per cell for EWT + 19 PUD files on two busy CPU cores,
repeated identically by every cell of a study run in one process (the ``local`` executor).

:func:`read_conllu_once` returns the same sentences as
:func:`crossling.data.conllu.read_conllu`, keyed by the path as given, size and modification
time (a changed file is parsed again). Sentences are frozen dataclasses, so sharing them between
callers is safe; each call gets its own list.
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
