"""One record per similarity measure: the registry every other module reads.

A measure used to be described in seven dicts spread over ``cka``, ``null``, ``pipeline`` and
``report.plots`` (function, minimum n, Gram form, interval label, provenance text, plot label,
band label), and the "unknown measure" check was written four times. A new measure could be
half-registered: accepted by the CLI, then a KeyError in the bootstrap. Now a measure is one
:class:`Measure` in :data:`REGISTRY`, and the CLI choices, the pipeline's validation and
provenance, the bootstrap/null (:mod:`crossling.similarity.null`) and the plot labels are all
read from it. Adding a measure is its function plus one :func:`register` call; the property
suite (``tests/similarity/test_measures.py``) then checks it: range, identity, symmetry, each
declared invariance (and that undeclared ones really fail), and that its Gram form -- the fast
bootstrap/null path -- gives the function's value.

:func:`get_measure` is the only place an unknown id is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from crossling.core.errors import ConfigError
from crossling.similarity import cca, geometry
from crossling.similarity.cka import (
    cka_from_grams,
    debiased_linear_cka,
    gram_linear,
    gram_rbf,
    linear_cka,
    rbf_cka,
)

MeasureFn = Callable[[torch.Tensor, torch.Tensor], float]
"""``(x [n, d_x], y [n, d_y]) -> float``: rows are paired (the same sentences)."""

INVARIANCES = frozenset({"orthogonal", "isotropic_scaling", "translation",
                         "permutation_of_features", "invertible_linear"})
"""The vocabulary of :attr:`Measure.invariances`, each applied to one side (x or y) alone:

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
    (:meth:`crossling.similarity.null._KernelPair.value`, equal to ``fn`` up to rounding)."""


@dataclass(frozen=True)
class PermutedForm:
    """How the shuffled-pairs null of a measure without a kernel form is computed fast.

    ``prepare`` does one side's expensive work once (an SVD, a rank matrix, a neighbour list);
    ``score(px, py)`` is the measure from two prepared sides, so that ``fn(x, y) ==
    score(prepare(x), prepare(y))``; ``permuted(px, py, perms)`` gives the measure between ``x``
    and ``y[perm]`` for each row of ``perms`` [r, n] (a float64 tensor [r]) without preparing
    the permuted side again. ``key`` names the preparation: measures with the same key share
    it within one :func:`~crossling.similarity.null.estimate` call (SVCCA, PWCCA and Procrustes
    share one centred SVD per side).
    """

    key: str
    prepare: Callable[[torch.Tensor], Any]
    score: Callable[[Any, Any], float]
    permuted: Callable[[Any, Any, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Measure:
    """Everything crossling knows about one similarity measure.

    Calling the record calls its function, so ``REGISTRY[id](x, y)`` works as the old
    ``MEASURES[id](x, y)`` did. ``gram`` is None for a measure without a kernel form: its
    bootstrap and null then recompute ``fn`` on the resampled / permuted rows (slower, and a
    duplicated row in a resample is paired with itself; see docs/similarity-measures.md), or,
    with a ``permuted`` form, reuse each side's preparation for the null. ``max_boot`` and
    ``max_null`` are the measure's uncertainty policy: the most resamples / permutations it
    gets whatever the caller asks (None: as many as asked; ``max_boot = 0``: no interval, for a
    measure whose bootstrap is ill-posed, ``interval_kind`` saying why).
    ``value_range`` is what the property tests require of any value; its upper end is the value
    of a representation compared with itself.
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
    """Computable from O(d^2) streamed sums (:class:`~crossling.similarity.cka.LinearCKAStream`)."""
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
    """Add ``measure`` to :data:`REGISTRY`; a duplicate id or an inconsistent record is refused.

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
    """:func:`get_measure` of each name, in order."""
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


T = TypeVar("T")


class FieldView(Mapping[str, T]):
    """A live, read-only ``{id: some field}`` view of :data:`REGISTRY`.

    Keeps the old per-field dicts (``MIN_N``, ``MEASURE_LABELS``, ...) importable without a
    second copy of the data: a measure registered later shows up in every view.
    """

    def __init__(self, get: Callable[[Measure], T]) -> None:
        self._get = get

    def __getitem__(self, key: str) -> T:
        return self._get(REGISTRY[key])

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


_LINEAR = "linear"

register(Measure(
    id="debiased_cka", fn=debiased_linear_cka, label="debiased linear CKA",
    description="linear CKA on the unbiased HSIC U-statistic (Song et al. 2012)",
    citation="Song et al. 2012 (unbiased HSIC); Nguyen et al. 2021 (debiased CKA)",
    min_n=4,  # the U-statistic divides by n (n - 3)
    interval_kind=CI_KIND, band_label=CI_BAND,
    gram=GramForm(_LINEAR, gram_linear, debiased=True),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    value_range=(-1.0, 1.0), streamable=True))

register(Measure(
    id="linear_cka", fn=linear_cka, label="linear CKA (biased)",
    description="biased linear CKA, feature space (Kornblith et al. 2019)",
    citation="Kornblith et al. 2019",
    min_n=3,  # with 2 centred rows both sides are rank 1: CKA = 1 whatever the data
    interval_kind=SPREAD_KIND, band_label=SPREAD_BAND,
    gram=GramForm(_LINEAR, gram_linear, debiased=False),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    streamable=True))

register(Measure(
    id="rbf_cka", fn=rbf_cka, label="RBF CKA (biased)",
    description="RBF CKA, sigma = median pairwise distance (as the authors' script)",
    citation="Kornblith et al. 2019; Muller et al. 2021 (median bandwidth)",
    min_n=3,  # likewise, and the median bandwidth needs more than one pair
    interval_kind=SPREAD_KIND, band_label=SPREAD_BAND,
    gram=GramForm("rbf", gram_rbf, debiased=False, score=cka_from_grams),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"})))

# --- measures beyond CKA (issue 13): no kernel form; a permuted form makes their null cheap ---

NO_BAND = "no band: interval not computed (see docs)"


def _no_interval(why: str) -> str:
    return f"no interval (not computed: {why}; see docs/similarity-measures.md)"


_CCA_SIDE = "cca_svd"  # one centred SVD per side, shared by SVCCA, PWCCA and Procrustes
_CCA_NO_BOOT = _no_interval("a resample repeats sentences, which lowers the rank CCA sees and "
                            "changes the kept directions and CCA's bias")

register(Measure(
    id="svcca", fn=cca.svcca, label="SVCCA",
    description=f"SVCCA: mean canonical correlation after keeping, per side, the singular "
                f"directions that explain {cca.SVCCA_KEEP:.0%} of the variance; directions "
                f"with variance < {cca.VARIANCE_EPS:g} x the largest dropped",
    citation="Raghu et al. 2017",
    min_n=3,  # and n > k_x + k_y, checked on the data (cca.check_rank)
    interval_kind=_CCA_NO_BOOT, band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    permuted=PermutedForm(_CCA_SIDE, cca.side, cca.svcca_score, cca.svcca_permuted),
    max_boot=0, max_null=10))

register(Measure(
    id="pwcca", fn=cca.pwcca, label="PWCCA (x-weighted)",
    description=f"PWCCA: canonical correlations of the full column spaces (directions with "
                f"variance < {cca.VARIANCE_EPS:g} x the largest dropped), weighted by each "
                "canonical variate's summed |projection| on the source's (x) centred features",
    citation="Morcos et al. 2018; Singh et al. 2019 (on mBERT, found the opposite trend)",
    min_n=3,  # and n > k_x + k_y, checked on the data (cca.check_rank)
    interval_kind=_CCA_NO_BOOT, band_label=NO_BAND,
    invariances=frozenset({"isotropic_scaling", "translation", "permutation_of_features"}),
    symmetric=False,
    permuted=PermutedForm(_CCA_SIDE, cca.side, cca.pwcca_score, cca.pwcca_permuted),
    max_boot=0, max_null=10))

register(Measure(
    id="procrustes", fn=geometry.procrustes, label="orthogonal Procrustes",
    description="orthogonal Procrustes similarity 1 - min_Q |X - YQ|_F^2 / 2 = nuclear norm of "
                "X^T Y, X and Y centred and scaled to unit Frobenius norm",
    citation="Schönemann 1966; Ding et al. 2021; Williams et al. 2021",
    min_n=3,  # with 2 centred rows both sides are rank 1: the value is 1 whatever the data
    interval_kind=_no_interval("each resample is a d x d eigendecomposition, too slow for every "
                               "layer and target; meaningful (a plug-in estimator's spread) if "
                               "a variant record allows it"),
    band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    permuted=PermutedForm(_CCA_SIDE, cca.side, geometry.procrustes_score,
                          geometry.procrustes_permuted),
    max_boot=0, max_null=10))

register(Measure(
    id="rsa", fn=geometry.rsa, label="RSA (Spearman)",
    description="RSA: Spearman correlation of the upper triangles of the two n x n "
                "dissimilarity matrices, cosine distance of mean-centred sentence vectors",
    citation="Kriegeskorte et al. 2008",
    min_n=4,  # 6 pairs: with 3 pairs Spearman's rho is +-1 for a third of the orderings
    interval_kind=_no_interval("a repeated sentence has distance 0 to its copy on both sides, "
                               "which inflates the rank correlation"),
    band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    value_range=(-1.0, 1.0),
    permuted=PermutedForm("rsa", geometry.rsa_side, geometry.rsa_score, geometry.rsa_permuted),
    max_boot=0, max_null=20))

register(Measure(
    id="mutual_knn", fn=geometry.mutual_knn, label=f"mutual {geometry.KNN_K}-NN",
    description=f"mutual k-nearest-neighbour alignment, k = {geometry.KNN_K}: mean over "
                "sentences of |kNN_x(i) & kNN_y(i)| / k, neighbours by cosine similarity of "
                "the uncentred vectors",
    citation="Huh et al. 2024 (The Platonic Representation Hypothesis)",
    min_n=geometry.KNN_K + 2,  # with n <= k + 1 every sentence's neighbours are all the others
    interval_kind=_no_interval("a repeated sentence is its copy's nearest neighbour on both "
                               "sides, which inflates the overlap"),
    band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "permutation_of_features"}),
    permuted=PermutedForm("knn", geometry.knn_side, geometry.knn_score, geometry.knn_permuted),
    max_boot=0))
