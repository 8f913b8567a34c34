"""CCA-based similarity: SVCCA (Raghu et al. 2017) and PWCCA (Morcos et al. 2018), in torch.

Canonical correlations are the singular values of ``U_x^T U_y``, ``U`` an orthonormal basis of
each side's centred column space, from one SVD per side (`side`): one basis serves both
measures and every permutation of the null, where only ``U_y``'s row order changes. Directions
below `VARIANCE_EPS` of the largest variance are dropped (rank truncation, not a ridge),
and too few sentences for the kept directions are refused (`check_rank`) rather than
returning canonical correlations of 1. Details and caveats: docs/similarity-measures.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from crossling.core.errors import ConfigError
from crossling.similarity.measures.cka import check_pair
from crossling.similarity.measures.registry import (
    NO_BAND,
    Measure,
    PermutedForm,
    no_interval,
    register,
)

SVCCA_KEEP = 0.99
"""Fraction of each side's variance kept by SVCCA's SVD step (Raghu et al. 2017)."""

VARIANCE_EPS = 1e-10
"""Directions with variance below this fraction of the side's largest variance are dropped as
numerically null (both measures)."""


@dataclass(frozen=True)
class Side:
    """One side's thin SVD of its centred rows, ``xc = u diag(s) vh``, numerically null
    directions (variance < `VARIANCE_EPS` x the largest) removed; float64."""

    u: torch.Tensor
    """[n, r] orthonormal basis of the column space of the centred rows."""
    s: torch.Tensor
    """[r] singular values, descending."""
    vh: torch.Tensor
    """[r, d] right singular vectors."""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What the SVD-family measures keep on a target's side for each other, within one
    estimate call (`cross_product`, `cross_products`)."""

    @cached_property
    def u32(self) -> torch.Tensor:
        """``u`` in float32 (the nulls' products), converted once per side."""
        return self.u.to(torch.float32)

    def keep(self, fraction: float) -> int:
        """The fewest leading directions whose variance is at least ``fraction`` of the total."""
        var = self.s * self.s
        cum = torch.cumsum(var, 0) / var.sum()
        target = torch.tensor([fraction - 1e-12], dtype=cum.dtype, device=cum.device)
        return min(int(torch.searchsorted(cum, target)[0]) + 1, var.numel())


def side(x: torch.Tensor) -> Side:
    """The centred SVD of one side (what both CCA measures and their null reuse).

    With more rows than features (PUD: 1,000 sentences x 384), from the eigendecomposition of
    the d x d scatter matrix ``xc^T xc = V diag(s^2) V^T`` and ``U = xc V / s`` (float64; about
    4x faster than the thin SVD of the n x d rows). Squaring loses nothing that is kept: a
    direction survives only if its variance is at least `VARIANCE_EPS` of the largest,
    so ``U``'s columns are exact to ~1e-16 / sqrt(VARIANCE_EPS) = 1e-11.
    """
    x64 = x.to(torch.float64)
    xc = x64 - x64.mean(0)
    if xc.shape[0] < xc.shape[1]:
        u, s, vh = torch.linalg.svd(xc, full_matrices=False)
    else:
        lam, v = torch.linalg.eigh(xc.T @ xc)
        lam, v = lam.flip(0), v.flip(1)  # descending
        s = lam.clamp_min(0.0).sqrt()
        vh = v.T
        u = xc @ v  # columns scaled by s, divided below once the null directions are gone
    if s.numel() == 0 or float(s[0]) == 0.0:
        return Side(u[:, :0], s[:0], vh[:0])
    r = int((s * s > VARIANCE_EPS * s[0] * s[0]).sum())
    if xc.shape[0] >= xc.shape[1]:
        u = u[:, :r] / s[:r]
    return Side(u[:, :r], s[:r], vh[:r])


def check_rank(measure: str, n: int, kx: int, ky: int) -> None:
    """ConfigError when the kept directions force canonical correlations of 1 (k_x + k_y > n - 1)
    or when a side has no variance at all."""
    if kx == 0 or ky == 0:
        raise ConfigError(f"{measure}: a side has no variance (all {n} sentence vectors equal)")
    if kx + ky > n - 1:
        raise ConfigError(
            f"{measure}: {n} sentences for {kx} + {ky} kept directions: CCA needs n > k_x + k_y "
            f"(here n >= {kx + ky + 1}), otherwise some canonical correlations are 1 whatever "
            "the data; use more sentences")


