"""Length-bucketed batches: little padding, still shuffled.

Sentences are shuffled, cut into pools of `POOL_BATCHES` batches, sorted by length inside
each pool, split into batches, and the batches shuffled again: batches hold sentences of similar
length (dynamic padding wastes little compute) while the order changes every epoch.
Deterministic for a given seed and epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POOL_BATCHES = 50
"""Batches per length-sorted pool: sorting within a pool, not globally, keeps epochs shuffled."""


def bucket_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int = 0,
                   shuffle: bool = True, max_tokens: int | None = None) -> list[list[int]]:
    """Index batches over ``lengths``; every index appears exactly once.

    ``max_tokens`` additionally caps ``longest length x batch size`` per batch (useful for
    long-tailed treebanks); ``shuffle=False`` gives the length-sorted order used for evaluation.
    """
    n = len(lengths)
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if shuffle else np.arange(n)
    pool = batch_size * POOL_BATCHES if shuffle else max(n, 1)
    batches: list[list[int]] = []
    for start in range(0, n, pool):
        chunk = sorted(order[start:start + pool].tolist(), key=lambda i: (lengths[i], i))
        current: list[int] = []
        longest = 0
        for i in chunk:
            longest_next = max(longest, lengths[i])
            too_many = len(current) >= batch_size
            too_long = max_tokens is not None and longest_next * (len(current) + 1) > max_tokens
            if current and (too_many or too_long):
                batches.append(current)
                current, longest_next = [], lengths[i]
            current.append(i)
            longest = longest_next
        if current:
            batches.append(current)
    if shuffle:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches
