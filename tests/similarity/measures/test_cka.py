"""Properties every similarity measure must have, checked over all registered measures."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from crossling.core.errors import ConfigError
from crossling.similarity.measures import REGISTRY as MEASURES
from crossling.similarity.measures import get_measure, min_sentences
from crossling.similarity.measures.cka import (
    LinearCKAStream,
    debiased_linear_cka,
    linear_cka,
    linear_cka_gram,
)

ALL = ["debiased_cka", "linear_cka", "rbf_cka"]
"""The CKA measures (the registry's others are checked in test_cca.py and test_geometry.py, and
every measure by the property suite in test_measures.py)."""


def _pair(n: int = 200, dx: int = 24, dy: int = 16, seed: int = 0, noise: float = 1.0,
          ) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dx, generator=g, dtype=torch.float64)
    y = x @ torch.randn(dx, dy, generator=g, dtype=torch.float64) + \
        noise * torch.randn(n, dy, generator=g, dtype=torch.float64)
    return x, y


def _rotation(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


@pytest.mark.parametrize("name", ALL)
def test_invariant_to_rotation_and_isotropic_scaling(name: str) -> None:
    measure = MEASURES[name]
    x, y = _pair()
    base = measure(x, y)
    assert 0.2 < base < 1.0
    assert measure(x @ _rotation(24, 1), y) == pytest.approx(base, abs=1e-9)
    assert measure(x, y @ _rotation(16, 2)) == pytest.approx(base, abs=1e-9)
    assert measure(3.7 * x, 0.01 * y) == pytest.approx(base, abs=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_self_similarity_is_one_and_symmetric(name: str) -> None:
    measure = MEASURES[name]
    x, y = _pair()
    assert measure(x, x) == pytest.approx(1.0, abs=1e-9)
    assert measure(x, y) == pytest.approx(measure(y, x), abs=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_more_noise_means_less_similarity(name: str) -> None:
    measure = MEASURES[name]
    values = [measure(*_pair(noise=s, seed=3)) for s in (0.1, 1.0, 10.0)]
    assert values[0] > values[1] > values[2]


def test_linear_cka_equals_gram_reference_and_feature_formula() -> None:
    x, y = _pair(n=150, dx=40, dy=30, seed=5)
    xc, yc = x - x.mean(0), y - y.mean(0)
    feature = (torch.linalg.matrix_norm(yc.T @ xc) ** 2 /
               (torch.linalg.matrix_norm(xc.T @ xc) * torch.linalg.matrix_norm(yc.T @ yc)))
    assert linear_cka(x, y) == pytest.approx(float(feature), abs=1e-12)
    assert linear_cka(x, y) == pytest.approx(linear_cka_gram(x, y), abs=1e-10)


def _debiased_reference(x: torch.Tensor, y: torch.Tensor) -> float:
    """Song et al. (2012) unbiased HSIC written out literally with n x n matrices."""
    def hsic(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # noqa: E741
        n = k.shape[0]
        k, l = k.clone(), l.clone()  # noqa: E741
        k.fill_diagonal_(0)
        l.fill_diagonal_(0)
        one = torch.ones(n, dtype=k.dtype)
        return (torch.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))
    k, l = x @ x.T, y @ y.T  # noqa: E741
    return float(hsic(k, l) / torch.sqrt(hsic(k, k) * hsic(l, l)))


def test_debiased_equals_u_statistic_reference() -> None:
    x, y = _pair(n=120, seed=7)
    assert debiased_linear_cka(x, y) == pytest.approx(_debiased_reference(x, y), abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(8, 120), cuts=st.lists(st.integers(1, 119), max_size=6),
       seed=st.integers(0, 1000))
def test_streaming_equals_full_computation(n: int, cuts: list[int], seed: int) -> None:
    x, y = _pair(n=n, dx=12, dy=9, seed=seed)
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    stream = LinearCKAStream(12, 9)
    for a, b in itertools.pairwise(bounds):
        stream.update(x[a:b], y[a:b])
    assert stream.n == n
    assert stream.value() == pytest.approx(linear_cka(x, y), abs=1e-10)
    assert stream.debiased_value() == pytest.approx(_debiased_reference(x, y), abs=1e-9)


def test_streams_merge() -> None:
    x, y = _pair(n=300, seed=9)
    a, b = LinearCKAStream(24, 16), LinearCKAStream(24, 16)
    a.update(x[:101], y[:101])
    b.update(x[101:], y[101:])
    merged = a.merge(b)
    assert merged.n == 300
    assert merged.value() == pytest.approx(linear_cka(x, y), abs=1e-10)
    assert merged.debiased_value() == pytest.approx(debiased_linear_cka(x, y), abs=1e-10)


def test_independent_data_biased_high_debiased_near_zero() -> None:
    """The facts that motivate debiasing: biased CKA of independent isotropic data is large."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(1000, 768, generator=g)
    y = torch.randn(1000, 768, generator=g)
    assert linear_cka(x, y) == pytest.approx(0.43, abs=0.02)
    assert abs(debiased_linear_cka(x, y)) < 0.02
    small_x, small_y = x[:100, :384], y[:100, :384]
    assert linear_cka(small_x, small_y) > 0.75  # grows as n shrinks relative to d
    assert abs(debiased_linear_cka(small_x, small_y)) < 0.05


