"""The pre-registered decision rules (docs/reproduction/analysis-plan.md) applied to frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crossling.analysis import verdicts as v
from crossling.analysis.deltas import deltas, summarize
from crossling.analysis.frames import scores_frame
from crossling.analysis.hierarchical import hierarchical_gaps
from crossling.results import ScoreRow
from tests.analysis.synthetic import score_rows

MAIN = {"pos": "upos_acc"}


def _noisy(rows: list[ScoreRow], spread: float) -> list[ScoreRow]:
    """Targets' Δ of group 1-2 varies by seed (so intervals exist)."""
    out = []
    for r in rows:
        bump = spread * (r.seed - 1) if r.reinit == "1-2" and r.language != "en" else 0.0
        out.append(ScoreRow(r.task, r.language, r.split, r.metric, r.value + bump, r.ci_low + bump,
                            r.ci_high + bump, r.n_sentences, r.n_units, r.model, r.reinit, r.seed,
                            r.provenance, source=r.source))
    return out


def test_p2_supported_when_the_low_group_widens_the_gap_in_every_seed() -> None:
    scores = scores_frame(_noisy(score_rows(seeds=(0, 1, 2)), 0.5))
    (row,) = v.p2_verdicts(hierarchical_gaps(scores, n_boot=2000), MAIN)
    assert row.statistic == "gap(1-2) − gap(11-12)" and row.n == 3
    assert row.estimate < -7 and row.ci_high < 0 and row.verdict == v.SUPPORTED
    assert "per seed:" in row.interval and "Holm p" in row.interval


def test_p2_inconclusive_when_a_seed_disagrees() -> None:
    scores = scores_frame(_noisy(score_rows(seeds=(0, 1, 2)), 12.0))  # seed 2: +4 gap
    (row,) = v.p2_verdicts(hierarchical_gaps(scores, n_boot=2000), MAIN)
    assert row.verdict == v.INCONCLUSIVE


def test_p2_reads_the_crossed_vc_interval_not_the_percentile_one() -> None:
    """A crossed row is judged on vc_low/vc_high: a percentile interval below 0 beside a vc
    interval reaching 0 is inconclusive (and the reverse supported)."""
    base = {"task": "pos", "metric": "upos_acc", "model": "m", "reinit": "1-2", "kind":
            "contrast", "versus": "11-12", "estimate": -3.0, "t_low": -6.0, "t_high": 0.5,
            "p_value": 0.06, "p_holm": 0.12, "n_seeds": 5, "n_targets": 18,
            "seed_values": (-3.0, -2.0, -4.0, -3.5, -2.5), "interval": "crossed",
            "vc_df": 6.1, "p_crossed": 0.04, "p_crossed_holm": 0.08}
    narrow = {"boot_low": -4.0, "boot_high": -2.0, "vc_low": -6.5, "vc_high": 0.4}
    wide = {"boot_low": -6.5, "boot_high": 0.4, "vc_low": -4.0, "vc_high": -2.0}
    (row,) = v.p2_verdicts(pd.DataFrame([{**base, **narrow}]), MAIN)
    assert row.verdict == v.INCONCLUSIVE and (row.ci_low, row.ci_high) == (-6.5, 0.4)
    assert "crossed interval" in row.interval and "126 distinct resamples" in row.would_change
    (row,) = v.p2_verdicts(pd.DataFrame([{**base, **wide}]), MAIN)
    assert row.verdict == v.SUPPORTED and "Holm p (crossed) = 0.08" in row.interval


def test_p3_non_inferiority_margin() -> None:
    summary = summarize(deltas(scores_frame(_noisy(score_rows(seeds=(0, 1, 2)), 0.5))))
    (row,) = v.p3_verdicts(summary, MAIN)
    # 11-12 costs every target 0.5 points but the seeds agree exactly: no interval -> the rule
    # cannot certify non-inferiority
    assert row.estimate == -0.5 and math.isnan(row.ci_low) and row.verdict == v.INCONCLUSIVE
    wide = summary.assign(target_ci_low=-1.0, target_ci_high=0.5)
    assert v.p3_verdicts(wide, MAIN)[0].verdict == v.SUPPORTED
    bad = summary.assign(target_ci_low=-6.0, target_ci_high=-3.0)
    assert v.p3_verdicts(bad, MAIN)[0].verdict == v.NOT_SUPPORTED


