"""What a retrieval row measures: variants, directions, metric ids and their definitions.

The row schema is ``SimilarityRow`` with ``kind = "retrieval"`` and one metric id per (variant,
direction), so the store, the CSV writers and the report read retrieval rows unchanged; the
definitions here go into every run's provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

KIND = "retrieval"
"""``SimilarityRow.kind`` of retrieval rows."""

VARIANTS = ("cosine", "centred", "margin")
"""Scorings, in display order; ``cosine`` is the default one (CLI table)."""

DIRECTIONS = ("s2t", "t2s")
"""``s2t``: source queries, target candidates; ``t2s``: target queries, source candidates."""

MARGIN_K = 4
"""Nearest neighbours per direction in the margin's denominator (Artetxe & Schwenk 2019)."""

VARIANT_DESCRIPTIONS = {
    "cosine": "precision@1 of retrieving the translation among the n candidates by cosine "
              "similarity of the pooled vectors",
    "centred": "precision@1 by cosine after subtracting each language's mean vector over the n "
               "sentences (language-neutral centring, Libovický et al. 2020)",
    "margin": "precision@1 by ratio margin score over cosine, k nearest neighbours in each "
              "direction (Artetxe & Schwenk 2019)",
}

DIRECTION_DESCRIPTIONS = {
    "s2t": "queries: source sentences; candidates: all n target sentences",
    "t2s": "queries: target sentences; candidates: all n source sentences",
}

INTERVAL = ("95% percentile bootstrap over query sentences (queries resampled with "
            "replacement, candidate pool fixed at all n)")
NULL = ("null_mean: chance 1/n, the exact expectation of P@1 under shuffled pairs; null_high: "
        "95th percentile of P@1 under n_null random permutations of the gold pairing")
NO_INTERVAL = "no interval (n_boot = 0)"


def metric_id(variant: str, direction: str) -> str:
    """The row metric of one (variant, direction): ``retrieval_p1[_<variant>]_<direction>``
    (plain cosine has no variant infix: ``retrieval_p1_s2t``)."""
    base = "retrieval_p1" if variant == "cosine" else f"retrieval_p1_{variant}"
    return f"{base}_{direction}"


RETRIEVAL_METRICS: Mapping[str, tuple[str, str]] = {
    metric_id(v, d): (v, d) for v in VARIANTS for d in DIRECTIONS}
"""Every retrieval metric id -> (variant, direction)."""


def parse_metric(metric: str) -> tuple[str, str]:
    """(variant, direction) of a retrieval metric id; ValueError for any other id."""
    try:
        return RETRIEVAL_METRICS[metric]
    except KeyError:
        raise ValueError(f"{metric!r} is not a retrieval metric") from None


def min_sentences(variants: Sequence[str], k: int = MARGIN_K) -> int:
    """Fewest sentences retrieval is defined on: 2 (one wrong candidate per query), and k for
    the margin (its neighbourhoods hold k candidates)."""
    return max(2, k) if "margin" in variants else 2


def metric_variants(variants: Sequence[str], k: int, n_boot: int) -> dict[str, str]:
    """Provenance definitions of the metrics, the interval and the null."""
    out = {metric_id(v, d): f"{VARIANT_DESCRIPTIONS[v]}; {DIRECTION_DESCRIPTIONS[d]}"
           + (f"; k = {k}" if v == "margin" else "") for v in variants for d in DIRECTIONS}
    out["interval"] = INTERVAL if n_boot > 0 else NO_INTERVAL
    out["null"] = NULL
    return out
