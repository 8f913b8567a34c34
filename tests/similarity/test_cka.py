"""Properties every similarity measure must have, checked over all registered measures."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from crossling.errors import ConfigError
from crossling.similarity.cka import (
    MEASURES,
    LinearCKAStream,
    debiased_linear_cka,
    get_measure,
    linear_cka,
    linear_cka_gram,
)

ALL = sorted(MEASURES)


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
