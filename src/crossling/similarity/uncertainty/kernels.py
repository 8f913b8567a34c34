"""Kernel forms of the bootstrap and the null: a few matrix products for every resample.

For a measure with a Gram form, a bootstrap resample is a vector of multiplicities ``w``, and
the weighted, re-centred HSIC of all resamples expands into products ``K W``, ``L W``,
``(K o L) W`` (``W`` holds the resamples as columns) instead of one n x n gather per resample.
A permutation of y's rows changes only the cross term ``sum_ij K_ij L_pi(i)pi(j)``. Debiased CKA
drops the pairs of a sentence with its own copies (the U-statistic's "i = j" terms), which keeps
its interval centred. Derivations: docs/similarity-measures.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from crossling.similarity.measures.cka import center_gram, hsic_u
from crossling.similarity.measures.registry import GramForm
from crossling.similarity.permuted import PermutedMatrix


def weighted_biased(p: Products, w: torch.Tensor) -> torch.Tensor:
    """Biased CKA of each weighted resample (columns of ``w``), from uncentred kernels.

    With multiplicities ``w`` (sum n) and the weighted centring ``Kc = K - u1^T - 1u^T + c``,
    ``u = K w / n``, ``c = w^T K w / n^2``: ``sum_ij w_i w_j Kc_ij Lc_ij =
    w^T (K o L) w - 2 (w o u)^T (L w) + c w^T L w`` (centring one side suffices).
    """
    n = w.shape[0]
    wkw, wlw = (w * p.kw).sum(0), (w * p.lw).sum(0)

    def s(pw: torch.Tensor, aw: torch.Tensor, bw: torch.Tensor, waw: torch.Tensor,
          wbw: torch.Tensor) -> torch.Tensor:
        return (w * pw).sum(0) - 2 * (w * aw / n * bw).sum(0) + waw / n ** 2 * wbw

    num = s(p.klw, p.kw, p.lw, wkw, wlw)
    den = torch.sqrt(s(p.kkw, p.kw, p.kw, wkw, wkw) * s(p.llw, p.lw, p.lw, wlw, wlw))
    return num / den


def weighted_unbiased(p: Products, w: torch.Tensor) -> torch.Tensor:
    """Debiased CKA of each weighted resample, from the products of kernels with zeroed
    diagonals (`Products.without_diagonals`)."""
    n = w.shape[0]
    sk, sl = (w * p.kw).sum(0), (w * p.lw).sum(0)

    def h(pw: torch.Tensor, aw: torch.Tensor, bw: torch.Tensor, sa: torch.Tensor,
          sb: torch.Tensor) -> torch.Tensor:
        return hsic_u((w * pw).sum(0), sa, sb, (w * aw * bw).sum(0), n)

    num = h(p.klw, p.kw, p.lw, sk, sl)
    den = torch.sqrt(h(p.kkw, p.kw, p.kw, sk, sk) * h(p.llw, p.lw, p.lw, sl, sl))
    return num / den


@dataclass(frozen=True)
class Products:
    """The kernel products both bootstrap formulas read, for resamples ``W`` (columns):
    ``K W``, ``L W``, ``(K o L) W``, ``(K o K) W``, ``(L o L) W`` (float64 [n, B] each)."""

    kw: torch.Tensor
    lw: torch.Tensor
    klw: torch.Tensor
    kkw: torch.Tensor
    llw: torch.Tensor

    def without_diagonals(self, dk: torch.Tensor, dl: torch.Tensor, w: torch.Tensor,
                          ) -> Products:
        """The same products for ``K - diag(dk)`` and ``L - diag(dl)``: each differs by a
        diagonal matrix times ``W`` (O(n B)), so debiased and biased CKA on one kernel share
        the five n x n x B matrix products."""
        dk, dl = dk[:, None], dl[:, None]
        return Products(self.kw - dk * w, self.lw - dl * w, self.klw - dk * dl * w,
                         self.kkw - dk * dk * w, self.llw - dl * dl * w)


def reuse(store: dict[str, Any] | None, key: str, make: Callable[[], Any]) -> Any:
    """``make()``, kept in ``store`` under ``key`` when a store is given (x's side)."""
    if store is None:
        return make()
    if key not in store:
        store[key] = make()
    return store[key]


class KernelPair:
    """One kernel's matrices of x and y and what the measures on that kernel share.

    Built once per `estimate` call and kernel name (linear CKA and debiased CKA share the
    linear kernel); x's side (its kernel, centred kernel, permuted stack and bootstrap
    products) once per ``x_sides``, i.e. once for every target compared with one source layer.
    """

    def __init__(self, form: GramForm, x: torch.Tensor, y: torch.Tensor,
                 x_sides: dict[str, Any] | None) -> None:
        self.name = form.kernel
        self.x_sides = x_sides
        self._memo: dict[tuple[str, int], Any] = {}
        self.k = self._x("gram", lambda: form.gram(x))
        self.l = form.gram(y)

    def _x(self, what: str, make: Callable[[], Any]) -> Any:
        if self.x_sides is None:
            return self._mine(f"x {what}", 0, make)
        return reuse(self.x_sides, f"{what}:{self.name}", make)

    def _mine(self, what: str, size: int, make: Callable[[], Any]) -> Any:
        key = (what, size)
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def centred(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``H K H`` and ``H L H``."""
        return (self._x("centred", lambda: center_gram(self.k)),
                self._mine("centred", 0, lambda: center_gram(self.l)))

    def products(self, w: torch.Tensor) -> Products:
        """The bootstrap's kernel products for resamples ``w``, from the *centred* kernels.

        Centred because debiased CKA's resamples drop the pairs of copies of one sentence
        (`Products.without_diagonals`), and dropping a pair's kernel value is not
        translation-invariant: on uncentred kernels a resample's value depended on where the
        origin of the feature space is (vectors shifted by 5 gave resamples near 0.985 for a
        value of 0.20, and an interval 8x too narrow). The full sample's centring fixes the
        origin at the sentences' mean for every resample. Biased CKA's weighted re-centring
        is unchanged by it (tested), so both forms still share the products.

        In float32, accumulated into float64 by the formulas: centred kernels have no common
        offset to cancel (at most ~1e-7 from float64 in the tests, against an interval width
        of ~1e-2), and the products run twice as fast. x's (``Kc W``, ``(Kc o Kc) W``) are kept
        in ``x_sides`` with the ``w`` they were computed for.
        """
        kc, lc = self.centred32()
        w32 = w.to(torch.float32)

        def x_products() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            return w, kc @ w32, (kc * kc) @ w32

        kept = self._x(f"products{w.shape[1]}", x_products)
        if not torch.equal(kept[0], w):  # other resamples (another seed): not reusable
            kept = x_products()

        def make() -> Products:
            return Products(*(t.to(torch.float64) for t in (
                kept[1], lc @ w32, (kc * lc) @ w32, kept[2], (lc * lc) @ w32)))

        return self._mine("products", w.shape[1], make)

    def centred32(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`centred` in float32 (the bootstrap's products and the null's stack)."""
        kc, lc = self.centred()
        return (self._x("centred32", lambda: kc.to(torch.float32)),
                self._mine("centred32", 0, lambda: lc.to(torch.float32)))

    def self_terms(self, debiased: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """CKA's two self terms on the centred kernels, the value's and the null's
        denominator (the null permutes only the cross term): ``<Kc, Kc>`` and ``<Lc, Lc>``,
        or for debiased CKA ``n (n - 3)`` times each kernel's unbiased HSIC with itself
        (`unbiased_terms`). Once per estimate call and form."""
        def make() -> tuple[torch.Tensor, torch.Tensor]:
            kc, lc = self.centred()
            if debiased:
                return unbiased_terms(kc, kc), unbiased_terms(lc, lc)
            return (kc * kc).sum(), (lc * lc).sum()

        return self._mine(f"self {debiased}", 0, make)

    def value(self, debiased: bool) -> float:
        """The measure from the centred kernels the bootstrap and the null use: biased CKA
        ``<Kc, Lc> / (|Kc| |Lc|)``, or debiased CKA's U-statistic on the centred kernels with
        zeroed diagonals (unchanged by centring). Equal to the feature-space functions up to
        float64 rounding (tested), and nearly free once the kernels exist, where the
        feature-space form would be three more d x d products per target."""
        def make() -> float:
            kc, lc = self.centred()
            kl = unbiased_terms(kc, lc) if debiased else (kc * lc).sum()
            kk, ll = self.self_terms(debiased)
            den = kk * ll
            return float(kl / torch.sqrt(den)) if float(den) > 0 else float("nan")

        return self._mine(f"value {debiased}", 0, make)

    def null_trace(self, perms: torch.Tensor) -> torch.Tensor:
        """``sum_ij Kc_ij Lc0_pi(i)pi(j)`` per permutation, ``Lc0`` the centred ``L`` with a
        zeroed diagonal: the one n x n cross term that both CKA forms' nulls need
        (`null_values`), through x's permuted stack (`
        permuted`)."""
        kc, lc = self.centred32()
        stack = self._x("permuted", lambda: PermutedMatrix(kc))

        def trace() -> torch.Tensor:
            lc0 = lc.clone()
            lc0.fill_diagonal_(0)
            return stack.cross(lc0, perms)

        return self._mine("null", perms.shape[0], trace)


def kernel_pair(form: GramForm, x: torch.Tensor, y: torch.Tensor, cache: dict[str, KernelPair],
          x_sides: dict[str, Any] | None) -> KernelPair:
    """The `KernelPair` of ``form``'s kernel, built once per estimate call."""
    if form.kernel not in cache:
        cache[form.kernel] = KernelPair(form, x, y, x_sides)
    return cache[form.kernel]


def unbiased_terms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``n (n - 3)`` times the unbiased HSIC of two n x n kernels (`hsic_u`), their diagonals
    zeroed here."""
    da, db = torch.diagonal(a), torch.diagonal(b)
    a1, b1 = a.sum(1) - da, b.sum(1) - db
    return hsic_u((a * b).sum() - (da * db).sum(), a1.sum(), b1.sum(), (a1 * b1).sum(),
                  a.shape[0])


def null_values(pair: KernelPair, perms: torch.Tensor, debiased: bool) -> torch.Tensor:
    """The measure between x and row-permuted y, for each permutation, from the centred kernels.

    Permuting y's rows permutes ``Lc``'s rows and columns: the self terms do not change, and the
    cross term is `KernelPair.null_trace` plus, for biased CKA, the diagonal's share
    ``sum_i Kc_ii Lc_pi(i)pi(i)``. Debiased CKA uses the centred kernels with zeroed diagonals:
    the unbiased HSIC is unchanged by centring (a translation of the feature vectors, also in a
    kernel's feature space), and centred kernels keep the float32 cross term well conditioned
    (uncentred ones are dominated by the vectors' common mean). Only the trace and the row-sum
    products change under a permutation.
    """
    n = pair.k.shape[0]
    kc, lc = pair.centred()
    trace = pair.null_trace(perms)
    inv = torch.argsort(perms.to(kc.device), dim=1)  # in x's frame: pi^-1
    dk, dl = torch.diagonal(kc), torch.diagonal(lc)
    kk, ll = pair.self_terms(debiased)  # permutation-invariant, shared with the value
    den = torch.sqrt(kk * ll)
    if not debiased:
        return (trace + (dk[inv] * dl[None, :]).sum(1)) / den
    k1, l1 = kc.sum(1) - dk, lc.sum(1) - dl  # row sums with zeroed diagonals
    values = hsic_u(trace, k1.sum(), l1.sum(), (k1[inv] * l1[None, :]).sum(-1), n)
    return values / den if math.isfinite(float(den)) else values * float("nan")
