"""Degenerate, non-finite and mistyped inputs of the measures, the null and retrieval: refused
with one line naming the argument (or the layer), never turned into a number."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch

from crossling.core.errors import ConfigError, CrosslingError
from crossling.retrieval.resampling import Resamples
from crossling.retrieval.rows import retrieval_rows
from crossling.retrieval.scoring import precision_at_1
from crossling.retrieval.settings import RetrievalSettings, ScoringSettings
from crossling.similarity import checks
from crossling.similarity.checks import VectorError
from crossling.similarity.measures import REGISTRY
from crossling.similarity.null import estimate, estimate_targets

ALL = list(REGISTRY)


def _data(n: int = 40, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, x @ torch.randn(d, d, generator=g, dtype=torch.float64) \
        + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)


def _one_line(err: pytest.ExceptionInfo[Any]) -> str:
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, CrosslingError)
    return message


def _bad_sides() -> dict[str, tuple[torch.Tensor, str]]:
    x, _ = _data()
    nan = x.clone()
    nan[3, 2] = float("nan")
    inf = x.clone()
    inf[5] = float("inf")
    constant = torch.ones_like(x) * 0.7  # a pooling that gives every sentence the same vector
    rounding = torch.ones_like(x) + 1e-9 * x  # equal up to rounding
    return {"nan": (nan, r"vectors contain NaN \(non-finite values in 1 of 40 rows\)"),
            "inf": (inf, r"vectors contain inf \(non-finite values in 1 of 40 rows\)"),
            "constant": (constant, r"vectors are all the same vector \(40 rows\): no variance"),
            "zeros": (torch.zeros_like(x), r"vectors are all zero"),
            "rounding": (rounding, r"vectors have near-zero variance \(total variance")}


@pytest.mark.parametrize("measure", ALL)
@pytest.mark.parametrize("bad", ["nan", "inf", "constant", "zeros", "rounding"])
def test_every_measure_refuses_degenerate_vectors(measure: str, bad: str) -> None:
    """Not CKA 1.000 with a zero-width interval, not a LinAlgError, not a chance value."""
    x, y = _data()
    side, message = _bad_sides()[bad]
    for call, where in ((lambda: REGISTRY[measure](side, y), "x"),
                        (lambda: REGISTRY[measure](x, side), "y"),
                        (lambda: estimate(side, y, [measure], n_boot=10, n_null=5), "x"),
                        (lambda: estimate(x, side, [measure], n_boot=10, n_null=5), "y")):
        with pytest.raises(VectorError, match=rf"^{where}: {message}") as err:
            call()
        _one_line(err)
    with pytest.raises(VectorError, match=rf"^ys\[1\]: {message}"):
        estimate_targets(x, [y, side], [measure], n_boot=0, n_null=0, workers=1)


def test_retrieval_refuses_degenerate_vectors() -> None:
    x, y = _data()
    for side, message in _bad_sides().values():
        for a, b, where in ((side, y, "x"), (x, side, "y")):
            with pytest.raises(VectorError, match=rf"^{where}: {message}"):
                precision_at_1(a, b, ScoringSettings(n_boot=10, n_null=5))


def test_retrieval_rows_name_the_layer_and_language() -> None:
    x, y = _data()
    vectors = {"en": torch.stack([x, x, x]), "fr": torch.stack([y, y, y])}
    vectors["fr"][2, :, :] = float("nan")  # a NaN weight in block 2: every sentence NaN
    with pytest.raises(VectorError, match=r"^layer 2 of fr: sentence vectors contain NaN "
                                          r"\(non-finite values in 40 of 40 rows\)$"):
        retrieval_rows(vectors, "en", ["fr"], model="m",
                       settings=RetrievalSettings(n_boot=5, n_null=5))
    assert len(retrieval_rows(vectors, "en", ["fr"], model="m", settings=RetrievalSettings(
        layers=[0, 1], n_boot=5, n_null=5))) == 2 * 6


@pytest.mark.parametrize("measure", ALL)
def test_numpy_arrays_and_lists_are_measured_like_tensors(measure: str) -> None:
    x, y = _data()
    expected = REGISTRY[measure](x, y)
    assert REGISTRY[measure](x.numpy(), y.numpy()) == pytest.approx(expected, abs=1e-12)
    assert REGISTRY[measure](x.tolist(), y.tolist()) == pytest.approx(expected, abs=1e-12)
    ints = np.arange(40 * 8).reshape(40, 8) % 7  # integer data is measured as float64
    assert np.isfinite(REGISTRY[measure](ints, y.numpy()))
    est = estimate(x.numpy(), y.tolist(), [measure], n_boot=5, n_null=5)[measure]
    assert est.value == pytest.approx(estimate(x, y, [measure], n_boot=5, n_null=5)[measure].value,
                                      abs=1e-9)
    with pytest.raises(VectorError, match=r"^x: vectors contain NaN"):
        REGISTRY[measure](np.full((40, 8), np.nan), y.numpy())


def test_retrieval_takes_numpy_arrays_and_lists() -> None:
    x, y = _data()
    expected = precision_at_1(x, y, ScoringSettings(n_boot=10, n_null=5))
    for a, b in ((x.numpy(), y.numpy()), (x.tolist(), y.tolist())):
        got = precision_at_1(a, b, ScoringSettings(n_boot=10, n_null=5))
        assert {k: e.value for k, e in got.items()} == {k: e.value for k, e in expected.items()}


@pytest.mark.parametrize(("x", "message"), [
    ("abc", r"^x: expected a tensor, NumPy array or list of rows \[n, d\], got str"),
    ([[1.0, 2.0], [3.0]], r"^x: not a rectangular array of numbers"),
    (np.array([["a", "b"], ["c", "d"]]), r"^x: expected numbers, got an array of dtype <U1"),
    (np.ones(5), r"^x: expected a 2-D array \[n, d\] of vectors, got shape \(5,\)"),
    (torch.ones(2, 3, 4), r"^x: expected a 2-D array \[n, d\] of vectors, got shape \(2, 3, 4\)"),
    (np.ones((0, 3)), r"^x: no vectors \(shape \(0, 3\)\)"),
])
def test_arrays_that_are_not_vectors_are_one_line_errors(x: Any, message: str) -> None:
    _, y = _data(n=5)
    for call in (lambda: REGISTRY["linear_cka"](x, y), lambda: estimate(x, y, ["linear_cka"]),
                 lambda: precision_at_1(x, y)):
        with pytest.raises(VectorError, match=message) as err:
            call()
        _one_line(err)


def test_unpaired_rows_name_both_arguments() -> None:
    x, y = _data()
    with pytest.raises(ValueError, match=r"^x and y must pair the same rows: 40 vs 39$"):
        estimate(x.numpy(), y[:39].numpy(), ["debiased_cka"])
    with pytest.raises(ValueError, match=r"^x and y must pair the same rows: 40 vs 39$"):
        precision_at_1(x, y[:39])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_boot": 10.5}, r"^n_boot must be an integer >= 0, got 10\.5$"),
    ({"n_boot": 10.0}, r"^n_boot must be an integer >= 0, got 10\.0$"),
    ({"n_null": True}, r"^n_null must be an integer >= 0, got True$"),
    ({"n_null": "100"}, r"^n_null must be an integer >= 0, got '100'$"),
    ({"seed": 1.5}, r"^seed must be an integer in \[0, 4294967295\], got 1\.5$"),
    ({"seed": -1}, r"^seed must be an integer in \[0, 4294967295\], got -1$"),
])
def test_mistyped_counts_are_one_line_errors(kwargs: dict[str, Any], message: str) -> None:
    x, y = _data()
    with pytest.raises(ConfigError, match=message):
        estimate(x, y, ["debiased_cka"], **kwargs)
    with pytest.raises(ConfigError, match=message):
        estimate_targets(x, [y], ["debiased_cka"], **kwargs)
    with pytest.raises(ConfigError, match=message):
        precision_at_1(x, y, ScoringSettings(**kwargs))


def test_numpy_integer_counts_and_a_bare_measure_name_are_accepted() -> None:
    x, y = _data()
    a = estimate(x, y, "linear_cka", n_boot=np.int64(10), n_null=np.int32(5))
    assert list(a) == ["linear_cka"]
    assert a == estimate(x, y, ["linear_cka"], n_boot=10, n_null=5)
    assert list(precision_at_1(x, y, ScoringSettings(variants=["cosine"], n_boot=0,
                                                           n_null=0))) == [
        "retrieval_p1_s2t", "retrieval_p1_t2s"]


def test_a_resample_count_too_large_for_memory_is_refused_before_any_draw() -> None:
    x, y = _data()
    clock = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^n_boot = 1000000000, n_null = 100: the resamples "
                                          r"of 40 sentences would take about [\d.]+ TB of memory "
                                          r"\(estimate\), more than the .* available$"):
        estimate(x, y, ["debiased_cka"], n_boot=1_000_000_000)
    with pytest.raises(ConfigError, match=r"^n_boot = 0, n_null = 1000000000: the resamples"):
        estimate_targets(x, [y], ["rsa"], n_boot=0, n_null=1_000_000_000)
    with pytest.raises(ConfigError, match=r"^n_boot = 1000000000, n_null = 200: the retrieval "
                                          r"resamples of 40 sentences would take about"):
        precision_at_1(x, y, ScoringSettings(n_boot=1_000_000_000))
    with pytest.raises(ConfigError, match="the retrieval resamples of 40 sentences"):
        Resamples.draw(40, 1_000_000_000, 0, 0)
    assert time.perf_counter() - clock < 5


def test_the_memory_check_compares_the_estimate_with_the_limit() -> None:
    checks.check_memory(1000, "small", limit=1000)
    with pytest.raises(ConfigError, match=r"^big would take about 1\.95 KB of memory \(estimate\), "
                                          r"more than the 1000 B available$"):
        checks.check_memory(2000, "big", limit=1000)
    assert (checks.available_memory() or 1) > 0


def test_vector_problem_tolerance() -> None:
    """Near-zero variance is relative to the vectors' size: a large common offset with real
    spread passes; the same spread under 1e-6 of the squared norm does not."""
    x, _ = _data()
    assert checks.vector_problem(x + 100.0) is None  # variance / mean sq. norm ~ 8 / 8e4
    assert checks.vector_problem(x + 1e4) is not None  # ~ 8 / 8e8 < 1e-6
    assert checks.vector_problem(x[:1]) is None  # one row: no variance to speak of
    assert checks.vector_problem(torch.ones(3, 2), variance=False) is None


def test_names_and_layers() -> None:
    assert checks.as_names("fr", "targets") == ["fr"]
    assert checks.as_names(("fr", "de"), "targets") == ["fr", "de"]
    assert checks.as_names(None, "targets") is None
    with pytest.raises(ConfigError, match=r"^targets: expected names \(strings\), got 3$"):
        checks.as_names(["fr", 3], "targets")
    with pytest.raises(ConfigError, match=r"^targets: expected a list of names, got int 3$"):
        checks.as_names(3, "targets")
    assert checks.as_layers(3) == [3]
    assert checks.as_layers(range(2)) == [0, 1]
    with pytest.raises(ConfigError, match=r"^layers: expected a list of layer numbers, got '3'"):
        checks.as_layers("3")
    with pytest.raises(ConfigError, match=r"^layers: layer must be an integer >= 0, got 1\.5"):
        checks.as_layers([1.5])


def test_position_limit_and_max_length() -> None:
    from types import SimpleNamespace

    bert = SimpleNamespace(config=SimpleNamespace(model_type="bert",
                                                  max_position_embeddings=16))
    xlmr = SimpleNamespace(config=SimpleNamespace(model_type="xlm-roberta", pad_token_id=1,
                                                  max_position_embeddings=514))
    assert checks.check_max_length(bert, None) == 16
    assert checks.check_max_length(xlmr, None) == 512
    assert checks.check_max_length(bert, 16) == 16
    with pytest.raises(ConfigError, match=r"^max_length 17 exceeds the 16 positions of tiny$"):
        checks.check_max_length(bert, 17, "tiny")
    with pytest.raises(ConfigError, match=r"^max_length 513 exceeds the 512 positions of m$"):
        checks.check_max_length(xlmr, 513, "m")
    with pytest.raises(ConfigError, match=r"^max_length must be an integer >= 3, got 8\.5$"):
        checks.check_max_length(bert, 8.5)
    assert checks.check_max_length(SimpleNamespace(), None) == 512
