"""Metric ids: one per (variant, direction), read back unambiguously."""

from __future__ import annotations

import pytest

from crossling.retrieval.metrics import (
    DIRECTIONS,
    RETRIEVAL_METRICS,
    VARIANTS,
    metric_id,
    metric_variants,
    min_sentences,
    parse_metric,
)

ALL = [metric_id(v, d) for v in VARIANTS for d in DIRECTIONS]


def test_metric_ids_are_distinct_and_parse_back() -> None:
    assert len(set(ALL)) == 6 and set(ALL) == set(RETRIEVAL_METRICS)
    assert metric_id("cosine", "s2t") == "retrieval_p1_s2t"
    assert metric_id("centred", "t2s") == "retrieval_p1_centred_t2s"
    for m in ALL:
        assert metric_id(*parse_metric(m)) == m
    with pytest.raises(ValueError, match="not a retrieval metric"):
        parse_metric("debiased_cka")


def test_the_margin_needs_k_sentences_and_says_its_k() -> None:
    assert min_sentences(["cosine", "centred"]) == 2 and min_sentences(["margin"], 7) == 7
    defs = metric_variants(["margin"], 7, 0)
    assert defs["retrieval_p1_margin_s2t"].endswith("; k = 7")
    assert defs["interval"] == "no interval (n_boot = 0)" and "null_high" in defs["null"]