def _sim(kind: str, layer: int, value: float, seed: int, **extra: object) -> dict[str, object]:
    return {"kind": kind, "source": "en", "target": extra.get("target", "fr"), "layer": layer,
            "metric": extra.get("metric", "debiased_cka"), "value": value,
            "ci_low": extra.get("ci_low", math.nan), "ci_high": extra.get("ci_high", math.nan),
            "null_mean": 0.0, "null_high": 0.0, "n": 100, "pooling": "mean", "model": "m",
            "compare_model": None, "task": extra.get("task", "pos"), "seed": seed,
            "finetune_cell": "c", "finetuned": extra.get("finetuned", True),
            "reinit": extra.get("reinit", "REF"), "compare_seed": None}


def test_p4_drop_and_weight_order() -> None:
    rows = []
    for seed in (0, 1):
        for layer in range(13):
            rows.append(_sim("model-model", layer, 1.0 - 0.04 * max(0, layer - 4), seed))
            rows.append(_sim("weight-change", layer, 0.01 * (layer + 1), seed,
                             metric="rel_change_from_pretrained"))
            rows.append(_sim("seed-seed", layer, 1.0 - 0.01 * layer, 0))
    per_layer, per_seed = v.p4_frames(pd.DataFrame(rows), "debiased_cka")
    assert list(per_seed["drop"].round(6)) == [0.26, 0.26]  # 1 - mean(0.80..0.68) = 0.26
    assert (per_seed["weight_rho"] == 1.0).all()
    assert per_layer.set_index(["task", "layer"]).loc[("pos", 12), "seed_seed"] == 0.88
    (row,) = v.p4_verdicts(per_seed, per_layer)
    assert row.verdict == v.SUPPORTED and "CKA(pre, ft) 0.74 vs CKA(seed, seed)" in row.interval
    assert "Spearman ρ per seed: 1.00, 1.00" in row.interval
    flat = per_seed.assign(drop=[-0.01, -0.02])
    assert v.p4_verdicts(flat, per_layer)[0].verdict == v.NOT_SUPPORTED
    # weights changing most in the low blocks: the drop alone does not support P4, and the
    # detail shows the failing half of the rule
    falling = per_seed.assign(weight_rho=[-0.9, 0.3])
    (row,) = v.p4_verdicts(falling, per_layer)
    assert row.verdict == v.INCONCLUSIVE and "ρ per seed: -0.90, 0.30" in row.interval


def test_p5_counts_targets_whose_fall_interval_is_above_zero() -> None:
    rows = []
    for i in range(18):
        low = 0.01 if i < 13 else -0.05
        rows.append(_sim("layer-difference", 6, 0.1, -1, target=f"t{i}", ci_low=low,
                         ci_high=0.2, finetuned=False, task=None))
        rows.append(_sim("layer-difference", 7, 0.05, -1, target=f"t{i}", metric="rsa",
                         finetuned=False, task=None))
    table = v.p5_table(pd.DataFrame(rows)).set_index("measure")
    assert table.loc["debiased_cka", "above_0"] == 13
    assert table.loc["rsa", "no_interval"] == 18
    out = {r.metric: r for r in v.p5_verdicts(table.reset_index(), "debiased_cka")}
    assert out["debiased_cka"].proposition == "P5" and out["debiased_cka"].verdict == v.SUPPORTED
    assert out["rsa"].proposition == "P5 (robustness)"
    assert out["rsa"].verdict == v.INCONCLUSIVE  # no interval: cannot be judged
    assert out["rsa"].n == 18 and "not judged" in out["rsa"].statistic  # D > 0 everywhere
    few = table.reset_index().assign(above_0=[3, 0])
    assert v.p5_verdicts(few, "debiased_cka")[0].verdict == v.NOT_SUPPORTED


def test_p6_supported_confounded_or_not() -> None:
    base = {"task": "pos", "metric": "upos_acc", "measure": "debiased_cka", "n_languages": 18,
            "n_permutations": 100000, "exact": False, "covariate": "x"}
    rows = [{**base, "layer": 3, "rho": 0.7, "p_raw": 0.001, "p_max": 0.01,
             "partial_rho": 0.5, "partial_p": 0.03},
            {**base, "layer": 8, "rho": 0.2, "p_raw": 0.4, "p_max": 0.9,
             "partial_rho": 0.1, "partial_p": 0.7}]
    (row,) = v.p6_verdicts(pd.DataFrame(rows))
    assert row.verdict == v.SUPPORTED and "layer 3" in row.statistic
    rows[0]["partial_p"] = 0.3  # partial 0.5 of raw 0.7: not separable, not confounded
    assert v.p6_verdicts(pd.DataFrame(rows))[0].verdict == v.INCONCLUSIVE
    rows[0]["partial_rho"] = 0.2  # under half the raw rho: typology took most of it
    assert v.p6_verdicts(pd.DataFrame(rows))[0].verdict == v.CONFOUNDED
    rows[0]["p_max"] = 0.2
    assert v.p6_verdicts(pd.DataFrame(rows))[0].verdict == v.NOT_SUPPORTED


