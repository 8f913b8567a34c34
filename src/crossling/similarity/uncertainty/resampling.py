"""The resamples every estimate shares: bootstrap multiplicities, permutations, their cost.

Resamples and permutations depend only on the seed, n and their counts, so every layer and
target of one analysis is evaluated on the same ones (intervals of different measures are
comparable, and two layers' values pair up resample by resample). Counts whose arrays cannot
fit in memory are refused before any is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from crossling.core.checks import check_count, check_seed
from crossling.core.settings import Settings, count, flag, seed, setting
from crossling.similarity.checks import check_memory


@dataclass(frozen=True)
class Resampling(Settings):
    """How many bootstrap resamples and null permutations, drawn from which seed, run where.

    ``n_boot = 0`` / ``n_null = 0``: no interval / no null. ``device`` runs the measures
    (default: where ``x`` is). ``keep_resamples``: keep each measure's per-resample values in
    ``Estimate.resamples`` (for `layer_difference`).
    """

    n_boot: int = setting(200, rule=count(0))
    n_null: int = setting(100, rule=count(0))
    seed: int = setting(0, rule=seed)
    device: Any = None
    keep_resamples: bool = setting(False, rule=flag)


def multiplicities(n: int, n_boot: int, gen: torch.Generator, device: torch.device,
                    ) -> torch.Tensor:
    """[n, n_boot] counts of each sentence in ``n_boot`` resamples of size n with replacement."""
    idx = torch.randint(0, n, (n_boot, n), generator=gen)
    w = torch.zeros(n_boot, n, dtype=torch.float64)
    w.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
    return w.T.contiguous().to(device)


def bootstrap_multiplicities(n: int, n_boot: int, seed: int,
                             device: torch.device | str = "cpu") -> torch.Tensor:
    """[n, n_boot] multiplicities of the bootstrap resamples `estimate` draws for ``seed``
    (the same for every layer and target of ``n`` sentences): column b counts how often each
    sentence is in resample b."""
    return multiplicities(n, n_boot, torch.Generator().manual_seed(seed), torch.device(device))


def percentile(values: torch.Tensor, q: float) -> float:
    """The ``q`` quantile of the finite ``values`` (torch's linear interpolation); NaN if none."""
    v = values[torch.isfinite(values)]
    return float(torch.quantile(v, q)) if v.numel() else float("nan")


BOOT_BYTES = 160
"""Bytes held per sentence and bootstrap resample by `estimate` at its peak: the drawn
indices and multiplicities (int64 and float64, transposed once), the five kernel products in
float32 and float64, and the formulas' [n, B] temporaries (peak RSS measured: ~121 at
n = 500 with the three CKA measures)."""

NULL_BYTES = 64
"""Bytes held per sentence and permutation: the permutations and their inverses (int64), and
the diagonal terms of the null ([permutations, n] float64 temporaries; measured: ~41)."""


def check_resampling(n_boot: Any, n_null: Any, seed: Any) -> tuple[int, int, int]:
    """``n_boot``, ``n_null`` (integers >= 0) and ``seed`` (`check_seed`), or a one-line
    ConfigError naming the argument."""
    return check_count("n_boot", n_boot), check_count("n_null", n_null), check_seed(seed)


def resample_bytes(n: int, n_boot: int, n_null: int) -> float:
    """Estimated peak bytes of the resamples of one `estimate` call on ``n`` sentences
    (`BOOT_BYTES`, `NULL_BYTES`); the kernels themselves are n x n and small."""
    return float(n) * (n_boot * BOOT_BYTES + n_null * NULL_BYTES)


def check_resample_memory(n: int, n_boot: int, n_null: int, limit: int | None = None) -> None:
    """A one-line ConfigError, before any resample is drawn, when the bootstrap and null of
    ``n`` sentences cannot fit in the available memory (`
    check_memory`)."""
    check_memory(resample_bytes(n, n_boot, n_null),
                 f"n_boot = {n_boot}, n_null = {n_null}: the resamples of {n} sentences", limit)
