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

from crossling.core.checks import check_count, check_seed
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.core.threads import map_single_threaded
from crossling.similarity.checks import (
    as_matrix,
    as_names,
    as_pair,
    check_memory,
    check_vectors,
)
from crossling.similarity.cka import center_gram, hsic_u
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
from crossling.similarity.permuted import PermutedMatrix

__all__ = ["CI_KIND", "INTERVAL_KINDS", "NO_INTERVAL", "SPREAD_KIND", "Estimate",
           "LayerDifference", "bootstrap_multiplicities", "estimate", "estimate_targets",
           "interval_kind", "layer_difference", "sharing_groups"]

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


def _weighted_biased(p: _Products, w: torch.Tensor) -> torch.Tensor:
    """Biased CKA of each weighted resample (columns of ``w``), from uncentred kernels.

    With multiplicities ``w`` (sum n) and the weighted centring ``Kc = K - u1^T - 1u^T + c``,
    ``u = K w / n``, ``c = w^T K w / n^2``: ``sum_ij w_i w_j Kc_ij Lc_ij =
    w^T (K o L) w - 2 (w o u)^T (L w) + c w^T L w`` (centring one side suffices).
    """
    n = w.shape[0]
    wkw, wlw = (w * p.kw).sum(0), (w * p.lw).sum(0)

    def s(pw: torch.Tensor, aw: torch.Tensor, bw: torch.Tensor, waw: torch.Tensor,
          wbw: torch.Tensor) -> torch.Tensor:
        return (w * pw).sum(0) - 2 * (w * aw / n * bw).sum(0) + waw / n ** 2 * wbw

    num = s(p.klw, p.kw, p.lw, wkw, wlw)
    den = torch.sqrt(s(p.kkw, p.kw, p.kw, wkw, wkw) * s(p.llw, p.lw, p.lw, wlw, wlw))
    return num / den


def _weighted_unbiased(p: _Products, w: torch.Tensor) -> torch.Tensor:
    """Debiased CKA of each weighted resample, from the products of kernels with zeroed
    diagonals (:meth:`_Products.without_diagonals`)."""
    n = w.shape[0]
    sk, sl = (w * p.kw).sum(0), (w * p.lw).sum(0)

    def h(pw: torch.Tensor, aw: torch.Tensor, bw: torch.Tensor, sa: torch.Tensor,
          sb: torch.Tensor) -> torch.Tensor:
        return hsic_u((w * pw).sum(0), sa, sb, (w * aw * bw).sum(0), n)

    num = h(p.klw, p.kw, p.lw, sk, sl)
    den = torch.sqrt(h(p.kkw, p.kw, p.kw, sk, sk) * h(p.llw, p.lw, p.lw, sl, sl))
    return num / den


@dataclass(frozen=True)
class _Products:
    """The kernel products both bootstrap formulas read, for resamples ``W`` (columns):
    ``K W``, ``L W``, ``(K o L) W``, ``(K o K) W``, ``(L o L) W`` (float64 [n, B] each)."""

    kw: torch.Tensor
    lw: torch.Tensor
    klw: torch.Tensor
    kkw: torch.Tensor
    llw: torch.Tensor

    def without_diagonals(self, dk: torch.Tensor, dl: torch.Tensor, w: torch.Tensor,
                          ) -> _Products:
        """The same products for ``K - diag(dk)`` and ``L - diag(dl)``: each differs by a
        diagonal matrix times ``W`` (O(n B)), so debiased and biased CKA on one kernel share
        the five n x n x B matrix products."""
        dk, dl = dk[:, None], dl[:, None]
        return _Products(self.kw - dk * w, self.lw - dl * w, self.klw - dk * dl * w,
                         self.kkw - dk * dk * w, self.llw - dl * dl * w)


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


def _percentile(values: torch.Tensor, q: float) -> float:
    v = values[torch.isfinite(values)]
    return float(torch.quantile(v, q)) if v.numel() else float("nan")


BOOT_BYTES = 160
"""Bytes held per sentence and bootstrap resample by :func:`estimate` at its peak: the drawn
indices and multiplicities (int64 and float64, transposed once), the five kernel products in
float32 and float64, and the formulas' [n, B] temporaries (peak RSS measured: ~121 at
n = 500 with the three CKA measures)."""

