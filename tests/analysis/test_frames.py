"""Rows become frames in one place; the typed fields say which model and which source."""

from __future__ import annotations

from dataclasses import replace

from crossling.analysis.frames import finetuning_of, scores_frame, similarity_frame
from crossling.results import CrossLingualRow, ScoreRow, WeightChangeRow


def _sim(prov: dict[str, object]) -> CrossLingualRow:
    return CrossLingualRow(source="en", target="fr", layer=3, metric="linear_cka", value=0.5,
                           ci_low=0.4, ci_high=0.6, null_mean=0.1, null_high=0.2, n=10,
                           pooling="mean", model="m", provenance=prov)


def test_finetuned_rows_are_recognised_from_fields() -> None:
    pretrained = _sim({"seed": 0})
    tuned = replace(pretrained, model="m+pos-seed1", task="pos", seed=1, finetune_cell="ft-1")
    assert finetuning_of(pretrained) == (None, None)
    assert finetuning_of(tuned) == ("pos", 1)
    # the fields decide, not a provenance key nor the encoder's name
    assert finetuning_of(replace(tuned, provenance={"task": "ner", "seed": 9})) == ("pos", 1)
    frame = similarity_frame([pretrained, tuned])
    assert frame["finetuned"].tolist() == [False, True]
    assert frame["task"].isna().tolist() == [True, False] and frame["task"].iloc[1] == "pos"
    assert frame["seed"].iloc[1] == 1 and frame["finetune_cell"].iloc[1] == "ft-1"


def test_every_kind_is_one_frame_with_the_stored_values() -> None:
    weights = WeightChangeRow(source="en", target="en", layer=0, metric="rel_change_from_start",
                              value=0.01, model="m+pos", task="pos", seed=0)
    frame = similarity_frame([_sim({}), weights])
    assert frame["kind"].tolist() == ["cross-lingual", "weight-change"]
    assert frame["n"].tolist() == [10, 0] and frame["pooling"].tolist() == ["mean", "-"]
    assert frame["ci_low"].isna().tolist() == [False, True]
    assert similarity_frame([]).empty and "finetuned" in similarity_frame([]).columns


def test_source_is_the_rows_field() -> None:
    def row(lang: str, source: str | None, prov: dict[str, object]) -> ScoreRow:
        return ScoreRow("pos", lang, "test", "upos_acc", 50.0, 49.0, 51.0, 10, 100, "m", "REF",
                        0, prov, source=source)

    frame = scores_frame([row("en", "en", {}), row("fr", "en", {}),
                          row("fr", "fr", {"source": "en"}), row("fr", None, {})])
    assert frame["is_source"].tolist() == [True, False, True, False]
    assert frame["is_source"].dtype == bool
    assert frame["source"].iloc[:3].tolist() == ["en", "en", "fr"]
    assert frame["source"].isna().tolist() == [False, False, False, True]


def test_sentence_frame_has_one_row_per_sentence_under_the_contract_columns() -> None:
    from crossling.analysis.frames import SENTENCE_COLUMNS, sentence_frame
    from crossling.results import SentenceCounts

    counts = SentenceCounts((1.0, 0.0, 2.0), (2.0, 1.0, 4.0), 200.0)
    base = ScoreRow("ner", "en", "test", "span_f1", counts.value(), 0.0, 100.0, 3, 4, "m",
                    "1-2", 3, source="en", sentences=counts)
    target = replace(base, language="de", sentences=SentenceCounts((5.0,), (6.0,), 100.0),
                     metric="span_precision")
    frame = sentence_frame([base, replace(base, language="fr", sentences=None), target])
    assert list(frame.columns) == SENTENCE_COLUMNS == [
        "task", "metric", "model", "reinit", "seed", "language", "source", "is_source",
        "sentence", "num", "den", "scale"]
    assert frame["language"].tolist() == ["en"] * 3 + ["de"]  # fr kept no counts: no rows
    assert frame["sentence"].tolist() == [0, 1, 2, 0]
    assert frame["is_source"].tolist() == [True, True, True, False]
    assert frame["reinit"].tolist() == ["1-2"] * 4 and frame["seed"].tolist() == [3] * 4
    assert frame["scale"].tolist() == [200.0] * 3 + [100.0]
    en = frame[frame["language"] == "en"]
    assert en["scale"].iloc[0] * en["num"].sum() / en["den"].sum() == base.value
    empty = sentence_frame([replace(base, sentences=None)])
    assert list(empty.columns) == SENTENCE_COLUMNS and empty.empty
    assert str(empty["num"].dtype) == "float64" and str(empty["sentence"].dtype) == "int64"
