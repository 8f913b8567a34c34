"""Probing frames: the layer table and the best layer per language, on rows with known answers."""

from __future__ import annotations

import math

import pandas as pd

from crossling.analysis.probing import best_layers, layer_table, probe_frame, split_probe_rows
from crossling.results import PROBE_TASK, ProbeRow, ScoreRow

PEAK = {"en": 8, "fr": 6, "zh": 9}
MAJORITY = {"en": 17.0, "fr": 18.0, "zh": 20.0}


def probe_rows() -> list[ScoreRow]:
    """Accuracy rises to a peak at layer ``PEAK[lang]`` (en: 90, targets lower) and falls;
    control accuracy 30 everywhere; majority per language."""
    rows: list[ScoreRow] = []
    for lang in ("fr", "en", "zh"):  # not in display order on purpose
        top = 90.0 if lang == "en" else 70.0
        rows.append(ProbeRow(PROBE_TASK, lang, "x-ud-test", "majority_acc", MAJORITY[lang],
                             MAJORITY[lang] - 1, MAJORITY[lang] + 1, 100, 2000, "m", "REF", 0,
                             {"model": "m"}, source="en", layer=None))
        for layer in range(13):
            acc = top - 3.0 * abs(layer - PEAK[lang])
            for metric, v in (("upos_acc", acc), ("control_acc", 30.0),
                              ("selectivity", acc - 30.0)):
                rows.append(ProbeRow(PROBE_TASK, lang, "x-ud-test", metric, v, v - 1.5, v + 1.5,
                                     100, 2000, "m", "REF", 0, {"model": "m"}, source="en",
                                     layer=layer))
    return rows


def test_probe_rows_are_split_from_fine_tuning_scores() -> None:
    tuned = ScoreRow("pos", "fr", "test", "upos_acc", 80.0, 79.0, 81.0, 10, 100, "m", "REF", 0)
    probe, other = split_probe_rows([tuned, *probe_rows()])
    assert other == [tuned] and len(probe) == 3 * (1 + 13 * 3)
    assert probe_frame([tuned]).empty


def test_layer_table_and_best_layers() -> None:
    frame = probe_frame(probe_rows())
    table = layer_table(frame)
    assert list(table.columns) == ["en", "fr", "zh"]  # source first
    assert list(table.index) == [*range(13), "majority"]
    assert table.loc[8, "en"] == 90.0 and table.loc["majority", "zh"] == 20.0
    best = best_layers(frame)
    assert best["language"].tolist() == ["en", "fr", "zh"]
    assert best["role"].tolist() == ["source", "target", "target"]
    assert best["best_layer"].tolist() == [8, 6, 9]
    assert best["acc"].tolist() == [90.0, 70.0, 70.0]
    assert best["selectivity"].tolist() == [60.0, 40.0, 40.0]
    assert best["majority"].tolist() == [17.0, 18.0, 20.0]
    # at the source's best layer (8), chosen without the targets' labels
    assert (best["source_layer"] == 8).all()
    assert best["acc_at_source_layer"].tolist() == [90.0, 64.0, 67.0]
    assert best["acc_at_source_layer_low"].tolist() == [88.5, 62.5, 65.5]


def test_empty_and_baseline_only_frames() -> None:
    assert layer_table(probe_frame([])).empty and best_layers(probe_frame([])).empty
    only_majority = [r for r in probe_rows() if r.layer is None]
    frame = probe_frame(only_majority)
    assert isinstance(frame, pd.DataFrame) and frame["layer"].isna().all()
    assert best_layers(frame).empty
    assert math.isnan(frame["layer"].iloc[0])
