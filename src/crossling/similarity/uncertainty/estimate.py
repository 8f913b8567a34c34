"""Value, bootstrap interval and shuffled-pairs null of each measure between two vector sets.

A similarity value alone cannot be read (biased CKA of unrelated sentences is far from 0 at
PUD's sizes), so `estimate` gives each measure a 95% bootstrap interval over sentences
(what it means is the record's ``interval_kind``: a CI for debiased CKA only) and a
shuffled-pairs null (mean and 95th percentile). Kernel measures go through their Gram form
(`kernels`), others through their permuted form or by
recomputing; `estimate_targets` shares one source's side across many targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from crossling.core.checks import check_count
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.core.threads import map_single_threaded
from crossling.similarity.checks import as_matrix, as_names, as_pair, check_vectors
from crossling.similarity.measures.registry import (
    CI_KIND,
    Measure,
    PermutedForm,
    get_measures,
    interval_kind,
)
from crossling.similarity.uncertainty.kernels import (
    KernelPair,
    kernel_pair,
    null_values,
    reuse,
    weighted_biased,
    weighted_unbiased,
)
from crossling.similarity.uncertainty.resampling import (
    Resampling,
    check_resample_memory,
    multiplicities,
    percentile,
)

DEFAULT_MEASURES = ("debiased_cka", "linear_cka", "rbf_cka")
"""Headline measure first: debiased CKA is the only measure whose interval is a CI for the
population CKA; biased linear and RBF CKA are kept for comparison with the paper."""


@dataclass(frozen=True)
class Estimate:
    """A similarity value with its 95% bootstrap interval and shuffled-pairs null.

    ``interval`` names what ``ci_low``/``ci_high`` are (`interval_kind`).
    ``resamples``: with ``Resampling(keep_resamples=True)``, the measure on each bootstrap
    resample (columns of ``bootstrap_multiplicities(n, n_boot, seed)``, capped by the
    measure's ``max_boot``; None when it has no bootstrap), and ``seed`` the seed that drew
    them; both for `layer_difference`, left out of comparisons.
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


def estimate(x: torch.Tensor, y: torch.Tensor, measures: Sequence[str] = DEFAULT_MEASURES,
             resampling: Resampling | None = None,
             x_sides: dict[str, Any] | None = None) -> dict[str, Estimate]:
    """Value, 95% bootstrap interval and shuffled-pairs null of each measure between ``x``, ``y``.

    Deterministic for a given seed (the same resamples and permutations serve every measure).
    ``resampling`` (default: ``Resampling()``) sets the counts, seed and device; a zero count
    gives NaN bounds, and ``Estimate.interval`` says so. Fewer rows than a measure's ``min_n``,
    non-finite or (near-)constant vectors and resamples too large for memory are refused with
    one line before any work. ``x`` and ``y`` may be tensors, NumPy arrays or lists of rows.

    ``x_sides``: a dict the caller keeps for one ``x`` and passes to every call with that same
    ``x``, so that x's kernels and per-side preparations are built once for every ``y``.
    Passing it with another ``x`` gives wrong values: it is keyed by measure form, not data.
    """
    res = Resampling() if resampling is None else resampling
    measures = as_names(measures, "measures") or []
    x, y = as_pair(x, y)
    _check_sizes(x.shape[0], measures)
    x, y = check_vectors(x, "x"), check_vectors(y, "y")
    check_resample_memory(x.shape[0], res.n_boot, res.n_null)
    return _estimate(x, y, measures, res, x_sides)


def _check_sizes(n: int, measures: Sequence[str]) -> None:
    """A ConfigError when ``n`` rows are fewer than a measure's ``min_n``."""
    for m in get_measures(measures):
        if n < m.min_n:
            raise ConfigError(f"{m.id} needs at least {m.min_n} sentences, got {n}")


def _device(res: Resampling, x: torch.Tensor) -> torch.device:
    return pick_device(str(res.device)) if res.device is not None else x.device


def _estimate(x: torch.Tensor, y: torch.Tensor, measures: Sequence[str], res: Resampling,
              x_sides: dict[str, Any] | None) -> dict[str, Estimate]:
    """`estimate` on arguments already checked (by it or `estimate_targets`)."""
    dev = _device(res, x)
    x, y = x.to(dev), y.to(dev)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(res.seed)
    w = multiplicities(n, res.n_boot, gen, dev) if res.n_boot > 0 else None
    perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(res.n_null)]).to(dev) \
        if res.n_null > 0 else None
    grams: dict[str, KernelPair] = {}
    sides: dict[str, tuple[Any, Any]] = {}
    out: dict[str, Estimate] = {}
    for m in get_measures(measures):
        boots, nulls = _resampled(m, x, y, w, perms, grams, sides, x_sides)
        value = _value(m, x, y, grams, sides, x_sides)
        out[m.id] = _summary(value, boots, nulls, n, interval_kind(m.id, res.n_boot),
                             res.seed if res.keep_resamples else None)
    return out


def _value(m: Measure, x: torch.Tensor, y: torch.Tensor, grams: dict[str, KernelPair],
           sides: dict[str, tuple[Any, Any]], x_sides: dict[str, Any] | None) -> float:
    """The measure's value, from the kernels or prepared sides its null built when it can."""
    if m.permuted is not None:  # the same value as fn, from the sides the null reuses
        return m.permuted.score(*_prepared(m.permuted, x, y, sides, x_sides))
    if m.gram is not None and m.gram.kernel in grams:  # the kernels are built anyway
        return grams[m.gram.kernel].value(m.gram.debiased)
    if m.gram is not None and m.gram.score is not None:  # likewise, from the kernels
        pair = kernel_pair(m.gram, x, y, grams, x_sides)
        return m.gram.score(pair.k, pair.l)
    return m.fn(x, y)


