"""The measure registry, and the properties every registered measure must have.

The property suite is driven by the records: each test is parametrised over
``REGISTRY.values()``, so a newly registered measure is checked without writing a test for it
(range, identity, symmetry, each declared invariance, that each *undeclared* invariance really
fails, and that its fast bootstrap/null path gives its own value).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch

from crossling.core.errors import ConfigError
from crossling.similarity import uncertainty as null
from crossling.similarity.measures import (
    CI_KIND,
    HEADLINE_MEASURE,
    INVARIANCES,
    NO_INTERVAL,
    REGISTRY,
    GramForm,
    Measure,
    PermutedForm,
    cka,
    get_measure,
    interval_kind,
    measure_ids,
    min_sentences,
    neediest,
    register,
    registry,
    resample_counts,
)
from crossling.similarity.measures.cka import cka_from_grams, linear_cka
from crossling.similarity.uncertainty import Resampling
from crossling.similarity.uncertainty.estimate import _resampled
from crossling.similarity.uncertainty.resampling import multiplicities

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
    assert measure_ids() == IDS == ["debiased_cka", "linear_cka", "rbf_cka", "svcca", "pwcca",
                                    "procrustes", "rsa", "mutual_knn"]
    assert {m.id: m.min_n for m in ALL} == {
        "debiased_cka": 4, "linear_cka": 3, "rbf_cka": 3, "svcca": 3, "pwcca": 3,
        "procrustes": 3, "rsa": 4, "mutual_knn": 12}
    assert REGISTRY is registry.REGISTRY  # defined once, in the registry module


def test_only_the_debiased_measure_has_a_ci() -> None:
    assert [m.id for m in ALL if m.debiased] == ["debiased_cka"]
    for m in ALL:
        assert (m.interval_kind == CI_KIND) == m.debiased, m.id
        if m.max_boot == 0:  # a bootstrap the measure refuses: no interval, saying why
            assert m.interval_kind.startswith("no interval (not computed: "), m.id
            assert m.band_label.startswith("no band"), m.id
        else:
            assert ("not a CI" in m.band_label) == (not m.debiased), m.id
        assert interval_kind(m.id, 10) == m.interval_kind
        assert interval_kind(m.id, 0) == NO_INTERVAL


def test_unknown_measure_is_one_configerror_listing_ids() -> None:
    with pytest.raises(ConfigError,
                       match=r"^unknown similarity measure 'cca' \(available: debiased_cka, "
                             r"linear_cka, rbf_cka, svcca, pwcca, procrustes, rsa, "
                             r"mutual_knn\)$"):
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
    ({"gram": GramForm("linear", cka.gram_linear, debiased=False),
      "permuted": PermutedForm("p", lambda z: z, linear_cka, lambda a, b, p: p)},
     "one null path only"),
    ({"max_boot": -1}, r"max_boot = -1, must be None or >= 0"),
    ({"max_null": 0}, r"max_null = 0, must be None or >= 1"),
])
def test_register_refuses_duplicates_and_inconsistent_records(
        changes: dict[str, object], message: str) -> None:
    before = dict(REGISTRY)
    with pytest.raises(ValueError, match=message):
        register(_record(**changes))
    assert before == REGISTRY


def test_a_registered_measure_reaches_every_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    """One record is all a new measure needs: labels, min n, interval label, validation."""
    from crossling.report.plots import band_label, measure_label

    monkeypatch.setattr(registry, "REGISTRY", dict(REGISTRY))
    record = register(_record(id="extra", label="extra CKA", band_label="band: extra",
                              min_n=7, interval_kind="extra interval"))
    assert registry.REGISTRY["extra"] is record and "extra" not in REGISTRY
    assert get_measure("extra") is record
    assert measure_label("extra") == "extra CKA" and band_label("extra") == "band: extra"
    assert min_sentences(["extra", "linear_cka"]) == 7
    assert interval_kind("extra", 10) == "extra interval"
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
    """Symmetry as declared: a measure declared asymmetric (PWCCA) must visibly be so."""
    x, y = _pair()
    assert measure(x, x) == pytest.approx(measure.value_range[1], abs=1e-9)
    if measure.symmetric:
        assert measure(x, y) == pytest.approx(measure(y, x), abs=1e-9)
    else:
        assert abs(measure(x, y) - measure(y, x)) > 1e-3
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
        # 1e-5 is four orders above the 1e-9 an invariance holds to (PWCCA under a rotation of
        # isotropic x moves by ~4e-4: its weights change, but little)
        assert max(abs(v - base) for v in moved) > 1e-5, (
            f"{measure.id} is invariant to {invariance}: declare it in its record")


@pytest.mark.parametrize("measure", ALL, ids=IDS)
def test_declared_invariances_hold_for_the_interval_and_the_null(measure: Measure) -> None:
    """What holds for the value must hold for its uncertainty: the bootstrap interval and the
    shuffled-pairs null of a transformed side equal those of the original, for every declared
    invariance. (Debiased CKA's resamples used to be computed from uncentred kernels, and a
    translation moved its interval: the value was invariant, its CI was not.)"""
    x, y = _pair()
    fields = ("value", "ci_low", "ci_high", "null_mean", "null_high")

    def summary(a: torch.Tensor, b: torch.Tensor) -> list[float]:
        e = null.estimate(a, b, (measure.id,),
                          resampling=Resampling(n_boot=40, n_null=20, seed=3))[measure.id]
        return [getattr(e, f) for f in fields]

    base = summary(x, y)
    for invariance in sorted(measure.invariances):
        g = torch.Generator().manual_seed(7)
        for moved in (summary(TRANSFORMS[invariance](x, g), y),
                      summary(x, TRANSFORMS[invariance](y, g))):
            assert moved == pytest.approx(base, abs=2e-5, nan_ok=True), (measure.id, invariance)


@pytest.mark.parametrize("measure", ALL, ids=IDS)
def test_fast_bootstrap_and_null_paths_give_the_measure(measure: Measure) -> None:
    """With every sentence drawn once and the identity permutation, the Gram-form (or
    recomputing) path that the intervals and the null use must give the function's value --
    and a real resample / permutation must give the function on the resampled rows."""
    n = 50
    x, y = _pair(n, seed=3)
    value = measure(x, y)
    ones = torch.ones(n, 1, dtype=torch.float64)
    boots, nulls = _resampled(measure, x, y, ones, torch.arange(n)[None, :])
    assert nulls is not None
    if measure.max_boot == 0:  # the measure's policy: no bootstrap at all
        assert boots is None
    else:
        assert boots is not None
        # the bootstrap's kernel products are float32, like the null's sums
        assert float(boots[0]) == pytest.approx(value, abs=1e-6)
    assert float(nulls[0]) == pytest.approx(value, abs=1e-5)  # the null sums in float32
    if measure.permuted is not None:
        form = measure.permuted
        assert form.score(form.prepare(x), form.prepare(y)) == pytest.approx(value, abs=1e-12)
    if measure.gram is not None:
        k = measure.gram.gram(x)
        assert k.shape == (n, n) and torch.allclose(k, k.T)

    # One permutation: the null is the measure between x and permuted y.
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    _, permuted = _resampled(measure, x, y, None, perm[None, :])
    assert permuted is not None
    assert float(permuted[0]) == pytest.approx(measure(x, y[perm]), abs=1e-5)
    if not measure.debiased and measure.max_boot != 0:
        # A resample drawing half the sentences twice each: CKA of those rows' kernel matrices.
        # (Kernels are built once from the full sample, so the RBF bandwidth is not re-estimated
        # per resample; the debiased path drops duplicated self-pairs by design, and its
        # coverage is tested in uncertainty/test_estimate.py.)
        w = torch.zeros(n, 1, dtype=torch.float64)
        w[: n // 2] = 2.0
        boot, _ = _resampled(measure, x, y, w, None)
        assert boot is not None
        rows = torch.repeat_interleave(torch.arange(n), w[:, 0].long())
        if measure.gram is None:
            expected = measure(x[rows], y[rows])
        else:
            k, l = measure.gram.gram(x), measure.gram.gram(y)  # noqa: E741
            expected = cka_from_grams(k[rows][:, rows], l[rows][:, rows])
            if measure.gram.kernel == "linear":
                assert expected == pytest.approx(measure(x[rows], y[rows]), abs=1e-9)
        assert float(boot[0]) == pytest.approx(expected, abs=1e-6)  # float32 products


def test_measure_without_gram_form_recomputes_and_agrees_with_the_fast_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback for a measure without a Gram form: the same resamples and permutations,
    recomputed with the function, give linear CKA's fast-path interval and null."""
    plain = _record(id="linear_plain", fn=linear_cka, gram=None,
                    interval_kind=REGISTRY["linear_cka"].interval_kind)
    monkeypatch.setitem(REGISTRY, plain.id, plain)
    x, y = _pair(60, seed=5)
    est = null.estimate(x, y, measures=("linear_cka", "linear_plain"),
                        resampling=Resampling(n_boot=40, n_null=20, seed=2))
    fast, slow = est["linear_cka"], est["linear_plain"]
    assert slow.value == fast.value
    assert (slow.ci_low, slow.ci_high) == pytest.approx((fast.ci_low, fast.ci_high), abs=1e-6)
    assert (slow.null_mean, slow.null_high) == pytest.approx((fast.null_mean, fast.null_high),
                                                             abs=1e-5)
    assert slow.interval == fast.interval


