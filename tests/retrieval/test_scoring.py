"""Scoring and P@1: values that a wrong implementation misses.

Identical sets retrieve perfectly, shuffled pairs at chance (checked against a binomial bound),
centring removes a language offset that defeats plain cosine, the margin equals a loop written
here from the published formula, and the interval is a bootstrap over query sentences.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from crossling.core.errors import ConfigError
from crossling.retrieval.metrics import DIRECTIONS, VARIANTS, metric_id
from crossling.retrieval.scoring import cosine_scores, margin_scores, precision_at_1
from crossling.retrieval.settings import ScoringSettings

ALL = [metric_id(v, d) for v in VARIANTS for d in DIRECTIONS]
NONE = ScoringSettings(n_boot=0, n_null=0)
"""No interval and no null: P@1 alone."""


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_identical_sets_retrieve_perfectly() -> None:
    x = _randn(60, 16)
    est = precision_at_1(x, x.clone(), ScoringSettings(n_boot=200, n_null=100))
    assert set(est) == set(ALL)
    for m, e in est.items():
        assert e.value == 1.0, m
        assert (e.ci_low, e.ci_high) == (1.0, 1.0)
        assert e.null_mean == pytest.approx(1 / 60) and e.n == 60
        assert 1 / 60 <= e.null_high < 0.1  # shuffled pairs of a perfect retrieval: ~chance


def _binomial_bound(n: int) -> float:
    """P@1 that chance (Binomial(n, 1/n) hits) exceeds with probability < 1e-4."""
    return float(stats.binom.ppf(1 - 1e-4, n, 1 / n)) / n


def test_shuffled_pairs_retrieve_at_chance() -> None:
    n = 200
    x = _randn(n, 32)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    shuffled = x[perm] + 0.01 * _randn(n, 32, seed=2)  # each row the translation of another
    unrelated = _randn(n, 32, seed=3)
    bound = _binomial_bound(n)
    assert bound < 0.05
    for y in (shuffled, unrelated):
        est = precision_at_1(x, y, NONE)
        for m, e in est.items():
            assert e.value <= bound, (m, e.value)
            assert math.isnan(e.ci_low) and math.isnan(e.null_high)  # none asked for
    # the same rows paired correctly are found (the vectors are not the problem)
    assert precision_at_1(x, shuffled[torch.argsort(perm)],
                          NONE)["retrieval_p1_s2t"].value == 1.0


def test_centring_removes_a_language_offset_that_defeats_cosine() -> None:
    """Each language = shared sentence signal + its own large mean vector (Libovický et al.
    2020): plain cosine is dominated by the offsets, centring recovers every translation."""
    n, d = 100, 32
    signal = _randn(n, d)
    x = signal + 30 * _randn(1, d, seed=4)  # source language offset
    y = x + 30 * _randn(1, d, seed=5)  # target = source + a big constant vector
    est = precision_at_1(x, y, NONE)
    for direction in DIRECTIONS:
        assert est[metric_id("cosine", direction)].value < 0.2
        assert est[metric_id("centred", direction)].value == 1.0


def _brute_force_margin(x: torch.Tensor, y: torch.Tensor, k: int) -> list[list[float]]:
    """Artetxe & Schwenk (2019), eq. of the ratio margin, written with loops and math only."""
    xs, ys = x.tolist(), y.tolist()

    def cos(a: list[float], b: list[float]) -> float:
        dot = sum(p * q for p, q in zip(a, b, strict=True))
        return dot / (math.sqrt(sum(p * p for p in a)) * math.sqrt(sum(q * q for q in b)))

    def nn_sum(a: list[float], others: list[list[float]]) -> float:
        return sum(sorted((cos(a, z) for z in others), reverse=True)[:k])

    out = []
    for a in xs:
        row = []
        for b in ys:
            row.append(cos(a, b) / (nn_sum(a, ys) / (2 * k) + nn_sum(b, xs) / (2 * k)))
        out.append(row)
    return out


@pytest.mark.parametrize("k", [1, 3, 4])
def test_margin_equals_a_brute_force_loop(k: int) -> None:
    x = _randn(9, 5, seed=6) + 0.5
    y = x + 0.8 * _randn(9, 5, seed=7)
    expected = torch.tensor(_brute_force_margin(x, y, k), dtype=torch.float64)
    got = margin_scores(cosine_scores(x, y), k).double()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    gold = torch.arange(9)
    est = precision_at_1(x, y, NONE.replace(variants=["margin"], k=k))
    assert est["retrieval_p1_margin_s2t"].value == pytest.approx(
        float((expected.argmax(1) == gold).double().mean()))
    assert est["retrieval_p1_margin_t2s"].value == pytest.approx(
        float((expected.argmax(0) == gold).double().mean()))


def test_margin_discounts_a_hub() -> None:
    """A candidate close to every query (a hub) wins plain cosine for many queries; the margin
    divides by its crowded neighbourhood and gives those queries back their translations."""
    n, d = 60, 16
    common = 5 * torch.nn.functional.normalize(_randn(d, seed=8), dim=0)
    x = common + _randn(n, d, seed=9)  # every sentence shares a direction (anisotropy)
    y = x + 1.2 * _randn(n, d, seed=10)
    y[0] = 2 * common  # candidate 0: the shared direction itself, near every query
    est = precision_at_1(x, y, NONE.replace(variants=["cosine", "margin"]))
    cos = cosine_scores(x, y).argmax(1)
    assert (cos == 0).sum() >= 10  # the hub takes several queries from plain cosine
    assert est["retrieval_p1_margin_s2t"].value > est["retrieval_p1_s2t"].value


def test_interval_is_a_bootstrap_over_queries_and_contains_the_value() -> None:
    n = 400
    x = _randn(n, 24)
    y = x + 1.3 * _randn(n, 24, seed=10)  # noisy translations: P@1 well inside (0, 1)
    est = precision_at_1(x, y, ScoringSettings(n_boot=2000, n_null=200, seed=0))
    for m, e in est.items():
        assert e.ci_low <= e.value <= e.ci_high, m
        if 0.1 < e.value < 0.9:
            # resampling the n queries: the spread of a mean of n hits, ~ 2 x 1.96 x SE
            width = 2 * 1.96 * math.sqrt(e.value * (1 - e.value) / n)
            assert e.ci_high - e.ci_low == pytest.approx(width, rel=0.2), m
    assert 0.1 < est["retrieval_p1_s2t"].value < 0.9
    again = precision_at_1(x, y, ScoringSettings(n_boot=2000, n_null=200, seed=0))
    assert again == est  # seeded
    other = precision_at_1(x, y, ScoringSettings(n_boot=2000, n_null=200, seed=1))
    assert other["retrieval_p1_s2t"].value == est["retrieval_p1_s2t"].value
    assert (other["retrieval_p1_s2t"].ci_low, other["retrieval_p1_s2t"].ci_high) != \
        (est["retrieval_p1_s2t"].ci_low, est["retrieval_p1_s2t"].ci_high)


def test_null_percentile_is_the_shuffled_pairs_distribution() -> None:
    """null_high is the 95th percentile of P@1 against random gold mappings: for a retrieval
    that hits every query (any permutation-like result) the number of hits of a random
    mapping is ~ Poisson(1), whose 95th percentile is 3 hits."""
    n = 300
    x = _randn(n, 8)
    e = precision_at_1(x, x, ScoringSettings(variants=["cosine"], n_boot=0,
                                                 n_null=4000))["retrieval_p1_s2t"]
    assert e.null_high * n == pytest.approx(3, abs=1)
    assert e.null_mean == pytest.approx(1 / n)


def test_too_few_sentences_for_the_margin() -> None:
    with pytest.raises(ConfigError, match="at least 4 sentences, got 3"):
        precision_at_1(_randn(3, 4), _randn(3, 4))
    assert precision_at_1(_randn(3, 4), _randn(3, 4),
                          NONE.replace(variants=["cosine"]))["retrieval_p1_s2t"].n == 3


def test_default_settings_are_the_documented_ones() -> None:
    s = ScoringSettings()
    assert (s.variants, s.k, s.n_boot, s.n_null, s.seed) == (VARIANTS, 4, 1000, 200, 0)
