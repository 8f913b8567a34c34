"""The pre-registered P6 test: permutation p-values for similarity-vs-transfer correlations.

Inputs: a layers x languages similarity table (`correlate.cross_similarity`) and a transfer
score per language (`correlate.transfer_scores`); only languages finite at *every* layer enter,
so all layers are tested on the same languages, as the max-statistic needs. The null is
exchangeability of the scores across languages: one permutation of the scores serves every
layer, so the layer-corrected p (Westfall-Young max-T) comes from the same draws. Ranks are
computed once and each null rho is one matrix product (vectorised).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

PERMUTATION_COLUMNS = ["layer", "rho", "p_raw", "p_max", "n_languages", "n_permutations",
                       "exact", "partial"]
TIE = 1e-12
"""|rho*| >= |rho| - TIE counts as "at least as extreme": equal rhos computed in another
order must not be lost to rounding."""


def permutations(n: int, n_perm: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """All n! permutations of range(n) (exact) when n! <= n_perm, else n_perm random ones;
    as an integer array [count, n] and whether the enumeration is exact."""
    if math.factorial(n) <= n_perm:
        return np.array(list(itertools.permutations(range(n))), dtype=np.intp), True
    return np.argsort(rng.random((n_perm, n)), axis=1), False


def _shared(similarity: pd.DataFrame, score: pd.Series,
            covariate: pd.Series | pd.DataFrame | None = None
            ) -> tuple[np.ndarray, list[str], list[int]]:
    """Languages with a finite score (and covariates) and a finite similarity at every layer."""
    table = similarity.astype(float)
    ok = [c for c in table.columns if np.isfinite(table[c].to_numpy()).all()]
    keep = score.astype(float)
    keep = keep[np.isfinite(keep.to_numpy())]
    langs = sorted(set(ok) & {str(k) for k in keep.index})
    if covariate is not None:
        cov = covariate.astype(float).to_frame() if isinstance(covariate, pd.Series) \
            else covariate.astype(float)
        finite = cov.index[np.isfinite(cov.to_numpy()).all(axis=1)]
        langs = [lang for lang in langs if lang in set(finite)]
    return table[langs].to_numpy(dtype=float), langs, [int(x) for x in table.index]


def _hat(n: int, covariate: np.ndarray | None) -> np.ndarray:
    """Projection onto the intercept (and the covariate, or the columns of a [n, k] matrix of
    covariates): Y - Y @ H are OLS residuals."""
    cols = [np.ones(n)] if covariate is None else [np.ones(n), covariate]
    z = np.column_stack(cols)
    return np.asarray(z @ np.linalg.pinv(z))


def _unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm; constant rows (norm ~ 0) become NaN."""
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = rows / norm
    out[np.broadcast_to(norm <= 1e-12, out.shape)] = np.nan
    return np.asarray(out)


def _test(x_res: np.ndarray, y_res: np.ndarray, hat: np.ndarray, n_perm: int, seed: int,
          layers: list[int], partial: bool, rho: np.ndarray) -> pd.DataFrame:
    """Permutation p_raw and p_max of correlations between the rows of ``x_res`` [layers, n]
    (residualised ranks) and ``y_res`` [n]: y_res permuted, re-residualised with ``hat``."""
    n = y_res.size
    perms, exact = permutations(n, n_perm, np.random.default_rng(seed))
    y_star = y_res[perms]
    y_star = _unit(y_star - y_star @ hat)  # hat is symmetric
    null = np.abs(_unit(x_res) @ y_star.T)  # [layers, permutations]
    null = np.where(np.isnan(null), -np.inf, null)
    top = null.max(axis=0)
    target = np.abs(rho)[:, None] - TIE
    count_raw = (null >= target).sum(axis=1)
    count_max = (top[None, :] >= target).sum(axis=1)
    if exact:
        p_raw, p_max = count_raw / len(perms), count_max / len(perms)
    else:
        p_raw, p_max = (1 + count_raw) / (1 + n_perm), (1 + count_max) / (1 + n_perm)
    undefined = ~np.isfinite(rho)
    p_raw = np.where(undefined, np.nan, p_raw)
    p_max = np.where(undefined, np.nan, p_max)
    return pd.DataFrame({"layer": layers, "rho": rho, "p_raw": p_raw, "p_max": p_max,
                         "n_languages": n, "n_permutations": len(perms), "exact": exact,
                         "partial": partial}, columns=PERMUTATION_COLUMNS)