NULL_BYTES = 64
"""Bytes held per sentence and permutation: the permutations and their inverses (int64), and
the diagonal terms of the null ([permutations, n] float64 temporaries; measured: ~41)."""


def check_resampling(n_boot: Any, n_null: Any, seed: Any) -> tuple[int, int, int]:
    """``n_boot``, ``n_null`` (integers >= 0) and ``seed`` (:func:`~crossling.similarity.
    checks.check_seed`), or a one-line ConfigError naming the argument."""
    return check_count("n_boot", n_boot), check_count("n_null", n_null), check_seed(seed)


def resample_bytes(n: int, n_boot: int, n_null: int) -> float:
    """Estimated peak bytes of the resamples of one :func:`estimate` call on ``n`` sentences
    (:data:`BOOT_BYTES`, :data:`NULL_BYTES`); the kernels themselves are n x n and small."""
    return float(n) * (n_boot * BOOT_BYTES + n_null * NULL_BYTES)


def check_resample_memory(n: int, n_boot: int, n_null: int, limit: int | None = None) -> None:
    """A one-line ConfigError, before any resample is drawn, when the bootstrap and null of
    ``n`` sentences cannot fit in the available memory (:func:`~crossling.similarity.checks.
    check_memory`)."""
    check_memory(resample_bytes(n, n_boot, n_null),
                 f"n_boot = {n_boot}, n_null = {n_null}: the resamples of {n} sentences", limit)


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
    ConfigError instead of returning NaN or 1. ``x`` and ``y`` may be tensors, NumPy arrays or
    lists of rows; non-finite or (near-)constant vectors are refused with one line
    (:func:`~crossling.similarity.checks.check_vectors`), and resample counts whose arrays
    cannot fit in memory before any is drawn (:func:`check_resample_memory`).

    ``x_sides``: a dict the caller keeps for one ``x`` (e.g. the source language at one layer)
    and passes to every call with that same ``x``: ``x``'s kernel matrices and per-side
    preparations (SVD, ranks, neighbours) are built once and reused for every ``y`` (the
    pipeline compares one source with 18 targets). Passing it with another ``x`` gives wrong
    values: it is keyed by measure form, not by data.

    ``keep_resamples``: keep each measure's per-resample values in ``Estimate.resamples``
    (for a paired bootstrap of two layers, :func:`layer_difference`); nothing else changes.
    """
    measures = as_names(measures, "measures") or []
    n_boot, n_null, seed = check_resampling(n_boot, n_null, seed)
    x, y = as_pair(x, y)
    _check_sizes(x.shape[0], measures)
    x, y = check_vectors(x, "x"), check_vectors(y, "y")
    check_resample_memory(x.shape[0], n_boot, n_null)
    return _estimate(x, y, measures, n_boot, n_null, seed, device, x_sides, keep_resamples)


def _check_sizes(n: int, measures: Sequence[str]) -> None:
    """A ConfigError when ``n`` rows are fewer than a measure's ``min_n``."""
    for m in get_measures(measures):
        if n < m.min_n:
            raise ConfigError(f"{m.id} needs at least {m.min_n} sentences, got {n}")


def _estimate(x: torch.Tensor, y: torch.Tensor, measures: Sequence[str], n_boot: int,
              n_null: int, seed: int, device: torch.device | str | None,
              x_sides: dict[str, Any] | None, keep_resamples: bool) -> dict[str, Estimate]:
    """:func:`estimate` on arguments already checked (by it or :func:`estimate_targets`)."""
    chosen = get_measures(measures)
    dev = pick_device(str(device)) if device is not None else x.device
    x, y = x.to(dev), y.to(dev)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    w = _multiplicities(n, n_boot, gen, dev) if n_boot > 0 else None
    perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(n_null)]).to(dev) \
        if n_null > 0 else None

    grams: dict[str, _KernelPair] = {}
    sides: dict[str, tuple[Any, Any]] = {}
    out: dict[str, Estimate] = {}
    for m in chosen:
        boots, nulls = _resampled(m, x, y, w, perms, grams, sides, x_sides)
        if m.permuted is not None:  # the same value as fn, from the sides the null reuses
            value = m.permuted.score(*_prepared(m.permuted, x, y, sides, x_sides))
        elif m.gram is not None and m.gram.kernel in grams:  # the kernels are built anyway
            value = grams[m.gram.kernel].value(m.gram.debiased)
        elif m.gram is not None and m.gram.score is not None:  # likewise, from the kernels
            pair = _pair(m.gram, x, y, grams, x_sides)
            value = m.gram.score(pair.k, pair.l)
        else:
            value = m.fn(x, y)
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


