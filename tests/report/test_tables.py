from __future__ import annotations

from dataclasses import replace

import pandas as pd

from crossling.analysis.correlate import Correlated, correlations
from crossling.analysis.deltas import deltas, summarize
from crossling.analysis.frames import scores_frame, similarity_frame
from crossling.report.tables import (
    appendix_tables,
    correlation_table,
    delta_table,
    fmt_ci,
    provenance_table,
    ref_table,
    settings_table,
)
from tests.analysis.synthetic import TARGETS, score_rows, similarity_rows


def test_fmt_ci() -> None:
    assert fmt_ci(1.234, 1.0, 1.5) == "1.23 [1.00, 1.50]"
    assert fmt_ci(1.234, float("nan"), float("nan")) == "1.23"
    assert fmt_ci(float("nan"), 0.0, 1.0) == "–"


def test_ref_table_has_source_first_and_both_intervals() -> None:
    shift = 2.9  # seed 1 of the synthetic rows is 0.1 higher: now 3.0 higher
    rows = [replace(r, value=r.value + shift, ci_low=r.ci_low + shift, ci_high=r.ci_high + shift)
            if r.seed else r for r in score_rows()]
    table = ref_table(scores_frame(rows))
    assert table["language"].tolist() == ["en", *TARGETS]
    assert table["role"].tolist()[0] == "source"
    en = table.iloc[0]
    # seeds 0 and 1 score 95 [94, 96] and 98 [97, 99]: mean 96.5, averaged bounds [95.5, 97.5],
    # and a t-interval with 1 degree of freedom (12.7 x sem 1.5) that is far wider
    assert abs(en["score"] - 96.5) < 1e-9
    assert en["95% CI (sentences)"] == "96.5 [95.5, 97.5]"
    low, high = (float(v) for v in en["95% CI (seeds)"].split("[")[1].rstrip("]").split(","))
    assert low < 90 and high > 100
    assert en["seeds"] == 2 and en["sentences"] == 100
    # another English test set (Universal NER's en_pud beside WikiANN en) is no target
    other = [replace(r, language="en_pud", split="en_pud-ud-test") for r in score_rows()
             if r.language == "en"]
    roles = dict(zip(*(ref_table(scores_frame([*score_rows(), *other]))[c]
                       for c in ("language", "role")), strict=True))
    assert roles["en"] == "source" and roles["en_pud"] == "source (other set)"
    assert {roles[t] for t in TARGETS} == {"target"}


def test_delta_table_formats_the_summary() -> None:
    table = delta_table(summarize(deltas(scores_frame(score_rows()))))
    first = table.iloc[0]
    assert first["re-init"] == "1-2"
    # the two seeds' gaps agree exactly: the estimate without a (zero-width) interval
    assert first["gap (targets − source)"] == "-8.00"
    assert "seeds agree exactly" in first["note"] and "p" not in table.columns


def test_appendix_puts_source_first_and_target_mean_last() -> None:
    (caption, table), = appendix_tables(deltas(scores_frame(score_rows())))
    assert caption == "pos · upos_acc"
    assert list(table.columns) == ["re-init", "en (source)", *TARGETS, "targets (mean)"]
    assert table["targets (mean)"].tolist() == [-10.0, -0.5]


def test_correlation_table_one_column_per_model_state() -> None:
    sim, sc = similarity_frame(similarity_rows()), scores_frame(score_rows())
    corr = correlations(sim, sc, Correlated("pos", "upos_acc", "linear_cka"), n_boot=20)
    corr = pd.concat([corr, correlations(sim, sc, Correlated("pos", "upos_acc", "linear_cka",
                                                             True), n_boot=20)])
    table = correlation_table(corr).set_index("layer")
    assert list(table.columns) == ["pos upos_acc (pretrained, n=6)",
                                   "pos upos_acc (fine-tuned, n=6)"]
    assert table.loc[5].tolist() == ["1.00 [1.00, 1.00]"] * 2 and table.loc[4].iloc[0] == "–"


def test_settings_and_provenance_record_what_produced_the_numbers() -> None:
    prov = [{"model": "m", "git_commit": "abc", "device": "cpu", "n_boot": 200,
             "versions": {"torch": "2"}, "data": {"/d/en.conllu": "f" * 64},
             "reinit": {"scheme": "model"}},
            {"max_length": 512},  # similarity rows cap sentences; training rows have their own
            {"train_config": {"epochs": 1, "batch_size": 8, "lr": 1e-4, "max_length": 128}}]
    settings = settings_table(similarity_frame(similarity_rows()), scores_frame(score_rows()),
                              prov, "linear_cka").set_index("setting")["value"]
    assert settings["pooling"] == "mean" and settings["seeds"] == "0, 1"
    assert settings["n sentences (similarity)"] == "200" and settings["n_boot"] == "200"
    assert settings["re-init scheme"] == "model"
    assert settings["re-init groups"] == "REF, 1-2, 11-12"
    assert settings["max sub-words (similarity)"] == "512"
    assert settings["max sub-words (training)"] == "128"
    assert settings["batch_size"] == "8" and settings["lr"] == "0.0001"
    items = provenance_table(prov).set_index("item")["value"]
    assert items["git_commit"] == "abc" and items["sha256: en.conllu"] == "f" * 64
    assert items["version: torch"] == "2"


def test_p6_confounds_table_says_what_survives() -> None:
    import math

    from crossling.report.tables import p6_confounds_table

    base = {"task": "pos", "layer": 5, "rho": 0.8, "partial_rho_all": 0.5,
            "partial_p_all": 0.01, "partial_p_all_max": 0.04,
            "partial_rho_syntax_distance": 0.6, "partial_rho_subword_overlap": 0.55,
            "partial_rho_same_script": 0.7, "lo_family_min": 0.6, "lo_family_max": 0.9,
            "r2_similarity": 0.7, "mdr80_all": 0.72, "n_partial": 18}
    rows = [base, {**base, "layer": 6, "lo_family_min": -0.1},
            {**base, "layer": 7, "partial_rho_all": math.nan}]
    table = p6_confounds_table(pd.DataFrame(rows))
    assert list(table["survives"]) == ["yes", "no", "–"]
    assert table["ρ leaving a family out"][0] == "0.60 to 0.90"
    assert list(table["p (all)"]) == ["0.01"] * 3
