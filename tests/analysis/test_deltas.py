from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crossling.analysis.deltas import deltas, group_order, mean_ci, pooled_test, summarize
from crossling.analysis.frames import scores_frame
from crossling.results import ScoreRow
from tests.analysis.synthetic import TARGETS, score_rows


def test_deltas_and_summary_recover_known_drops() -> None:
    d = deltas(scores_frame(score_rows()))
    assert set(d["reinit"]) == {"1-2", "11-12"}
    low = d[(d["reinit"] == "1-2") & ~d["is_source"]]["delta"]
    assert low.round(6).eq(-10.0).all()
    s = summarize(d).set_index("reinit")
    assert s.loc["1-2", "source_delta"] == pytest.approx(-2.0)
    assert s.loc["1-2", "target_delta"] == pytest.approx(-10.0)
    assert s.loc["1-2", "gap"] == pytest.approx(-8.0)
    assert s.loc["11-12", "gap"] == pytest.approx(0.0)
    assert s.loc["1-2", "n_targets"] == len(TARGETS) and s.loc["1-2", "seeds"] == 2
    # identical drops across seeds: the t-interval collapses onto the mean
    assert s.loc["1-2", "source_ci_low"] == pytest.approx(-2.0)
    # all 6 targets lose more: the exact two-sided signed-rank p is 2 / 2**6
    assert s.loc["1-2", "p_value"] == pytest.approx(2 / 2**6)
    assert s.loc["1-2", "wilcoxon_stat"] == 0
    assert math.isnan(s.loc["11-12", "p_value"])  # every difference is 0: no test


def test_delta_pairs_each_seed_with_its_own_ref() -> None:
    """Seed 1 scores 0.1 higher everywhere: Δ must still be exact (no cross-seed pairing)."""
    d = deltas(scores_frame(score_rows(seeds=(0, 1, 2))))
    assert len(d) == 3 * 2 * (1 + len(TARGETS))
    assert np.allclose(d[d["reinit"] == "11-12"]["delta"], -0.5)


def test_rows_without_a_matching_ref_are_dropped() -> None:
    rows = [r for r in score_rows() if not (r.reinit == "REF" and r.seed == 1)]
    d = deltas(scores_frame(rows))
    assert set(d["seed"]) == {0}


def test_one_seed_has_no_interval_and_says_so() -> None:
    s = summarize(deltas(scores_frame(score_rows(seeds=(0,))))).set_index("reinit")
    assert math.isnan(s.loc["1-2", "source_ci_low"])
    assert "1 seed: no CI" in s.loc["1-2", "note"]


def test_t_interval_matches_scipy_on_varying_seeds() -> None:
    values = np.array([-3.0, -1.0, -2.5, -0.5])
    mean, lo, hi = mean_ci(values)
    ref = stats.t.interval(0.95, 3, loc=values.mean(), scale=stats.sem(values))
    assert (mean, lo, hi) == pytest.approx((values.mean(), *ref))
    assert math.isnan(mean_ci(np.array([1.0]))[1])


def test_missing_source_gives_nan_source_delta_not_a_guess() -> None:
    rows = [ScoreRow(r.task, r.language, r.split, r.metric, r.value, r.ci_low, r.ci_high,
                     r.n_sentences, r.n_units, r.model, r.reinit, r.seed, {})
            for r in score_rows()]
    s = summarize(deltas(scores_frame(rows))).set_index("reinit")
    assert math.isnan(s.loc["1-2", "source_delta"])
    # (the note named the provenance key before ``source`` became a field of the rows)
    assert "the rows lack 'source'" in s.loc["1-2", "note"]


def test_pooled_test_across_seed_and_group_pairs() -> None:
    pooled = pooled_test(deltas(scores_frame(score_rows(seeds=(0, 1, 2))))).iloc[0]
    assert pooled["n"] == 6  # 3 seeds x 2 groups
    # gaps: -8 (x3) and 0 (x3); zeros are dropped by the signed-rank test
    expected = stats.wilcoxon(np.array([-8.0, -8.0, -8.0, 0.0, 0.0, 0.0]))
    assert pooled["p_value"] == pytest.approx(expected.pvalue)
    assert pooled["median_gap"] == pytest.approx(-4.0)


def test_group_order() -> None:
    groups = ["11-12", "REF", "3-4", "1-2", "emb"]
    assert sorted(groups, key=group_order) == ["REF", "1-2", "3-4", "11-12", "emb"]


def test_empty_input_gives_empty_frames() -> None:
    d = deltas(scores_frame([]))
    assert d.empty and summarize(d).empty and isinstance(pooled_test(d), pd.DataFrame)
