"""Result rows round-trip through CSV (+ provenance sidecar) and JSON with their provenance."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from crossling.core.errors import DataError
from crossling.results import (
    ScoreRow,
    SimilarityRow,
    read_rows_csv,
    run_id,
    write_rows_csv,
    write_rows_json,
)


def _rows() -> list[ScoreRow]:
    return [ScoreRow("pos", lang, "test", "upos_acc", v, v - 1, v + 1, 10, 200, "m", "REF", 0,
                     {"source": "en", "data": {"f": "abc"}}) for lang, v in (("en", 90.5),
                                                                              ("fr", 70.25))]


def test_csv_round_trip_keeps_values_and_provenance(tmp_path: Path) -> None:
    path = write_rows_csv(tmp_path / "scores.csv", _rows())
    with open(path, encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    assert [r["language"] for r in back] == ["en", "fr"]
    assert float(back[1]["value"]) == 70.25 and int(back[1]["n_units"]) == 200
    # the CSV holds a short run id, the provenance is written once in the sidecar (issue 11:
    # this assertion used to read the provenance JSON from a CSV column)
    assert "provenance" not in back[0] and back[0]["run_id"] == back[1]["run_id"]
    side = json.loads((tmp_path / "provenance.json").read_text())
    assert side == {back[0]["run_id"]: {"data": {"f": "abc"}, "source": "en"}}


def test_json_rows_and_empty_csv_refused(tmp_path: Path) -> None:
    sim = SimilarityRow("cross-lingual", "en", "fr", 3, "linear_cka", 0.8, 0.7, 0.9, 0.2, 0.3,
                        100, "mean", "m")
    data = json.loads(write_rows_json(tmp_path / "s.json", [sim]).read_text())
    assert data[0]["layer"] == 3 and data[0]["compare_model"] is None
    with pytest.raises(ValueError, match="no rows"):
        write_rows_csv(tmp_path / "empty.csv", [])
    assert not (tmp_path / "empty.csv").exists()


_PROV: dict[str, object] = {
    "model": "intfloat/multilingual-e5-small", "model_fingerprint": "a" * 64,
    "data": {f"{lang}_pud-ud-test.conllu": "b" * 64 for lang in ("en", "fr", "de", "ru")},
    "versions": {"torch": "2.4.0", "transformers": "4.44.0", "crossling": "0.1"},
    "metric_variants": {f"measure_{i}": "x" * 120 for i in range(10)},
    "git_commit": "c" * 40, "device": "cpu: x86_64", "seed": 0, "pooling": "mean"}


def _sims(prov: dict[str, object], targets: tuple[str, ...]) -> list[SimilarityRow]:
    return [SimilarityRow("cross-lingual", "en", t, layer, m, 0.5 + layer / 100, 0.4, 0.6,
                          0.1, 0.2, 200, "mean", "e5", None, prov)
            for t in targets for layer in range(13)
            for m in ("debiased_cka", "linear_cka", "rbf_cka")]


def test_demo_size_csv_has_run_ids_not_provenance(tmp_path: Path) -> None:
    """The 200-sentence demo's shape: 2 KB of provenance used to be repeated on every row."""
    assert len(json.dumps(_PROV)) > 1500
    tuned = {**_PROV, "model": "e5+pos-seed1"}
    rows = _sims(_PROV, ("fr", "de", "ru")) + [
        replace(r, model="e5+pos-seed1", task="pos", seed=1, finetune_cell="ft-1")
        for r in _sims(tuned, ("fr",))]
    path = write_rows_csv(tmp_path / "similarity.csv", rows)
    text = path.read_text(encoding="utf-8")
    assert "metric_variants" not in text and "git_commit" not in text and "x" * 120 not in text
    assert path.stat().st_size < 200 * len(rows)  # a few dozen bytes per row
    side = json.loads((tmp_path / "provenance.json").read_text())
    # one entry per distinct provenance, keyed by a 12-hex content id
    assert side == {run_id(_PROV): _PROV, run_id(tuned): tuned}
    assert all(len(k) == 12 and int(k, 16) >= 0 for k in side)
    with open(path, encoding="utf-8") as fh:
        ids = {r["run_id"] for r in csv.DictReader(fh)}
    assert ids == set(side)
    assert read_rows_csv(path) == rows  # with the typed fine-tuning fields