def sharing_groups(measures: Sequence[str]) -> list[tuple[str, ...]]:
    """``measures`` split into the groups that share a preparation (a kernel's matrices, or a
    permuted form's per-side work: the CKA measures on the linear kernel; SVCCA, PWCCA and
    Procrustes on one centred SVD), in order of first appearance. Different groups share
    nothing, so :func:`estimate` of each group gives what one call with all of them gives."""
    groups: dict[str, list[str]] = {}
    for m in get_measures(measures):
        key = (f"gram:{m.gram.kernel}" if m.gram is not None
               else f"permuted:{m.permuted.key}" if m.permuted is not None else f"fn:{m.id}")
        groups.setdefault(key, []).append(m.id)
    return [tuple(g) for g in groups.values()]


def estimate_targets(x: torch.Tensor, ys: Sequence[torch.Tensor],
                     measures: Sequence[str] = ("debiased_cka", "linear_cka", "rbf_cka"),
                     n_boot: int = 200, n_null: int = 100, seed: int = 0,
                     device: torch.device | str | None = None, keep_resamples: bool = False,
                     workers: int | None = None) -> list[dict[str, Estimate]]:
    """:func:`estimate` of one ``x`` (a source layer) against each of ``ys`` (the targets at
    that layer): x's side is prepared once (``x_sides``) and the work runs in ``workers``
    threads.

    Why threads: much of a target's work is single-threaded in torch and numpy (sorting the
    RSA distances, the eigendecompositions of the CCA and Procrustes nulls, top-k), so one
    target at a time leaves a core idle. With ``workers`` > 1 each thread runs torch with one
    intra-op thread (restored afterwards). A work item is one target and one of the measure
    groups that share a preparation (:func:`sharing_groups`). The first target's groups run
    first, side by side: that builds x's side (kernels, permuted stacks, SVD, ranks,
    neighbours) once, each group's part in its own thread, instead of all of it in one call
    while the other core idled or split each small operation between two intra-op threads
    (slower on the 2-core machine: bench/RESULTS.md). Then every other (target, group) item
    runs, so that no core waits on one long target at the end. Default: as many workers as
    torch has intra-op threads, on the CPU; one on a GPU. Values are those of separate
    :func:`estimate` calls up to float rounding (a matrix product's summation order can depend
    on the thread count).
    """
    n_boot, n_null, seed = check_resampling(n_boot, n_null, seed)
    kw: dict[str, Any] = {"n_boot": n_boot, "n_null": n_null, "seed": seed, "device": device,
                          "keep_resamples": keep_resamples}  # _estimate's, checked below
    if workers is not None:
        check_count("workers", workers, 1)
    measures = as_names(measures, "measures") or []
    if not ys:
        return []
    x = as_matrix(x, "x")
    _check_sizes(x.shape[0], measures)
    x = check_vectors(x, "x")
    ys = [check_vectors(as_pair(x, y, ("x", f"ys[{i}]"))[1], f"ys[{i}]")
          for i, y in enumerate(ys)]
    check_resample_memory(x.shape[0], n_boot, n_null)
    dev = pick_device(str(device)) if device is not None else x.device
    count = (torch.get_num_threads() if dev.type == "cpu" else 1) if workers is None \
        else workers
    x_sides: dict[str, Any] = {}
    groups = sharing_groups(measures)
    if count <= 1 or len(ys) * len(groups) <= 1:
        return [_estimate(x, y, measures, x_sides=x_sides, **kw) for y in ys]

    def run(item: tuple[int, tuple[str, ...]]) -> dict[str, Estimate]:
        target, group = item
        return _estimate(x, ys[target], group, x_sides=x_sides, **kw)

    # each group's x side is built by its first-target item; the barrier between the two maps
    # keeps a later item from building it a second time
    first = [(0, g) for g in groups]
    rest = [(t, g) for t in range(1, len(ys)) for g in groups]
    items = first + rest
    results = map_single_threaded(run, first, min(count, len(first)))
    if rest:
        results += map_single_threaded(run, rest, min(count, len(rest)))
    merged: list[dict[str, Estimate]] = [{} for _ in ys]
    for (target, _), result in zip(items, results, strict=True):
        merged[target].update(result)
    order = [m.id for m in get_measures(measures)]
    return [{m: one[m] for m in order} for one in merged]


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


