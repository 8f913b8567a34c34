"""The two kinds of result rows crossling produces, and their atomic CSV/JSON writers.

One row type per kind of result (layout rule): a :class:`SimilarityRow` is one similarity value
(pair of languages or models, layer, metric) with its uncertainty; a :class:`ScoreRow` is one task
score (task, language, metric) with its confidence interval. Both carry a ``provenance`` dict
(model, data checksums, seed, pooling, versions, git commit, device) so that every number can be
traced. Rows are tidy: one value per row, ready for pandas.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from crossling.atomic import atomic_write, write_json


@dataclass(frozen=True)
class SimilarityRow:
    """One per-layer similarity between two sets of vectors of the same sentences.

    ``kind`` is ``"cross-lingual"`` (same model, ``source`` vs ``target`` language) or
    ``"model-model"`` (``model`` vs ``compare_model`` on the sentences of ``target``; ``source``
    then equals ``target``). ``layer`` 0 is the embedding output, ``i`` the output of block ``i``.
    ``null_mean``/``null_high`` are the mean and 95th percentile of the metric over shuffled
    (non-parallel) pairings; ``ci_low``/``ci_high`` a 95% bootstrap interval over sentences.
    """

    kind: str
    source: str
    target: str
    layer: int
    metric: str
    value: float
    ci_low: float
    ci_high: float
    null_mean: float
    null_high: float
    n: int
    pooling: str
    model: str
    compare_model: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreRow:
    """One evaluation score of a fine-tuned model on one language.

    ``metric`` is ``upos_acc``, ``uas``, ``las`` or ``span_f1`` (values in [0, 100]);
    ``n_sentences`` and ``n_units`` (words, or gold entities for NER) say what it was computed
    on; ``reinit`` is ``"REF"`` or the re-initialised layer group (``"1-2"``, 1-based blocks).
    """

    task: str
    language: str
    split: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_sentences: int
    n_units: int
    model: str
    reinit: str
    seed: int
    provenance: dict[str, Any] = field(default_factory=dict)


Row = SimilarityRow | ScoreRow


def row_dict(row: Row) -> dict[str, Any]:
    return asdict(row)


def write_rows_csv(path: str | Path, rows: Sequence[Row]) -> Path:
    """Atomically write rows as CSV; the provenance column holds compact JSON."""
    if not rows:
        raise ValueError("no rows to write")
    names = [f.name for f in fields(rows[0])]

    def writer(fh: Any) -> None:
        w = csv.DictWriter(fh, fieldnames=names)
        w.writeheader()
        for row in rows:
            d = row_dict(row)
            d["provenance"] = json.dumps(d["provenance"], sort_keys=True, default=str)
            w.writerow(d)

    return atomic_write(path, writer)


def write_rows_json(path: str | Path, rows: Iterable[Row]) -> Path:
    """Atomically write rows as a JSON list of objects."""
    return write_json(path, [row_dict(r) for r in rows])
