from __future__ import annotations

from crossling.training.batching import bucket_batches


def test_every_index_once_and_similar_lengths() -> None:
    lengths = [(i * 37) % 97 + 1 for i in range(1000)]
    batches = bucket_batches(lengths, batch_size=16, seed=0, epoch=0)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    assert all(len(b) <= 16 for b in batches)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # bucketing keeps padding small


def test_deterministic_per_seed_and_epoch() -> None:
    lengths = list(range(1, 200))
    a = bucket_batches(lengths, 8, seed=1, epoch=0)
    assert a == bucket_batches(lengths, 8, seed=1, epoch=0)
    assert a != bucket_batches(lengths, 8, seed=1, epoch=1)
    assert a != bucket_batches(lengths, 8, seed=2, epoch=0)


def test_token_cap_and_unshuffled_order() -> None:
    lengths = [10, 200, 12, 11, 190]
    batches = bucket_batches(lengths, 8, seed=0, shuffle=False, max_tokens=400)
    assert batches == [[0, 3, 2], [4, 1]]