class _KernelPair:
    """One kernel's matrices of x and y and what the measures on that kernel share.

    Built once per :func:`estimate` call and kernel name (linear CKA and debiased CKA share the
    linear kernel); x's side (its kernel, centred kernel, permuted stack and bootstrap
    products) once per ``x_sides``, i.e. once for every target compared with one source layer.
    """

    def __init__(self, form: GramForm, x: torch.Tensor, y: torch.Tensor,
                 x_sides: dict[str, Any] | None) -> None:
        self.name = form.kernel
        self.x_sides = x_sides
        self._memo: dict[tuple[str, int], Any] = {}
        self.k = self._x("gram", lambda: form.gram(x))
        self.l = form.gram(y)

    def _x(self, what: str, make: Callable[[], Any]) -> Any:
        if self.x_sides is None:
            return self._mine(f"x {what}", 0, make)
        return _reuse(self.x_sides, f"{what}:{self.name}", make)

    def _mine(self, what: str, size: int, make: Callable[[], Any]) -> Any:
        key = (what, size)
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def centred(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``H K H`` and ``H L H``."""
        return (self._x("centred", lambda: center_gram(self.k)),
                self._mine("centred", 0, lambda: center_gram(self.l)))

    def products(self, w: torch.Tensor) -> _Products:
        """The bootstrap's kernel products for resamples ``w``, from the *centred* kernels.

        Centred because debiased CKA's resamples drop the pairs of copies of one sentence
        (:meth:`_Products.without_diagonals`), and dropping a pair's kernel value is not
        translation-invariant: on uncentred kernels a resample's value depended on where the
        origin of the feature space is (vectors shifted by 5 gave resamples near 0.985 for a
        value of 0.20, and an interval 8x too narrow). The full sample's centring fixes the
        origin at the sentences' mean for every resample. Biased CKA's weighted re-centring
        is unchanged by it (tested), so both forms still share the products.

        In float32, accumulated into float64 by the formulas: centred kernels have no common
        offset to cancel (at most ~1e-7 from float64 in the tests, against an interval width
        of ~1e-2), and the products run twice as fast. x's (``Kc W``, ``(Kc o Kc) W``) are kept
        in ``x_sides`` with the ``w`` they were computed for.
        """
        kc, lc = self.centred32()
        w32 = w.to(torch.float32)

        def x_products() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            return w, kc @ w32, (kc * kc) @ w32

        kept = self._x(f"products{w.shape[1]}", x_products)
        if not torch.equal(kept[0], w):  # other resamples (another seed): not reusable
            kept = x_products()

        def make() -> _Products:
            return _Products(*(t.to(torch.float64) for t in (
                kept[1], lc @ w32, (kc * lc) @ w32, kept[2], (lc * lc) @ w32)))

        return self._mine("products", w.shape[1], make)

    def centred32(self) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`centred` in float32 (the bootstrap's products and the null's stack)."""
        kc, lc = self.centred()
        return (self._x("centred32", lambda: kc.to(torch.float32)),
                self._mine("centred32", 0, lambda: lc.to(torch.float32)))

    def self_terms(self, debiased: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """CKA's two self terms on the centred kernels, the value's and the null's
        denominator (the null permutes only the cross term): ``<Kc, Kc>`` and ``<Lc, Lc>``,
        or for debiased CKA ``n (n - 3)`` times each kernel's unbiased HSIC with itself
        (:func:`_unbiased_terms`). Once per estimate call and form."""
        def make() -> tuple[torch.Tensor, torch.Tensor]:
            kc, lc = self.centred()
            if debiased:
                return _unbiased_terms(kc, kc), _unbiased_terms(lc, lc)
            return (kc * kc).sum(), (lc * lc).sum()

        return self._mine(f"self {debiased}", 0, make)

    def value(self, debiased: bool) -> float:
        """The measure from the centred kernels the bootstrap and the null use: biased CKA
        ``<Kc, Lc> / (|Kc| |Lc|)``, or debiased CKA's U-statistic on the centred kernels with
        zeroed diagonals (unchanged by centring). Equal to the feature-space functions up to
        float64 rounding (tested), and nearly free once the kernels exist, where the
        feature-space form would be three more d x d products per target."""
        def make() -> float:
            kc, lc = self.centred()
            kl = _unbiased_terms(kc, lc) if debiased else (kc * lc).sum()
            kk, ll = self.self_terms(debiased)
            den = kk * ll
            return float(kl / torch.sqrt(den)) if float(den) > 0 else float("nan")

        return self._mine(f"value {debiased}", 0, make)

    def null_trace(self, perms: torch.Tensor) -> torch.Tensor:
        """``sum_ij Kc_ij Lc0_pi(i)pi(j)`` per permutation, ``Lc0`` the centred ``L`` with a
        zeroed diagonal: the one n x n cross term that both CKA forms' nulls need
        (:func:`_null_values`), through x's permuted stack (:mod:`~crossling.similarity.
        permuted`)."""
        kc, lc = self.centred32()
        stack = self._x("permuted", lambda: PermutedMatrix(kc))

        def trace() -> torch.Tensor:
            lc0 = lc.clone()
            lc0.fill_diagonal_(0)
            return stack.cross(lc0, perms)

        return self._mine("null", perms.shape[0], trace)


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
               cache: dict[str, _KernelPair] | None = None,
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
    if w is None and perms is None:
        return None, None
    form = measure.gram
    pair = _pair(form, x, y, {} if cache is None else cache, x_sides)
    boots = nulls = None
    if w is not None:
        products = pair.products(w)
        if form.debiased:
            kc, lc = pair.centred()
            boots = _weighted_unbiased(products.without_diagonals(
                torch.diagonal(kc), torch.diagonal(lc), w), w)
        else:
            boots = _weighted_biased(products, w)
    if perms is not None:
        nulls = _null_values(pair, perms, form.debiased)
    return boots, nulls


def _pair(form: GramForm, x: torch.Tensor, y: torch.Tensor, cache: dict[str, _KernelPair],
          x_sides: dict[str, Any] | None) -> _KernelPair:
    """The :class:`_KernelPair` of ``form``'s kernel, built once per estimate call."""
    if form.kernel not in cache:
        cache[form.kernel] = _KernelPair(form, x, y, x_sides)
    return cache[form.kernel]


def _unbiased_terms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``n (n - 3)`` times the unbiased HSIC of two n x n kernels (:func:`~crossling.
    similarity.cka.hsic_u`), their diagonals zeroed here."""
    da, db = torch.diagonal(a), torch.diagonal(b)
    a1, b1 = a.sum(1) - da, b.sum(1) - db
    return hsic_u((a * b).sum() - (da * db).sum(), a1.sum(), b1.sum(), (a1 * b1).sum(),
                  a.shape[0])


def _null_values(pair: _KernelPair, perms: torch.Tensor, debiased: bool) -> torch.Tensor:
    """The measure between x and row-permuted y, for each permutation, from the centred kernels.

    Permuting y's rows permutes ``Lc``'s rows and columns: the self terms do not change, and the
    cross term is :meth:`_KernelPair.null_trace` plus, for biased CKA, the diagonal's share
    ``sum_i Kc_ii Lc_pi(i)pi(i)``. Debiased CKA uses the centred kernels with zeroed diagonals:
    the unbiased HSIC is unchanged by centring (a translation of the feature vectors, also in a
    kernel's feature space), and centred kernels keep the float32 cross term well conditioned
    (uncentred ones are dominated by the vectors' common mean). Only the trace and the row-sum
    products change under a permutation.
    """
    n = pair.k.shape[0]
    kc, lc = pair.centred()
    trace = pair.null_trace(perms)
    inv = torch.argsort(perms.to(kc.device), dim=1)  # in x's frame: pi^-1
    dk, dl = torch.diagonal(kc), torch.diagonal(lc)
    kk, ll = pair.self_terms(debiased)  # permutation-invariant, shared with the value
    den = torch.sqrt(kk * ll)
    if not debiased:
        return (trace + (dk[inv] * dl[None, :]).sum(1)) / den
    k1, l1 = kc.sum(1) - dk, lc.sum(1) - dl  # row sums with zeroed diagonals
    values = hsic_u(trace, k1.sum(), l1.sum(), (k1[inv] * l1[None, :]).sum(-1), n)
    return values / den if math.isfinite(float(den)) else values * float("nan")
