"""Uncertainty for every similarity value: a bootstrap interval and a shuffled-pairs null.

A CKA value alone cannot be read: biased CKA of unrelated sentences is far from 0 at the sample
sizes of PUD, and the authors' "std over four windows shifted by one sentence" measures nothing.
For each measure, :func:`estimate` therefore returns

- a 95% bootstrap interval over sentences (the same resampled sentences on both sides): the
  percentile interval re-centred on the estimate. What it means depends on the measure
  (each record's ``interval_kind``, :data:`INTERVAL_KINDS`): for the debiased measure it is a
  confidence interval for the population CKA (the large-n value; coverage checked by simulation
  in the tests). For the biased measures (linear and RBF CKA) it is only the sampling spread of
  a *biased* estimator around its own value: at n = 150, d = 64 it covered the population CKA
  in 0% of simulated samples, so it is labelled as such and never called a CI;
- a shuffled-pairs null: the measure between ``x`` and a row-permuted ``y`` (every sentence paired
  with a non-translation), summarised by its mean and 95th percentile. A value above ``null_high``
  is alignment that unrelated sentences do not produce.

Speed: both are computed from n x n kernel matrices built once, for every measure whose registry
record declares a Gram form (:class:`~crossling.similarity.measures.GramForm`); a measure
without one is recomputed on each resample, and its null comes from its permuted form
(:class:`~crossling.similarity.measures.PermutedForm`: each side prepared once, e.g. one SVD)
or, without one, from recomputing it on each permutation. Each record's ``max_boot`` /
``max_null`` caps its resamples and permutations (``max_boot = 0``: no interval, for measures
whose bootstrap is ill-posed with duplicated sentences; see docs/similarity-measures.md).
A bootstrap resample is a vector of multiplicities ``w`` (how often each sentence was drawn);
the weighted, re-centred HSIC of a resample expands into products ``K W``, ``L W``,
``(K o L) W`` with ``W`` holding all resamples as columns, i.e. a few matrix products instead
of one n x n gather per resample. Permutations only change the cross term
``sum_ij K_ij L_pi(i)pi(j)``; the self terms are permutation-invariant.

Debiased CKA under the bootstrap: a resample contains duplicated sentences, and a duplicate paired
with itself is exactly the "i = j" term the U-statistic removes. We drop those self-pairs (the
kernel diagonals are zeroed and only pairs of distinct original sentences are weighted), which
keeps the interval centred on the estimator instead of biasing it upward.

Paired layer differences (:func:`layer_difference`): the resamples depend only on ``seed``, n
and ``n_boot`` (``W`` is drawn first from the seeded generator), so every layer's
:func:`estimate` with the same seed evaluates the measure on the *same* resamples. With
``keep_resamples=True`` each Estimate keeps its per-resample values, and the difference of two
layers' values resample by resample is a paired bootstrap of the layer difference: no kernel
matrix is rebuilt and no second set of resamples is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from crossling.devices import pick_device
from crossling.errors import ConfigError
from crossling.similarity.cka import center_gram
from crossling.similarity.measures import (
    CI_KIND,
    NO_INTERVAL,
    SPREAD_KIND,
    FieldView,
    GramForm,
    Measure,
    PermutedForm,
    get_measures,
    interval_kind,
)

__all__ = ["CI_KIND", "INTERVAL_KINDS", "NO_INTERVAL", "SPREAD_KIND", "Estimate",
           "LayerDifference", "bootstrap_multiplicities", "estimate", "interval_kind",
           "layer_difference"]

INTERVAL_KINDS: Mapping[str, str] = FieldView(lambda m: m.interval_kind)
"""What ``ci_low``/``ci_high`` of each measure are (each record's ``interval_kind``): a
confidence interval for the population value (debiased CKA only), or the spread of a biased
estimator around its own value."""


@dataclass(frozen=True)
class Estimate:
    """A similarity value with its 95% bootstrap interval and shuffled-pairs null.

    ``interval`` names what ``ci_low``/``ci_high`` are (:func:`interval_kind`).
    ``resamples``: with ``estimate(..., keep_resamples=True)``, the measure on each bootstrap
    resample (columns of :func:`bootstrap_multiplicities` ``(n, n_boot, seed)``, capped by the
    measure's ``max_boot``; None when it has no bootstrap), and ``seed`` the seed that drew
    them; both for :func:`layer_difference`, left out of comparisons.
    """

    value: float
    ci_low: float
    ci_high: float
    null_mean: float
    null_high: float
    n: int
    interval: str = CI_KIND
    resamples: torch.Tensor | None = field(default=None, compare=False, repr=False)
    seed: int | None = field(default=None, compare=False, repr=False)


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


def bootstrap_multiplicities(n: int, n_boot: int, seed: int,
                             device: torch.device | str = "cpu") -> torch.Tensor:
    """[n, n_boot] multiplicities of the bootstrap resamples :func:`estimate` draws for ``seed``
    (the same for every layer and target of ``n`` sentences): column b counts how often each
    sentence is in resample b."""
    return _multiplicities(n, n_boot, torch.Generator().manual_seed(seed), torch.device(device))


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
             x_sides: dict[str, Any] | None = None,
             keep_resamples: bool = False) -> dict[str, Estimate]:
    """Value, 95% bootstrap interval and shuffled-pairs null of each measure between ``x``, ``y``.

    Deterministic for a given ``seed`` (the same resamples and permutations serve every measure,
    so intervals of different measures are comparable). ``n_boot = 0`` / ``n_null = 0`` mean "no
    interval" / "no null": NaN bounds, and ``Estimate.interval`` says so. Each value is the
    registered measure's function on ``x``, ``y``; resamples and permutations go through its
    Gram form when it has one (:func:`_resampled`). Fewer rows than a measure's ``min_n`` raise a
    ConfigError instead of returning NaN or 1.

    ``x_sides``: a dict the caller keeps for one ``x`` (e.g. the source language at one layer)
    and passes to every call with that same ``x``: ``x``'s kernel matrices and per-side
    preparations (SVD, ranks, neighbours) are built once and reused for every ``y`` (the
    pipeline compares one source with 18 targets). Passing it with another ``x`` gives wrong
    values: it is keyed by measure form, not by data.

    ``keep_resamples``: keep each measure's per-resample values in ``Estimate.resamples``
    (for a paired bootstrap of two layers, :func:`layer_difference`); nothing else changes.
    """
    chosen = get_measures(measures)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must pair the same rows: {x.shape[0]} vs {y.shape[0]}")
    for name, count in (("n_boot", n_boot), ("n_null", n_null)):
        if count < 0:
            raise ConfigError(f"{name} = {count}: must be >= 0 (0 = none)")
    for m in chosen:
        if x.shape[0] < m.min_n:
            raise ConfigError(f"{m.id} needs at least {m.min_n} sentences, got {x.shape[0]}")
    dev = pick_device(str(device)) if device is not None else x.device
    x, y = x.to(dev), y.to(dev)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    w = _multiplicities(n, n_boot, gen, dev) if n_boot > 0 else None
    perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(n_null)]).to(dev) \
        if n_null > 0 else None

    grams: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    sides: dict[str, tuple[Any, Any]] = {}
    out: dict[str, Estimate] = {}
    for m in chosen:
        if m.permuted is not None:  # the same value as fn, from the sides the null reuses
            value = m.permuted.score(*_prepared(m.permuted, x, y, sides, x_sides))
        else:
            value = m.fn(x, y)
        boots, nulls = _resampled(m, x, y, w, perms, grams, sides, x_sides)
        ci_low = ci_high = null_mean = null_high = float("nan")
        if boots is not None:
            # Resamples with duplicated sentences shift biased CKA upwards (fewer distinct
            # points); the interval is the percentile interval re-centred on the estimate. For
            # the debiased measure (shift ~ 0) that is a CI for the population value; for the
            # biased ones it is the spread of the estimator around its own, biased, value.
            shift = float(boots[torch.isfinite(boots)].mean()) - value
            ci_low = _percentile(boots, 0.025) - shift
            ci_high = _percentile(boots, 0.975) - shift
        if nulls is not None:
            finite = nulls[torch.isfinite(nulls)]
            null_mean = float(finite.mean()) if finite.numel() else float("nan")
            null_high = _percentile(nulls, 0.95)
        kept = boots.cpu() if keep_resamples and boots is not None else None
        out[m.id] = Estimate(value, ci_low, ci_high, null_mean, null_high, n,
                             interval_kind(m.id, n_boot), kept,
                             seed if keep_resamples else None)
    return out


@dataclass(frozen=True)
class LayerDifference:
    """The fall from the peak layer to the top layer of one measure's curve, with a paired
    bootstrap interval (:func:`layer_difference`).

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
"""Prefix of :attr:`LayerDifference.interval` when the interval was computed; the rest is the
measure's own ``interval_kind`` (a CI for debiased CKA, a spread for the biased measures)."""


def layer_difference(estimates: Mapping[int, Estimate], measure: str,
                     n_boot: int) -> LayerDifference:
    """Peak layer, top layer and the paired-bootstrap interval of the drop between them.

    ``estimates`` maps each analysed layer to one measure's :class:`Estimate` from
    :func:`estimate` with ``keep_resamples=True``, the same ``seed``, ``n_boot`` and sentences
    at every layer: the resamples are then the same multisets of sentences at every layer
    (:func:`bootstrap_multiplicities`; for debiased CKA with null.py's self-pair rule), so
    ``m_b(l*) - m_b(L)`` resample by resample is a bootstrap of the *difference* (correlated
    layers give a much narrower interval than two separate intervals would suggest). The
    interval is the percentile interval of those differences re-centred on the point
    difference, as in :func:`estimate`, and is of the measure's interval kind: a CI for
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
        if n_boot > 0 and get_measures([measure])[0].max_boot != 0:
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
        ci_low = _percentile(diffs, 0.025) - shift
        ci_high = _percentile(diffs, 0.975) - shift
        p = float((b[ok] >= a[ok]).to(torch.float64).mean())
    return LayerDifference(peak, top, value, ci_low, ci_high, p, estimates[top].n,
                           int(a.numel()), PAIRED + kind, diffs)


def _reuse(store: dict[str, Any] | None, key: str, make: Callable[[], Any]) -> Any:
    """``make()``, kept in ``store`` under ``key`` when a store is given (x's side)."""
    if store is None:
        return make()
    if key not in store:
        store[key] = make()
    return store[key]


def _kernels(form: GramForm, x: torch.Tensor, y: torch.Tensor,
             cache: dict[str, tuple[torch.Tensor, torch.Tensor]],
             x_sides: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sides' kernel matrices (built once per kernel name); zeroed diagonals if debiased."""
    if form.kernel not in cache:
        cache[form.kernel] = (_reuse(x_sides, f"gram:{form.kernel}", lambda: form.gram(x)),
                              form.gram(y))
    k, l = cache[form.kernel]  # noqa: E741
    if form.debiased:
        k, l = k.clone(), l.clone()  # noqa: E741
        k.fill_diagonal_(0)
        l.fill_diagonal_(0)
    return k, l


def _prepared(form: PermutedForm, x: torch.Tensor, y: torch.Tensor,
              cache: dict[str, tuple[Any, Any]], x_sides: dict[str, Any] | None = None,
              ) -> tuple[Any, Any]:
    """Both sides prepared by ``form`` (once per preparation key and estimate call; x's side
    once per ``x_sides``)."""
    if form.key not in cache:
        cache[form.key] = (_reuse(x_sides, f"prepared:{form.key}", lambda: form.prepare(x)),
                           form.prepare(y))
    return cache[form.key]


def _resampled(measure: Measure, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None,
               perms: torch.Tensor | None,
               cache: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
               sides: dict[str, tuple[Any, Any]] | None = None,
               x_sides: dict[str, Any] | None = None,
               ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The measure of each bootstrap resample (columns of multiplicities ``w``) and between
    ``x`` and each row permutation of ``y`` (rows of ``perms``); None where none was asked or
    where the measure's policy refuses it (``max_boot = 0``).

    The measure's ``max_boot`` / ``max_null`` keep only the first resamples / permutations. With
    a Gram form, from the kernel matrices (a few matrix products for all resamples). A measure
    without one is recomputed on the resampled rows (a sentence drawn twice appears twice); its
    null comes from its permuted form (each side prepared once) or, without one, from one call
    of its function per permuted ``y``.
    """
    if w is not None and measure.max_boot is not None:
        w = w[:, :measure.max_boot] if measure.max_boot > 0 else None
    if perms is not None and measure.max_null is not None:
        perms = perms[:measure.max_null]
    if measure.gram is None:
        boots = nulls = None
        if w is not None:
            idx = torch.arange(x.shape[0], device=x.device)
            rows = [torch.repeat_interleave(idx, w[:, b].long()) for b in range(w.shape[1])]
            boots = torch.tensor([measure.fn(x[r], y[r]) for r in rows], dtype=torch.float64)
        if perms is not None and measure.permuted is not None:
            px, py = _prepared(measure.permuted, x, y, {} if sides is None else sides,
                               x_sides)
            nulls = measure.permuted.permuted(px, py, perms).to(torch.float64).cpu()
        elif perms is not None:
            nulls = torch.tensor([measure.fn(x, y[p]) for p in perms], dtype=torch.float64)
        return boots, nulls
    k, l = _kernels(measure.gram, x, y, {} if cache is None else cache, x_sides)  # noqa: E741
    debiased = measure.gram.debiased
    boots = nulls = None
    if w is not None:
        fn = _weighted_unbiased if debiased else _weighted_biased
        boots = fn(k, l, k * l, k * k, l * l, w)
    if perms is not None:
        nulls = _null_values(k, l, perms, debiased)
    return boots, nulls


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