def test_gram_forms_share_kernels_by_name() -> None:
    forms = {m.id: m.gram for m in ALL if m.gram is not None}
    assert set(forms) == {"debiased_cka", "linear_cka", "rbf_cka"}
    assert all(isinstance(f, GramForm) for f in forms.values())
    assert forms["debiased_cka"].kernel == forms["linear_cka"].kernel == "linear"  # type: ignore[union-attr]
    assert forms["rbf_cka"].kernel == "rbf"  # type: ignore[union-attr]


def test_uncertainty_policy_is_honoured_by_estimate() -> None:
    """Each record's ``max_boot`` / ``max_null``: a refused interval is NaN and labelled why, a
    capped one uses the first resamples, and the null the first ``max_null`` of the shared
    permutations -- checked against the measure recomputed on those permuted rows."""
    from crossling.similarity.pipeline import _variants

    n = 70
    x, y = _pair(n, seed=4)
    est = null.estimate(x, y, measures=IDS, resampling=Resampling(n_boot=30, n_null=40, seed=3))
    gen = torch.Generator().manual_seed(3)
    multiplicities(n, 30, gen, torch.device("cpu"))  # drawn before the permutations
    perms = [torch.randperm(n, generator=gen) for _ in range(40)]
    for m in ALL:
        e = est[m.id]
        boot, permutations = resample_counts(m.id, 30, 40)
        assert e.interval == m.interval_kind
        if boot == 0:
            assert math.isnan(e.ci_low) and math.isnan(e.ci_high), m.id
        else:
            assert e.ci_low <= e.value <= e.ci_high, m.id
        if m.gram is None:
            direct = torch.tensor([m(x, y[p]) for p in perms[:permutations]],
                                  dtype=torch.float64)
            assert e.null_mean == pytest.approx(float(direct.mean()), abs=1e-5), m.id
            assert e.null_high == pytest.approx(float(torch.quantile(direct, 0.95)),
                                                abs=1e-5), m.id
    assert resample_counts("svcca", 200, 100) == (0, 10)
    assert resample_counts("mutual_knn", 5, 300) == (0, 300)
    assert resample_counts("debiased_cka", 200, 100) == (200, 100)
    variants = _variants(["linear_cka", "svcca"], 200, 100)
    assert variants["resamples:svcca"] == "0 bootstrap resamples, 10 permutations"
    assert "resamples:linear_cka" not in variants


