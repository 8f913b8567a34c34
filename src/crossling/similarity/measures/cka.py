"""CKA measures (debiased linear, biased linear, RBF) between paired vectors, in torch.

Rows of ``x`` [n, d_x] and ``y`` [n, d_y] are the same n sentences seen through two languages or
two models. ``debiased_cka`` (the headline) uses the unbiased HSIC U-statistic, because biased
CKA of unrelated data is far from 0 at PUD's sizes; linear and RBF CKA are kept for comparison
with the paper. Linear forms are streamable (`LinearCKAStream`: O(d^2) memory). Sums are
float64: CKA is a ratio of large, nearly cancelling sums. Definitions: docs/similarity-measures.md.
"""

from __future__ import annotations

from typing import Any

import torch

from crossling.similarity.checks import as_pair, check_vectors, checked_pair
from crossling.similarity.measures.registry import (
    CI_BAND,
    CI_KIND,
    SPREAD_BAND,
    SPREAD_KIND,
    GramForm,
    Measure,
    register,
)


def check_pair(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` as [n, d] tensors pairing the same n rows, finite and not (nearly)
    constant (`checked_pair`: NumPy arrays and lists are
    converted); a one-line `VectorError` (a ValueError)
    otherwise. Every measure's precondition, shared by the modules of
    `crossling.similarity`."""
    return checked_pair(x, y)


def hsic_u(trace: torch.Tensor, sum_a: torch.Tensor, sum_b: torch.Tensor,
           rowdot: torch.Tensor, n: int) -> torch.Tensor:
    """``n (n - 3)`` times the unbiased HSIC of two kernels A, B (Song et al. 2012), from the
    sums of their copies with zeroed diagonals: ``tr(A~ B~)``, ``1^T A~ 1``, ``1^T B~ 1`` and
    ``(A~ 1)^T (B~ 1)``. The one place the combination is written: the streamed linear
    kernels here, and the whole-sample, resampled and permuted kernels of
    `crossling.similarity.uncertainty`, each get those sums their own way (tensors of any
    shape, broadcast)."""
    return trace + sum_a * sum_b / ((n - 1) * (n - 2)) - 2 * rowdot / (n - 2)


class LinearCKAStream:
    """Exact streaming accumulation of linear CKA (biased and debiased) over row chunks.

    Keeps n, the column sums, the three cross-product matrices ``X^T X``, ``Y^T Y``, ``X^T Y``
    and a few vectors of row norms -- O(d^2) memory whatever n is. ``value()`` and
    ``debiased_value()`` equal the full-batch `linear_cka` and `debiased_linear_cka`
    up to float64 rounding, however the rows were chunked; two streams can be merged.
    """

    def __init__(self, dim_x: int, dim_y: int, device: torch.device | str | None = None) -> None:
        kw = {"dtype": torch.float64, "device": device}
        self.n = 0
        self.sx = torch.zeros(dim_x, **kw)  # type: ignore[arg-type]
        self.sy = torch.zeros(dim_y, **kw)  # type: ignore[arg-type]
        self.xx = torch.zeros(dim_x, dim_x, **kw)  # type: ignore[arg-type]
        self.yy = torch.zeros(dim_y, dim_y, **kw)  # type: ignore[arg-type]
        self.xy = torch.zeros(dim_x, dim_y, **kw)  # type: ignore[arg-type]
        # Row-norm statistics for the U-statistic: sum |x_i|^2 x_i, sum |y_i|^2 x_i, ...
        self.nx_x = torch.zeros(dim_x, **kw)  # type: ignore[arg-type]
        self.ny_y = torch.zeros(dim_y, **kw)  # type: ignore[arg-type]
        self.ny_x = torch.zeros(dim_x, **kw)  # type: ignore[arg-type]
        self.nx_y = torch.zeros(dim_y, **kw)  # type: ignore[arg-type]
        self.nx = torch.zeros((), **kw)  # type: ignore[arg-type]
        self.ny = torch.zeros((), **kw)  # type: ignore[arg-type]
        self.nx2 = torch.zeros((), **kw)  # type: ignore[arg-type]
        self.ny2 = torch.zeros((), **kw)  # type: ignore[arg-type]
        self.nxny = torch.zeros((), **kw)  # type: ignore[arg-type]

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add a chunk of paired rows."""
        x, y = as_pair(x, y)  # a chunk may hold one row: finite values, any variance
        for name, side in (("x", x), ("y", y)):
            check_vectors(side, name, variance=False)
        x = x.to(self.xx.device, torch.float64)
        y = y.to(self.xx.device, torch.float64)
        qx = (x * x).sum(1)
        qy = (y * y).sum(1)
        self.n += x.shape[0]
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.xx += x.T @ x
        self.yy += y.T @ y
        self.xy += x.T @ y
        self.nx_x += qx @ x
        self.ny_y += qy @ y
        self.ny_x += qy @ x
        self.nx_y += qx @ y
        self.nx += qx.sum()
        self.ny += qy.sum()
        self.nx2 += (qx * qx).sum()
        self.ny2 += (qy * qy).sum()
        self.nxny += (qx * qy).sum()

    def merge(self, other: LinearCKAStream) -> LinearCKAStream:
        """Add another stream's sums into this one (e.g. from another worker); returns self."""
        self.n += other.n
        for name in ("sx", "sy", "xx", "yy", "xy", "nx_x", "ny_y", "ny_x", "nx_y", "nx", "ny",
                     "nx2", "ny2", "nxny"):
            getattr(self, name).add_(getattr(other, name).to(self.xx.device))
        return self

    def value(self) -> float:
        """Biased linear CKA of all rows seen so far."""
        n = self.n
        if n < 2:
            return float("nan")
        cxy = self.xy - torch.outer(self.sx, self.sy) / n
        cxx = self.xx - torch.outer(self.sx, self.sx) / n
        cyy = self.yy - torch.outer(self.sy, self.sy) / n
        den = torch.linalg.matrix_norm(cxx) * torch.linalg.matrix_norm(cyy)
        return float((cxy * cxy).sum() / den) if den > 0 else float("nan")

    def _hsic_u(self, kl: torch.Tensor, diag_kl: torch.Tensor, sum_k: torch.Tensor,
                sum_l: torch.Tensor, rowdot: torch.Tensor) -> torch.Tensor:
        """Unbiased HSIC (times n(n-3)) from the kernel sums of two linear kernels."""
        return hsic_u(kl - diag_kl, sum_k, sum_l, rowdot, self.n)

    def debiased_value(self) -> float:
        """Debiased linear CKA (unbiased HSIC U-statistic) of all rows seen so far."""
        if self.n < 4:
            return float("nan")
        sx, sy = self.sx, self.sy
        # For K = X X^T with zeroed diagonal: 1^T K~ 1 = |sx|^2 - sum|x|^2, and
        # (K~ 1)_i = x_i.sx - |x_i|^2, so sum_i (K~1)_i (L~1)_i expands into streamed sums.
        sum_k = sx @ sx - self.nx
        sum_l = sy @ sy - self.ny
        rd_xy = sx @ self.xy @ sy - sx @ self.ny_x - sy @ self.nx_y + self.nxny
        rd_xx = sx @ self.xx @ sx - 2 * sx @ self.nx_x + self.nx2
        rd_yy = sy @ self.yy @ sy - 2 * sy @ self.ny_y + self.ny2
        h_xy = self._hsic_u((self.xy * self.xy).sum(), self.nxny, sum_k, sum_l, rd_xy)
        h_xx = self._hsic_u((self.xx * self.xx).sum(), self.nx2, sum_k, sum_k, rd_xx)
        h_yy = self._hsic_u((self.yy * self.yy).sum(), self.ny2, sum_l, sum_l, rd_yy)
        den = torch.sqrt(h_xx * h_yy)
        return float(h_xy / den) if den > 0 else float("nan")


def _stream_of(x: torch.Tensor, y: torch.Tensor) -> LinearCKAStream:
    x, y = check_pair(x, y)
    s = LinearCKAStream(x.shape[1], y.shape[1], device=x.device)
    s.update(x, y)
    return s


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Biased linear CKA in feature space (Kornblith et al. 2019, eq. for linear kernels)."""
    x, y = check_pair(x, y)
    xc = x.to(torch.float64) - x.to(torch.float64).mean(0)
    yc = y.to(torch.float64) - y.to(torch.float64).mean(0)
    num = torch.linalg.matrix_norm(yc.T @ xc) ** 2
    den = torch.linalg.matrix_norm(xc.T @ xc) * torch.linalg.matrix_norm(yc.T @ yc)
    return float(num / den) if den > 0 else float("nan")


def debiased_linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA from the unbiased HSIC estimator (Song et al. 2012; Nguyen et al. 2021)."""
    return _stream_of(x, y).debiased_value()


def gram_linear(x: torch.Tensor) -> torch.Tensor:
    """Linear kernel matrix ``X X^T`` in float64."""
    x64 = x.to(torch.float64)
    return x64 @ x64.T


def _median(values: torch.Tensor) -> torch.Tensor:
    """The textbook median (mean of the two middle values for an even count), as numpy's.

    ``torch.median`` returns the *lower* middle value instead, which would make the RBF bandwidth
    differ from its definition whenever the number of pairs is even.
    """
    m = values.numel()
    lower = torch.kthvalue(values, (m + 1) // 2).values
    if m % 2:
        return lower
    return (lower + torch.kthvalue(values, m // 2 + 1).values) / 2


def gram_rbf(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Gaussian kernel ``exp(-|x_i - x_j|^2 / (2 sigma^2))``, ``sigma = scale * median distance``.

    The median is taken over the distances of the distinct pairs i < j (the off-diagonal
    entries: the zero self-distances are left out), as in the authors' script, and is the
    textbook median (for an even number of pairs, the mean of the two middle *distances*, not of
    the squared distances). A multiplier of 1 is Kornblith et al.'s default ``threshold``. A zero
    median (mostly identical rows) falls back to sigma = 1.
    """
    x64 = x.to(torch.float64)
    sq = (x64 * x64).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x64 @ x64.T).clamp_min(0)
    n = d2.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=d2.device)
    pairs = d2[iu[0], iu[1]].sqrt()
    sigma2 = (scale * _median(pairs)) ** 2 if pairs.numel() else torch.tensor(1.0)
    if sigma2 <= 0:
        sigma2 = torch.tensor(1.0, dtype=torch.float64)
    return torch.exp(-d2 / (2 * sigma2))


def center_gram(k: torch.Tensor) -> torch.Tensor:
    """``H K H`` with ``H = I - 11^T/n``, without building H (O(n^2), not O(n^3))."""
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def cka_from_grams(k: torch.Tensor, l: torch.Tensor) -> float:  # noqa: E741
    """Biased CKA from two kernel matrices (the textbook HSIC form)."""
    kc, lc = center_gram(k), center_gram(l)
    num = (kc * lc).sum()
    den = torch.sqrt((kc * kc).sum() * (lc * lc).sum())
    return float(num / den) if den > 0 else float("nan")


def linear_cka_gram(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA through n x n Gram matrices: the reference the feature form is tested against."""
    x, y = check_pair(x, y)
    return cka_from_grams(gram_linear(x), gram_linear(y))


def rbf_cka(x: torch.Tensor, y: torch.Tensor, scale: float = 1.0) -> float:
    """CKA with median-bandwidth RBF kernels (O(n^2) memory)."""
    x, y = check_pair(x, y)
    return cka_from_grams(gram_rbf(x, scale), gram_rbf(y, scale))


_LINEAR = "linear"

register(Measure(
    id="debiased_cka", fn=debiased_linear_cka, label="debiased linear CKA",
    description="linear CKA on the unbiased HSIC U-statistic (Song et al. 2012)",
    citation="Song et al. 2012 (unbiased HSIC); Nguyen et al. 2021 (debiased CKA)",
    min_n=4,  # the U-statistic divides by n (n - 3)
    interval_kind=CI_KIND, band_label=CI_BAND,
    gram=GramForm(_LINEAR, gram_linear, debiased=True),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    value_range=(-1.0, 1.0), streamable=True))

register(Measure(
    id="linear_cka", fn=linear_cka, label="linear CKA (biased)",
    description="biased linear CKA, feature space (Kornblith et al. 2019)",
    citation="Kornblith et al. 2019",
    min_n=3,  # with 2 centred rows both sides are rank 1: CKA = 1 whatever the data
    interval_kind=SPREAD_KIND, band_label=SPREAD_BAND,
    gram=GramForm(_LINEAR, gram_linear, debiased=False),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    streamable=True))

register(Measure(
    id="rbf_cka", fn=rbf_cka, label="RBF CKA (biased)",
    description="RBF CKA, sigma = median pairwise distance (as the authors' script)",
    citation="Kornblith et al. 2019; Muller et al. 2021 (median bandwidth)",
    min_n=3,  # likewise, and the median bandwidth needs more than one pair
    interval_kind=SPREAD_KIND, band_label=SPREAD_BAND,
    gram=GramForm("rbf", gram_rbf, debiased=False, score=cka_from_grams),
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"})))
