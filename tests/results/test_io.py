"""Result rows round-trip through CSV (+ provenance sidecar) and JSON with their provenance."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from crossling.core.errors import DataError
from crossling.results import (
    PROBE_TASK,
    CrossLingualRow,
    LayerDifferenceRow,
    ModelModelRow,
    ProbeRow,
    ScoreRow,
    SimilarityRow,
    read_rows_csv,
    read_rows_json,
    run_id,
    write_rows_csv,
    write_rows_json,
)


def _rows() -> list[ScoreRow]:
    return [ScoreRow("pos", lang, "test", "upos_acc", v, v - 1, v + 1, 10, 200, "m", "REF", 0,
                     {"source": "en", "data": {"f": "abc"}}, "en")
            for lang, v in (("en", 90.5), ("fr", 70.25))]


def test_csv_round_trip_keeps_values_and_provenance(tmp_path: Path) -> None:
    path = write_rows_csv(tmp_path / "scores.csv", _rows())
    with open(path, encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    assert [r["language"] for r in back] == ["en", "fr"]
    assert float(back[1]["value"]) == 70.25 and int(back[1]["n_units"]) == 200
    # the CSV holds a short run id, the provenance is written once in the sidecar
    assert "provenance" not in back[0] and back[0]["run_id"] == back[1]["run_id"]
    side = json.loads((tmp_path / "provenance.json").read_text())
    assert side == {back[0]["run_id"]: {"data": {"f": "abc"}, "source": "en"}}


def test_json_rows_and_empty_csv_refused(tmp_path: Path) -> None:
    sim = CrossLingualRow(source="en", target="fr", layer=3, metric="linear_cka", value=0.8,
                          ci_low=0.7, ci_high=0.9, null_mean=0.2, null_high=0.3, n=100,
                          pooling="mean", model="m")
    path = write_rows_json(tmp_path / "s.json", [sim, *_rows()])
    data = json.loads(path.read_text())
    assert data[0]["layer"] == 3 and data[0]["compare_model"] is None and data[0]["kind"]
    assert read_rows_json(path) == [sim, *_rows()]
    path.write_text(json.dumps([{**data[0], "kind": "mystery"}]))
    with pytest.raises(DataError, match=r"s\.json: not a result row: unknown similarity row "
                                        "kind 'mystery'"):
        read_rows_json(path)
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
    return [CrossLingualRow(source="en", target=t, layer=layer, metric=m,
                            value=0.5 + layer / 100, ci_low=0.4, ci_high=0.6, null_mean=0.1,
                            null_high=0.2, n=200, pooling="mean", model="e5", provenance=prov)
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
    scores.append(ProbeRow(**{**scores[0].record(), "task": PROBE_TASK, "layer": 11}))
    back = read_rows_csv(write_rows_csv(tmp_path / "a" / "scores.csv", scores))
    assert back == scores and isinstance(back[-1], ProbeRow) and back[-1].layer == 11
    common = {"source": "fr", "target": "fr", "metric": "linear_cka", "value": 1 / 3,
              "ci_low": 0.25, "ci_high": 0.5, "n": 30, "pooling": "cls", "model": "m",
              "provenance": {"seed": 7}, "task": "ner", "seed": 2, "finetune_cell": "k"}
    sims: list[SimilarityRow] = [
        ModelModelRow(**common, layer=0, null_mean=-0.125, null_high=0.1, compare_model="m+ner"),
        LayerDifferenceRow(**common, layer=8, compare_layer=12)]
    back = read_rows_csv(write_rows_csv(tmp_path / "b" / "similarity.csv", sims))
    assert back == sims and isinstance(back[0], ModelModelRow) and back[0].seed == 2
    assert isinstance(back[1], LayerDifferenceRow) and back[1].compare_layer == 12
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
    (row,) = read_rows_csv(path)  # its source read from the provenance (compat)
    assert row.provenance == {"source": "en"} and row.source == "en" and row.seed == 0


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
