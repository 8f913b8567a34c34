"""SVCCA and PWCCA against the textbook CCA written independently here with scipy.

crossling computes canonical correlations as the singular values of ``U_x^T U_y`` (orthonormal
bases from one SVD per side). The reference below is the formula of the papers: whiten the
cross-covariance, ``S_xx^-1/2 S_xy S_yy^-1/2`` (inverse square roots by ``scipy.linalg.eigh``),
take its singular values (``scipy.linalg.svd``); SVCCA's SVD step with ``scipy.linalg.svd``;
PWCCA's weights from the canonical variates ``h_i = X_c S_xx^-1/2 a_i``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from crossling.core.errors import ConfigError
from crossling.similarity.checks import VectorError
from crossling.similarity.measures import cca


def _inv_sqrt(s: np.ndarray) -> np.ndarray:
    vals, vecs = scipy.linalg.eigh(s)
    return (vecs / np.sqrt(vals)) @ vecs.T


def _reduce(xc: np.ndarray, keep: float) -> np.ndarray:
    """Raghu et al.'s SVD step: project on the leading right singular vectors that explain
    ``keep`` of the variance."""
    _, s, vt = scipy.linalg.svd(xc, full_matrices=False)
    frac = np.cumsum(s ** 2) / np.sum(s ** 2)
    k = int(np.argmax(frac >= keep)) + 1
    return xc @ vt[:k].T


def textbook_cca(x: np.ndarray, y: np.ndarray, keep: float | None = None,
                 weights: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Canonical correlations (descending) and, with ``weights``, PWCCA's alpha on x."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    if keep is not None:
        xc, yc = _reduce(xc, keep), _reduce(yc, keep)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    wx, wy = _inv_sqrt(sxx), _inv_sqrt(syy)
    a, rho, _ = scipy.linalg.svd(wx @ sxy @ wy, full_matrices=False)
    if not weights:
        return rho, None
    h = xc @ wx @ a  # canonical variates of x, unit norm
    alpha = np.abs(h.T @ (x - x.mean(0))).sum(1)
    return rho, alpha


def _data(n: int, dx: int, dy: int, seed: int, noise: float = 1.0
          ) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0, -1.5, dx, dtype=torch.float64)  # an anisotropic spectrum
    x = torch.randn(n, dx, generator=g, dtype=torch.float64) * scales + 3.0
    y = x @ torch.randn(dx, dy, generator=g, dtype=torch.float64) + \
        noise * 0.3 * torch.randn(n, dy, generator=g, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize(("n", "dx", "dy", "seed"), [(200, 30, 20, 0), (500, 40, 40, 1),
                                                     (120, 10, 25, 2)])
def test_svcca_and_pwcca_equal_the_textbook_formula(n: int, dx: int, dy: int, seed: int) -> None:
    x, y = _data(n, dx, dy, seed)
    xn, yn = x.numpy(), y.numpy()
    rho, _ = textbook_cca(xn, yn, keep=cca.SVCCA_KEEP)
    assert cca.svcca(x, y) == pytest.approx(float(rho.mean()), abs=1e-9)
    rho, alpha = textbook_cca(xn, yn, weights=True)
    assert alpha is not None
    assert cca.pwcca(x, y) == pytest.approx(float((alpha * rho).sum() / alpha.sum()), abs=1e-9)
    # the truncation is real here: the anisotropic x loses directions
    assert cca.side(x).keep(cca.SVCCA_KEEP) < dx


def test_known_answers() -> None:
    """A side that is an invertible linear map of the other: every canonical correlation is 1
    (PWCCA = 1); unrelated data with n >> d: near the random-subspace level, not 0."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(400, 12, generator=g, dtype=torch.float64)
    a = torch.randn(12, 12, generator=g, dtype=torch.float64)
    assert cca.pwcca(x, x @ a) == pytest.approx(1.0, abs=1e-9)
    assert cca.svcca(x, x @ torch.linalg.qr(a)[0]) == pytest.approx(1.0, abs=1e-9)
    unrelated = torch.randn(400, 12, generator=g, dtype=torch.float64)
    assert 0.0 < cca.svcca(x, unrelated) < 0.15
    assert 0.0 < cca.pwcca(x, unrelated) < 0.15


