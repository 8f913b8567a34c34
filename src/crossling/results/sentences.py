"""Per-sentence counts behind a score, so that an interval can resample sentences across runs.

Every fine-tuning score is a corpus ratio: ``value = scale * sum(num) / sum(den)`` over the
evaluated sentences (`SentenceCounts`; scale 100, or 200 for span F1 whose ``den`` is predicted +
gold entities). A run folder keeps them in ``sentence-scores.csv.gz`` (`SENTENCE_FILE`), one
line per (set, metric, sentence); the results store in its own table, compactly
(`pack_values`). Sentence ``i`` is the ``i``-th sentence of the evaluated set (0-based), the
same sentence in every run that evaluated that set.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO

from crossling.core.atomic import atomic_write_gzip
from crossling.core.errors import DataError
from crossling.results.counts import SentenceCounts, pack_values
from crossling.results.rows import ScoreRow

SENTENCE_FILE = "sentence-scores.csv.gz"
"""A run folder's per-sentence counts (gzip CSV, `write_sentence_counts`)."""

_HEADER = ["language", "metric", "sentence", "num", "den", "scale"]


def write_sentence_counts(path: str | Path, rows: Iterable[ScoreRow]) -> Path:
    """The per-sentence counts of ``rows`` (those that carry them) as a gzip CSV."""
    def writer(fh: IO[str]) -> None:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(_HEADER)
        for r in rows:
            if r.sentences is None:
                continue
            scale = pack_values([r.sentences.scale])
            for i, (n, d) in enumerate(zip(r.sentences.num, r.sentences.den, strict=True)):
                out.writerow([r.language, r.metric, i, pack_values([n]), pack_values([d]),
                              scale])

    return atomic_write_gzip(path, writer)


def read_sentence_counts(path: str | Path) -> dict[tuple[str, str], SentenceCounts]:
    """The counts of a `write_sentence_counts` file by (language, metric); empty when the file
    is absent (a run of an older version). A malformed file is a DataError naming its line."""
    p = Path(path)
    if not p.is_file():
        return {}
    parts: dict[tuple[str, str], tuple[list[float], list[float], float]] = {}
    with gzip.open(p, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != _HEADER:
            raise DataError(p, 1, f"expected the header {','.join(_HEADER)}")
        for line, rec in enumerate(reader, start=2):
            try:
                lang, metric, i, n, d, scale = rec
                num, den, _ = parts.setdefault((lang, metric), ([], [], float(scale)))
                if int(i) != len(num):
                    raise ValueError(f"sentence {i} out of order (expected {len(num)})")
                num.append(float(n))
                den.append(float(d))
            except ValueError as exc:
                raise DataError(p, line, str(exc)) from None
    return {k: SentenceCounts(tuple(n), tuple(d), s) for k, (n, d, s) in parts.items()}


def with_sentence_counts(rows: Sequence[ScoreRow],
                         counts: Mapping[tuple[str, str], SentenceCounts]) -> list[ScoreRow]:
    """``rows`` with the counts of their (language, metric) attached (others as they are)."""
    return [replace(r, sentences=counts[(r.language, r.metric)])
            if (r.language, r.metric) in counts else r for r in rows]
