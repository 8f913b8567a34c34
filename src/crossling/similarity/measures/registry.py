"""The measure registry: one `Measure` record per similarity measure.

The CLI choices, the pipeline's validation and provenance, the bootstrap and null
(`crossling.similarity.uncertainty`) and the plot labels all read a measure's record, so a
measure cannot be half-registered. A measure family (``cka.py``, ``cca.py``, ``geometry.py``)
registers its measures beside their functions; `get_measure` is the only place an unknown
id is reported. docs/similarity-measures.md says how to add one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from crossling.core.errors import ConfigError

MeasureFn = Callable[[torch.Tensor, torch.Tensor], float]
"""``(x [n, d_x], y [n, d_y]) -> float``: rows are paired (the same sentences)."""

INVARIANCES = frozenset({"orthogonal", "isotropic_scaling", "translation",
                         "permutation_of_features", "invertible_linear"})
"""The vocabulary of `Measure.invariances`, each applied to one side (x or y) alone:

- ``orthogonal``: ``x -> x Q`` for an orthogonal Q (a rotation or reflection of the features);
- ``isotropic_scaling``: ``x -> a x`` for a scalar a > 0;
- ``translation``: ``x -> x + c`` for one vector c added to every row;
- ``permutation_of_features``: ``x -> x[:, pi]`` (a special case of ``orthogonal``);
- ``invertible_linear``: ``x -> x A`` for any invertible A (CCA-like measures; not CKA).
"""

CI_KIND = "95% CI"
SPREAD_KIND = ("bootstrap percentile interval of the biased estimator "
               "(not a CI for the population CKA)")
NO_INTERVAL = "no interval (n_boot = 0)"
"""What the interval columns hold (NaN) when no bootstrap was asked for."""

CI_BAND = "band: 95% CI"
SPREAD_BAND = "band: spread of the biased estimator, not a CI"


@dataclass(frozen=True)
class GramForm:
    """How the fast bootstrap and null compute a measure from n x n kernel matrices.

    ``kernel`` names the matrices so that measures built on the same kernel share them (built
    once per layer); ``gram`` builds one side's matrix from [n, d] rows. ``debiased``: the
    unbiased HSIC U-statistic (zeroed diagonals; duplicated sentences in a resample are not
    paired with themselves) instead of the biased, centred HSIC.
    """

    kernel: str
    gram: Callable[[torch.Tensor], torch.Tensor]
    debiased: bool
    score: Callable[[torch.Tensor, torch.Tensor], float] | None = None
    """The measure's value from the two kernel matrices, computed exactly as ``fn`` computes
    it (RBF CKA: ``fn`` builds the same kernels), so that the value reuses the kernels that
    the bootstrap and the null build anyway, x's side once per source layer. None: the value
    comes from ``fn`` when no resample or permutation was asked (linear CKA: its feature-space
    form is cheaper than building the kernels), else from the centred kernels those built
    (`uncertainty.kernels.KernelPair.value`, equal to ``fn`` up to rounding)."""


@dataclass(frozen=True)
class PermutedForm:
    """How the shuffled-pairs null of a measure without a kernel form is computed fast.

    ``prepare`` does one side's expensive work once (an SVD, a rank matrix, a neighbour list);
    ``score(px, py)`` is the measure from two prepared sides, so that ``fn(x, y) ==
    score(prepare(x), prepare(y))``; ``permuted(px, py, perms)`` gives the measure between ``x``
    and ``y[perm]`` for each row of ``perms`` [r, n] (a float64 tensor [r]) without preparing
    the permuted side again. ``key`` names the preparation: measures with the same key share
    it within one `uncertainty.estimate` call (SVCCA, PWCCA and Procrustes share one centred
    SVD per side).
    """

    key: str
    prepare: Callable[[torch.Tensor], Any]
    score: Callable[[Any, Any], float]
    permuted: Callable[[Any, Any, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Measure:
    """Everything crossling knows about one similarity measure.

    Calling the record calls its function: ``REGISTRY[id](x, y)``. ``gram`` is None for a
    measure without a kernel form: its bootstrap and null then recompute ``fn`` on the
    resampled / permuted rows (slower, and a duplicated row in a resample is paired with
    itself; see docs/similarity-measures.md), or, with a ``permuted`` form, reuse each side's
    preparation for the null. ``max_boot`` and ``max_null`` are the measure's uncertainty
    policy: the most resamples / permutations it gets whatever the caller asks (None: as many
    as asked; ``max_boot = 0``: no interval, for a measure whose bootstrap is ill-posed,
    ``interval_kind`` saying why). ``value_range`` is what the property tests require of any
    value; its upper end is the value of a representation compared with itself.
    """

    id: str
    fn: MeasureFn
    label: str
    """Short name for plot panels and tables."""
    description: str
    """One-line definition; stored in each row's provenance (``metric_variants[id]``)."""
    citation: str
    min_n: int
    """Fewest sentences on which the measure is defined and not trivially at its maximum."""
    interval_kind: str
    """What ``ci_low``/``ci_high`` are (provenance ``metric_variants["interval:<id>"]``)."""
    band_label: str
    """The same, in a few words, for the shaded band of a plot panel."""
    gram: GramForm | None = None
    invariances: frozenset[str] = field(default_factory=frozenset)
    value_range: tuple[float, float] = (0.0, 1.0)
    streamable: bool = False
    """Computable from O(d^2) streamed sums (`measures.cka.LinearCKAStream`)."""
    symmetric: bool = True
    """``fn(x, y) == fn(y, x)``; PWCCA weights by ``x``'s directions and is not (tested both
    ways, like the invariances)."""
    permuted: PermutedForm | None = None
    max_boot: int | None = None
    """Most bootstrap resamples (the first ones of the shared resamples); 0 = never."""
    max_null: int | None = None
    """Most shuffled-pairs permutations (the first ones of the shared permutations)."""

    @property
    def debiased(self) -> bool:
        """Whether the estimator is unbiased for the population value (its interval is a CI)."""
        return self.gram is not None and self.gram.debiased

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> float:
        return self.fn(x, y)


