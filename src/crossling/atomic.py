"""Atomic file writes: a reader sees either the old file or the complete new one, never half.

Results and caches are written to a temporary file in the same directory, flushed and fsynced,
then moved into place with :func:`os.replace` (atomic on POSIX and Windows). An interrupted
run therefore leaves no truncated CSV, JSON or checkpoint behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; a result file should get the permissions any other new file gets
# (a report folder is meant to be shared or served). Read once: os.umask can only be read by
# setting it, which is not safe to repeat while other threads create files.
_FILE_MODE = 0o666 & ~_read_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` atomically.

    Use this for writers that insist on a file name (``torch.save``, ``savefig``, safetensors).
    The temporary keeps the target's suffix so that format detection by extension still works.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, writer: Callable[[IO[str]], Any]) -> Path:
    """Write a text file atomically with ``writer(fh)``; return the final path."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer(fh)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    return atomic_write(path, lambda fh: fh.write(text))


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as indented, key-sorted JSON (stable diffs between runs)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