def test_measures_sharing_a_preparation_share_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """SVCCA and PWCCA declare one preparation (a centred SVD per side): one estimate call
    prepares each side once for the values and the nulls of both."""
    from crossling.similarity.measures import cca

    calls: list[int] = []
    real = cca.side

    def counting(z: torch.Tensor) -> cca.Side:
        calls.append(z.shape[0])
        return real(z)

    for mid in ("svcca", "pwcca"):
        form = REGISTRY[mid].permuted
        assert form is not None and form.key == "cca_svd"
        monkeypatch.setitem(REGISTRY, mid, replace(
            REGISTRY[mid], permuted=replace(form, prepare=counting)))
    x, y = _pair(60, seed=6)
    est = null.estimate(x, y, measures=("svcca", "pwcca"),
                        resampling=Resampling(n_boot=10, n_null=5))
    assert len(calls) == 2
    assert est["svcca"].value == pytest.approx(REGISTRY["svcca"](x, y), abs=1e-12)
    assert est["pwcca"].value == pytest.approx(REGISTRY["pwcca"](x, y), abs=1e-12)


def test_a_capped_bootstrap_uses_the_first_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variant record (Procrustes with a bootstrap, as docs/similarity-measures.md describes)
    gets the first ``max_boot`` of the shared resamples: its interval is the re-centred
    percentile interval of the measure recomputed on those resampled rows."""
    boot = replace(REGISTRY["procrustes"], id="procrustes_boot", max_boot=7,
                   interval_kind="spread of 7 resamples")
    monkeypatch.setitem(REGISTRY, boot.id, boot)
    n = 50
    x, y = _pair(n, seed=8)
    e = null.estimate(x, y, measures=(boot.id,),
                      resampling=Resampling(n_boot=30, n_null=0, seed=1))[boot.id]
    w = multiplicities(n, 30, torch.Generator().manual_seed(1), torch.device("cpu"))
    rows = [torch.repeat_interleave(torch.arange(n), w[:, b].long()) for b in range(7)]
    values = torch.tensor([boot(x[r], y[r]) for r in rows], dtype=torch.float64)
    shift = float(values.mean()) - e.value
    assert e.ci_low == pytest.approx(float(torch.quantile(values, 0.025)) - shift, abs=1e-12)
    assert e.ci_high == pytest.approx(float(torch.quantile(values, 0.975)) - shift, abs=1e-12)
    assert e.interval == "spread of 7 resamples"


def test_x_sides_share_the_source_side_across_targets() -> None:
    """``estimate(..., x_sides=store)`` with one x and several y (the pipeline's source and its
    targets): x's kernels and preparations are built once, and every value, interval and null
    is what separate calls give."""
    x, y = _pair(60, seed=1)
    g = torch.Generator().manual_seed(9)
    ys = [y, y + torch.randn(y.shape, generator=g, dtype=torch.float64)]
    plain = [null.estimate(x, t, measures=IDS,
                           resampling=Resampling(n_boot=10, n_null=5)) for t in ys]
    store: dict[str, object] = {}
    shared = [null.estimate(x, t, measures=IDS, x_sides=store,
                            resampling=Resampling(n_boot=10, n_null=5)) for t in ys]
    assert repr(shared) == repr(plain)  # (repr: NaN intervals compare equal)
    assert set(store) == {"gram:linear", "gram:rbf", "prepared:cca_svd",
                          "prepared:rsa", "prepared:knn",
                          # x's centred kernels (float64, and float32 for the products),
                          # their permuted stacks (the nulls) and bootstrap products
                          # (Kc W, (Kc o Kc) W), one per kernel
                          "centred:linear", "centred:rbf", "centred32:linear", "centred32:rbf",
                          "permuted:linear", "permuted:rbf",
                          "products10:linear", "products10:rbf"}
