"""Uncertainty for every similarity value: a bootstrap interval and a shuffled-pairs null.

A CKA value alone cannot be read: biased CKA of unrelated sentences is far from 0 at the sample
sizes of PUD, and the authors' "std over four windows shifted by one sentence" measures nothing.
For each measure, :func:`estimate` therefore returns

- a 95% bootstrap interval over sentences (the same resampled sentences on both sides): the
  percentile interval re-centred on the estimate. What it means depends on the measure
  (:data:`INTERVAL_KINDS`): for the debiased measure it is a confidence interval for the
  population CKA (the large-n value; coverage checked by simulation in the tests). For the
  biased measures (linear and RBF CKA) it is only the sampling spread of a *biased* estimator
  around its own value: at n = 150, d = 64 it covered the population CKA in 0% of simulated
  samples, so it is labelled as such and never called a CI;
- a shuffled-pairs null: the measure between ``x`` and a row-permuted ``y`` (every sentence paired
  with a non-translation), summarised by its mean and 95th percentile. A value above ``null_high``
  is alignment that unrelated sentences do not produce.

Speed: both are computed from n x n kernel matrices built once. A bootstrap resample is a vector
of multiplicities ``w`` (how often each sentence was drawn); the weighted, re-centred HSIC of a
resample expands into products ``K W``, ``L W``, ``(K o L) W`` with ``W`` holding all resamples as
columns, i.e. a few matrix products instead of one n x n gather per resample. Permutations only
change the cross term ``sum_ij K_ij L_pi(i)pi(j)``; the self terms are permutation-invariant.

Debiased CKA under the bootstrap: a resample contains duplicated sentences, and a duplicate paired
with itself is exactly the "i = j" term the U-statistic removes. We drop those self-pairs (the
kernel diagonals are zeroed and only pairs of distinct original sentences are weighted), which
keeps the interval centred on the estimator instead of biasing it upward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from crossling.errors import ConfigError
from crossling.similarity.cka import (
    MEASURES,
    MIN_N,
    center_gram,
    gram_linear,
    gram_rbf,
    linear_cka,
)

# Measure id -> (kernel, debiased?). Every registered measure must have a Gram form here.
_GRAM_FORMS: dict[str, tuple[str, bool]] = {
    "debiased_cka": ("linear", True),
    "linear_cka": ("linear", False),
    "rbf_cka": ("rbf", False),
}

CI_KIND = "95% CI"
SPREAD_KIND = ("bootstrap percentile interval of the biased estimator "
               "(not a CI for the population CKA)")

INTERVAL_KINDS: dict[str, str] = {
    "debiased_cka": CI_KIND,
    "linear_cka": SPREAD_KIND,
    "rbf_cka": SPREAD_KIND,
}
"""What ``ci_low``/``ci_high`` of each measure are: a confidence interval for the population
value (debiased CKA only), or the spread of a biased estimator around its own value."""

NO_INTERVAL = "no interval (n_boot = 0)"
"""What the interval columns hold (NaN) when no bootstrap was asked for."""


def interval_kind(measure: str, n_boot: int) -> str:
    """The label of ``measure``'s ``ci_low``/``ci_high`` for ``n_boot`` resamples."""
    return INTERVAL_KINDS[measure] if n_boot > 0 else NO_INTERVAL


@dataclass(frozen=True)
class Estimate:
    """A similarity value with its 95% bootstrap interval and shuffled-pairs null.

    ``interval`` names what ``ci_low``/``ci_high`` are (:func:`interval_kind`).
    """

    value: float
    ci_low: float
    ci_high: float
    null_mean: float
    null_high: float
    n: int
    interval: str = CI_KIND


