"""Paired-bootstrap layer differences (:func:`~crossling.similarity.uncertainty.layers.
layer_difference`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossling.core.errors import ConfigError
from crossling.similarity.measures import NO_INTERVAL, REGISTRY
from crossling.similarity.uncertainty import (
    PAIRED,
    Estimate,
    Resampling,
    bootstrap_multiplicities,
    estimate,
    layer_difference,
)


def _layers(n: int, signal: list[float], seed: int = 0, d: int = 16,
            top_copy_noise: float | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """x and y per layer: y = signal * x + noise, one shared latent per sentence.

    ``top_copy_noise``: the last layer is the layer before plus that much noise (highly
    correlated layers), on both sides.
    """
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    xs, ys = [], []
    for s in signal:
        x = z + 0.3 * torch.randn(n, d, generator=g, dtype=torch.float64)
        y = s * z + torch.randn(n, d, generator=g, dtype=torch.float64)
        xs.append(x)
        ys.append(y)
    if top_copy_noise is not None:
        xs[-1] = xs[-2] + top_copy_noise * torch.randn(n, d, generator=g, dtype=torch.float64)
        ys[-1] = ys[-2] + top_copy_noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return xs, ys


def _curve(xs: list[torch.Tensor], ys: list[torch.Tensor], measures: tuple[str, ...],
           n_boot: int = 200, seed: int = 0) -> dict[str, dict[int, Estimate]]:
    per_layer = [estimate(x, y, measures,
                          resampling=Resampling(n_boot=n_boot, n_null=0, seed=seed,
                                                keep_resamples=True)) for x, y in zip(xs, ys,
                                                                                      strict=True)]
    return {m: {la: est[m] for la, est in enumerate(per_layer)} for m in measures}


CKA = ("debiased_cka", "linear_cka", "rbf_cka")


def test_keep_resamples_changes_nothing_else() -> None:
    xs, ys = _layers(60, [1.0])
    plain = estimate(xs[0], ys[0], CKA, resampling=Resampling(n_boot=50, n_null=20, seed=3))
    kept = estimate(xs[0], ys[0], CKA,
                    resampling=Resampling(n_boot=50, n_null=20, seed=3, keep_resamples=True))
    for m in CKA:
        assert plain[m] == kept[m]  # every reported number identical
        assert plain[m].resamples is None and kept[m].resamples is not None
        assert kept[m].resamples.shape == (50,) and kept[m].seed == 3


def test_a_fall_at_the_top_is_detected() -> None:
    xs, ys = _layers(200, [0.3, 1.0, 1.5, 0.6])
    for m, per in _curve(xs, ys, CKA).items():
        diff = layer_difference(per, m, 200)
        assert (diff.peak_layer, diff.top_layer) == (2, 3), m
        assert diff.value > 0 and diff.ci_low > 0, m
        assert diff.ci_low <= diff.value <= diff.ci_high
        assert diff.p_top_ge_peak < 0.025, m
        assert diff.n_boot == 200 and diff.n == 200
        assert diff.interval == PAIRED + REGISTRY[m].interval_kind


def test_value_is_the_registered_measure_at_the_two_layers() -> None:
    xs, ys = _layers(80, [0.5, 1.2, 0.8], seed=2)
    for m, per in _curve(xs, ys, CKA, n_boot=20).items():
        diff = layer_difference(per, m, 20)
        fn = REGISTRY[m].fn
        direct = fn(xs[diff.peak_layer], ys[diff.peak_layer]) - fn(xs[2], ys[2])
        assert diff.value == pytest.approx(direct, abs=1e-10)
        assert diff.peak_layer == int(np.argmax([fn(x, y) for x, y in zip(xs, ys, strict=True)]))


def test_no_difference_covers_zero() -> None:
    # the same signal at every layer (independent noise): the interval covers 0
    xs, ys = _layers(200, [1.0, 1.0, 1.0, 1.0], seed=0)
    for m, per in _curve(xs, ys, ("debiased_cka", "linear_cka")).items():
        diff = layer_difference(per, m, 200)
        assert diff.peak_layer == 1  # a chance peak below the top: D > 0 by selection ...
        assert diff.value > 0 and diff.ci_low < 0 < diff.ci_high, m  # ... but not excluding 0
        assert 0.1 < diff.p_top_ge_peak < 0.5


def test_peak_at_the_top_is_no_fall() -> None:
    xs, ys = _layers(60, [0.3, 0.6, 1.5])
    per = _curve(xs, ys, ("debiased_cka",), n_boot=30)["debiased_cka"]
    diff = layer_difference(per, "debiased_cka", 30)
    assert diff.peak_layer == diff.top_layer == 2
    assert (diff.value, diff.ci_low, diff.ci_high, diff.p_top_ge_peak) == (0, 0, 0, 1)


def test_paired_interval_is_narrower_for_correlated_layers() -> None:
    # top layer = layer before + small noise: the two values move together across resamples
    xs, ys = _layers(150, [0.4, 1.2, 0.0], seed=7, top_copy_noise=0.25)
    for m, per in _curve(xs, ys, ("debiased_cka", "linear_cka")).items():
        diff = layer_difference(per, m, 200)
        assert diff.peak_layer == 1 and diff.value > 0
        paired = diff.ci_high - diff.ci_low
        # what two separate intervals suggest: their widths added in quadrature
        sep = math.hypot(per[1].ci_high - per[1].ci_low, per[2].ci_high - per[2].ci_low)
        assert paired < 0.5 * sep, (m, paired, sep)


def _gathered_debiased(x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> float:
    """Debiased CKA of a resample written out: Song et al.'s eq. 5 on the gathered Gram
    matrices of the vectors centred on the full sample's mean, with every pair of copies of
    one sentence (the diagonal included) set to 0, null.py's self-pair rule, in numpy."""
    r = rows.numpy()
    same = r[:, None] == r[None, :]

    def gram(a: torch.Tensor) -> np.ndarray:
        c = a.numpy() - a.numpy().mean(0)
        g = c[r] @ c[r].T
        g[same] = 0.0
        return g

    def hsic(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
        n = k.shape[0]
        one = np.ones(n)
        return float(np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                     - 2 / (n - 2) * one @ k @ l @ one) / (n * (n - 3))

    k, l = gram(x), gram(y)  # noqa: E741
    return hsic(k, l) / math.sqrt(hsic(k, k) * hsic(l, l))


def test_shared_resamples_equal_explicit_gathered_rows() -> None:
    """Brute force on n = 12, 50 resamples: the fast path's per-resample differences are the
    measure recomputed on the explicitly gathered rows of the same resample at both layers."""
    n, n_boot, seed = 12, 50, 11
    xs, ys = _layers(n, [0.5, 1.5, 0.7], seed=1, d=5)
    w = bootstrap_multiplicities(n, n_boot, seed)
    assert w.shape == (n, n_boot) and bool((w.sum(0) == n).all())
    curves = _curve(xs, ys, ("debiased_cka", "linear_cka"), n_boot=n_boot, seed=seed)
    refs = {"linear_cka": lambda x, y, r: REGISTRY["linear_cka"].fn(x[r], y[r]),
            "debiased_cka": _gathered_debiased}
    for m, per in curves.items():
        diff = layer_difference(per, m, n_boot)
        assert diff.resamples is not None
        lo, hi = diff.peak_layer, diff.top_layer
        assert (lo, hi) == (1, 2)
        for b in range(5):
            rows = torch.repeat_interleave(torch.arange(n), w[:, b].long())
            at = [refs[m](xs[la], ys[la], rows) for la in (lo, hi)]
            # 1e-6: the bootstrap's kernel products are float32 (null.py, _KernelPair.products)
            assert float(per[lo].resamples[b]) == pytest.approx(at[0], abs=1e-6), (m, b)
            assert float(per[hi].resamples[b]) == pytest.approx(at[1], abs=1e-6), (m, b)
            assert float(diff.resamples[b]) == pytest.approx(at[0] - at[1], abs=1e-6), (m, b)


@pytest.mark.parametrize("measure", [m for m in REGISTRY if REGISTRY[m].max_boot == 0])
def test_measures_without_bootstrap_give_the_point_difference_and_say_why(measure: str) -> None:
    xs, ys = _layers(60, [0.5, 1.5, 0.7], d=8)
    per = _curve(xs, ys, (measure,), n_boot=20)[measure]
    diff = layer_difference(per, measure, 20)
    fn = REGISTRY[measure].fn
    assert diff.value == pytest.approx(fn(xs[diff.peak_layer], ys[diff.peak_layer])
                                       - fn(xs[2], ys[2]), abs=1e-10)
    assert math.isnan(diff.ci_low) and math.isnan(diff.ci_high)
    assert math.isnan(diff.p_top_ge_peak) and diff.n_boot == 0
    assert diff.interval == REGISTRY[measure].interval_kind
    assert diff.interval.startswith("no interval (not computed")


def test_no_bootstrap_asked_and_misuse() -> None:
    xs, ys = _layers(40, [0.5, 1.5, 0.7])
    per = _curve(xs, ys, ("debiased_cka",), n_boot=0)["debiased_cka"]
    diff = layer_difference(per, "debiased_cka", 0)
    assert math.isnan(diff.ci_low) and diff.interval == NO_INTERVAL
    with pytest.raises(ConfigError, match="at least 2 layers"):
        layer_difference({0: per[0]}, "debiased_cka", 0)
    plain = {la: estimate(x, y, ("debiased_cka",),
                          resampling=Resampling(n_boot=10, n_null=0))["debiased_cka"]
             for la, (x, y) in enumerate(zip(xs, ys, strict=True))}
    with pytest.raises(ValueError, match="keep_resamples"):
        layer_difference(plain, "debiased_cka", 10)
    other = estimate(xs[2], ys[2], ("debiased_cka",),
                     resampling=Resampling(n_boot=10, n_null=0, seed=9,
                                           keep_resamples=True))["debiased_cka"]
    mixed = {**_curve(xs[:2], ys[:2], ("debiased_cka",), n_boot=10)["debiased_cka"], 2: other}
    with pytest.raises(ValueError, match="same resamples"):
        layer_difference(mixed, "debiased_cka", 10)
