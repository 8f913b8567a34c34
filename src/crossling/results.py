"""The two kinds of result rows crossling produces, and their atomic CSV/JSON writers and readers.

One row type per kind of result (layout rule): a :class:`SimilarityRow` is one similarity value
(pair of languages or models, layer, metric) with its uncertainty; a :class:`ScoreRow` is one task
score (task, language, metric) with its confidence interval. Both carry a ``provenance`` dict
(model, data checksums, seed, pooling, versions, git commit, device) so that every number can be
traced. Rows are tidy: one value per row, ready for pandas.

The keys the analyses group by are typed fields, not provenance conventions: a score's
``source`` language, and the ``task``/``seed``/``finetune_cell`` of the fine-tuned model a
similarity row measured. They come last and default to None, so rows written by older versions
(JSON, CSV, store) still load: None then means "not recorded", and the analysis falls back to
the provenance keys those versions used (:mod:`crossling.analysis.frames`).

File formats:

- CSV (:func:`write_rows_csv`): one column per field, except that ``provenance`` (about 2 KB
  of JSON, the same on every row of a run) is replaced by a short ``run_id``
  (:func:`run_id`: the first 12 hex digits of the SHA-256 of the provenance's canonical JSON);
  the provenance itself is written once per run in the sidecar ``provenance.json`` beside the
  CSV, a JSON object ``{run_id: provenance}``. :func:`read_rows_csv` joins them back (and still
  reads CSVs of older versions, which held the provenance JSON in a ``provenance`` column).
- JSON (:func:`write_rows_json`): a list of row objects with the provenance inline, so that a
  JSON file stands alone (``scores.json`` is also a fine-tuning run's completion marker, read
  back by :func:`crossling.training.finetune.load_rows`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from crossling.core.atomic import atomic_write, write_json
from crossling.core.errors import DataError


@dataclass(frozen=True)
class SimilarityRow:
    """One per-layer similarity between two sets of vectors of the same sentences.

    ``kind`` is ``"cross-lingual"`` (same model, ``source`` vs ``target`` language) or
    ``"model-model"`` (``model`` vs ``compare_model`` on the sentences of ``target``; ``source``
    then equals ``target``). ``layer`` 0 is the embedding output, ``i`` the output of block ``i``.
    ``null_mean``/``null_high`` are the mean and 95th percentile of the metric over shuffled
    (non-parallel) pairings; ``ci_low``/``ci_high`` a 95% bootstrap interval over sentences.

    ``task``, ``seed`` and ``finetune_cell`` name the fine-tuning that produced the fine-tuned
    model the row measured (``model``, or ``compare_model`` for a pretrained-vs-tuned row): the
    task, the *fine-tuning* seed (the bootstrap seed is in the provenance) and the study cell
    key of the fine-tuning run. All three are None for a pretrained model and for rows written
    before these fields existed.

    ``kind = "layer-difference"`` (``cross_lingual_similarity(..., layer_difference=True)``):
    the fall of ``metric``'s curve from its peak to the top layer, ``value`` = m(``layer``) -
    m(``compare_layer``) with ``layer`` the peak layer l* (argmax of the point estimates) and
    ``compare_layer`` the top (last analysed) layer L; ``ci_low``/``ci_high`` a paired bootstrap
    interval of that difference (both layers on the same resamples; NaN for a measure without a
    bootstrap); ``null_mean``/``null_high`` NaN (no null); the fraction of resamples with
    m_b(L) >= m_b(l*) is ``provenance["layer_difference"]["p_top_ge_peak"]``
    (:func:`crossling.similarity.uncertainty.layer_difference`). ``compare_layer`` is None for every
    other kind and for rows written before the field existed.

    ``reinit`` is the RANDOM-INIT group of that fine-tuned model (``"REF"``, ``"1-2"``, ...),
    and ``compare_seed`` the fine-tuning seed of the second model of a ``"seed-seed"`` row (CKA
    between two REF models of one task that differ only in their seed; ``seed`` is the
    first's). ``kind`` ``"weight-change"`` rows are no similarity of vectors but the relative
    weight change of block ``layer`` during fine-tuning (metric ``rel_change_from_start`` or
    ``rel_change_from_pretrained``; ``n`` 0, intervals and nulls NaN, pooling ``"-"``,
    ``source`` = ``target`` = the source language; :mod:`crossling.training.finetune`). Both
    fields are None for rows that do not concern them and for rows written before they existed.
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
    task: str | None = None
    seed: int | None = None
    finetune_cell: str | None = None
    compare_layer: int | None = None
    reinit: str | None = None
    compare_seed: int | None = None


@dataclass(frozen=True)
class ScoreRow:
    """One evaluation score of a fine-tuned model on one language.

    ``metric`` is ``upos_acc``, ``uas``, ``las`` or ``span_f1`` (values in [0, 100]);
    ``n_sentences`` and ``n_units`` (words, or gold entities for NER) say what it was computed
    on; ``reinit`` is ``"REF"`` or the re-initialised layer group (``"1-2"``, 1-based blocks).
    ``source`` is the label of the run's source-language test set (one of the ``language``
    values of the run): the row with ``language == source`` is the in-language score. None
    for rows written before the field existed.

    ``layer`` is set by layer-wise probing (task ``probe_pos``, `crossling.probing`):
    the hidden state the probe read, 0 = embedding output, ``i`` = output of block ``i``. None
    for scores of a whole model (fine-tuning), for a probe baseline that reads no layer
    (``majority_acc``) and for rows written before the field existed (CSVs, JSON and stores of
    older versions load unchanged: the store adds the column on open).
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
    source: str | None = None
    layer: int | None = None


Row = SimilarityRow | ScoreRow

PROBE_TASK = "probe_pos"
"""The ``task`` of layer-wise probing rows (`crossling.probing`): they share the
score table with fine-tuning scores, and analyses of fine-tuning leave them out by it."""

SIDECAR = "provenance.json"
"""The file beside a result CSV that holds each run's provenance, keyed by run id."""

RUN_ID_LENGTH = 12
_RUN_ID = re.compile(rf"^[0-9a-f]{{{RUN_ID_LENGTH}}}$")


def row_dict(row: Row) -> dict[str, Any]:
    return asdict(row)


def run_id(provenance: dict[str, Any]) -> str:
    """Short content id of a provenance dict: the first 12 hex digits of the SHA-256 of its
    canonical JSON (sorted keys, compact). Equal provenance -> equal id, in any process."""
    text = json.dumps(provenance, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RUN_ID_LENGTH]


def sidecar_path(csv_path: str | Path) -> Path:
    return Path(csv_path).with_name(SIDECAR)


def _read_sidecar(path: Path) -> dict[str, dict[str, Any]] | None:
    """The ``{run_id: provenance}`` entries of a sidecar; None when the file is missing or not
    in that format (e.g. the plain provenance dict older fine-tuning runs wrote there)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and _RUN_ID.match(k) and isinstance(v, dict)
            for k, v in data.items()):
        return None
    return data


def write_rows_csv(path: str | Path, rows: Sequence[Row]) -> Path:
    """Atomically write rows as CSV with a ``run_id`` column, and their provenance into the
    sidecar ``provenance.json`` beside it (one entry per distinct provenance).

    The sidecar is written first and keeps the entries already there (ids are content hashes,
    so an entry never changes meaning): a CSV beside it, an older one or one whose rewrite was
    interrupted, can always be resolved. A file there in another format is replaced.
    """
    if not rows:
        raise ValueError("no rows to write")
    names = [f.name for f in fields(rows[0]) if f.name != "provenance"] + ["run_id"]
    records = []
    runs: dict[str, dict[str, Any]] = {}
    for row in rows:
        d = row_dict(row)
        prov = d.pop("provenance")
        rid = run_id(prov)
        runs[rid] = json.loads(json.dumps(prov, default=str))  # as it will read back
        records.append({**d, "run_id": rid})
    side = sidecar_path(path)
    old = _read_sidecar(side) or {}
    if any(rid not in old for rid in runs):
        write_json(side, {**old, **runs})

    def writer(fh: Any) -> None:
        w = csv.DictWriter(fh, fieldnames=names)
        w.writeheader()
        w.writerows(records)

    return atomic_write(path, writer)


def write_rows_json(path: str | Path, rows: Iterable[Row]) -> Path:
    """Atomically write rows as a JSON list of objects (provenance inline)."""
    return write_json(path, [row_dict(r) for r in rows])


def _converter(tp: Any) -> tuple[Any, bool]:
    """(type to convert a CSV cell to, whether an empty cell means None) for a field type."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], type(None) in args
    return tp, False


def _row_class(header: Sequence[str]) -> type[SimilarityRow] | type[ScoreRow] | None:
    for cls in (SimilarityRow, ScoreRow):
        required = {f.name for f in fields(cls)
                    if f.default is MISSING and f.default_factory is MISSING}
        if required <= set(header):
            return cls
    return None


def read_rows_csv(path: str | Path) -> list[SimilarityRow] | list[ScoreRow]:
    """Rows back from a CSV of :func:`write_rows_csv`, with their provenance from the sidecar.

    The row type is told by the header. CSVs of older versions (a ``provenance`` JSON column,
    no sidecar needed; no ``source``/``task``/... columns, read as None) load too. A file
    that is not such a CSV, a cell that does not parse, or a run id the sidecar lacks is a
    one-line DataError naming the file and line.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            records = list(reader)
    except OSError as exc:
        raise DataError(path, None, f"cannot read ({exc.strerror})") from None
    cls = _row_class(header)
    if cls is None:
        raise DataError(path, 1, "not a crossling result CSV (header lacks the row fields)")
    if "provenance" not in header and "run_id" not in header:
        raise DataError(path, 1, "no run_id (or provenance) column")
    runs: dict[str, dict[str, Any]] = {}
    if "provenance" not in header:
        side = sidecar_path(path)
        found = _read_sidecar(side)
        if found is None:
            raise DataError(side, None, "missing or not a {run_id: provenance} object "
                                        f"(needed by {path.name})")
        runs = found
    hints = typing.get_type_hints(cls)
    out: list[Any] = []
    for line, rec in enumerate(records, start=2):
        if None in rec or any(rec.get(c) is None for c in header):
            raise DataError(path, line, f"{len(header)} columns expected")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "provenance" or f.name not in rec:
                continue
            tp, optional = _converter(hints[f.name])
            text = rec[f.name]
            try:
                kwargs[f.name] = None if optional and text == "" else tp(text)
            except ValueError:
                raise DataError(path, line, f"{f.name} = {text!r}: not a valid "
                                            f"{tp.__name__}") from None
        if "provenance" in header:
            try:
                kwargs["provenance"] = json.loads(rec["provenance"])
            except ValueError:
                raise DataError(path, line, "provenance is not JSON") from None
        else:
            rid = rec["run_id"]
            if rid not in runs:
                raise DataError(path, line, f"run_id {rid!r} not in {SIDECAR}")
            kwargs["provenance"] = runs[rid]
        out.append(cls(**kwargs))
    return out
