from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crossling.training.decode import decode_tree, is_tree


def _brute_force(scores: np.ndarray) -> float:
    n = scores.shape[0] - 1
    best = -np.inf
    for heads in itertools.product(range(n + 1), repeat=n):
        h = list(heads)
        if any(h[i] == i + 1 for i in range(n)) or not is_tree(h):
            continue
        best = max(best, sum(scores[d + 1, h[d]] for d in range(n)))
    return float(best)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_decoder_finds_the_best_single_root_tree(n: int, seed: int) -> None:
    scores = np.random.default_rng(seed).normal(size=(n + 1, n + 1)) * 3
    heads = decode_tree(scores)
    assert is_tree(heads)
    total = sum(scores[d + 1, heads[d]] for d in range(n))
    assert total == _brute_force(scores)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(6, 40), seed=st.integers(0, 10_000))
def test_decoder_always_returns_a_tree(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n + 1, n + 1))
    scores[1:, 0] += 5  # tempt many words to attach to the root
    assert is_tree(decode_tree(scores))


def test_is_tree_rejects_cycles_and_two_roots() -> None:
    assert is_tree([2, 0, 2])
    assert not is_tree([0, 0, 2])  # two roots
    assert not is_tree([2, 3, 1])  # no root, cycle
    assert not is_tree([0, 3, 2])  # cycle between 2 and 3
