"""Result rows to and from CSV and JSON files, written atomically.

CSV (`write_rows_csv`): one column per stored field, except that the provenance (about 2 KB
of JSON, the same on every row of a run) becomes a short `run_id` (the first 12 hex digits of
the SHA-256 of its canonical JSON); each run's provenance is written once, in the sidecar
`provenance.json` beside the CSV (`{run_id: provenance}`). JSON (`write_rows_json`): a list of
records with the provenance inline, so a file stands alone (a fine-tuning run's `scores.json`
is also its completion marker). Both read back rows of older versions (`compat`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crossling.core.atomic import atomic_write, write_json
from crossling.core.errors import DataError
from crossling.results.rows import (
    SCORE_RECORD,
    SIMILARITY_RECORD,
    Row,
    ScoreRow,
    SimilarityRow,
)

SIDECAR = "provenance.json"
"""The file beside a result CSV that holds each run's provenance, keyed by run id."""

RUN_ID_LENGTH = 12
_RUN_ID = re.compile(rf"^[0-9a-f]{{{RUN_ID_LENGTH}}}$")
_REQUIRED = {SimilarityRow: list(SIMILARITY_RECORD)[:13], ScoreRow: list(SCORE_RECORD)[:12]}
"""The columns every CSV of a row table has had, in every version (the rest came later)."""


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
    """Atomically write rows (of one table) as CSV with a ``run_id`` column, and their
    provenance into the sidecar ``provenance.json`` beside it.

    The sidecar is written first and keeps the entries already there (ids are content hashes,
    so an entry never changes meaning): a CSV beside it, an older one or one whose rewrite was
    interrupted, can always be resolved. A file there in another format is replaced.
    """
    if not rows:
        raise ValueError("no rows to write")
    layout = SIMILARITY_RECORD if isinstance(rows[0], SimilarityRow) else SCORE_RECORD
    names = [name for name in layout if name != "provenance"] + ["run_id"]
    records = []
    runs: dict[str, dict[str, Any]] = {}
    for row in rows:
        d = row.record()
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
    """Atomically write rows as a JSON list of records (provenance inline)."""
    return write_json(path, [r.record() for r in rows])


def row_from_record(record: Mapping[str, Any]) -> Row:
    """The row of a stored record of either table (a similarity record has a ``kind``)."""
    if "kind" in record:
        return SimilarityRow.from_record(record)
    return ScoreRow.from_record(record)


def read_rows_json(path: str | Path) -> list[Row]:
    """Rows back from a file of `write_rows_json` (or of an older version); a file that
    is not such a list is a one-line DataError naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(path, None, f"cannot read ({exc.strerror})") from None
    except ValueError:
        raise DataError(path, None, "not JSON") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(path, None, "not a JSON list of result rows")
    try:
        return [row_from_record(r) for r in data]
    except (TypeError, ValueError) as exc:
        raise DataError(path, None, f"not a result row: {exc}") from None


def _converter(tp: Any) -> tuple[Any, bool]:
    """(type to convert a CSV cell to, whether an empty cell means None) for a field type."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], type(None) in args
    return tp, False


def _table(header: Sequence[str]) -> type[SimilarityRow] | type[ScoreRow] | None:
    for cls, required in _REQUIRED.items():
        if set(required) <= set(header):
            return cls
    return None


def _cells(path: Path, line: int, rec: Mapping[str, str],
           layout: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of one CSV line's columns (provenance aside)."""
    out: dict[str, Any] = {}
    for name, tp in layout.items():
        if name == "provenance" or name not in rec:
            continue
        conv, optional = _converter(tp)
        text = rec[name]
        try:
            out[name] = None if optional and text == "" else conv(text)
        except ValueError:
            raise DataError(path, line, f"{name} = {text!r}: not a valid "
                                        f"{conv.__name__}") from None
    return out


def _provenance(path: Path, line: int, rec: Mapping[str, str],
                runs: Mapping[str, dict[str, Any]] | None) -> dict[str, Any]:
    if runs is None:  # an older CSV: the provenance inline
        try:
            return dict(json.loads(rec["provenance"]))
        except ValueError:
            raise DataError(path, line, "provenance is not JSON") from None
    rid = rec["run_id"]
    if rid not in runs:
        raise DataError(path, line, f"run_id {rid!r} not in {SIDECAR}")
    return runs[rid]


def read_rows_csv(path: str | Path) -> list[SimilarityRow] | list[ScoreRow]:
    """Rows back from a CSV of `write_rows_csv`, with their provenance from the sidecar.

    The table is told by the header. CSVs of older versions (a ``provenance`` JSON column,
    no sidecar needed; columns of later fields missing) load too. A file that is not such a
    CSV, a cell that does not parse, or a run id the sidecar lacks is a one-line DataError
    naming the file and line.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            records = list(reader)
    except OSError as exc:
        raise DataError(path, None, f"cannot read ({exc.strerror})") from None
    cls = _table(header)
    if cls is None:
        raise DataError(path, 1, "not a crossling result CSV (header lacks the row fields)")
    if "provenance" not in header and "run_id" not in header:
        raise DataError(path, 1, "no run_id (or provenance) column")
    runs = None
    if "provenance" not in header:
        runs = _read_sidecar(sidecar_path(path))
        if runs is None:
            raise DataError(sidecar_path(path), None, "missing or not a {run_id: provenance} "
                                                      f"object (needed by {path.name})")
    layout = SIMILARITY_RECORD if cls is SimilarityRow else SCORE_RECORD
    out: list[Any] = []
    for line, rec in enumerate(records, start=2):
        if None in rec or any(rec.get(c) is None for c in header):
            raise DataError(path, line, f"{len(header)} columns expected")
        values = _cells(path, line, rec, layout)
        values["provenance"] = _provenance(path, line, rec, runs)
        try:
            out.append(cls.from_record(values))
        except (TypeError, ValueError) as exc:
            raise DataError(path, line, f"not a result row: {exc}") from None
    return out