def _svcca_bases(bx: Side, by: Side) -> tuple[torch.Tensor, torch.Tensor]:
    ux, uy = bx.u[:, :bx.keep(SVCCA_KEEP)], by.u[:, :by.keep(SVCCA_KEEP)]
    check_rank("svcca", bx.u.shape[0], ux.shape[1], uy.shape[1])
    return ux, uy


def svcca_score(bx: Side, by: Side) -> float:
    """SVCCA from two prepared sides (see `svcca`)."""
    kx, ky = (b.shape[1] for b in _svcca_bases(bx, by))
    rho = torch.linalg.svdvals(cross_product(bx, by)[:kx, :ky]).clamp(0.0, 1.0)
    return float(rho.mean())


def svcca(x: torch.Tensor, y: torch.Tensor) -> float:
    """SVCCA (Raghu et al. 2017): each side reduced to the leading singular directions that
    explain 99% of its variance, then the mean canonical correlation of the two reduced sides.

    Invariant to translation, isotropic scaling and orthogonal maps of either side (they leave
    the centred SVD's spectrum and left singular vectors alone); *not* to general invertible
    linear maps, which change the spectrum and so which directions the 99% cut keeps.
    """
    x, y = check_pair(x, y)
    return svcca_score(side(x), side(y))


def _pwcca_batch(m: torch.Tensor, g: torch.Tensor, c: int, null: bool) -> torch.Tensor:
    """PWCCA of each ``m = U_x^T U_y`` [..., k_x, k_y]: canonical correlations and x's canonical
    directions from the eigenvectors of ``m m^T`` (``eigh``: about 3x faster than an SVD of
    ``m``), ``c = min(k_x, k_y)`` pairs. ``null``: the eigendecomposition and the weights in
    float32 (the shuffled-pairs null: at most 5e-6 from float64 on e5-small's vectors, a null
    whose spread over permutations is ~1e-3)."""
    gram = m @ m.transpose(-1, -2)
    lam, a = torch.linalg.eigh(gram.float() if null else gram)  # ascending: the top c pairs
    rho = lam[..., -c:].clamp(0.0, 1.0).sqrt()
    alpha = (a[..., -c:].transpose(-1, -2) @ g.to(a.dtype)).abs().sum(-1)
    return ((alpha * rho).sum(-1) / alpha.sum(-1)).to(torch.float64)


def pwcca_score(bx: Side, by: Side) -> float:
    """PWCCA from two prepared sides (see `pwcca`)."""
    check_rank("pwcca", bx.u.shape[0], bx.u.shape[1], by.u.shape[1])
    c = min(bx.u.shape[1], by.u.shape[1])
    return float(_pwcca_batch(cross_product(bx, by), bx.s[:, None] * bx.vh, c, null=False))


def pwcca(x: torch.Tensor, y: torch.Tensor) -> float:
    """PWCCA (Morcos et al. 2018): canonical correlations of the full (numerically non-null)
    column spaces, weighted by ``alpha_i = sum_j |<h_i, x_j>|``, ``h_i`` the unit-norm canonical
    variates of ``x`` and ``x_j`` its centred columns (``U_x^T x_c = diag(s_x) V_x^T``).

    Not symmetric (weights from ``x``: pass the source language as ``x``). Invariant to
    translation, isotropic scaling and permutations of either side's features; an orthogonal
    or invertible map of ``x`` changes its columns and so the weights (the same map of ``y``
    does not change the value: CCA ignores it).
    """
    x, y = check_pair(x, y)
    return pwcca_score(side(x), side(y))


def _top_sqrt_eigs(m: torch.Tensor) -> torch.Tensor:
    """The min(a, b) largest singular values of each ``m`` [..., a, b] as square roots of the
    eigenvalues of its smaller Gram matrix, computed in float32 (several times faster than a
    float64 SVD; for the nulls only: at most 5e-6 from float64 on e5-small's vectors, against
    a null spread of ~1e-3)."""
    mt = m.transpose(-1, -2)
    gram = mt @ m if m.shape[-1] <= m.shape[-2] else m @ mt
    return torch.linalg.eigvalsh(gram.float()).to(torch.float64).clamp(0.0, 1.0).sqrt()


