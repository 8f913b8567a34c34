from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from crossling.analysis.deltas import deltas
from crossling.analysis.frames import SCORE_COLUMNS, scores_frame
from crossling.analysis.hierarchical import (
    HIERARCHICAL_COLUMNS,
    OTHER_CONTRASTS,
    PRIMARY_FAMILY,
    _bootstrap,
    _Runs,
    distinct_seed_resamples,
    hierarchical_gaps,
    holm,
)
from tests.analysis.synthetic import score_rows

LANGS = ["ar", "de", "fr", "hi", "ja", "ru", "zh"]
GROUPS = ["REF", "1-2", "3-4", "11-12"]


def make_scores(seeds: list[int], delta: Callable[[str, int, str], float],
                half: Callable[[str, str], float] = lambda g, lang: 0.0,
                langs: list[str] = LANGS) -> pd.DataFrame:
    """A scores frame: REF scores a fixed function of the language, every other group's
    score = REF + delta(group, seed, language); ``half`` is the CI half-width."""
    records = []
    for seed in seeds:
        for group in GROUPS:
            for i, lang in enumerate(["en", *langs]):
                ref = 90.0 if lang == "en" else 50.0 + 3 * i + 0.2 * seed
                value = ref + (0.0 if group == "REF" else delta(group, seed, lang))
                h = half(group, lang)
                records.append({"task": "pos", "language": lang, "metric": "acc",
                                "value": value, "ci_low": value - h, "ci_high": value + h,
                                "n_sentences": 100, "n_units": 1000, "model": "m",
                                "reinit": group, "seed": seed, "source": "en",
                                "is_source": lang == "en"})
    return pd.DataFrame.from_records(records, columns=SCORE_COLUMNS)


def planted(spread: float) -> Callable[[str, int, str], float]:
    """gap(1-2) = -8, gap(3-4) = -3, gap(11-12) = 0, plus seed-specific shifts x spread;
    languages differ (so level 2 has something to resample)."""
    shift = {0: 0.0, 1: 1.0, 2: -1.5, 3: 0.5, 4: 0.0}
    lang_shift = {lang: 0.3 * (i - 3) for i, lang in enumerate(LANGS)}

    def delta(group: str, seed: int, lang: str) -> float:
        if lang == "en":
            return -1.0
        base = {"1-2": -9.0, "3-4": -4.0, "11-12": -1.0}[group]
        return base + spread * shift[seed] * (group != "11-12") + lang_shift[lang]
    return delta


