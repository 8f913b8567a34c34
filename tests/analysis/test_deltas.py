from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from crossling.analysis.deltas import deltas, group_order, mean_ci, summarize
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
    # identical drops across seeds: no zero-width interval presented as certainty
    assert math.isnan(s.loc["1-2", "source_ci_low"]) and math.isnan(s.loc["1-2", "gap_ci_high"])
    assert "seeds agree exactly" in s.loc["1-2", "note"]
    # no significance test in the descriptive summary (the P2 test is hierarchical)
    assert not {"p_value", "wilcoxon_stat"} & set(s.columns)


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


def test_other_test_sets_of_the_source_language_are_neither_source_nor_target() -> None:
    """UNER en_pud beside the NER source WikiANN en: averaging it into "the targets" would mix
    English into the target mean."""
    rows = score_rows()
    extra = [ScoreRow(r.task, "en_pud", r.split, r.metric, r.value - 50.0, r.ci_low, r.ci_high,
                      r.n_sentences, r.n_units, r.model, r.reinit, r.seed, r.provenance,
                      source=r.source)
             for r in rows if r.language == r.source]
    d = deltas(scores_frame(rows + extra))
    assert "en_pud" not in set(d["language"])
    s = summarize(d).set_index("reinit")
    assert s.loc["1-2", "target_delta"] == pytest.approx(-10.0)


def test_varying_seeds_give_an_interval() -> None:
    rows = [ScoreRow(r.task, r.language, r.split, r.metric,
                     r.value + (r.seed * 0.7 if r.reinit == "1-2" and r.language != "en" else 0.0),
                     r.ci_low,
                     r.ci_high, r.n_sentences, r.n_units, r.model, r.reinit, r.seed,
                     r.provenance, source=r.source) for r in score_rows()]
    s = summarize(deltas(scores_frame(rows))).set_index("reinit")
    assert s.loc["1-2", "gap_ci_low"] < s.loc["1-2", "gap"] < s.loc["1-2", "gap_ci_high"]


def test_group_order() -> None:
    groups = ["11-12", "REF", "3-4", "1-2", "emb"]
    assert sorted(groups, key=group_order) == ["REF", "1-2", "3-4", "11-12", "emb"]


def test_empty_input_gives_empty_frames() -> None:
    d = deltas(scores_frame([]))
    assert d.empty and summarize(d).empty
