"""Parallel sentence retrieval (issue 13, item 1): values that a wrong implementation misses.

Identical sets retrieve perfectly, shuffled pairs at chance (checked against a binomial bound),
centring removes a language offset that defeats plain cosine, the margin equals a loop written
here from the published formula, and the interval is a bootstrap over query sentences.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from scipy import stats

from crossling.core.errors import ConfigError
from crossling.similarity.retrieval import (
    DIRECTIONS,
    RETRIEVAL_METRICS,
    VARIANTS,
    Resamples,
    cosine_scores,
    margin_scores,
    metric_id,
    parse_metric,
    precision_at_1,
    retrieval_rows,
)

ALL = [metric_id(v, d) for v in VARIANTS for d in DIRECTIONS]


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_metric_ids_are_distinct_and_parse_back() -> None:
    assert len(set(ALL)) == 6 and set(ALL) == set(RETRIEVAL_METRICS)
    assert metric_id("cosine", "s2t") == "retrieval_p1_s2t"
    assert metric_id("centred", "t2s") == "retrieval_p1_centred_t2s"
    for m in ALL:
        assert metric_id(*parse_metric(m)) == m
    with pytest.raises(ValueError, match="not a retrieval metric"):
        parse_metric("debiased_cka")


def test_identical_sets_retrieve_perfectly() -> None:
    x = _randn(60, 16)
    est = precision_at_1(x, x.clone(), n_boot=200, n_null=100)
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
        est = precision_at_1(x, y, n_boot=0, n_null=0)
        for m, e in est.items():
            assert e.value <= bound, (m, e.value)
            assert math.isnan(e.ci_low) and math.isnan(e.null_high)  # none asked for
    # the same rows paired correctly are found (the vectors are not the problem)
    assert precision_at_1(x, shuffled[torch.argsort(perm)], n_boot=0,
                          n_null=0)["retrieval_p1_s2t"].value == 1.0


def test_centring_removes_a_language_offset_that_defeats_cosine() -> None:
    """Each language = shared sentence signal + its own large mean vector (Libovický et al.
    2020): plain cosine is dominated by the offsets, centring recovers every translation."""
    n, d = 100, 32
    signal = _randn(n, d)
    x = signal + 30 * _randn(1, d, seed=4)  # source language offset
    y = x + 30 * _randn(1, d, seed=5)  # target = source + a big constant vector
    est = precision_at_1(x, y, n_boot=0, n_null=0)
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
    est = precision_at_1(x, y, variants=["margin"], k=k, n_boot=0, n_null=0)
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
    est = precision_at_1(x, y, variants=["cosine", "margin"], n_boot=0, n_null=0)
    cos = cosine_scores(x, y).argmax(1)
    assert (cos == 0).sum() >= 10  # the hub takes several queries from plain cosine
    assert est["retrieval_p1_margin_s2t"].value > est["retrieval_p1_s2t"].value


def test_interval_is_a_bootstrap_over_queries_and_contains_the_value() -> None:
    n = 400
    x = _randn(n, 24)
    y = x + 1.3 * _randn(n, 24, seed=10)  # noisy translations: P@1 well inside (0, 1)
    est = precision_at_1(x, y, n_boot=2000, n_null=200, seed=0)
    for m, e in est.items():
        assert e.ci_low <= e.value <= e.ci_high, m
        if 0.1 < e.value < 0.9:
            # resampling the n queries: the spread of a mean of n hits, ~ 2 x 1.96 x SE
            width = 2 * 1.96 * math.sqrt(e.value * (1 - e.value) / n)
            assert e.ci_high - e.ci_low == pytest.approx(width, rel=0.2), m
    assert 0.1 < est["retrieval_p1_s2t"].value < 0.9
    again = precision_at_1(x, y, n_boot=2000, n_null=200, seed=0)
    assert again == est  # seeded
    other = precision_at_1(x, y, n_boot=2000, n_null=200, seed=1)
    assert other["retrieval_p1_s2t"].value == est["retrieval_p1_s2t"].value
    assert (other["retrieval_p1_s2t"].ci_low, other["retrieval_p1_s2t"].ci_high) != \
        (est["retrieval_p1_s2t"].ci_low, est["retrieval_p1_s2t"].ci_high)


def test_null_percentile_is_the_shuffled_pairs_distribution() -> None:
    """null_high is the 95th percentile of P@1 against random gold mappings: for a retrieval
    that hits every query (any permutation-like result) the number of hits of a random
    mapping is ~ Poisson(1), whose 95th percentile is 3 hits."""
    n = 300
    x = _randn(n, 8)
    e = precision_at_1(x, x, variants=["cosine"], n_boot=0, n_null=4000)["retrieval_p1_s2t"]
    assert e.null_high * n == pytest.approx(3, abs=1)
    assert e.null_mean == pytest.approx(1 / n)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"variants": ["cosine", "cosine"]}, "'cosine' given more than once"),
    ({"variants": ["dot"]}, "unknown retrieval variant 'dot'"),
    ({"variants": []}, "variants: empty"),
    ({"n_boot": -1}, "n_boot = -1"),
])
def test_bad_settings_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        precision_at_1(_randn(10, 4), _randn(10, 4), **kwargs)
    assert "\n" not in str(err.value)


def test_too_few_sentences_for_the_margin() -> None:
    with pytest.raises(ConfigError, match="at least 4 sentences, got 3"):
        precision_at_1(_randn(3, 4), _randn(3, 4))
    assert precision_at_1(_randn(3, 4), _randn(3, 4), variants=["cosine"], n_boot=0,
                          n_null=0)["retrieval_p1_s2t"].n == 3


def test_rows_cover_every_target_layer_variant_and_direction() -> None:
    vectors = {lang: _randn(3, 30, 8, seed=i) for i, lang in enumerate(["en", "fr", "de"])}
    vectors["fr"] = vectors["en"] + 0.1 * vectors["fr"]
    rows = retrieval_rows(vectors, "en", ["fr", "de"], model="m", n_boot=50, n_null=20,
                          layers=[0, 2])
    assert len(rows) == 2 * 2 * 3 * 2
    assert {r.kind for r in rows} == {"retrieval"} and {r.source for r in rows} == {"en"}
    assert {r.metric for r in rows} == set(ALL) and {r.layer for r in rows} == {0, 2}
    assert all(r.null_mean == pytest.approx(1 / 30) and r.n == 30 for r in rows)
    fr = [r for r in rows if r.target == "fr" and "centred" not in r.metric]
    assert all(r.value == 1.0 for r in fr)
    with pytest.raises(ConfigError, match="layer 3 out of range"):
        retrieval_rows(vectors, "en", ["fr"], model="m", layers=[3])


def test_same_resamples_for_every_call_of_a_seed() -> None:
    a = Resamples.draw(50, 10, 5, seed=3)
    b = Resamples.draw(50, 10, 5, seed=3)
    assert a.weights is not None and b.weights is not None
    assert torch.equal(a.weights, b.weights) and a.perms is not None and b.perms is not None
    assert torch.equal(a.perms, b.perms)
    assert torch.equal(a.weights.sum(0), torch.full((10,), 50.0, dtype=torch.float64))
    assert all(sorted(p.tolist()) == list(range(50)) for p in a.perms)


def test_vectors_come_from_the_extraction_cache(fixture_bert: Path, fixture_dir: Path,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A language is encoded once: a second analysis on the same cache (any variants) never
    runs the encoder again."""
    from crossling.similarity import extract as extract_module
    from crossling.similarity.retrieval import run_retrieval

    cache = tmp_path / "cache"
    first = run_retrieval(model=str(fixture_bert), ud=fixture_dir / "ud", source="en",
                          targets=["fr", "de"], variants=["cosine"], n_boot=20, n_null=10,
                          cache_dir=cache, progress=False, device="cpu")

    def no_encoding(*args: object, **kwargs: object) -> torch.Tensor:
        raise AssertionError("re-extracted cached vectors")

    monkeypatch.setattr(extract_module, "extract", no_encoding)
    again = run_retrieval(model=str(fixture_bert), ud=fixture_dir / "ud", source="en",
                          targets=["fr", "de"], n_boot=20, n_null=10, cache_dir=cache,
                          progress=False, device="cpu")
    def values(rows: list) -> list[tuple]:  # type: ignore[type-arg]
        return [(r.target, r.layer, r.metric, r.value, r.ci_low, r.ci_high, r.null_high)
                for r in rows if r.metric in {"retrieval_p1_s2t", "retrieval_p1_t2s"}]

    assert values(again) == values(first) and len(first) == 2 * 3 * 2  # 2 layers + embeddings
    assert len(again) == 3 * len(first)
