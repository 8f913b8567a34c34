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
from typing import TypeVar

import torch

from crossling.errors import ConfigError
from crossling.similarity.cka import debiased_linear_cka, gram_linear, gram_rbf, linear_cka, rbf_cka

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


@dataclass(frozen=True)
class Measure:
    """Everything crossling knows about one similarity measure.

    Calling the record calls its function, so ``REGISTRY[id](x, y)`` works as the old
    ``MEASURES[id](x, y)`` did. ``gram`` is None for a measure without a kernel form: its
    bootstrap and null then recompute ``fn`` on the resampled / permuted rows (slower, and a
    duplicated row in a resample is paired with itself; see docs/similarity-measures.md).
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
    gram=GramForm("rbf", gram_rbf, debiased=False),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"})))