def _weighted_biased(k: torch.Tensor, l: torch.Tensor, kl: torch.Tensor, kk: torch.Tensor,  # noqa: E741
                     ll: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Biased CKA of each weighted resample (columns of ``w``), from uncentred kernels.

    With multiplicities ``w`` (sum n) and the weighted centring ``Kc = K - u1^T - 1u^T + c``,
    ``u = K w / n``, ``c = w^T K w / n^2``: ``sum_ij w_i w_j Kc_ij Lc_ij =
    w^T (K o L) w - 2 (w o u)^T (L w) + c w^T L w`` (centring one side suffices).
    """
    n = k.shape[0]
    kw, lw = k @ w, l @ w
    wkw, wlw = (w * kw).sum(0), (w * lw).sum(0)

    def s(pw: torch.Tensor, aw: torch.Tensor, bw: torch.Tensor, waw: torch.Tensor,
          wbw: torch.Tensor) -> torch.Tensor:
        return (w * pw).sum(0) - 2 * (w * aw / n * bw).sum(0) + waw / n ** 2 * wbw

    num = s(kl @ w, kw, lw, wkw, wlw)
    den = torch.sqrt(s(kk @ w, kw, kw, wkw, wkw) * s(ll @ w, lw, lw, wlw, wlw))
    return num / den


def _weighted_unbiased(k: torch.Tensor, l: torch.Tensor, kl: torch.Tensor, kk: torch.Tensor,  # noqa: E741
                       ll: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Debiased CKA of each weighted resample; ``k``, ``l`` have zero diagonals."""
    n = k.shape[0]
    kw, lw = k @ w, l @ w
    sk, sl = (w * kw).sum(0), (w * lw).sum(0)

    def h(pw: torch.Tensor, aw: torch.Tensor, bw: torch.Tensor, sa: torch.Tensor,
          sb: torch.Tensor) -> torch.Tensor:
        return (w * pw).sum(0) + sa * sb / ((n - 1) * (n - 2)) - 2 * (w * aw * bw).sum(0) / (n - 2)

    num = h(kl @ w, kw, lw, sk, sl)
    den = torch.sqrt(h(kk @ w, kw, kw, sk, sk) * h(ll @ w, lw, lw, sl, sl))
    return num / den


def _multiplicities(n: int, n_boot: int, gen: torch.Generator, device: torch.device,
                    ) -> torch.Tensor:
    """[n, n_boot] counts of each sentence in ``n_boot`` resamples of size n with replacement."""
    idx = torch.randint(0, n, (n_boot, n), generator=gen)
    w = torch.zeros(n_boot, n, dtype=torch.float64)
    w.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
    return w.T.contiguous().to(device)


def _null_cross_terms(a: torch.Tensor, b: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """``sum_ij A_ij B_pi(i)pi(j)`` for each permutation pi (rows of ``perms``).

    Substituting ``j = pi^-1(k)`` gives ``sum(A[:, pi^-1] * B[pi, :])``: two 1-D index selects per
    permutation instead of an n x n fancy-index gather. Float32 is ample for a null summary.
    """
    a32, b32 = a.to(torch.float32), b.to(torch.float32)
    out = torch.empty(perms.shape[0], dtype=torch.float64, device=a.device)
    for r, p in enumerate(perms):
        inv = torch.argsort(p)
        out[r] = (a32.index_select(1, inv) * b32.index_select(0, p)).sum(dtype=torch.float64)
    return out


def _percentile(values: torch.Tensor, q: float) -> float:
    v = values[torch.isfinite(values)]
    return float(torch.quantile(v, q)) if v.numel() else float("nan")


def estimate(x: torch.Tensor, y: torch.Tensor,
             measures: Sequence[str] = ("debiased_cka", "linear_cka", "rbf_cka"),
             n_boot: int = 200, n_null: int = 100, seed: int = 0,
             device: torch.device | str | None = None,
             rbf_scale: float = 1.0) -> dict[str, Estimate]:
    """Value, 95% bootstrap interval and shuffled-pairs null of each measure between ``x``, ``y``.

    Deterministic for a given ``seed`` (the same resamples and permutations serve every measure,
    so intervals of different measures are comparable). ``n_boot = 0`` / ``n_null = 0`` mean "no
    interval" / "no null": NaN bounds, and ``Estimate.interval`` says so. Values equal the
    registered measures in :data:`MEASURES` (tested). Fewer rows than a measure's
    :data:`~crossling.similarity.cka.MIN_N` raise a ConfigError instead of returning NaN or 1.
    """
    for m in measures:
        if m not in MEASURES:
            raise ConfigError(f"unknown similarity measure {m!r} (available: "
                              f"{', '.join(MEASURES)})")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must pair the same rows: {x.shape[0]} vs {y.shape[0]}")
    for name, count in (("n_boot", n_boot), ("n_null", n_null)):
        if count < 0:
            raise ConfigError(f"{name} = {count}: must be >= 0 (0 = none)")
    for m in measures:
        if x.shape[0] < MIN_N[m]:
            raise ConfigError(f"{m} needs at least {MIN_N[m]} sentences, got {x.shape[0]}")
    dev = torch.device(device) if device is not None else x.device
    x, y = x.to(dev), y.to(dev)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    w = _multiplicities(n, n_boot, gen, dev) if n_boot > 0 else None
    perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(n_null)]).to(dev) \
        if n_null > 0 else None

    grams: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    out: dict[str, Estimate] = {}
    for m in measures:
        kernel, debiased = _GRAM_FORMS[m]
        if kernel not in grams:
            grams[kernel] = ((gram_linear(x), gram_linear(y)) if kernel == "linear"
                             else (gram_rbf(x, rbf_scale), gram_rbf(y, rbf_scale)))
        k, l = grams[kernel]  # noqa: E741
        if debiased:
            k, l = k.clone(), l.clone()  # noqa: E741
            k.fill_diagonal_(0)
            l.fill_diagonal_(0)
            value = MEASURES[m](x, y)
        else:
            value = linear_cka(x, y) if m == "linear_cka" else _gram_value(k, l)
        ci_low = ci_high = null_mean = null_high = float("nan")
        if w is not None:
            fn = _weighted_unbiased if debiased else _weighted_biased
            boots = fn(k, l, k * l, k * k, l * l, w)
            # Resamples with duplicated sentences shift biased CKA upwards (fewer distinct
            # points); the interval is the percentile interval re-centred on the estimate. For
            # the debiased measure (shift ~ 0) that is a CI for the population value; for the
            # biased ones it is the spread of the estimator around its own, biased, value.
            shift = float(boots[torch.isfinite(boots)].mean()) - value
            ci_low = _percentile(boots, 0.025) - shift
            ci_high = _percentile(boots, 0.975) - shift
        if perms is not None:
            nulls = _null_values(k, l, perms, debiased)
            finite = nulls[torch.isfinite(nulls)]
            null_mean = float(finite.mean()) if finite.numel() else float("nan")
            null_high = _percentile(nulls, 0.95)
        out[m] = Estimate(value, ci_low, ci_high, null_mean, null_high, n,
                          interval_kind(m, n_boot))
    return out


