"""Cross terms of a shuffled-pairs null, with one side's permuted matrix built once.

A kernel null needs ``T(pi) = sum_ij A_ij B_pi(i)pi(j)`` for each permutation of y's rows;
relabelling moves the permutation to x's side (``<A_sigma, B>``, ``sigma = pi^-1``). One source
is compared with every target on the same permutations, so `PermutedMatrix` builds the
stack of x's permuted matrices ``[P, n * n]`` once per source layer and each target's null is
one matrix-vector product. Float32 (ample for a null's mean and 95th percentile); a stack over
``max_bytes`` (``P * n^2 * 4`` bytes) is built in chunks for each call and not kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from crossling.core.threads import map_single_threaded

DEFAULT_MAX_BYTES = 1 << 30
"""Largest stack of permuted rows a `PermutedStack` keeps between calls (1 GiB)."""

_CHUNK_BYTES = 1 << 28  # one chunk of a stack too large to keep (256 MiB)


class PermutedStack:
    """One side's rows under the permutations of a null, built once and read by every other
    side compared with it on the same permutations.

    ``build(perms)`` makes the ``[P, m]`` rows for ``perms`` [P, n] (``row_bytes`` bytes each).
    `read` applies ``reader`` to them: the first read with a set of permutations builds
    and keeps their stack when it fits in ``max_bytes``; later reads with the same
    permutations, or with their first rows, only read it; a stack too large to keep is built
    in chunks for each read and dropped (the same values). `PermutedMatrix` (the kernel
    nulls) and mutual kNN's adjacency stack (`geometry`) use it.
    """

    def __init__(self, build: Callable[[torch.Tensor], torch.Tensor], row_bytes: int,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.build, self.row_bytes, self.max_bytes = build, row_bytes, max_bytes
        self._perms: torch.Tensor | None = None
        self._stack: torch.Tensor | None = None

    def read(self, perms: torch.Tensor, reader: Callable[[torch.Tensor], torch.Tensor],
             ) -> torch.Tensor:
        """``reader`` of the stack of ``perms``, one value per permutation."""
        count = perms.shape[0]
        kept = self._perms
        if kept is not None and kept.shape[0] >= count and torch.equal(kept[:count], perms):
            assert self._stack is not None
            return reader(self._stack[:count])
        if count * self.row_bytes <= self.max_bytes:
            self._stack, self._perms = self.build(perms), perms.clone()
            return reader(self._stack)
        step = max(1, _CHUNK_BYTES // self.row_bytes)
        return torch.cat([reader(self.build(perms[i:i + step])) for i in range(0, count, step)])


class PermutedMatrix:
    """One side's n x n matrix ``A`` under the permutations of a null, for `cross`.

    Keep one per x (e.g. in `uncertainty.estimate`'s ``x_sides``) and call
    `cross` with every y: the stack of permuted matrices is a `PermutedStack`,
    built by the first call with a set of permutations and read by the later ones.
    """

    def __init__(self, a: torch.Tensor, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"expected a square matrix, got shape {tuple(a.shape)}")
        self.a = a.to(torch.float32)
        self.stack = PermutedStack(lambda perms: self._build(perms), self.n * self.n * 4,
                                   max_bytes)

    @property
    def n(self) -> int:
        return self.a.shape[0]

    def _build(self, perms: torch.Tensor) -> torch.Tensor:
        """``[len(perms), n * n]``: row r is ``A[s][:, s]`` flattened, ``s = perms[r]^-1``.

        On the CPU the rows are split between torch's intra-op threads, each gathering with one
        thread (`map_single_threaded`): the rows are independent, and
        on the 2-core development machine a gather of this size ran slower with two intra-op
        threads than with one.
        """
        n = self.n
        out = torch.empty(perms.shape[0], n * n, dtype=torch.float32, device=self.a.device)
        inv = torch.argsort(perms, dim=1)

        def fill(rows: range) -> None:
            for r in rows:
                torch.index_select(self.a.index_select(0, inv[r]), 1, inv[r],
                                   out=out[r].view(n, n))

        workers = min(torch.get_num_threads(), len(inv)) if self.a.device.type == "cpu" else 1
        if workers <= 1:
            fill(range(len(inv)))
        else:
            map_single_threaded(fill, [range(i, len(inv), workers) for i in range(workers)],
                                workers)
        return out

    def cross(self, b: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
        """``sum_ij A_ij B_pi(i)pi(j)`` for each row ``pi`` of ``perms`` [P, n]: float64 [P]."""
        if b.shape != self.a.shape:
            raise ValueError(f"B {tuple(b.shape)} does not match A {tuple(self.a.shape)}")
        if perms.ndim != 2 or perms.shape[1] != self.n:
            raise ValueError(f"perms {tuple(perms.shape)}: expected [P, {self.n}]")
        vec = b.to(self.a.device, torch.float32).reshape(-1)
        return self.stack.read(perms.to(self.a.device), lambda s: s @ vec).to(torch.float64)
