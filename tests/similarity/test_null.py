"""Bootstrap intervals and shuffled-pairs nulls from :func:`estimate`."""

from __future__ import annotations

import math

import pytest
import torch

from crossling.similarity.cka import MEASURES
from crossling.similarity.null import _multiplicities, _weighted_biased, estimate


def _parallel(n: int, seed: int = 0, noise: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 32, generator=g)
    y = x @ torch.randn(32, 24, generator=g) * 0.3 + noise * torch.randn(n, 24, generator=g)
    return x, y


def test_values_equal_registered_measures() -> None:
    x, y = _parallel(300)
    est = estimate(x, y, measures=tuple(MEASURES), n_boot=0, n_null=0)
    for name, e in est.items():
        assert e.value == pytest.approx(MEASURES[name](x, y), abs=1e-9)
        assert math.isnan(e.ci_low) and math.isnan(e.null_mean)
        assert e.n == 300


def test_weighted_resample_equals_explicit_resample() -> None:
    """The multiplicity trick gives the CKA of the resampled rows themselves."""
    x, y = _parallel(150, seed=1)
    gen = torch.Generator().manual_seed(4)
    w = _multiplicities(150, 3, gen, torch.device("cpu"))
    k = x.double() @ x.double().T
    l = y.double() @ y.double().T  # noqa: E741
    got = _weighted_biased(k, l, k * l, k * k, l * l, w)
    for b in range(3):
        rows = torch.repeat_interleave(torch.arange(150), w[:, b].long())
        assert float(got[b]) == pytest.approx(MEASURES["linear_cka"](x[rows], y[rows]),
                                              abs=1e-9)


def test_null_matches_explicit_permutations() -> None:
    x, y = _parallel(120, seed=2)
    est = estimate(x, y, n_boot=0, n_null=30, seed=5)
    gen = torch.Generator().manual_seed(5)
    perms = [torch.randperm(120, generator=gen) for _ in range(30)]
    for name, e in est.items():
        direct = torch.tensor([MEASURES[name](x, y[p]) for p in perms])
        assert e.null_mean == pytest.approx(float(direct.mean()), abs=1e-5)
        assert e.null_high == pytest.approx(float(torch.quantile(direct, 0.95)), abs=1e-5)


def test_intervals_contain_value_and_narrow_with_n() -> None:
    widths = {}
    for n in (100, 800):
        est = estimate(*_parallel(n, seed=3), n_boot=200, n_null=50, seed=0)
        for name, e in est.items():
            assert e.ci_low <= e.value <= e.ci_high, name
            assert e.value > e.null_high, name  # parallel data beats shuffled pairs
        widths[n] = {k: e.ci_high - e.ci_low for k, e in est.items()}
    for name in widths[100]:
        assert widths[800][name] < widths[100][name]


def test_null_of_debiased_centres_on_zero_and_is_deterministic() -> None:
    x, y = _parallel(400, seed=6)
    a = estimate(x, y, n_boot=50, n_null=40, seed=1)
    b = estimate(x, y, n_boot=50, n_null=40, seed=1)
    assert a == b
    assert abs(a["debiased_cka"].null_mean) < 0.01
    assert a["linear_cka"].null_mean > 0.03  # biased CKA has a floor (~d/n) for unrelated pairs