def test_unknown_measure_lists_available() -> None:
    with pytest.raises(ConfigError, match=r"unknown similarity measure 'cca' .*linear_cka"):
        get_measure("cca")
    assert get_measure("rbf_cka") is MEASURES["rbf_cka"]


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(torch.zeros(3, 2), torch.zeros(4, 2))


# --- Independent references, written from the papers' equations in numpy (n x n Gram form). ---

def _centering(n: int) -> np.ndarray:
    return np.eye(n) - np.ones((n, n)) / n  # H = I - 11^T / n


def _hsic_biased(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Gretton et al. (2005) / Kornblith et al. (2019) eq. 3: tr(K H L H) / (n - 1)^2."""
    n = k.shape[0]
    h = _centering(n)
    return float(np.trace(k @ h @ l @ h)) / (n - 1) ** 2


def _hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Song et al. (2012) eq. 5, with K~, L~ the kernels with zeroed diagonals."""
    n = k.shape[0]
    kt, lt = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    one = np.ones(n)
    return float(np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
                 - 2.0 / (n - 2) * (one @ kt @ lt @ one)) / (n * (n - 3))


def _cka(k: np.ndarray, l: np.ndarray, hsic) -> float:  # type: ignore[no-untyped-def]  # noqa: E741
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def _rbf(x: np.ndarray) -> np.ndarray:
    """exp(-|xi - xj|^2 / (2 sigma^2)), sigma = median distance over the pairs i < j (numpy's
    median, i.e. the mean of the two middle values for an even number of pairs)."""
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    iu = np.triu_indices(x.shape[0], k=1)
    sigma = np.median(np.sqrt(d2[iu]))
    return np.exp(-d2 / (2 * sigma ** 2))


def _references(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"linear_cka": _cka(x @ x.T, y @ y.T, _hsic_biased),
            "debiased_cka": _cka(x @ x.T, y @ y.T, _hsic_unbiased),
            "rbf_cka": _cka(_rbf(x), _rbf(y), _hsic_biased)}


def _check_against_references(x: np.ndarray, y: np.ndarray, tol: float) -> None:
    from crossling.similarity.uncertainty import Resampling, estimate

    refs = _references(x, y)
    assert set(refs) == set(ALL)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    est = estimate(tx, ty, measures=tuple(ALL), resampling=Resampling(n_boot=0, n_null=0))
    for name, ref in refs.items():
        assert MEASURES[name](tx, ty) == pytest.approx(ref, abs=tol), name
        assert est[name].value == pytest.approx(ref, abs=tol), name


@pytest.mark.parametrize("n", [40, 42, 97])  # 40, 97: an even number of pairs, 42: odd
def test_measures_equal_independent_gram_references(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 20))
    y = x @ rng.standard_normal((20, 12)) * 0.5 + rng.standard_normal((n, 12))
    _check_against_references(x, y, 1e-10)


@pytest.mark.slow
def test_measures_equal_independent_references_on_e5_vectors(e5_model_dir: Path,
                                                             ud_dir: Path) -> None:
    """The same identities on real sentence vectors: 60 PUD sentences through e5-small."""
    from crossling.data.parallel import align_by_sent_id
    from crossling.data.resolve import resolve_ud
    from crossling.models.encoder import load_encoder
    from crossling.similarity.extract import extract

    corpus = align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in ("en", "de")},
                              limit=60)
    enc = load_encoder(str(e5_model_dir), device="cpu")
    en = extract(enc, corpus.texts["en"], progress=False).double().numpy()
    de = extract(enc, corpus.texts["de"], progress=False).double().numpy()
    for layer in (0, 6, 12):
        _check_against_references(en[layer], de[layer], 1e-8)


def test_minimum_sentences_per_measure() -> None:
    assert min_sentences(["linear_cka"]) == 3
    assert min_sentences(["linear_cka", "debiased_cka"]) == 4
    with pytest.raises(ConfigError, match="unknown similarity measure 'cca'"):
        min_sentences(["cca"])
