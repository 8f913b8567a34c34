from __future__ import annotations

from crossling.analysis.frames import finetuning_of, scores_frame, similarity_frame
from crossling.results import ScoreRow, SimilarityRow


def _sim(model: str, compare: str | None, prov: dict[str, object]) -> SimilarityRow:
    kind = "model-model" if compare else "cross-lingual"
    return SimilarityRow(kind, "en", "fr", 3, "linear_cka", 0.5, 0.4, 0.6, 0.1, 0.2, 10, "mean",
                         model, compare, prov)


def test_finetuned_rows_are_recognised_from_provenance_or_encoder_name() -> None:
    # the pretrained cell records the seed of its bootstrap: that alone is no fine-tuning
    assert finetuning_of(_sim("m", None, {"seed": 0})) == (None, None)
    assert finetuning_of(_sim("m", "m+x", {"task": "ner", "seed": 2})) == ("ner", 2)
    # without the provenance tag, the fine-tuned encoder's name says it
    assert finetuning_of(_sim("/models/e5+pos-seed1", None, {})) == ("pos", 1)
    assert finetuning_of(_sim("m", "m+parsing-seed3", {})) == ("parsing", 3)
    frame = similarity_frame([_sim("m", None, {"seed": 0}), _sim("m+pos-seed1", None, {})])
    assert frame["finetuned"].tolist() == [False, True]
    assert frame["task"].isna().tolist() == [True, False] and frame["task"].iloc[1] == "pos"


def test_source_rows_come_from_provenance_and_missing_source_marks_none() -> None:
    def row(lang: str, prov: dict[str, object]) -> ScoreRow:
        return ScoreRow("pos", lang, "test", "upos_acc", 50.0, 49.0, 51.0, 10, 100, "m", "REF",
                        0, prov)

    frame = scores_frame([row("en", {"source": "en"}), row("fr", {"source": "en"}),
                          row("en", {})])
    assert frame["is_source"].tolist() == [True, False, False]
    assert frame["is_source"].dtype == bool
