"""Reading text data files line by line with errors a user can act on.

Every reader (CoNLL-U, IOB2, parallel text) goes through `iter_lines`, so all treat encodings
alike: UTF-8 only, a bad byte reported as ``file:line: not valid UTF-8``; a byte-order mark at
the start of the file is dropped (left in, it glues itself to the first field), one at the start
of a later line (two files concatenated) is refused (docs/tasks.md, "Input rules").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crossling.core.errors import DataError

BOM = "\ufeff"


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line without its end-of-line)`` of a UTF-8 text file."""
    p = Path(path)
    with open(p, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex()
                raise DataError(p, number, f"not valid UTF-8 (byte 0x{bad} at column "
                                           f"{exc.start + 1}); is the file Latin-1? convert "
                                           f"it to UTF-8") from None
            if number == 1 and line.startswith(BOM):
                line = line[1:]
            elif line.startswith(BOM):
                raise DataError(p, number, "byte-order mark (U+FEFF) inside the file (two "
                                           "files concatenated?); only the first line may "
                                           "start with one")
            yield number, line.rstrip("\r\n")
