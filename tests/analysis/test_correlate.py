from __future__ import annotations

import pytest

from crossling.analysis.correlate import correlations, pretrained_vs_finetuned
from crossling.analysis.frames import scores_frame, similarity_frame
from tests.analysis.synthetic import score_rows, similarity_rows


def test_rho_is_one_where_scores_follow_similarity() -> None:
    sim, sc = similarity_frame(similarity_rows()), scores_frame(score_rows())
    corr = correlations(sim, sc, "pos", "upos_acc", "linear_cka").set_index("layer")
    assert corr.loc[5, "rho"] == pytest.approx(1.0)
    assert corr.loc[5, "n_languages"] == 6
    assert corr.loc[5, "ci_low"] <= 1.0 <= corr.loc[5, "ci_high"] + 1e-12
    # elsewhere similarity is identical across languages: no correlation can be computed
    assert corr.loc[3, "rho"] != corr.loc[3, "rho"]  # NaN
    tuned = correlations(sim, sc, "pos", "upos_acc", "linear_cka", finetuned=True)
    assert tuned.set_index("layer").loc[5, "rho"] == pytest.approx(1.0)


def test_pretrained_vs_finetuned_profile() -> None:
    table = pretrained_vs_finetuned(similarity_frame(similarity_rows()), "linear_cka")
    by_layer = table.set_index("layer")["mean"]
    assert by_layer.loc[0] == pytest.approx(1.0) and by_layer.loc[12] == pytest.approx(0.7)