def _gram_value(k: torch.Tensor, l: torch.Tensor) -> float:  # noqa: E741
    kc, lc = center_gram(k), center_gram(l)
    return float((kc * lc).sum() / torch.sqrt((kc * kc).sum() * (lc * lc).sum()))


def _null_values(k: torch.Tensor, l: torch.Tensor, perms: torch.Tensor,  # noqa: E741
                 debiased: bool) -> torch.Tensor:
    """The measure between x and row-permuted y, for each permutation."""
    n = k.shape[0]
    if not debiased:
        kc, lc = center_gram(k), center_gram(l)
        # Permuting y's rows permutes lc's rows and columns; the self terms do not change.
        cross = _null_cross_terms(kc, lc, perms)
        return cross / torch.sqrt((kc * kc).sum() * (lc * lc).sum())
    # Unbiased HSIC: only the trace and the row-sum products change under a permutation.
    k1, l1 = k.sum(1), l.sum(1)
    sk, sl = k1.sum(), l1.sum()

    def h(trace: torch.Tensor, a1: torch.Tensor, b1: torch.Tensor, sa: torch.Tensor,
          sb: torch.Tensor) -> torch.Tensor:
        return trace + sa * sb / ((n - 1) * (n - 2)) - 2 * (a1 * b1).sum(-1) / (n - 2)

    den = torch.sqrt(h((k * k).sum(), k1, k1, sk, sk) * h((l * l).sum(), l1, l1, sl, sl))
    traces = _null_cross_terms(k, l, perms)
    rows = l1[perms]  # [n_null, n]: (L_pi 1)_i = (L 1)_pi(i)
    return h(traces, k1[None, :], rows, sk, sl) / den if math.isfinite(float(den)) else traces * \
        float("nan")