def _kept(bx: Side, by: Side, key: str, perms: torch.Tensor | None,
          make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``make()``, kept on ``by`` (a target's side, prepared once per estimate call) under
    ``key`` with the ``bx`` and ``perms`` it was made for, and reused only for those."""
    kept = by.memo.get(key)
    if kept is not None and kept[0] is bx and (
            kept[1] is perms or (kept[1] is not None and perms is not None
                                 and torch.equal(kept[1], perms))):
        return kept[2]
    value = make()
    by.memo[key] = (bx, perms, value)
    return value


def cross_product(bx: Side, by: Side) -> torch.Tensor:
    """``U_x^T U_y`` of the full bases in float64 [r_x, r_y], kept on ``by``: the three
    SVD-family values read it (SVCCA its leading block, PWCCA all of it, Procrustes scaled by
    both spectra, `procrustes_score`)."""
    return _kept(bx, by, "value", None, lambda: bx.u.T @ by.u)


def cross_products(bx: Side, by: Side, perms: torch.Tensor) -> torch.Tensor:
    """``U_x^T U_y[perm]`` of the full bases for every row of ``perms``: [P, r_x, r_y], one
    batched product in float32 (for the nulls, whose eigendecompositions are float32 too).

    Kept on ``by`` with the ``bx`` and ``perms`` it was computed for, because the three
    SVD-family nulls read the same product: SVCCA its leading block, PWCCA all of it,
    Procrustes scaled by both spectra (`
    procrustes_permuted`).
    """
    return _kept(bx, by, "null", perms, lambda: bx.u32.T @ by.u32[perms])


def svcca_permuted(bx: Side, by: Side, perms: torch.Tensor) -> torch.Tensor:
    """SVCCA between ``x`` and ``y[perm]`` for each row of ``perms`` [r, n]: permuting ``y``'s
    rows permutes the rows of its basis and nothing else, so the SVDs are reused."""
    kx, ky = (b.shape[1] for b in _svcca_bases(bx, by))
    return _top_sqrt_eigs(cross_products(bx, by, perms)[:, :kx, :ky]).mean(-1).cpu()


def pwcca_permuted(bx: Side, by: Side, perms: torch.Tensor) -> torch.Tensor:
    """PWCCA between ``x`` and ``y[perm]`` for each row of ``perms`` (the weights' ``U_x^T x_c``
    does not depend on ``y``), all permutations in one batch (`_pwcca_batch`)."""
    check_rank("pwcca", bx.u.shape[0], bx.u.shape[1], by.u.shape[1])
    c = min(bx.u.shape[1], by.u.shape[1])
    return _pwcca_batch(cross_products(bx, by, perms), bx.s[:, None] * bx.vh, c,
                        null=True).cpu()


CCA_SIDE = "cca_svd"  # one centred SVD per side, shared by SVCCA, PWCCA and Procrustes
_CCA_NO_BOOT = no_interval("a resample repeats sentences, which lowers the rank CCA sees and "
                           "changes the kept directions and CCA's bias")

register(Measure(
    id="svcca", fn=svcca, label="SVCCA",
    description=f"SVCCA: mean canonical correlation after keeping, per side, the singular "
                f"directions that explain {SVCCA_KEEP:.0%} of the variance; directions "
                f"with variance < {VARIANCE_EPS:g} x the largest dropped",
    citation="Raghu et al. 2017",
    min_n=3,  # and n > k_x + k_y, checked on the data (check_rank)
    interval_kind=_CCA_NO_BOOT, band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    permuted=PermutedForm(CCA_SIDE, side, svcca_score, svcca_permuted),
    max_boot=0, max_null=10))

register(Measure(
    id="pwcca", fn=pwcca, label="PWCCA (x-weighted)",
    description=f"PWCCA: canonical correlations of the full column spaces (directions with "
                f"variance < {VARIANCE_EPS:g} x the largest dropped), weighted by each "
                "canonical variate's summed |projection| on the source's (x) centred features",
    citation="Morcos et al. 2018; Singh et al. 2019 (on mBERT, found the opposite trend)",
    min_n=3,  # and n > k_x + k_y, checked on the data (check_rank)
    interval_kind=_CCA_NO_BOOT, band_label=NO_BAND,
    invariances=frozenset({"isotropic_scaling", "translation", "permutation_of_features"}),
    symmetric=False,
    permuted=PermutedForm(CCA_SIDE, side, pwcca_score, pwcca_permuted),
    max_boot=0, max_null=10))

