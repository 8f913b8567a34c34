"""Percentile intervals of resampled statistics, written once for every bootstrap in crossling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

LEVEL = 0.95
"""The coverage every interval crossling reports is built for."""


def percentile_interval(values: npt.ArrayLike | Sequence[float], level: float = LEVEL,
                        ) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``values`` (linear interpolation, NumPy's
    default); non-finite values are ignored, and no finite value gives (nan, nan)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    tail = (100 - 100 * level) / 2  # exactly 2.5 for 0.95, as np.percentile(v, [2.5, 97.5])
    lo, hi = np.percentile(v, [tail, 100 - tail])
    return float(lo), float(hi)


def upper_percentile(values: npt.ArrayLike | Sequence[float], level: float = LEVEL) -> float:
    """The ``level`` quantile of ``values`` (a null distribution's critical value); nan if none
    is finite."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    return float(np.percentile(v, level * 100)) if v.size else float("nan")


def means_within_seed_sd(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, bool]:
    """Whether two precisions (or any two variants) agree over seeds: ``|mean(a) - mean(b)|``,
    the larger of the two seed-to-seed standard deviations (ddof 1), and whether the first is
    at most the second. Needs at least two seeds per side."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        raise ValueError("needs at least two seeds per side for a seed-to-seed SD")
    diff = float(abs(x.mean() - y.mean()))
    sd = float(max(x.std(ddof=1), y.std(ddof=1)))
    return diff, sd, diff <= sd