def test_p6_table_on_planted_relation_and_typology() -> None:
    langs = ["de", "fr", "es", "it", "pt", "ru", "ja", "zh", "ko", "th"]
    score = pd.Series(np.linspace(90, 40, len(langs)), index=langs)
    sim_rows = []
    for layer in range(3):
        for i, lang in enumerate(langs):
            value = 0.9 - 0.05 * i if layer == 1 else 0.5 + 0.01 * ((i * 7) % 5)
            sim_rows.append(_sim("cross-lingual", layer, value, -1, target=lang,
                                 finetuned=False, task=None, reinit=None))
    scores = pd.DataFrame([{"task": "pos", "language": lang, "metric": "upos_acc",
                            "value": float(score[lang]), "ci_low": 0.0, "ci_high": 0.0,
                            "n_sentences": 10, "n_units": 10, "model": "m", "reinit": "REF",
                            "seed": 0, "source": "en", "is_source": False} for lang in langs])
    table = v.p6_table(pd.DataFrame(sim_rows), scores, MAIN, "debiased_cka", n_perm=5000)
    layer1 = table[table["layer"] == 1].iloc[0]
    assert layer1["rho"] == pytest.approx(1.0) and layer1["p_max"] < 0.01
    assert np.isfinite(table["partial_rho"]).all()
    assert table["covariate"].str.contains("syntax_knn").all()


def test_all_verdicts_is_one_frame_in_proposition_order() -> None:
    scores = scores_frame(_noisy(score_rows(seeds=(0, 1, 2)), 0.5))
    frame = v.all_verdicts(v.VerdictInputs(
        main_metric=MAIN, headline="debiased_cka",
        contrasts=hierarchical_gaps(scores, n_boot=500), summary=summarize(deltas(scores))))
    assert list(frame.columns) == v.VERDICT_COLUMNS
    assert list(frame["proposition"]) == ["P2", "P3", "P2", "P3"]
    assert list(frame["task"]) == [v.OVERALL, v.OVERALL, "pos", "pos"]  # overall first


def test_p6_minimum_languages_is_where_a_perfect_correlation_can_pass() -> None:
    """With 13 layers, 6 languages: a perfect ρ at one layer passes the layer correction
    whatever the other layers are; with 4 even every layer perfect cannot (p = 2/4!)."""
    from crossling.analysis.permutation import permutation_spearman

    assert v.p6_min_languages(13) == 6 and v.p6_min_languages(1) == 5
    rng = np.random.default_rng(0)
    for n, passes in ((4, False), (6, True)):
        langs = [f"l{i}" for i in range(n)]
        score = pd.Series(np.arange(n, dtype=float), index=langs)
        table = pd.DataFrame(rng.random((13, n)), columns=langs)
        table.iloc[0] = np.arange(n) if passes else 0
        if not passes:
            table.iloc[:] = np.arange(n)  # the best case for n = 4: every layer perfect
        best = permutation_spearman(table, score)["p_max"].min()
        assert (best < v.ALPHA) == passes, (n, best)


def _p6_rows(n: int, **first: object) -> pd.DataFrame:
    base = {"task": "ner", "metric": "span_f1", "measure": "debiased_cka", "test_set": "*",
            "judged": True, "n_languages": n, "n_permutations": 24, "exact": True,
            "covariate": "x", "rho": 0.2, "p_raw": 0.4, "p_max": 0.9, "partial_rho": 0.1,
            "partial_p": 0.7}
    return pd.DataFrame([{**base, "layer": layer, **(first if layer == 0 else {})}
                         for layer in range(13)])


def test_p6_is_untestable_below_the_minimum_and_ignores_side_test_sets() -> None:
    rows = _p6_rows(4, rho=1.0, p_raw=0.083, p_max=0.083)
    side = _p6_rows(5).assign(test_set="*_pud", judged=False, p_max=0.001, partial_p=0.001)
    (row,) = v.p6_verdicts(pd.concat([rows, side], ignore_index=True))
    assert row.verdict == v.UNTESTABLE and row.n == 4
    assert "n = 4" in row.statistic and "test set * only; *_pud: a side table" in row.statistic


