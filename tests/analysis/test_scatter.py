"""The similarity-vs-transfer scatter: the selected layer per task and its points."""

from __future__ import annotations

import pandas as pd
import pytest

from crossling.analysis.correlate import all_correlations
from crossling.analysis.frames import scores_frame, similarity_frame
from crossling.analysis.scatter import scatter_choices, scatter_points
from tests.analysis.synthetic import REF_SCORE, SIM_AT_5, TARGETS, score_rows, similarity_rows


def test_points_join_pretrained_similarity_and_ref_scores_per_language() -> None:
    sf, sc = similarity_frame(similarity_rows()), scores_frame(score_rows(seeds=(0, 1)))
    pts = scatter_points(sf, sc, "linear_cka", 5, "pos", "upos_acc")
    assert list(pts["language"]) == sorted(TARGETS)
    assert list(pts.columns) == [
        "language", "layer", "measure", "similarity", "similarity_ci_low", "similarity_ci_high",
        "task", "metric", "score", "score_ci_low", "score_ci_high"]
    by = pts.set_index("language")
    for lang in TARGETS:  # the fine-tuned rows at layer 5 are not the pretrained model's
        assert by.loc[lang, "similarity"] == pytest.approx(SIM_AT_5[lang])
        assert by.loc[lang, "similarity_ci_high"] == pytest.approx(SIM_AT_5[lang] + 0.02)
        assert by.loc[lang, "score"] == pytest.approx(REF_SCORE[lang] + 0.05)  # seeds 0, 1
        assert by.loc[lang, "score_ci_low"] == pytest.approx(REF_SCORE[lang] + 0.05 - 1)
    assert "en" not in set(pts["language"])  # the source is no point of its own
    assert scatter_points(sf, sc, "linear_cka", 5, "ner", "span_f1").empty


def test_the_scatter_shows_the_pretrained_layer_with_the_largest_rho() -> None:
    sf, sc = similarity_frame(similarity_rows()), scores_frame(score_rows())
    corr = all_correlations(sf, sc, n_boot=20)
    corr = corr[corr["measure"] == "debiased_cka"]
    (choice,) = scatter_choices(corr, sf, sc, "debiased_cka")
    assert (choice.task, choice.metric, choice.layer) == ("pos", "upos_acc", 5)
    assert choice.row["rho"] == pytest.approx(1.0) and not choice.row["finetuned"]
    assert choice.points.equals(scatter_points(sf, sc, "debiased_cka", 5, "pos", "upos_acc"))
    undefined = corr.assign(rho=float("nan"))
    assert scatter_choices(undefined, sf, sc, "debiased_cka") == ()
    assert scatter_choices(pd.DataFrame({"task": []}), sf, sc, "debiased_cka") == ()