def test_csv_round_trip_rows_equal(tmp_path: Path) -> None:
    scores = [replace(r, source="en") for r in _rows()]
    scores.append(replace(scores[0], seed=1, provenance={"source": "en", "seed": 1}))
    scores.append(replace(scores[0], task="probe_pos", layer=11))  # a probing row's layer
    back = read_rows_csv(write_rows_csv(tmp_path / "a" / "scores.csv", scores))
    assert back == scores and [r.layer for r in back][-2:] == [None, 11]
    sims = [SimilarityRow("model-model", "fr", "fr", 0, "linear_cka", 1 / 3, 0.25, 0.5,
                          -0.125, 0.1, 30, "cls", "m", "m+ner", {"seed": 7}, "ner", 2, "k")]
    sims.append(replace(sims[0], kind="layer-difference", layer=8, compare_layer=12))
    back = read_rows_csv(write_rows_csv(tmp_path / "b" / "similarity.csv", sims))
    assert back == sims and isinstance(back[0], SimilarityRow) and back[0].seed == 2
    assert [r.compare_layer for r in back] == [None, 12]
    assert back[0].value == 1 / 3  # floats exactly


def test_sidecar_keeps_other_runs_and_replaces_other_formats(tmp_path: Path) -> None:
    # an older fine-tuning folder held the plain provenance dict in provenance.json
    (tmp_path / "provenance.json").write_text(json.dumps({"model": "old"}))
    first = write_rows_csv(tmp_path / "scores.csv", _rows())
    side = json.loads((tmp_path / "provenance.json").read_text())
    assert list(side) == [run_id(_rows()[0].provenance)]
    # a second CSV in the same folder (or a rewrite): the ids of the first stay resolvable
    other = [replace(r, provenance={"run": 2}) for r in _rows()]
    write_rows_csv(tmp_path / "other.csv", other)
    assert read_rows_csv(first) == _rows() and read_rows_csv(tmp_path / "other.csv") == other


def test_older_csv_with_inline_provenance_still_reads(tmp_path: Path) -> None:
    """CSVs written before the sidecar: a provenance JSON column, no ``source`` column."""
    path = tmp_path / "scores.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["task", "language", "split", "metric", "value", "ci_low", "ci_high",
                    "n_sentences", "n_units", "model", "reinit", "seed", "provenance"])
        w.writerow(["pos", "en", "test", "upos_acc", "90.5", "89.5", "91.5", "10", "200", "m",
                    "REF", "0", json.dumps({"source": "en"})])
    (row,) = read_rows_csv(path)
    assert row.provenance == {"source": "en"} and row.source is None and row.seed == 0


def test_unreadable_csvs_are_one_line_data_errors(tmp_path: Path) -> None:
    path = write_rows_csv(tmp_path / "scores.csv", _rows())
    side = tmp_path / "provenance.json"
    side.write_text("{}")
    with pytest.raises(DataError, match=r"scores\.csv:2: run_id '[0-9a-f]{12}' not in "
                                        r"provenance\.json"):
        read_rows_csv(path)
    side.unlink()
    with pytest.raises(DataError, match=r"provenance\.json: missing"):
        read_rows_csv(path)
    write_rows_csv(path, _rows())
    path.write_text(path.read_text().replace("200", "many", 1))
    with pytest.raises(DataError, match=r"scores\.csv:2: n_units = 'many': not a valid int"):
        read_rows_csv(path)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"x\.csv:1: not a crossling result CSV"):
        read_rows_csv(tmp_path / "x.csv")