def _summary(value: float, boots: torch.Tensor | None, nulls: torch.Tensor | None, n: int,
             interval: str, kept_seed: int | None) -> Estimate:
    """The Estimate of ``value``: the percentile interval of ``boots`` re-centred on ``value``
    (resamples with duplicated sentences shift biased CKA upwards: re-centring removes that
    shift), the mean and 95th percentile of ``nulls``; ``boots`` kept when ``kept_seed`` is
    given."""
    ci_low = ci_high = null_mean = null_high = float("nan")
    if boots is not None:
        shift = float(boots[torch.isfinite(boots)].mean()) - value
        ci_low = percentile(boots, 0.025) - shift
        ci_high = percentile(boots, 0.975) - shift
    if nulls is not None:
        finite = nulls[torch.isfinite(nulls)]
        null_mean = float(finite.mean()) if finite.numel() else float("nan")
        null_high = percentile(nulls, 0.95)
    kept = boots.cpu() if kept_seed is not None and boots is not None else None
    return Estimate(value, ci_low, ci_high, null_mean, null_high, n, interval, kept, kept_seed)


def sharing_groups(measures: Sequence[str]) -> list[tuple[str, ...]]:
    """``measures`` split into the groups that share a preparation (a kernel's matrices, or a
    permuted form's per-side work: the CKA measures on the linear kernel; SVCCA, PWCCA and
    Procrustes on one centred SVD), in order of first appearance. Different groups share
    nothing, so `estimate` of each group gives what one call with all of them gives."""
    groups: dict[str, list[str]] = {}
    for m in get_measures(measures):
        key = (f"gram:{m.gram.kernel}" if m.gram is not None
               else f"permuted:{m.permuted.key}" if m.permuted is not None else f"fn:{m.id}")
        groups.setdefault(key, []).append(m.id)
    return [tuple(g) for g in groups.values()]


def estimate_targets(x: torch.Tensor, ys: Sequence[torch.Tensor],
                     measures: Sequence[str] = DEFAULT_MEASURES,
                     resampling: Resampling | None = None,
                     workers: int | None = None) -> list[dict[str, Estimate]]:
    """`estimate` of one ``x`` (a source layer) against each of ``ys`` (the targets at
    that layer): x's side is prepared once and the work runs in ``workers`` threads.

    Threads because much of a target's work is single-threaded in torch and numpy (sorts,
    eigendecompositions, top-k). A work item is one target and one group of measures sharing a
    preparation (`sharing_groups`); the first target's groups run first, building x's
    side once per group, then every other item. Default workers: torch's intra-op threads on
    the CPU, one on a GPU. Values equal separate `estimate` calls up to float rounding.
    """
    res = Resampling() if resampling is None else resampling
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
    check_resample_memory(x.shape[0], res.n_boot, res.n_null)
    dev = _device(res, x)
    count = (torch.get_num_threads() if dev.type == "cpu" else 1) if workers is None \
        else workers
    x_sides: dict[str, Any] = {}
    groups = sharing_groups(measures)
    if count <= 1 or len(ys) * len(groups) <= 1:
        return [_estimate(x, y, measures, res, x_sides) for y in ys]

    def run(item: tuple[int, tuple[str, ...]]) -> dict[str, Estimate]:
        target, group = item
        return _estimate(x, ys[target], group, res, x_sides)

    # each group's x side is built by its first-target item; the barrier between the two maps
    # keeps a later item from building it a second time
    first = [(0, g) for g in groups]
    rest = [(t, g) for t in range(1, len(ys)) for g in groups]
    results = map_single_threaded(run, first, min(count, len(first)))
    if rest:
        results += map_single_threaded(run, rest, min(count, len(rest)))
    merged: list[dict[str, Estimate]] = [{} for _ in ys]
    for (target, _), result in zip(first + rest, results, strict=True):
        merged[target].update(result)
    order = [m.id for m in get_measures(measures)]
    return [{m: one[m] for m in order} for one in merged]


def _prepared(form: PermutedForm, x: torch.Tensor, y: torch.Tensor,
              cache: dict[str, tuple[Any, Any]], x_sides: dict[str, Any] | None = None,
              ) -> tuple[Any, Any]:
    """Both sides prepared by ``form`` (once per preparation key and estimate call; x's side
    once per ``x_sides``)."""
    if form.key not in cache:
        cache[form.key] = (reuse(x_sides, f"prepared:{form.key}", lambda: form.prepare(x)),
                           form.prepare(y))
    return cache[form.key]


def _resampled(measure: Measure, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None,
               perms: torch.Tensor | None,
               cache: dict[str, KernelPair] | None = None,
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
    pair = kernel_pair(form, x, y, {} if cache is None else cache, x_sides)
    boots = nulls = None
    if w is not None:
        products = pair.products(w)
        if form.debiased:
            kc, lc = pair.centred()
            boots = weighted_unbiased(products.without_diagonals(
                torch.diagonal(kc), torch.diagonal(lc), w), w)
        else:
            boots = weighted_biased(products, w)
    if perms is not None:
        nulls = null_values(pair, perms, form.debiased)
    return boots, nulls
