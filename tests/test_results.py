"""Result rows round-trip through CSV and JSON with their provenance."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from crossling.results import ScoreRow, SimilarityRow, write_rows_csv, write_rows_json


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
    assert json.loads(back[0]["provenance"]) == {"data": {"f": "abc"}, "source": "en"}


def test_json_rows_and_empty_csv_refused(tmp_path: Path) -> None:
    sim = SimilarityRow("cross-lingual", "en", "fr", 3, "linear_cka", 0.8, 0.7, 0.9, 0.2, 0.3,
                        100, "mean", "m")
    data = json.loads(write_rows_json(tmp_path / "s.json", [sim]).read_text())
    assert data[0]["layer"] == 3 and data[0]["compare_model"] is None
    with pytest.raises(ValueError, match="no rows"):
        write_rows_csv(tmp_path / "empty.csv", [])
    assert not (tmp_path / "empty.csv").exists()
