from __future__ import annotations

import math

import pytest

from crossling.analysis.deltas import deltas, group_order, summarize
from crossling.analysis.frames import scores_frame
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
    assert s.loc["1-2", "p_value"] == pytest.approx(0.03125)  # all 6 targets lose more


def test_one_seed_has_no_interval() -> None:
    s = summarize(deltas(scores_frame(score_rows(seeds=(0,))))).set_index("reinit")
    assert math.isnan(s.loc["1-2", "source_ci_low"])


def test_group_order() -> None:
    groups = ["11-12", "REF", "3-4", "1-2", "emb"]
    assert sorted(groups, key=group_order) == ["REF", "1-2", "3-4", "11-12", "emb"]
