"""Cross terms of a shuffled-pairs null, with one side's permuted matrix built once.

Every kernel-based null (the three CKA measures, RSA's Mantel test) needs, for each permutation
``pi`` of y's rows, ``T(pi) = sum_ij A_ij B_pi(i)pi(j)`` with ``A`` from x and ``B`` from y.
Relabelling the sum (``sigma = pi^-1``) moves the permutation to x's side:
``T(pi) = sum_ab A_sigma(a)sigma(b) B_ab = <A_sigma, B>``. The pipeline compares one source
(x) with every target on the *same* permutations (they depend only on the seed and n), so
:class:`PermutedMatrix` builds the stack of x's permuted matrices ``[P, n * n]`` once (one
layer of the source) and every target's null is then a single matrix-vector product that reads
the stack, instead of ``P`` gathers of two n x n matrices per target (bench/RESULTS.md,
"Issue 13 item 5"). Float32, as before: ample for a null summary (mean, 95th percentile).

Memory: ``P * n^2 * 4`` bytes, 400 MB for 100 permutations of 1,000 sentences. Above
``max_bytes`` the stack is built in chunks for each call and not kept (the same values, the
old cost).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

DEFAULT_MAX_BYTES = 1 << 30
"""Largest stack of permuted matrices a :class:`PermutedMatrix` keeps between calls (1 GiB)."""

_CHUNK_BYTES = 1 << 28  # one chunk of a stack too large to keep (256 MiB)


class PermutedMatrix:
    """One side's n x n matrix ``A`` under the permutations of a null, for :meth:`cross`.

    Keep one per x (e.g. in :func:`~crossling.similarity.null.estimate`'s ``x_sides``) and call
    :meth:`cross` with every y: the first call with a set of permutations builds their stack
    (when it fits in ``max_bytes``), later calls with the same permutations, or with their
    first rows, only read it.
    """

    def __init__(self, a: torch.Tensor, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"expected a square matrix, got shape {tuple(a.shape)}")
        self.a = a.to(torch.float32)
        self.max_bytes = max_bytes
        self._perms: torch.Tensor | None = None
        self._stack: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return self.a.shape[0]

    def _build(self, perms: torch.Tensor) -> torch.Tensor:
        """``[len(perms), n * n]``: row r is ``A[s][:, s]`` flattened, ``s = perms[r]^-1``.

        On the CPU the rows are split between torch's intra-op threads, each gathering with one
        thread: the rows are independent, and on the 2-core development machine a gather of
        this size ran slower with two intra-op threads than with one.
        """
        n = self.n
        out = torch.empty(perms.shape[0], n * n, dtype=torch.float32, device=self.a.device)
        inv = torch.argsort(perms, dim=1)

        def fill(rows: range) -> None:
            for r in rows:
                torch.index_select(self.a.index_select(0, inv[r]), 1, inv[r],
                                   out=out[r].view(n, n))

        threads = torch.get_num_threads()
        workers = min(threads, len(inv)) if self.a.device.type == "cpu" else 1
        if workers <= 1:
            fill(range(len(inv)))
            return out
        try:
            with ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                    initargs=(1,)) as pool:
                list(pool.map(fill, [range(i, len(inv), workers) for i in range(workers)]))
        finally:
            torch.set_num_threads(threads)  # the workers' setting may reach the BLAS globally
        return out

    def cross(self, b: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
        """``sum_ij A_ij B_pi(i)pi(j)`` for each row ``pi`` of ``perms`` [P, n]: float64 [P]."""
        if b.shape != self.a.shape:
            raise ValueError(f"B {tuple(b.shape)} does not match A {tuple(self.a.shape)}")
        if perms.ndim != 2 or perms.shape[1] != self.n:
            raise ValueError(f"perms {tuple(perms.shape)}: expected [P, {self.n}]")
        perms = perms.to(self.a.device)
        vec = b.to(self.a.device, torch.float32).reshape(-1)
        count = perms.shape[0]
        kept = self._perms
        if kept is not None and kept.shape[0] >= count and torch.equal(kept[:count], perms):
            assert self._stack is not None
            return (self._stack[:count] @ vec).to(torch.float64)
        row_bytes = self.n * self.n * 4
        if count * row_bytes <= self.max_bytes:
            self._stack, self._perms = self._build(perms), perms.clone()
            return (self._stack @ vec).to(torch.float64)
        step = max(1, _CHUNK_BYTES // row_bytes)
        return torch.cat([self._build(perms[i:i + step]) @ vec
                          for i in range(0, count, step)]).to(torch.float64)