def test_pwcca_is_weighted_by_x_and_ignores_linear_maps_of_y() -> None:
    x, y = _data(300, 16, 10, seed=4)
    g = torch.Generator().manual_seed(5)
    a = torch.randn(10, 10, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=g, dtype=torch.float64))
    assert cca.pwcca(x, y @ a) == pytest.approx(cca.pwcca(x, y), abs=1e-9)
    assert abs(cca.pwcca(x @ q, y) - cca.pwcca(x, y)) > 1e-3
    assert abs(cca.pwcca(y, x) - cca.pwcca(x, y)) > 1e-3


def test_too_few_sentences_for_the_kept_directions_is_refused() -> None:
    """k_x + k_y > n - 1 forces canonical correlations of 1 (here unrelated data would give
    SVCCA = PWCCA = 1): refused, naming the numbers."""
    g = torch.Generator().manual_seed(6)
    x = torch.randn(20, 15, generator=g, dtype=torch.float64)
    y = torch.randn(20, 15, generator=g, dtype=torch.float64)
    with pytest.raises(ConfigError, match=r"^pwcca: 20 sentences for 15 \+ 15 kept directions: "
                                          r"CCA needs n > k_x \+ k_y \(here n >= 31\)"):
        cca.pwcca(x, y)
    with pytest.raises(ConfigError, match=r"^svcca: 20 sentences"):
        cca.svcca(x, y)
    with pytest.raises(VectorError, match=r"^x: vectors are all the same vector"):
        cca.svcca(torch.ones(20, 3), y)
    assert 0 < cca.pwcca(x[:, :4], y[:, :4]) < 1  # 4 + 4 <= 19: defined


def test_numerically_null_directions_are_dropped() -> None:
    """A feature that is an exact copy (a rank-deficient side) does not create a direction of
    rounding noise: the value equals that of the side without the copy."""
    x, y = _data(200, 8, 6, seed=7)
    dup = torch.cat([x, x[:, :1] * 2.0], 1)
    assert cca.side(dup).u.shape[1] == 8
    assert cca.pwcca(y, dup) == pytest.approx(cca.pwcca(y, x), abs=1e-9)
    rho, alpha = textbook_cca(y.numpy(), x.numpy(), weights=True)  # (needs full rank)
    assert alpha is not None
    assert cca.pwcca(y, dup) == pytest.approx(float((alpha * rho).sum() / alpha.sum()), abs=1e-9)


def test_svd_family_nulls_share_one_cross_product() -> None:
    """SVCCA, PWCCA and Procrustes nulls of one target read one ``U_x^T U_y[perm]`` product,
    kept on the target's side for the same source side and permutations only; each null is
    still its measure between x and the permuted rows. Their values share one ``U_x^T U_y``
    the same way."""
    from crossling.similarity.measures import geometry

    g = torch.Generator().manual_seed(11)
    x = torch.randn(90, 6, generator=g, dtype=torch.float64)
    y = x @ torch.randn(6, 5, generator=g, dtype=torch.float64) + torch.randn(
        90, 5, generator=g, dtype=torch.float64)
    perms = torch.stack([torch.randperm(90, generator=g) for _ in range(4)])
    bx, by = cca.side(x), cca.side(y)
    first = cca.cross_products(bx, by, perms)
    assert cca.cross_products(bx, by, perms.clone()) is first  # equal permutations: kept
    assert cca.cross_products(bx, by, perms[:2]) is not first  # other permutations: rebuilt
    assert cca.cross_products(cca.side(x), by, perms[:2]) is not cca.cross_products(
        bx, by, perms[:2])  # another source side: rebuilt
    by = cca.side(y)
    kept = []
    for permuted, fn in ((cca.svcca_permuted, cca.svcca), (cca.pwcca_permuted, cca.pwcca),
                         (geometry.procrustes_permuted, geometry.procrustes)):
        got = permuted(bx, by, perms)
        assert got.tolist() == pytest.approx([fn(x, y[p]) for p in perms], abs=1e-5)
        kept.append(by.memo["null"][2])
    assert kept[0] is kept[1] is kept[2]  # computed once, by the first of the three
    values = []
    for score, fn in ((cca.svcca_score, cca.svcca), (cca.pwcca_score, cca.pwcca),
                      (geometry.procrustes_score, geometry.procrustes)):
        assert score(bx, by) == pytest.approx(fn(x, y), abs=1e-12)
        values.append(by.memo["value"][2])
    assert values[0] is values[1] is values[2]  # the values' U_x^T U_y, also computed once