def rows(out: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    return {(r.kind, r.reinit): r for r in out.itertuples(index=False)}  # type: ignore[misc]


def test_per_seed_values_are_the_deltas_gaps() -> None:
    """The per-seed gap is mean target Δ - source Δ of deltas(), seed by seed."""
    sc = make_scores([0, 1, 2, 3], planted(1.0))
    d = deltas(sc)
    out = hierarchical_gaps(sc, n_boot=200)
    assert list(out.columns) == HIERARCHICAL_COLUMNS
    by = rows(out)
    for group in ("1-2", "3-4", "11-12"):
        sub = d[d["reinit"] == group]
        tgt = sub[~sub["is_source"]].groupby("seed")["delta"].mean()
        src = sub[sub["is_source"]].groupby("seed")["delta"].mean()
        assert by[("gap", group)].seed_values == pytest.approx(tuple(tgt - src))
    gap12 = np.array(by[("gap", "1-2")].seed_values)
    gap1112 = np.array(by[("gap", "11-12")].seed_values)
    assert by[("contrast", "1-2")].seed_values == pytest.approx(tuple(gap12 - gap1112))
    assert by[("contrast", "1-2")].versus == "11-12"
    assert ("contrast", "11-12") not in by


def test_planted_effects_are_recovered_with_t_interval_and_test() -> None:
    sc = make_scores([0, 1, 2, 3, 4], planted(1.0))
    by = rows(hierarchical_gaps(sc, n_boot=4000))
    shifts = np.array([0.0, 1.0, -1.5, 0.5, 0.0])
    for group, effect in (("1-2", -8.0), ("3-4", -3.0)):
        r = by[("contrast", group)]
        values = effect + shifts
        assert r.estimate == pytest.approx(values.mean())
        lo, hi = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
        assert (r.t_low, r.t_high) == pytest.approx((lo, hi))
        assert r.p_value == pytest.approx(stats.ttest_1samp(values, 0.0).pvalue)
        assert r.boot_low < values.mean() < r.boot_high
        assert r.boot_high < 0  # planted effect excluded from zero
        assert r.n_seeds == 5 and r.n_targets == len(LANGS)
    assert by[("gap", "11-12")].estimate == pytest.approx(0.0)


def test_interval_widens_when_seeds_disagree_more() -> None:
    narrow = rows(hierarchical_gaps(make_scores([0, 1, 2, 3], planted(0.5)), n_boot=3000))
    wide = rows(hierarchical_gaps(make_scores([0, 1, 2, 3], planted(3.0)), n_boot=3000))
    for key in (("contrast", "1-2"), ("gap", "3-4")):
        n, w = narrow[key], wide[key]
        assert (w.boot_high - w.boot_low) > 3 * (n.boot_high - n.boot_low)
        assert (w.t_high - w.t_low) > 3 * (n.t_high - n.t_low)


def test_shared_ref_draw_makes_the_contrast_narrower() -> None:
    """REF scores are very noisy (CI ±20), group scores almost exact: REF noise cancels from
    a contrast when both groups share its draw, and only then."""
    def half(group: str, lang: str) -> float:
        return 20.0 if group == "REF" else 0.01

    sc = make_scores([0, 1, 2], planted(0.2), half)
    by = rows(hierarchical_gaps(sc, n_boot=4000, seed=1))
    shared = by[("contrast", "1-2")]
    width = shared.boot_high - shared.boot_low
    runs = _Runs(sc)
    seeds, langs = runs.complete(["1-2", "11-12"])
    ref, g, h = (runs.arrays(x, seeds, langs) for x in ("REF", "1-2", "11-12"))
    indep = _bootstrap(g, ref, h, np.random.default_rng(1), 4000, share_ref=False)
    indep_width = float(np.subtract(*np.percentile(indep, [97.5, 2.5])))
    assert width < 0.25 * indep_width
    # the plain gap differences REF's target and source runs: their noise does not cancel
    gap = by[("gap", "1-2")]
    assert width < 0.25 * (gap.boot_high - gap.boot_low)


def test_sentence_level_noise_has_the_size_of_the_score_cis() -> None:
    """One seed, every target with the same Δ, only target CIs: the bootstrap spread is the
    sentence noise alone, sd = sqrt(2 sigma^2 / L) (group and REF independent)."""
    sigma = 1.5
    sc = make_scores([0], lambda g, s, lang: -1.0 if lang == "en" else -5.0,
                     lambda g, lang: 0.0 if lang == "en" else Z * sigma)
    r = rows(hierarchical_gaps(sc, n_boot=20000))[("gap", "1-2")]
    expected = 2 * Z * sigma * math.sqrt(2 / len(LANGS))
    assert (r.boot_high - r.boot_low) == pytest.approx(expected, rel=0.05)
    assert r.estimate == pytest.approx(-4.0)


Z = 1.959963984540054


def test_one_seed_says_the_seed_level_has_no_spread() -> None:
    sc = make_scores([0], planted(1.0), lambda g, lang: 0.5)
    r = rows(hierarchical_gaps(sc, n_boot=500))[("contrast", "1-2")]
    assert r.n_seeds == 1
    assert math.isnan(r.t_low) and math.isnan(r.p_value)
    assert "1 seed: no seed-level spread" in r.note
    assert r.boot_low < r.estimate < r.boot_high  # languages and sentences still vary


def test_seeds_that_agree_exactly_give_no_interval() -> None:
    """The synthetic rows have identical Δs in every seed: no zero-width certainty."""
    out = hierarchical_gaps(scores_frame(score_rows(seeds=(0, 1, 2))), n_boot=200)
    by = rows(out)
    r = by[("contrast", "1-2")]
    assert r.estimate == pytest.approx(-8.0)
    for col in ("boot_low", "boot_high", "t_low", "t_high", "p_value", "p_holm"):
        assert math.isnan(getattr(r, col)), col
    assert "seeds agree exactly: no spread estimate" in r.note
    assert "3 seeds: the seed-level bootstrap has 10 distinct resamples" in r.note


def test_holm_matches_statsmodels_and_is_applied_per_family() -> None:
    p = np.array([0.01, 0.04, math.nan, 0.03])
    adj = holm(p)
    ref = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    assert adj[[0, 1, 3]] == pytest.approx(ref)
    assert math.isnan(adj[2])
    out = hierarchical_gaps(make_scores([0, 1, 2, 3], planted(2.0)), n_boot=100)
    con = out[out["kind"] == "contrast"]
    assert con["p_holm"].to_numpy() == pytest.approx(
        multipletests(con["p_value"].to_numpy(), method="holm")[1])
    ok = out["p_value"].notna()
    assert ok.sum() == 4  # gap(11-12) has no seed spread: no test, and it is not counted
    assert (out.loc[ok, "p_holm"] >= out.loc[ok, "p_value"] - 1e-12).all()
    assert out["p_holm"].isna().equals(~ok)


def test_holm_family_is_the_two_primary_contrasts_of_a_task() -> None:
    """The plan corrects C1 and C2 together; a further group's contrast (5-6 vs 11-12) is a
    descriptive family of its own and must not inflate C2's p (POS at 0.2.0: 0.182 -> 0.0455)."""
    sc = make_scores([0, 1, 2, 3], planted(2.0))
    extra = sc[sc["reinit"] == "3-4"].assign(reinit="5-6")
    extra = extra.assign(value=extra["value"] + np.where(extra["is_source"], 0.0,
                                                         0.5 + 0.3 * extra["seed"]))
    out = hierarchical_gaps(pd.concat([sc, extra], ignore_index=True), n_boot=100)
    con = out[out["kind"] == "contrast"].set_index("reinit")
    assert set(con.index) == {"1-2", "3-4", "5-6"}
    primary = con.loc[["1-2", "3-4"]]
    assert (primary["holm_family"] == PRIMARY_FAMILY).all()
    assert primary["p_holm"].to_numpy() == pytest.approx(
        multipletests(primary["p_value"].to_numpy(), method="holm")[1])
    assert con.loc["5-6", "holm_family"] == OTHER_CONTRASTS
    assert con.loc["5-6", "p_holm"] == pytest.approx(con.loc["5-6", "p_value"])  # alone


def test_reproducible_and_seed_dependent() -> None:
    sc = make_scores([0, 1, 2], planted(1.0), lambda g, lang: 1.0)
    a = hierarchical_gaps(sc, n_boot=500, seed=3)
    b = hierarchical_gaps(sc, n_boot=500, seed=3)
    c = hierarchical_gaps(sc, n_boot=500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["boot_low"], c["boot_low"])
    assert distinct_seed_resamples(3) == 10 and distinct_seed_resamples(1) == 1


def test_incomplete_runs_are_left_out() -> None:
    sc = make_scores([0, 1, 2], planted(1.0))
    sc = sc[~((sc["reinit"] == "1-2") & (sc["seed"] == 2))]  # seed 2 lacks 1-2
    sc = sc[~((sc["language"] == "ja") & (sc["seed"] == 0) & (sc["reinit"] == "REF"))]
    by = rows(hierarchical_gaps(sc, n_boot=100))
    assert by[("contrast", "1-2")].seeds == (0, 1)
    assert by[("contrast", "1-2")].n_targets == len(LANGS) - 1
    assert by[("gap", "3-4")].seeds == (0, 1, 2)