def _empty(layers: list[int], n: int, partial: bool) -> pd.DataFrame:
    return pd.DataFrame({"layer": layers, "rho": math.nan, "p_raw": math.nan,
                         "p_max": math.nan, "n_languages": n, "n_permutations": 0,
                         "exact": False, "partial": partial}, columns=PERMUTATION_COLUMNS)


def permutation_spearman(similarity: pd.DataFrame, score: pd.Series, *,
                         n_perm: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """Per layer: Spearman rho across languages, permutation p_raw and max-statistic p_max.

    All n! permutations when n! <= ``n_perm`` (``exact``, the identity included: p =
    #{|rho*| >= |rho|} / n!), else ``n_perm`` seeded random ones (p = (1 + #) / (1 + n_perm));
    ``n_permutations`` says how many. ``p_raw`` is the two-sided per-layer p; ``p_max`` counts
    the permutations whose max over layers of |rho*| reaches |rho(layer)|, so p_max >= p_raw.
    A layer whose similarity is constant has rho and p NaN and takes no part in the max; fewer
    than 3 shared languages (or a constant score): every row NaN. Columns: ``layer``, ``rho``,
    ``p_raw``, ``p_max``, ``n_languages``, ``n_permutations``, ``exact``, ``partial``.
    """
    x, langs, layers = _shared(similarity, score)
    n = len(langs)
    y = score.astype(float).reindex(langs).to_numpy()
    if n < 3 or np.ptp(y) == 0:
        return _empty(layers, n, False)
    rho = np.array([stats.spearmanr(row, y).statistic if np.ptp(row) > 0 else math.nan
                    for row in x], dtype=float)
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y)
    hat = _hat(n, None)
    return _test(rx - rx @ hat, ry - ry @ hat, hat, n_perm, seed, layers, False, rho)


def partial_spearman_rho(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Partial Spearman correlation of x and y given z: Pearson correlation of the OLS
    residuals (with intercept) of rank(x) and rank(y) on rank(z). NaN if undefined."""
    n = len(x)
    hat = _hat(n, stats.rankdata(z))
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    ex, ey = _unit(rx - hat @ rx), _unit(ry - hat @ ry)
    return float(ex @ ey)


def partial_permutation_spearman(similarity: pd.DataFrame, score: pd.Series,
                                 covariate: pd.Series | pd.DataFrame, *,
                                 n_perm: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """Per layer: partial Spearman rho (similarity vs score given ``covariate``, e.g. the
    typological distance to English), Freedman-Lane permutation p_raw and max-statistic p_max.

    The partial rho is the Pearson correlation of the OLS residuals (with intercept) of
    rank(similarity) and rank(score) on rank(covariate), the closed form (r_xy - r_xz r_yz) /
    sqrt((1 - r_xz^2)(1 - r_yz^2)) on ranks. Freedman-Lane null: the residuals of rank(score)
    under score ~ covariate are permuted, added back to the fitted values and regressed again;
    the similarity residuals stay fixed. Permutations and p-values as
    `permutation_spearman`. A frame of covariates (one per column) controls for all of them
    at once (residuals on the ranks of each). Languages must have finite covariates too; fewer
    than k + 3 for k covariates (a partial correlation on k + 2 points is +-1 or undefined):
    every row NaN.
    """
    x, langs, layers = _shared(similarity, score, covariate)
    n = len(langs)
    y = score.astype(float).reindex(langs).to_numpy()
    z = covariate.astype(float).reindex(langs).to_numpy()
    k = 1 if z.ndim == 1 else int(z.shape[-1])
    if n < k + 3 or np.ptp(y) == 0:
        return _empty(layers, n, True)
    hat = _hat(n, stats.rankdata(z, axis=0))
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y)
    ex = rx - rx @ hat
    ey = ry - ry @ hat
    rho = _unit(ex) @ _unit(ey)
    return _test(ex, ey, hat, n_perm, seed, layers, True, np.asarray(rho, dtype=float))
