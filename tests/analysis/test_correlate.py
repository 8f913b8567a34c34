from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crossling.analysis.correlate import (
    Correlated,
    _spearman_rows,
    all_correlations,
    correlations,
    pretrained_vs_finetuned,
)
from crossling.analysis.frames import scores_frame, similarity_frame
from tests.analysis.synthetic import SIM_AT_5, score_rows, similarity_rows

POS_CKA = Correlated("pos", "upos_acc", "linear_cka")


def test_rho_is_one_where_scores_follow_similarity() -> None:
    sim, sc = similarity_frame(similarity_rows()), scores_frame(score_rows())
    corr = correlations(sim, sc, POS_CKA).set_index("layer")
    assert corr.loc[5, "rho"] == pytest.approx(1.0)
    assert corr.loc[5, "n_languages"] == 6
    assert corr.loc[5, "ci_low"] <= 1.0 <= corr.loc[5, "ci_high"] + 1e-12
    # elsewhere similarity is identical across languages: no correlation can be computed
    assert math.isnan(corr.loc[3, "rho"]) and math.isnan(corr.loc[3, "ci_low"])
    tuned = correlations(sim, sc, replace(POS_CKA, finetuned=True))
    assert tuned.set_index("layer").loc[5, "rho"] == pytest.approx(1.0)


def test_rho_is_minus_one_for_a_decreasing_relation_and_labels_join_on_code() -> None:
    """Scores falling with similarity, score labels ``xx_pud`` vs similarity targets ``xx``."""
    rows = [replace(r, value=200 - r.value, language=f"{r.language}_pud",
                    source="en_pud") for r in score_rows()]
    corr = correlations(similarity_frame(similarity_rows()), scores_frame(rows),
                        Correlated("pos", "upos_acc", "debiased_cka")).set_index("layer")
    assert corr.loc[5, "rho"] == pytest.approx(-1.0) and corr.loc[5, "n_languages"] == 6


def test_bootstrap_spearman_matches_scipy_row_by_row() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(50, 7)).astype(float)  # many ties, some constant rows
    y = rng.normal(size=(50, 7))
    x[0] = 1.0
    got = _spearman_rows(x, y)
    for i in range(50):
        want = stats.spearmanr(x[i], y[i]).statistic if np.ptp(x[i]) else math.nan
        assert got[i] == pytest.approx(want, nan_ok=True)


def test_noisy_relation_has_a_wide_seeded_interval_around_rho() -> None:
    sim = similarity_frame(similarity_rows())
    noisy = {"ar": 70.0, "de": 60.0, "fr": 85.0, "hi": 50.0, "ru": 75.0, "zh": 65.0}
    rows = [replace(r, value=noisy.get(r.language, r.value)) for r in score_rows()]
    sc = scores_frame(rows)
    a = correlations(sim, sc, POS_CKA, n_boot=500, seed=1)
    b = correlations(sim, sc, POS_CKA, n_boot=500, seed=1)
    row = a.set_index("layer").loc[5]
    x = [SIM_AT_5[k] for k in sorted(noisy)]
    y = [noisy[k] for k in sorted(noisy)]
    assert row["rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert row["p_value"] == pytest.approx(stats.spearmanr(x, y).pvalue)
    assert row["ci_low"] < row["rho"] < row["ci_high"] and row["ci_high"] - row["ci_low"] > 0.5
    assert 0 < row["n_boot_valid"] <= 500
    assert a.equals(b)  # reproducible


def test_all_correlations_covers_tasks_measures_and_finetuned() -> None:
    table = all_correlations(similarity_frame(similarity_rows()), scores_frame(score_rows()),
                             n_boot=50)
    combos = set(zip(table["measure"], table["finetuned"], strict=True))
    assert combos == {(m, f) for m in ("linear_cka", "debiased_cka") for f in (False, True)}
    assert len(table) == 4 * 13


def test_pretrained_vs_finetuned_profile() -> None:
    table = pretrained_vs_finetuned(similarity_frame(similarity_rows()), "linear_cka")
    by_layer = table.set_index("layer")
    assert by_layer.loc[0, "mean"] == pytest.approx(1.0)
    assert by_layer.loc[12, "mean"] == pytest.approx(0.7)
    assert by_layer.loc[12, "null_mean"] == pytest.approx(0.1)
    assert by_layer.loc[12, "n_values"] == 6  # one value per language
    assert set(table["task"]) == {"pos"}


def test_transfer_scores_never_average_two_test_sets_of_a_language() -> None:
    """NER at 0.2.0 scored WikiANN de and UNER de_pud; their mean is neither test set. The
    judged scores are the source's test set (WikiANN, bare codes); the PUD sets a side one."""
    from crossling.analysis.correlate import other_test_sets, transfer_scores

    def row(lang: str, value: float) -> dict[str, object]:
        return {"task": "ner", "language": lang, "metric": "span_f1", "value": value,
                "ci_low": value, "ci_high": value, "n_sentences": 10, "n_units": 10,
                "model": "m", "reinit": "REF", "seed": 0, "source": "en",
                "is_source": lang == "en"}

    values = {"en": 90.0, "en_pud": 85.0, "de": 80.0, "de_pud": 40.0, "es": 70.0,
              "pt_pud": 30.0}
    sc = pd.DataFrame([row(lang, v) for lang, v in values.items()])
    judged = transfer_scores(sc, "ner", "span_f1")
    assert judged.to_dict() == {"de": 80.0, "es": 70.0}  # the mixed mean was de = 60
    assert other_test_sets(sc, "ner", "span_f1") == ["*_pud"]
    assert transfer_scores(sc, "ner", "span_f1", "*_pud").to_dict() == {"de": 40.0, "pt": 30.0}
