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
