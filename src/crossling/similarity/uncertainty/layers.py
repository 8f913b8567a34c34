"""The fall from a curve's peak layer to its top layer, with a paired bootstrap interval.

Every layer's estimate with one seed is evaluated on the same resamples
(`bootstrap_multiplicities`), so the
difference of two layers' values resample by resample is a paired bootstrap of the difference:
no kernel matrix is rebuilt and no second set of resamples is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from crossling.core.errors import ConfigError
from crossling.similarity.measures.registry import get_measure, interval_kind
from crossling.similarity.uncertainty.estimate import Estimate
from crossling.similarity.uncertainty.resampling import percentile


@dataclass(frozen=True)
class LayerDifference:
    """The fall from the peak layer to the top layer of one measure's curve, with a paired
    bootstrap interval (`layer_difference`).

    ``value`` = m(``peak_layer``) - m(``top_layer``) on the point estimates; ``ci_low`` /
    ``ci_high`` the 95% interval of that difference (``interval`` says what it is, or why it is
    NaN); ``p_top_ge_peak`` the fraction of resamples whose value at the top layer is at least
    the value at the peak layer (NaN without resamples); ``n_boot`` the resamples used;
    ``resamples`` the per-resample differences (None without them; left out of comparisons).
    """

    peak_layer: int
    top_layer: int
    value: float
    ci_low: float
    ci_high: float
    p_top_ge_peak: float
    n: int
    n_boot: int
    interval: str
    resamples: torch.Tensor | None = field(default=None, compare=False, repr=False)


PAIRED = "paired bootstrap (both layers on the same resamples): "
"""Prefix of `LayerDifference.interval` when the interval was computed; the rest is the
measure's own ``interval_kind`` (a CI for debiased CKA, a spread for the biased measures)."""


def layer_difference(estimates: Mapping[int, Estimate], measure: str,
                     n_boot: int) -> LayerDifference:
    """Peak layer, top layer and the paired-bootstrap interval of the drop between them.

    ``estimates`` maps each analysed layer to one measure's `Estimate` from
    `estimate` with ``keep_resamples=True``, the same ``seed``, ``n_boot`` and sentences
    at every layer: the resamples are then the same multisets of sentences at every layer
    (`bootstrap_multiplicities`; for debiased CKA with null.py's self-pair rule), so
    ``m_b(l*) - m_b(L)`` resample by resample is a bootstrap of the *difference* (correlated
    layers give a much narrower interval than two separate intervals would suggest). The
    interval is the percentile interval of those differences re-centred on the point
    difference, as in `estimate`, and is of the measure's interval kind: a CI for
    debiased CKA, the spread of a biased estimator for linear and RBF CKA. A measure without a
    bootstrap (``max_boot = 0``: RSA, mutual kNN, SVCCA, PWCCA, Procrustes) or ``n_boot = 0``
    gets the point difference, NaN bounds and NaN ``p_top_ge_peak``, ``interval`` saying why.

    Pre-registered choices: ``l*`` is the argmax of the *point estimates* (ties: the lower
    layer), chosen once and not re-selected per resample; ``L`` is the last analysed layer.
    Caveat: because ``l*`` is picked as the maximum of the same data, ``value`` is biased
    upward (winner's curse); the interval conditions on that choice and does not account for
    it, so a D whose interval barely excludes 0 is weaker evidence of a fall than it looks
    (with many layers close to the peak, more so). When the peak is the top layer, D = 0, the
    interval is [0, 0] and ``p_top_ge_peak`` = 1: no fall.
    """
    if len(estimates) < 2:
        raise ConfigError(f"a layer difference needs at least 2 layers, got {len(estimates)}")
    layers = sorted(estimates)
    sizes = {estimates[la].n for la in layers}
    if len(sizes) > 1:
        raise ValueError(f"estimates of different sample sizes: {sorted(sizes)}")
    top = layers[-1]
    finite = [la for la in layers if math.isfinite(estimates[la].value)]
    peak = max(finite, key=lambda la: (estimates[la].value, -la)) if finite else top
    value = estimates[peak].value - estimates[top].value
    a, b = estimates[peak].resamples, estimates[top].resamples
    kind = interval_kind(measure, n_boot)
    if a is None or b is None:
        if n_boot > 0 and get_measure(measure).max_boot != 0:
            raise ValueError(f"{measure}: no per-resample values; call estimate(..., "
                             "keep_resamples=True)")
        return LayerDifference(peak, top, value, float("nan"), float("nan"), float("nan"),
                               estimates[top].n, 0, kind)
    if estimates[peak].seed != estimates[top].seed or a.shape != b.shape:
        raise ValueError("the two layers were not evaluated on the same resamples (seed "
                         f"{estimates[peak].seed} vs {estimates[top].seed}, "
                         f"{a.numel()} vs {b.numel()} resamples)")
    diffs = a - b
    ok = torch.isfinite(diffs)
    ci_low = ci_high = p = float("nan")
    if ok.any():
        shift = float(diffs[ok].mean()) - value
        ci_low = percentile(diffs, 0.025) - shift
        ci_high = percentile(diffs, 0.975) - shift
        p = float((b[ok] >= a[ok]).to(torch.float64).mean())
    return LayerDifference(peak, top, value, ci_low, ci_high, p, estimates[top].n,
                           int(a.numel()), PAIRED + kind, diffs)

