"""Retrieval frames and tables: variant and direction read back, peaks found, means right."""

from __future__ import annotations

import pytest

from crossling.analysis.retrieval import (
    MEAN_TARGET,
    layer_table,
    peak_table,
    retrieval_frame,
)
from crossling.results import SimilarityRow
from crossling.retrieval.metrics import metric_id


def _row(target: str, layer: int, variant: str, direction: str, value: float,
         kind: str = "retrieval") -> SimilarityRow:
    return SimilarityRow(kind=kind, source="en", target=target, layer=layer,
                         metric=metric_id(variant, direction), value=value,
                         ci_low=value - 0.05, ci_high=value + 0.05, null_mean=0.01,
                         null_high=0.03, n=100, pooling="mean", model="m")


def _curve(layer: int, peak: int, top: float) -> float:
    return top - 0.1 * abs(layer - peak)


def rows() -> list[SimilarityRow]:
    out = []
    for target, peak in (("fr", 3), ("de", 5)):
        for layer in range(7):
            out.append(_row(target, layer, "cosine", "s2t", _curve(layer, peak, 0.9)))
            out.append(_row(target, layer, "cosine", "t2s", _curve(layer, peak - 1, 0.8)))
            out.append(_row(target, layer, "margin", "s2t", _curve(layer, 6, 0.95)))
    out.append(SimilarityRow(kind="cross-lingual", source="en", target="fr", layer=0,
                             metric="debiased_cka", value=0.5, ci_low=0.4, ci_high=0.6,
                             null_mean=0.0, null_high=0.01, n=100, pooling="mean", model="m"))
    return out


def test_frame_reads_variant_and_direction_and_skips_other_rows() -> None:
    frame = retrieval_frame(rows())
    assert len(frame) == 2 * 7 * 3
    assert set(frame["variant"]) == {"cosine", "margin"}
    assert set(frame["direction"]) == {"s2t", "t2s"}
    assert (frame["chance"] == 0.01).all()


def test_peak_table() -> None:
    table = peak_table(retrieval_frame(rows()))
    got = {(r["target"], r["variant"]): r for r in table.to_dict("records")}
    assert set(got) == {("fr", "cosine"), ("de", "cosine"), (MEAN_TARGET, "cosine"),
                        ("fr", "margin"), ("de", "margin"), (MEAN_TARGET, "margin")}
    fr = got[("fr", "cosine")]
    assert fr["peak layer (source→target)"] == 3 and fr["peak layer (target→source)"] == 2
    assert fr["P@1 at peak (source→target)"] == "0.900 [0.850, 0.950]"
    assert fr["P@1 last layer (source→target)"] == "0.600"
    assert got[("de", "cosine")]["peak layer (source→target)"] == 5
    # the mean curve over fr and de is flat between their peaks (layers 3..5, 0.8)
    mean = got[(MEAN_TARGET, "cosine")]
    assert mean["peak layer (source→target)"] in (3, 4, 5)
    assert mean["P@1 at peak (source→target)"] == "0.800"  # (0.9 + 0.7) / 2, no CI
    # margin rows only have one direction: its other columns are empty
    assert got[("fr", "margin")]["peak layer (source→target)"] == 6
    assert got[("fr", "margin")]["chance"] == pytest.approx(0.01)


def test_layer_table_averages_the_two_directions() -> None:
    table = layer_table(retrieval_frame(rows()), "cosine")
    assert table.loc[3, "fr"] == pytest.approx((0.9 + 0.7) / 2)
    assert table.loc["chance (1/n)", "de"] == pytest.approx(0.01)
    assert list(table.columns) == ["de", "fr"]
