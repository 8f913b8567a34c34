"""The alignment curve across measures (robustness of P5) and across re-initialised groups."""

from __future__ import annotations

from dataclasses import replace
from statistics import mean

import pandas as pd
import pytest

from crossling.analysis.alignment import alignment_robustness, finetuned_alignment
from crossling.analysis.frames import similarity_frame
from crossling.report.tables import finetuned_alignment_table, robustness_table
from crossling.results import CrossLingualRow, SimilarityRow
from tests.analysis.synthetic import TARGETS, similarity_rows


def _curve_rows(measure: str, curve: dict[str, list[float]], null: float,
                model: str = "m") -> list[SimilarityRow]:
    return [CrossLingualRow(source="en", target=t, layer=layer, metric=measure, value=v,
                            ci_low=v - 0.01, ci_high=v + 0.01, null_mean=null,
                            null_high=null + 0.01, n=100, pooling="mean", model=model,
                            provenance={"model": model})
            for t, values in curve.items() for layer, v in enumerate(values)]


def test_alignment_robustness_peak_fall_interval_and_verdicts() -> None:
    """Three measures with known curves (6 targets, 5 layers): one rises then falls in every
    target, one rises to the last layer, one whose last layer ties the peak on average. The
    normalised curve, peak and fall are checked against a direct computation; fine-tuned and
    model-model rows are left out."""
    targets = ["ar", "de", "fr", "hi", "ru", "zh"]
    falls = {t: [0.2, 0.5, 0.8 + 0.02 * i, 0.6, 0.5 - 0.01 * i] for i, t in enumerate(targets)}
    rises = {t: [0.1, 0.2, 0.3, 0.4, 0.5 + 0.01 * i] for i, t in enumerate(targets)}
    tie_peak = [0.62, 0.38, 0.62, 0.38, 0.62, 0.40]
    tie_last = [0.38, 0.62, 0.38, 0.62, 0.38, 0.62]
    ties = {t: [0.1, 0.2, tie_peak[i], 0.3, tie_last[i]] for i, t in enumerate(targets)}
    rows = (_curve_rows("svcca", falls, null=0.1) + _curve_rows("linear_cka", rises, null=0.05)
            + _curve_rows("rsa", ties, null=0.0))
    noise = [SimilarityRow.from_record({**r.record(), "kind": "model-model", "value": 9.0,
                                        "compare_model": "m+x"}) for r in rows[:5]] + \
        [replace(r, value=9.0, task="pos", seed=0, finetune_cell="ft") for r in rows[:5]]
    curves, robustness = alignment_robustness(similarity_frame(rows + noise), n_boot=500)

    summary = robustness.set_index("measure")
    assert list(summary.index) == ["linear_cka", "svcca", "rsa"]  # registry order
    svcca = summary.loc["svcca"]
    mean_peak = mean(falls[t][2] for t in targets)
    mean_last = mean(falls[t][4] for t in targets)
    assert svcca["peak_layer"] == 2 and svcca["last_layer"] == 4 and svcca["targets"] == 6
    assert svcca["fall"] == pytest.approx(mean_peak - mean_last)
    assert svcca["peak_excess"] == pytest.approx(mean_peak - 0.1)
    assert svcca["fall_normalised"] == pytest.approx((mean_peak - mean_last) /
                                                     (mean_peak - 0.1))
    assert 0 < svcca["fall_ci_low"] <= svcca["fall"] <= svcca["fall_ci_high"]
    assert svcca["peak_stability"] == 1.0 and svcca["verdict"] == "falls after the peak"
    assert summary.loc["linear_cka", "verdict"] == "no fall: peaks at the last layer"
    assert summary.loc["linear_cka", "peak_layer"] == 4
    rsa = summary.loc["rsa"]
    assert rsa["peak_layer"] == 2 and rsa["fall_ci_low"] == 0.0
    assert rsa["verdict"] == "no clear fall (interval reaches 0)"
    assert 0 < rsa["peak_stability"] < 1

    sv = curves[curves["measure"] == "svcca"].set_index("layer")
    for layer in range(5):
        v = mean(falls[t][layer] for t in targets)
        assert sv.loc[layer, "value"] == pytest.approx(v)
        assert sv.loc[layer, "normalised"] == pytest.approx((v - 0.1) / (mean_peak - 0.1))
    assert sv.loc[2, "normalised"] == pytest.approx(1.0)
    table = robustness_table(robustness)
    assert list(table["measure"]) == ["linear_cka", "svcca", "rsa"]
    assert "model" not in table.columns
    again = alignment_robustness(similarity_frame(rows + noise), n_boot=500)[1]
    assert again.equals(robustness)  # seeded

    one = alignment_robustness(similarity_frame(_curve_rows("svcca", {"de": falls["de"]},
                                                            null=0.1)))[1]
    assert one.iloc[0]["verdict"] == "one target: no interval"
    assert alignment_robustness(pd.DataFrame())[1].empty


def test_finetuned_alignment_per_group_beside_the_pretrained_curve() -> None:
    """Fine-tuned cross-lingual rows by task and group (a group without a field is REF), mean
    over targets and seeds, beside the pretrained curve; the table needs a re-initialised
    group besides REF and the pretrained model."""
    rows = [r for r in similarity_rows() if r.kind == "cross-lingual"]
    regrouped = [replace(r, reinit="1-2", seed=1, value=r.value - 0.03)
                 for r in rows if r.task == "pos"]
    out = finetuned_alignment(similarity_frame(rows + regrouped), "linear_cka")
    assert list(out.columns) == ["task", "reinit", "layer", "value", "seeds", "targets"]
    assert set(zip(out["task"], out["reinit"], strict=True)) == {
        ("pretrained", "-"), ("pos", "REF"), ("pos", "1-2")}
    assert (out["targets"] == len(TARGETS)).all() and (out["seeds"] == 1).all()
    by = out.set_index(["task", "reinit", "layer"])["value"]
    assert by[("pos", "1-2", 10)] == pytest.approx(by[("pos", "REF", 10)] - 0.03)
    pre = mean(r.value for r in rows if r.layer == 10 and r.task is None
               and r.metric == "linear_cka")
    assert by[("pretrained", "-", 10)] == pytest.approx(pre)
    table = finetuned_alignment_table(out)
    assert list(table.columns) == ["layer", "pos 1-2", "pos REF", "pretrained"]
    assert finetuned_alignment_table(finetuned_alignment(similarity_frame(rows),
                                                         "linear_cka")).empty
    assert finetuned_alignment(similarity_frame([r for r in rows if r.task is None]),
                               "linear_cka").empty


def test_an_interval_below_zero_says_the_curve_rises_at_the_top() -> None:
    """The peak is chosen above the null, the fall measured on the values: a null that jumps
    at the last layer puts the peak before it while the values still rise (SVCCA at 0.2.0:
    D in [-0.030, -0.024]). That is a rise at the top, not 'no clear fall'."""
    targets = ["ar", "de", "fr", "hi", "ru", "zh"]
    rows = []
    for i, t in enumerate(targets):
        values = [0.1, 0.2, 0.3, 0.4, 0.5 + 0.01 * i]
        nulls = [0.0, 0.0, 0.0, 0.0, 0.35]
        rows += [replace(r, null_mean=nulls[r.layer])
                 for r in _curve_rows("svcca", {t: values}, null=0.0)]
    (row,) = alignment_robustness(similarity_frame(rows), n_boot=200)[1].to_dict("records")
    assert row["peak_layer"] == 3 and row["fall_ci_high"] < 0
    assert row["verdict"] == "rises at the top (interval below 0)"
