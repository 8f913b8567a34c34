"""Rows of older versions: the facts they kept as provenance keys become the typed fields."""

from __future__ import annotations

from typing import Any

from crossling.results import ScoreRow, SimilarityRow
from crossling.results.compat import upgrade_score, upgrade_similarity


def _sim(model: str, compare: str | None, prov: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"kind": "model-model" if compare else "cross-lingual", "source": "en",
            "target": "fr", "layer": 3, "metric": "linear_cka", "value": 0.5, "ci_low": 0.4,
            "ci_high": 0.6, "null_mean": 0.1, "null_high": 0.2, "n": 10, "pooling": "mean",
            "model": model, "compare_model": compare, "provenance": prov, **fields}


def test_the_fields_decide_when_a_row_has_them() -> None:
    tuned = _sim("m+pos-seed1", None, {"task": "ner", "seed": 9}, task="pos", seed=1,
                 finetune_cell="ft-1")
    assert upgrade_similarity(tuned) == tuned
    row = SimilarityRow.from_record(tuned)
    assert (row.task, row.seed, row.finetune_cell) == ("pos", 1, "ft-1")


def test_older_rows_take_the_fine_tuning_tag_of_their_provenance() -> None:
    old = upgrade_similarity(_sim("m+x", "m", {"task": "ner", "seed": 2, "finetune_cell": "c"}))
    assert (old["task"], old["seed"], old["finetune_cell"]) == ("ner", 2, "c")
    # the pretrained cell records the seed of its bootstrap: that alone is no fine-tuning
    pre = upgrade_similarity(_sim("m", None, {"seed": 0}))
    assert (pre["task"], pre["seed"], pre["finetune_cell"]) == (None, None, None)


def test_encoder_names_are_never_parsed() -> None:
    for record in (_sim("/models/e5+pos-seed1", None, {}), _sim("m", "m+parsing-seed3", {})):
        assert SimilarityRow.from_record(record).task is None


def _score(prov: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"task": "pos", "language": "fr", "split": "test", "metric": "upos_acc",
            "value": 50.0, "ci_low": 49.0, "ci_high": 51.0, "n_sentences": 10, "n_units": 100,
            "model": "m", "reinit": "REF", "seed": 0, "provenance": prov, **fields}


def test_a_score_takes_its_source_from_the_provenance_only_when_it_has_none() -> None:
    assert upgrade_score(_score({"source": "en"}))["source"] == "en"
    assert upgrade_score(_score({"source": "en"}, source="fr"))["source"] == "fr"
    assert ScoreRow.from_record(_score({})).source is None  # not recorded: no guess
