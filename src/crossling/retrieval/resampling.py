"""The uncertainty of P@1: a bootstrap over query sentences and a shuffled-pairs null.

Resamples are drawn once per seed and shared by every layer, target, variant and direction, so
intervals are paired; every P@1 series of a target is resampled in one matrix product and one
comparison. Memory is estimated before anything is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from crossling.retrieval.metrics import INTERVAL, NO_INTERVAL
from crossling.similarity.checks import check_memory
from crossling.similarity.uncertainty import Estimate, check_resampling


@dataclass(frozen=True)
class Resamples:
    """Bootstrap multiplicities and shuffled gold mappings, drawn once for a seed and shared by
    every layer, target, variant and direction (paired intervals, and no redrawing)."""

    weights: torch.Tensor | None
    """[n, n_boot] how often each query is drawn in each resample (integer counts, so that a
    P@1 of hits @ counts / n is exact: all hits give 1.0, not 1.0000000000000002)."""
    perms: torch.Tensor | None
    """[n_null, n] random permutations: the shuffled gold candidate of each query."""

    @property
    def size(self) -> int | None:
        """The number of sentences the resamples were drawn for (None: neither was drawn)."""
        if self.weights is not None:
            return int(self.weights.shape[0])
        return int(self.perms.shape[1]) if self.perms is not None else None

    @classmethod
    def draw(cls, n: int, n_boot: int, n_null: int, seed: int,
             device: torch.device | None = None) -> Resamples:
        """The resamples of ``n`` query sentences for ``seed``, on ``device``."""
        n_boot, n_null, seed = check_resampling(n_boot, n_null, seed)
        check_retrieval_memory(n, n_boot, n_null)
        gen = torch.Generator().manual_seed(seed)
        weights = perms = None
        if n_boot > 0:
            idx = torch.randint(0, n, (n_boot, n), generator=gen)
            counts = torch.zeros(n_boot, n, dtype=torch.float64)
            counts.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
            weights = counts.T.contiguous().to(device)
        if n_null > 0:
            perms = torch.rand(n_null, n, generator=gen).argsort(dim=1).to(device)
        return cls(weights, perms)


BOOT_BYTES = 32
"""Bytes per query sentence and bootstrap resample while the resamples are drawn and held
(int64 indices, float64 counts and their transposed copy)."""

NULL_BYTES = 24
"""Bytes per query sentence and shuffled pairing (float32 keys, int64 permutations, a copy)."""

ROW_BYTES = 40
"""Bytes per P@1 series (layer, variant, direction) and resample or pairing: the resampled
P@1 values in float64 and the sorted copies of their quantiles."""


def retrieval_bytes(n: int, n_boot: int, n_null: int, series: int = 0) -> float:
    """Estimated peak bytes of the resamples of ``n`` sentences and of ``series`` P@1 series'
    resampled values (`BOOT_BYTES`, `NULL_BYTES`, `ROW_BYTES`)."""
    return (float(n) * (n_boot * BOOT_BYTES + n_null * NULL_BYTES)
            + float(series) * (n_boot + n_null) * ROW_BYTES)


def check_retrieval_memory(n: int, n_boot: int, n_null: int, series: int = 0,
                           limit: int | None = None) -> None:
    """A one-line ConfigError, before any resample is drawn, when `retrieval_bytes` exceeds
    the available memory (`crossling.similarity.checks.check_memory`)."""
    check_memory(retrieval_bytes(n, n_boot, n_null, series),
                 f"n_boot = {n_boot}, n_null = {n_null}: the retrieval resamples of {n} "
                 "sentences", limit)


_NULL_CHUNK = 1 << 25
"""Most elements of the boolean mask compared at once for the shuffled-pairs null (32 MB)."""


def estimates(picked: torch.Tensor, res: Resamples) -> list[Estimate]:
    """P@1 of each row of retrieval results ``picked`` [m, n] (query i retrieved candidate
    ``picked[r, i]``), with its bootstrap interval over queries, chance and shuffled-pairs
    95th percentile: all m rows at once (one product with the resample counts, one comparison
    with the permutations)."""
    m, n = picked.shape
    hits = (picked == torch.arange(n, device=picked.device)).double()
    values = hits.mean(dim=1).tolist()
    lo = hi = null_high = [float("nan")] * m
    if res.weights is not None:
        boots = hits @ res.weights.to(hits.device) / n  # [m, n_boot]
        qs = torch.quantile(boots, torch.tensor([0.025, 0.975], dtype=torch.float64,
                                                device=boots.device), dim=1)
        lo, hi = qs[0].tolist(), qs[1].tolist()
    if res.perms is not None:
        perms = res.perms.to(picked.device)
        step = max(1, _NULL_CHUNK // (perms.numel() or 1))  # bounds the [rows, n_null, n] mask
        nulls = torch.cat([(perms[None] == part[:, None, :]).sum(dim=2)
                           for part in picked.split(step)]) / n
        null_high = torch.quantile(nulls.double(), 0.95, dim=1).tolist()
    label = INTERVAL if res.weights is not None else NO_INTERVAL
    return [Estimate(values[r], lo[r], hi[r], 1.0 / n, null_high[r], n, label)
            for r in range(m)]
