from __future__ import annotations

from dataclasses import replace

from crossling.analysis.frames import finetuning_of, scores_frame, similarity_frame
from crossling.results import ScoreRow, SimilarityRow


def _sim(model: str, compare: str | None, prov: dict[str, object]) -> SimilarityRow:
    kind = "model-model" if compare else "cross-lingual"
    return SimilarityRow(kind, "en", "fr", 3, "linear_cka", 0.5, 0.4, 0.6, 0.1, 0.2, 10, "mean",
                         model, compare, prov)


def test_finetuned_rows_are_recognised_from_fields() -> None:
    pretrained = _sim("m", None, {"seed": 0})
    tuned = replace(pretrained, model="m+pos-seed1", task="pos", seed=1, finetune_cell="ft-1")
    assert finetuning_of(pretrained) == (None, None)
    assert finetuning_of(tuned) == ("pos", 1)
    # the fields decide, not a provenance key nor the encoder's name
    assert finetuning_of(replace(tuned, provenance={"task": "ner", "seed": 9})) == ("pos", 1)
    frame = similarity_frame([pretrained, tuned])
    assert frame["finetuned"].tolist() == [False, True]
    assert frame["task"].isna().tolist() == [True, False] and frame["task"].iloc[1] == "pos"
    assert frame["seed"].iloc[1] == 1 and frame["finetune_cell"].iloc[1] == "ft-1"


def test_rows_of_older_versions_fall_back_to_their_provenance_tag() -> None:
    # the pretrained cell records the seed of its bootstrap: that alone is no fine-tuning
    assert finetuning_of(_sim("m", None, {"seed": 0})) == (None, None)
    assert finetuning_of(_sim("m", "m+x", {"task": "ner", "seed": 2})) == ("ner", 2)
    # encoder names are no longer parsed (issue 11: the regex over the name minted in
    # experiments/cells.py is gone; these used to give ("pos", 1) and ("parsing", 3))
    assert finetuning_of(_sim("/models/e5+pos-seed1", None, {})) == (None, None)
    assert finetuning_of(_sim("m", "m+parsing-seed3", {})) == (None, None)
    frame = similarity_frame([_sim("m", None, {"seed": 0}),
                              _sim("m+x", None, {"task": "pos", "seed": 1,
                                                 "finetune_cell": "ft"})])
    assert frame["finetuned"].tolist() == [False, True]
    assert frame["finetune_cell"].isna().tolist() == [True, False]
    assert frame["finetune_cell"].iloc[1] == "ft"


def test_source_rows_come_from_provenance_and_missing_source_marks_none() -> None:
    def row(lang: str, prov: dict[str, object]) -> ScoreRow:
        return ScoreRow("pos", lang, "test", "upos_acc", 50.0, 49.0, 51.0, 10, 100, "m", "REF",
                        0, prov)

    frame = scores_frame([row("en", {"source": "en"}), row("fr", {"source": "en"}),
                          row("en", {})])
    assert frame["is_source"].tolist() == [True, False, False]
    assert frame["is_source"].dtype == bool


def test_source_is_the_rows_field_and_provenance_only_for_older_rows() -> None:
    def row(lang: str, source: str | None, prov: dict[str, object]) -> ScoreRow:
        return ScoreRow("pos", lang, "test", "upos_acc", 50.0, 49.0, 51.0, 10, 100, "m", "REF",
                        0, prov, source=source)

    frame = scores_frame([row("en", "en", {}), row("fr", "en", {}), row("fr", "fr", {"source":
                                                                                   "en"}),
                          row("fr", None, {})])
    assert frame["is_source"].tolist() == [True, False, True, False]
    assert frame["source"].iloc[:3].tolist() == ["en", "en", "fr"]
    assert frame["source"].isna().tolist() == [False, False, False, True]
