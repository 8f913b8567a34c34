"""The measure registry, and the properties every registered measure must have.

The property suite is driven by the records: each test is parametrised over
``REGISTRY.values()``, so a newly registered measure is checked without writing a test for it
(range, identity, symmetry, each declared invariance, that each *undeclared* invariance really
fails, and that its fast bootstrap/null path gives its own value).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from crossling.errors import ConfigError
from crossling.similarity import cka, null
from crossling.similarity.cka import cka_from_grams, linear_cka
from crossling.similarity.measures import (
    HEADLINE_MEASURE,
    INVARIANCES,
    REGISTRY,
    GramForm,
    Measure,
    get_measure,
    interval_kind,
    measure_ids,
    min_sentences,
    neediest,
    register,
)

ALL = list(REGISTRY.values())
IDS = [m.id for m in ALL]
DX, DY = 20, 14


def _pair(n: int = 80, seed: int = 0, noise: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, DX, generator=g, dtype=torch.float64)
    y = x @ torch.randn(DX, DY, generator=g, dtype=torch.float64) * 0.4 + \
        noise * torch.randn(n, DY, generator=g, dtype=torch.float64)
    return x, y


def _orthogonal(d: int, g: torch.Generator) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


def _invertible(d: int, g: torch.Generator) -> torch.Tensor:
    """A well-conditioned but strongly anisotropic invertible map (singular values 0.2..5)."""
    u, v = _orthogonal(d, g), _orthogonal(d, g)
    return u @ torch.diag(torch.logspace(math.log10(0.2), math.log10(5), d,
                                         dtype=torch.float64)) @ v


Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
TRANSFORMS: dict[str, Transform] = {
    "orthogonal": lambda z, g: z @ _orthogonal(z.shape[1], g),
    "isotropic_scaling": lambda z, g: 3.7 * z,
    "translation": lambda z, g: z + 2.0 * torch.randn(z.shape[1], generator=g,
                                                      dtype=torch.float64),
    "permutation_of_features": lambda z, g: z[:, torch.randperm(z.shape[1], generator=g)],
    "invertible_linear": lambda z, g: z @ _invertible(z.shape[1], g),
}


def test_transforms_cover_the_vocabulary() -> None:
    assert set(TRANSFORMS) == INVARIANCES


# --- the registry ---------------------------------------------------------------------------

def test_registry_order_and_headline() -> None:
    assert IDS[0] == HEADLINE_MEASURE == "debiased_cka"
    assert measure_ids() == IDS == ["debiased_cka", "linear_cka", "rbf_cka"]
    assert cka.MEASURES is REGISTRY  # the old name is the registry itself
    assert dict(cka.MIN_N) == {"debiased_cka": 4, "linear_cka": 3, "rbf_cka": 3}
    assert dict(null.INTERVAL_KINDS) == {m.id: m.interval_kind for m in ALL}
    assert cka.get_measure is get_measure and cka.HEADLINE_MEASURE == HEADLINE_MEASURE
    with pytest.raises(AttributeError, match="no attribute 'NOPE'"):
        cka.NOPE  # noqa: B018


def test_only_the_debiased_measure_has_a_ci() -> None:
    assert [m.id for m in ALL if m.debiased] == ["debiased_cka"]
    for m in ALL:
        assert (m.interval_kind == null.CI_KIND) == m.debiased, m.id
        assert ("not a CI" in m.band_label) == (not m.debiased), m.id
        assert interval_kind(m.id, 10) == m.interval_kind
        assert interval_kind(m.id, 0) == null.NO_INTERVAL


def test_unknown_measure_is_one_configerror_listing_ids() -> None:
    with pytest.raises(ConfigError,
                       match=r"^unknown similarity measure 'cca' \(available: debiased_cka, "
                             r"linear_cka, rbf_cka\)$"):
        get_measure("cca")
    with pytest.raises(ConfigError, match="'cca'"):
        min_sentences(["linear_cka", "cca"])
    with pytest.raises(ConfigError, match="'cca'"):
        null.estimate(*_pair(10), measures=("cca",))
    assert neediest(["linear_cka", "debiased_cka", "rbf_cka"]).id == "debiased_cka"


def _record(**changes: object) -> Measure:
    fields: dict[str, object] = dict(
        id="test_measure", fn=linear_cka, label="test", description="test", citation="none",
        min_n=3, interval_kind="x", band_label="x")
    fields.update(changes)
    return Measure(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "message"), [
    ({"id": "linear_cka"}, "already registered"),
    ({"id": "has space"}, "not an identifier"),
    ({"invariances": frozenset({"orthogonal", "affine"})}, "unknown invariance 'affine'"),
    ({"min_n": 1}, "min_n = 1"),
    ({"value_range": (1.0, 1.0)}, "is empty"),
])
def test_register_refuses_duplicates_and_inconsistent_records(
        changes: dict[str, object], message: str) -> None:
    before = dict(REGISTRY)
    with pytest.raises(ValueError, match=message):
        register(_record(**changes))
    assert before == REGISTRY


def test_a_registered_measure_reaches_every_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    """One record is all a new measure needs: labels, min n, interval label, validation."""
    from crossling.report.plots import BAND_LABELS, MEASURE_LABELS

    monkeypatch.setattr("crossling.similarity.measures.REGISTRY", dict(REGISTRY))
    import crossling.similarity.measures as measures

    record = register(_record(id="extra", label="extra CKA", band_label="band: extra",
                              min_n=7, interval_kind="extra interval"))
    assert measures.REGISTRY["extra"] is record and "extra" not in REGISTRY
    assert get_measure("extra") is record
    assert MEASURE_LABELS["extra"] == "extra CKA" and BAND_LABELS["extra"] == "band: extra"
    assert cka.MIN_N["extra"] == 7 and min_sentences(["extra", "linear_cka"]) == 7
    assert null.INTERVAL_KINDS["extra"] == "extra interval"
    assert measure_ids()[-1] == "extra"


# --- properties of every registered measure ---------------------------------------------------

@pytest.mark.parametrize("measure", ALL, ids=IDS)
def test_values_lie_in_the_declared_range(measure: Measure) -> None:
    lo, hi = measure.value_range
    g = torch.Generator().manual_seed(1)
    for seed in range(4):
        x, y = _pair(60, seed=seed, noise=[0.1, 1.0, 10.0, 1e3][seed])
        independent = torch.randn(60, DY, generator=g, dtype=torch.float64)
        for value in (measure(x, y), measure(x, independent)):
            assert lo - 1e-12 <= value <= hi + 1e-12, (measure.id, value)


@pytest.mark.parametrize("measure", ALL, ids=IDS)
def test_identity_is_the_maximum_and_measure_is_symmetric(measure: Measure) -> None:
    x, y = _pair()
    assert measure(x, x) == pytest.approx(measure.value_range[1], abs=1e-9)
    assert measure(x, y) == pytest.approx(measure(y, x), abs=1e-9)
    assert measure(x, y) < measure.value_range[1] - 1e-3


@pytest.mark.parametrize("measure", ALL, ids=IDS)
@pytest.mark.parametrize("invariance", sorted(INVARIANCES))
def test_declared_invariances_hold_and_undeclared_ones_fail(measure: Measure,
                                                            invariance: str) -> None:
    """A declared invariance must hold on either side; an undeclared one must visibly fail, so
    the declarations are exact (and the transform strong enough to be a real check)."""
    x, y = _pair()
    base = measure(x, y)
    g = torch.Generator().manual_seed(7)
    moved = [measure(TRANSFORMS[invariance](x, g), y), measure(x, TRANSFORMS[invariance](y, g))]
    if invariance in measure.invariances:
        assert moved == pytest.approx([base, base], abs=1e-9), (measure.id, invariance)
    else:
        assert max(abs(v - base) for v in moved) > 1e-3, (
            f"{measure.id} is invariant to {invariance}: declare it in its record")


@pytest.mark.parametrize("measure", ALL, ids=IDS)
def test_fast_bootstrap_and_null_paths_give_the_measure(measure: Measure) -> None:
    """With every sentence drawn once and the identity permutation, the Gram-form (or
    recomputing) path that the intervals and the null use must give the function's value --
    and a real resample / permutation must give the function on the resampled rows."""
    n = 50
    x, y = _pair(n, seed=3)
    value = measure(x, y)
    ones = torch.ones(n, 1, dtype=torch.float64)
    boots, nulls = null._resampled(measure, x, y, ones, torch.arange(n)[None, :])
    assert boots is not None and nulls is not None
    assert float(boots[0]) == pytest.approx(value, abs=1e-9)
    assert float(nulls[0]) == pytest.approx(value, abs=1e-5)  # the null sums in float32
    if measure.gram is not None:
        k = measure.gram.gram(x)
        assert k.shape == (n, n) and torch.allclose(k, k.T)

    # One permutation: the null is the measure between x and permuted y.
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    _, permuted = null._resampled(measure, x, y, None, perm[None, :])
    assert permuted is not None
    assert float(permuted[0]) == pytest.approx(measure(x, y[perm]), abs=1e-5)
    if not measure.debiased:
        # A resample drawing half the sentences twice each: CKA of those rows' kernel matrices.
        # (Kernels are built once from the full sample, so the RBF bandwidth is not re-estimated
        # per resample; the debiased path drops duplicated self-pairs by design, and its
        # coverage is tested in test_null.py.)
        w = torch.zeros(n, 1, dtype=torch.float64)
        w[: n // 2] = 2.0
        boot, _ = null._resampled(measure, x, y, w, None)
        assert boot is not None
        rows = torch.repeat_interleave(torch.arange(n), w[:, 0].long())
        if measure.gram is None:
            expected = measure(x[rows], y[rows])
        else:
            k, l = measure.gram.gram(x), measure.gram.gram(y)  # noqa: E741
            expected = cka_from_grams(k[rows][:, rows], l[rows][:, rows])
            if measure.gram.kernel == "linear":
                assert expected == pytest.approx(measure(x[rows], y[rows]), abs=1e-9)
        assert float(boot[0]) == pytest.approx(expected, abs=1e-9)


def test_measure_without_gram_form_recomputes_and_agrees_with_the_fast_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback for a measure without a Gram form: the same resamples and permutations,
    recomputed with the function, give linear CKA's fast-path interval and null."""
    plain = _record(id="linear_plain", fn=linear_cka, gram=None,
                    interval_kind=REGISTRY["linear_cka"].interval_kind)
    monkeypatch.setitem(REGISTRY, plain.id, plain)
    x, y = _pair(60, seed=5)
    est = null.estimate(x, y, measures=("linear_cka", "linear_plain"), n_boot=40, n_null=20,
                        seed=2)
    fast, slow = est["linear_cka"], est["linear_plain"]
    assert slow.value == fast.value
    assert (slow.ci_low, slow.ci_high) == pytest.approx((fast.ci_low, fast.ci_high), abs=1e-9)
    assert (slow.null_mean, slow.null_high) == pytest.approx((fast.null_mean, fast.null_high),
                                                             abs=1e-5)
    assert slow.interval == fast.interval


def test_gram_forms_share_kernels_by_name() -> None:
    forms = {m.id: m.gram for m in ALL}
    assert all(isinstance(f, GramForm) for f in forms.values())
    assert forms["debiased_cka"].kernel == forms["linear_cka"].kernel == "linear"  # type: ignore[union-attr]
    assert forms["rbf_cka"].kernel == "rbf"  # type: ignore[union-attr]
