"""Torch work side by side in threads (:mod:`crossling.core.threads`)."""

from __future__ import annotations

import pytest
import torch

from crossling.core.threads import map_single_threaded


def test_results_keep_their_order_and_each_worker_has_one_torch_thread() -> None:
    threads = torch.get_num_threads()
    seen = map_single_threaded(lambda i: (i, torch.get_num_threads()), list(range(6)), 2)
    assert seen == [(i, 1) for i in range(6)]
    assert torch.get_num_threads() == threads


def test_an_error_in_a_worker_reaches_the_caller_and_threads_are_restored() -> None:
    threads = torch.get_num_threads()

    def fail(i: int) -> int:
        if i == 2:
            raise ValueError("item 2")
        return i

    with pytest.raises(ValueError, match="item 2"):
        map_single_threaded(fail, [0, 1, 2, 3], 2)
    assert torch.get_num_threads() == threads
