"""Percentile intervals: NumPy's linear interpolation, non-finite resamples ignored."""

from __future__ import annotations

import math

import numpy as np

from crossling.core.stats import percentile_interval, upper_percentile


def test_the_interval_is_numpys_central_percentiles() -> None:
    v = np.random.default_rng(0).normal(size=1001)
    lo, hi = percentile_interval(v)
    assert (lo, hi) == tuple(np.percentile(v, [2.5, 97.5]))
    assert percentile_interval(v, 0.5) == tuple(np.percentile(v, [25, 75]))
    assert upper_percentile(v) == np.percentile(v, 95)


def test_non_finite_resamples_are_ignored_and_none_gives_nan() -> None:
    assert percentile_interval([1.0, float("nan"), 3.0, float("inf")]) == (1.05, 2.95)
    assert all(math.isnan(x) for x in percentile_interval([float("nan")]))
    assert math.isnan(upper_percentile([]))


def test_the_interval_is_bit_identical_to_percentiles_2_5_and_97_5() -> None:
    """The tail is exactly 2.5 (not 2.5000000000000022, which moves last bits of reports)."""
    rng = np.random.default_rng(1)
    for n in (10, 99, 100, 999, 5000, 10000):
        for _ in range(20):
            v = rng.normal(size=n)
            assert percentile_interval(v) == tuple(float(x) for x in np.percentile(v, [2.5, 97.5]))