def test_p6_wording_confounded_only_by_the_plan_rule() -> None:
    # raw not significant, partial not significant: absence of evidence, not "confounded"
    (row,) = v.p6_verdicts(_p6_rows(18))
    assert row.verdict == v.NOT_SUPPORTED and "absence of evidence" in row.interval
    # raw significant, partial significant with the other sign: not the plan's "confounded"
    flipped = _p6_rows(18, rho=0.8, p_max=0.001, partial_rho=-0.6, partial_p=0.01)
    assert v.p6_verdicts(flipped)[0].verdict == v.INCONCLUSIVE
    confounded = _p6_rows(18, rho=0.8, p_max=0.001, partial_rho=0.3, partial_p=0.2)
    (row,) = v.p6_verdicts(confounded)
    assert row.verdict == v.CONFOUNDED and "partial ρ not and under half" in row.interval
    # v1's parsing: raw 0.83, partial 0.43 (p = 0.08): absence of evidence (Amendment 1)
    v1 = _p6_rows(18, rho=0.83, p_max=0.0002, partial_rho=0.43, partial_p=0.08)
    (row,) = v.p6_verdicts(v1)
    assert row.verdict == v.INCONCLUSIVE and "not separable" in row.interval


def _row(prop: str, task: str, verdict: str, low: float = -1.0,
         statistic: str = "gap(1-2) − gap(11-12)") -> v.Verdict:
    return v.Verdict(prop, task, "m", statistic, low + 1, low, low + 2, "i", 3, verdict, "c", "w")


def test_p2_overall_is_the_pos_verdict_with_the_others_beside_it() -> None:
    rows = [_row("P2", "ner", v.SUPPORTED), _row("P2", "parsing", v.SUPPORTED),
            _row("P2", "pos", v.INCONCLUSIVE),
            _row("P2", "pos", v.SUPPORTED, statistic="gap(3-4) − gap(11-12)")]
    (overall,) = v.p2_overall(rows)
    assert overall.task == v.OVERALL and overall.verdict == v.INCONCLUSIVE  # C1 of POS decides
    assert "ner supported, parsing supported" in overall.statistic


def test_p3_overall_needs_every_task_and_names_the_deciding_ones() -> None:
    rows = [_row("P3", "ner", v.INCONCLUSIVE, -3.2), _row("P3", "parsing", v.INCONCLUSIVE, -3.8),
            _row("P3", "pos", v.SUPPORTED, 0.0)]
    (overall,) = v.p3_overall(rows)
    assert overall.verdict == v.INCONCLUSIVE and "decided by ner, parsing" in overall.statistic
    assert overall.ci_low == -3.8 and overall.n == 3  # the task with the lowest bound
    every = [_row("P3", t, v.SUPPORTED, 0.5) for t in ("ner", "pos")]
    assert v.p3_overall(every)[0].verdict == v.SUPPORTED
    one_against = [*every, _row("P3", "parsing", v.NOT_SUPPORTED, -6.0)]
    (against,) = v.p3_overall(one_against)
    assert against.verdict == v.NOT_SUPPORTED and "decided by parsing" in against.statistic


def test_p4_overall_needs_every_seed_of_every_task() -> None:
    seeds = pd.DataFrame({"task": ["ner", "ner", "pos", "pos"], "seed": [0, 1, 0, 1],
                          "drop": [0.6, 0.5, 0.6, 0.7], "weight_rho": [-0.2, -0.1, 0.3, 0.2]})
    (overall,) = v.p4_overall(seeds)
    assert overall.verdict == v.INCONCLUSIVE
    assert "drop > 0 in 4 of 4 seeds" in overall.statistic and "in 2 of 4 seeds (pos)" in \
        overall.statistic
    assert v.p4_overall(seeds.assign(weight_rho=0.5))[0].verdict == v.SUPPORTED
    assert v.p4_overall(seeds.assign(drop=[-0.1, -0.2, -0.1, 0.3]))[0].verdict == \
        v.NOT_SUPPORTED
    assert v.p4_overall(seeds.assign(drop=math.nan)) == []  # no drop measured: no verdict


def test_p5_overall_says_for_how_many_measures_the_fall_holds() -> None:
    table = pd.DataFrame({"measure": ["debiased_cka", "linear_cka", "svcca"],
                          "targets": 18, "median_d": [0.07, 0.05, 0.0],
                          "above_0": [18, 2, 0], "below_0": 0,
                          "no_interval": [0, 0, 18], "positive": [18, 10, 0],
                          "peak_layer_mode": [8, 8, 12]})
    robust = pd.DataFrame({"measure": ["debiased_cka", "linear_cka", "svcca"],
                           "verdict": ["falls after the peak", "falls after the peak",
                                       "rises at the top (interval below 0)"]})
    rows = v.p5_verdicts(table, "debiased_cka")
    (overall,) = v.p5_overall(rows, robust)
    assert overall.verdict == v.SUPPORTED and overall.metric == "debiased_cka"
    assert "holds for 1 of 2 measures with a paired interval (debiased_cka)" in \
        overall.statistic
    assert "falls after its peak for 2 of 3 measures" in overall.statistic
    assert "rises at the top (interval below 0): svcca" in overall.statistic
