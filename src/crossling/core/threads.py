"""Running independent torch work side by side in threads, one intra-op thread each.

Much of crossling's per-item CPU work is single-threaded inside torch and numpy (sorts,
eigendecompositions, gathers), so one item at a time leaves cores idle, while two intra-op
threads on a small gather can be slower than one. `map_single_threaded` runs the items
in a thread pool, each worker with one torch thread, and restores the caller's thread count
afterwards: a worker's setting can reach the BLAS library globally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def map_single_threaded(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(item) for item in items]`` in ``workers`` threads with one torch thread each, in
    order; the calling thread's torch thread count is what it was when this returns."""
    threads = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                initargs=(1,)) as pool:
            return list(pool.map(fn, items))
    finally:
        torch.set_num_threads(threads)