REGISTRY: dict[str, Measure] = {}
"""Every measure by id, in display order (headline first): CLI choices, default plot panels."""

HEADLINE_MEASURE = "debiased_cka"
"""The measure shown by default (CLI table, demo, first plot panel): the only one whose interval
is a confidence interval for the population CKA (see docs/similarity-measures.md)."""


def register(measure: Measure) -> Measure:
    """Add ``measure`` to `REGISTRY`; a duplicate id or an inconsistent record is refused.

    Raises ValueError (a programming error, not a user's): the registry is filled at import.
    """
    if measure.id in REGISTRY:
        raise ValueError(f"similarity measure {measure.id!r} is already registered")
    if not measure.id.isidentifier():
        raise ValueError(f"similarity measure id {measure.id!r} is not an identifier")
    unknown = sorted(measure.invariances - INVARIANCES)
    if unknown:
        raise ValueError(f"{measure.id}: unknown invariance {unknown[0]!r} (vocabulary: "
                         f"{', '.join(sorted(INVARIANCES))})")
    if measure.min_n < 2:
        raise ValueError(f"{measure.id}: min_n = {measure.min_n}, a similarity needs >= 2 rows")
    lo, hi = measure.value_range
    if not lo < hi:
        raise ValueError(f"{measure.id}: value_range {measure.value_range} is empty")
    if measure.gram is not None and measure.permuted is not None:
        raise ValueError(f"{measure.id}: a Gram form and a permuted form (one null path only)")
    for name, cap, low in (("max_boot", measure.max_boot, 0), ("max_null", measure.max_null, 1)):
        if cap is not None and cap < low:
            raise ValueError(f"{measure.id}: {name} = {cap}, must be None or >= {low}")
    REGISTRY[measure.id] = measure
    return measure


def get_measure(name: str) -> Measure:
    """The measure registered under ``name``; a one-line ConfigError lists the valid ids.

    The only "unknown measure" check in crossling: callers that need their own context (a
    config file's key, a CLI option) catch the ConfigError and prefix it.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown similarity measure {name!r} (available: "
                          f"{', '.join(REGISTRY)})") from None


def get_measures(names: Sequence[str]) -> list[Measure]:
    """`get_measure` of each name, in order."""
    return [get_measure(n) for n in names]


def measure_ids() -> list[str]:
    """Every registered id, in display order (the CLI's ``--measures`` choices)."""
    return list(REGISTRY)


def min_sentences(measures: Sequence[str]) -> int:
    """The largest ``min_n`` over ``measures`` (an unknown id raises a ConfigError)."""
    return max((m.min_n for m in get_measures(measures)), default=0)


def neediest(measures: Sequence[str]) -> Measure:
    """The measure of ``measures`` that needs the most sentences (the one to name in an error)."""
    chosen = get_measures(measures)
    if not chosen:
        raise ConfigError("no similarity measure given")
    return max(chosen, key=lambda m: m.min_n)


def interval_kind(measure: str, n_boot: int) -> str:
    """The label of ``measure``'s ``ci_low``/``ci_high`` for ``n_boot`` resamples."""
    return get_measure(measure).interval_kind if n_boot > 0 else NO_INTERVAL


def resample_counts(measure: str, n_boot: int, n_null: int) -> tuple[int, int]:
    """The resamples and permutations ``measure`` gets when ``n_boot`` / ``n_null`` are asked
    for: its record's ``max_boot`` / ``max_null`` cap them."""
    m = get_measure(measure)
    boot = n_boot if m.max_boot is None else min(n_boot, m.max_boot)
    null = n_null if m.max_null is None else min(n_null, m.max_null)
    return boot, null


NO_BAND = "no band: interval not computed (see docs)"


def no_interval(why: str) -> str:
    """The ``interval_kind`` of a measure whose bootstrap is not computed, and why."""
    return f"no interval (not computed: {why}; see docs/similarity-measures.md)"
