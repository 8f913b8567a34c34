"""One class per kind of row: each holds its own fields, and stores the same wide record."""

from __future__ import annotations

import math
from typing import Any

import pytest

from crossling.results import (
    PROBE_TASK,
    SCORE_RECORD,
    SIMILARITY_CLASSES,
    SIMILARITY_RECORD,
    CrossLingualRow,
    LayerDifferenceRow,
    ModelModelRow,
    ProbeRow,
    RetrievalRow,
    ScoreRow,
    SeedSeedRow,
    SimilarityRow,
    WeightChangeRow,
)

COMMON: dict[str, Any] = {"source": "en", "target": "fr", "layer": 3, "metric": "linear_cka",
                          "value": 0.5, "model": "m", "provenance": {"seed": 0}}
SAMPLED: dict[str, Any] = {"ci_low": 0.4, "ci_high": 0.6, "n": 10, "pooling": "mean"}
NULL: dict[str, Any] = {"null_mean": 0.1, "null_high": 0.2}
TUNED: dict[str, Any] = {"task": "pos", "seed": 1, "finetune_cell": "ft", "reinit": "REF"}


def every_kind() -> list[SimilarityRow]:
    return [CrossLingualRow(**COMMON, **SAMPLED, **NULL),
            ModelModelRow(**COMMON, **SAMPLED, **NULL, **TUNED, compare_model="m+pos"),
            SeedSeedRow(**COMMON, **SAMPLED, **NULL, **TUNED, compare_model="m+pos-seed2",
                        compare_seed=2),
            LayerDifferenceRow(**COMMON, **SAMPLED, compare_layer=12),
            RetrievalRow(**{**COMMON, "metric": "retrieval_p1_s2t"}, **SAMPLED, **NULL),
            WeightChangeRow(**{**COMMON, "target": "en", "metric": "rel_change_from_start"},
                            **TUNED)]


def test_every_kind_has_its_class_and_round_trips_through_its_record() -> None:
    rows = every_kind()
    assert [r.kind for r in rows] == list(SIMILARITY_CLASSES)
    for row in rows:
        record = row.record()
        assert list(record) == list(SIMILARITY_RECORD) and record["kind"] == row.kind
        back = SimilarityRow.from_record(record)
        assert type(back) is type(row) and back == row


def test_a_kind_stores_fixed_values_for_the_fields_it_lacks() -> None:
    cross, _, _, diff, _, weights = (r.record() for r in every_kind())
    assert cross["compare_model"] is None and cross["compare_layer"] is None
    assert math.isnan(diff["null_mean"]) and math.isnan(diff["null_high"])
    assert diff["compare_layer"] == 12 and diff["compare_model"] is None
    assert weights["n"] == 0 and weights["pooling"] == "-" and weights["source"] == "en"
    assert all(math.isnan(weights[k]) for k in ("ci_low", "ci_high", "null_mean", "null_high"))


def test_a_record_a_kind_cannot_hold_is_refused() -> None:
    weights = every_kind()[-1].record()
    with pytest.raises(ValueError, match="WeightChangeRow has no n"):
        SimilarityRow.from_record({**weights, "n": 5})
    cross = every_kind()[0].record()
    with pytest.raises(ValueError, match="CrossLingualRow has no compare_model"):
        SimilarityRow.from_record({**cross, "compare_model": "other"})
    with pytest.raises(ValueError, match="unknown similarity row kind 'mystery'"):
        SimilarityRow.from_record({**cross, "kind": "mystery"})
    with pytest.raises(ValueError, match="SeedSeedRow needs compare_seed"):
        SimilarityRow.from_record({**cross, "kind": "seed-seed", "compare_model": "x"})


def test_the_base_is_no_row_of_its_own() -> None:
    with pytest.raises(TypeError, match="base of the row kinds: construct one of CrossLingualRow"):
        SimilarityRow(**COMMON)


def _score(**kw: Any) -> dict[str, Any]:
    return {"task": "pos", "language": "fr", "split": "test", "metric": "upos_acc",
            "value": 50.0, "ci_low": 49.0, "ci_high": 51.0, "n_sentences": 10, "n_units": 100,
            "model": "m", "reinit": "REF", "seed": 0, "provenance": {}, "source": "en", **kw}


def test_probe_rows_are_the_score_rows_of_the_probe_task() -> None:
    tuned = ScoreRow(**_score())
    probe = ProbeRow(**_score(task=PROBE_TASK), layer=4)
    majority = ProbeRow(**_score(task=PROBE_TASK, metric="majority_acc"))
    assert isinstance(probe, ScoreRow) and majority.layer is None
    assert list(tuned.record()) == list(SCORE_RECORD) and tuned.record()["layer"] is None
    for row in (tuned, probe, majority):
        back = ScoreRow.from_record(row.record())
        assert type(back) is type(row) and back == row
    with pytest.raises(ValueError, match="task 'probe_pos' is the task of ProbeRow"):
        ScoreRow(**_score(task=PROBE_TASK))
    with pytest.raises(ValueError, match="task 'probe_pos' is the task of ProbeRow"):
        ProbeRow(**_score(), layer=1)
    with pytest.raises(ValueError, match="ScoreRow has no layer"):
        ScoreRow.from_record({**tuned.record(), "layer": 3})
