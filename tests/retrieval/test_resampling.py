"""Resamples: drawn once per seed, valid counts and permutations, refused beyond memory."""

from __future__ import annotations

import pytest
import torch

from crossling.core.errors import ConfigError
from crossling.retrieval.resampling import Resamples, check_retrieval_memory, estimates


def test_same_resamples_for_every_call_of_a_seed() -> None:
    a = Resamples.draw(50, 10, 5, seed=3)
    b = Resamples.draw(50, 10, 5, seed=3)
    assert a.weights is not None and b.weights is not None
    assert torch.equal(a.weights, b.weights) and a.perms is not None and b.perms is not None
    assert torch.equal(a.perms, b.perms)
    assert torch.equal(a.weights.sum(0), torch.full((10,), 50.0, dtype=torch.float64))
    assert all(sorted(p.tolist()) == list(range(50)) for p in a.perms)
    assert a.size == 50 and Resamples.draw(50, 0, 0, seed=3).size is None


def test_all_hits_give_exactly_one_and_chance_is_one_over_n() -> None:
    res = Resamples.draw(20, 30, 10, seed=0)
    (e,) = estimates(torch.arange(20)[None], res)
    assert (e.value, e.ci_low, e.ci_high) == (1.0, 1.0, 1.0) and e.null_mean == 1 / 20


def test_resamples_beyond_memory_are_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^n_boot = 1000, n_null = 10: the retrieval "
                                          r"resamples of 100 sentences would take about"):
        check_retrieval_memory(100, 1000, 10, limit=1000)
