"""Geometry-based similarity: orthogonal Procrustes, RSA and mutual k-nearest neighbours.

Three ways to ask "are the two sides' sentence spaces the same shape?" that CKA does not:

- **Procrustes** (:func:`procrustes`): how close ``x`` comes to ``y`` after the best rotation,
  both centred and scaled to unit Frobenius norm:
  ``1 - min_Q ||X - Y Q||_F^2 / 2 = ||X^T Y||_*`` (the nuclear norm; Schönemann 1966; as a
  similarity in Ding et al. 2021, Williams et al. 2021). Sides of different widths are compared
  as if the narrower one were padded with zero features.
- **RSA** (:func:`rsa`): Spearman correlation of the two n x n dissimilarity matrices' upper
  triangles (Kriegeskorte et al. 2008). Dissimilarity: cosine distance between *mean-centred*
  sentence vectors. Centring first removes the direction every sentence of a language shares
  (transformer embeddings are anisotropic: uncentred cosines are all near 1 and dominated by
  that one direction) and makes the measure translation-invariant.
- **Mutual kNN** (:func:`mutual_knn`): the mean over sentences of ``|kNN_x(i) ∩ kNN_y(i)| / k``,
  neighbours by cosine similarity of the *uncentred* vectors, k = :data:`KNN_K` (Huh et al.
  2024, "The Platonic Representation Hypothesis", as their ``mutual_knn``).

Each measure comes as ``prepare`` (per-side work: normalised rows, a rank matrix, a neighbour
list) and ``score`` (the pair), plus a ``*_permuted`` function that gives the measure between
``x`` and each row permutation of ``y`` from the prepared sides: the shuffled-pairs null
(:mod:`crossling.similarity.null`) then costs little more than the value. Ranks (RSA) and
neighbours (kNN) of a permuted ``y`` are its own ranks and neighbours relabelled, so they are
never recomputed.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata

from crossling.errors import ConfigError
from crossling.similarity.cka import check_pair

KNN_K = 10
"""Neighbours per sentence in :func:`mutual_knn` (Huh et al. 2024 use 10)."""

_NORM_FLOOR = 1e-12


def _permuted_cross(a: torch.Tensor, b: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """``sum_ij A_ij B_pi(i)pi(j)`` per permutation (as :func:`crossling.similarity.null.
    _null_cross_terms`, which imports this package's registry and so cannot be imported here)."""
    a32, b32 = a.to(torch.float32), b.to(torch.float32)
    out = torch.empty(perms.shape[0], dtype=torch.float64)
    for r, p in enumerate(perms):
        inv = torch.argsort(p)
        out[r] = float((a32.index_select(1, inv) * b32.index_select(0, p)).sum(
            dtype=torch.float64))
    return out


# --- orthogonal Procrustes ---------------------------------------------------------------------

def procrustes_side(x: torch.Tensor) -> torch.Tensor:
    """Centred rows scaled to unit Frobenius norm (float64); all-zero when the rows are equal."""
    x64 = x.to(torch.float64)
    xc = x64 - x64.mean(0)
    norm = torch.linalg.matrix_norm(xc)
    return xc / norm if float(norm) > 0 else xc


def procrustes_score(px: torch.Tensor, py: torch.Tensor) -> float:
    """``||X^T Y||_*`` of two prepared sides; NaN when a side has no variance (as CKA)."""
    value = torch.linalg.svdvals(px.T @ py).sum()
    if float(torch.linalg.matrix_norm(px)) == 0 or float(torch.linalg.matrix_norm(py)) == 0:
        return float("nan")
    return float(value.clamp(0.0, 1.0))


def procrustes(x: torch.Tensor, y: torch.Tensor) -> float:
    """Orthogonal Procrustes similarity ``1 - min_Q ||X - Y Q||_F^2 / 2`` of the centred,
    unit-Frobenius-norm sides; equals the nuclear norm of ``X^T Y`` (the optimal Q is
    ``U V^T`` from the SVD ``Y^T X = U S V^T``). In [0, 1]; 1 iff one side is a rotation (or
    reflection) of the other up to translation and scale. Invariant to translation, isotropic
    scaling and orthogonal maps of either side; not to other linear maps."""
    check_pair(x, y)
    return procrustes_score(procrustes_side(x), procrustes_side(y))


def procrustes_permuted(px: torch.Tensor, py: torch.Tensor, perms: torch.Tensor
                        ) -> torch.Tensor:
    """Procrustes similarity between ``x`` and ``y[perm]`` per row of ``perms``: the nuclear
    norm as the sum of the square roots of the eigenvalues of the smaller Gram matrix of
    ``X^T Y[perm]`` (float64 ``eigvalsh``: several times faster than an SVD, exact to ~1e-8)."""
    out = torch.empty(perms.shape[0], dtype=torch.float64)
    for i, p in enumerate(perms):
        m = px.T @ py.index_select(0, p)
        gram = m.T @ m if m.shape[1] <= m.shape[0] else m @ m.T
        out[i] = float(torch.linalg.eigvalsh(gram).clamp_min(0.0).sqrt().sum())
    return out.clamp(0.0, 1.0)


# --- RSA ---------------------------------------------------------------------------------------

def rsa_side(x: torch.Tensor) -> torch.Tensor:
    """The n x n matrix of centred ranks of the pairwise dissimilarities (cosine distance of the
    mean-centred rows), zero diagonal: ``R_ij = rank(d_ij) - (m + 1) / 2`` over the m = n(n-1)/2
    pairs i < j (average ranks for ties, as Spearman's rho)."""
    x64 = x.to(torch.float64)
    xc = x64 - x64.mean(0)
    xn = xc / torch.linalg.vector_norm(xc, dim=1, keepdim=True).clamp_min(_NORM_FLOOR)
    dist = 1.0 - xn @ xn.T
    n = dist.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=dist.device)
    # rounded so that equal distances (a repeated sentence) tie exactly whatever the BLAS order
    upper = np.round(dist[iu[0], iu[1]].cpu().numpy(), 12)
    ranks = torch.from_numpy(rankdata(upper) - (upper.size + 1) / 2.0).to(dist.device)
    r = torch.zeros(n, n, dtype=torch.float64, device=dist.device)
    r[iu[0], iu[1]] = ranks
    return r + r.T


def rsa_score(rx: torch.Tensor, ry: torch.Tensor) -> float:
    """Spearman's rho of the two upper triangles = Pearson correlation of the centred ranks."""
    den = torch.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if float(den) > 0 else float("nan")


def rsa(x: torch.Tensor, y: torch.Tensor) -> float:
    """RSA: Spearman correlation between the upper triangles of the two sides' dissimilarity
    matrices, dissimilarity = cosine distance of mean-centred sentence vectors.

    In [-1, 1]. Invariant to translation (centred), isotropic scaling and orthogonal maps (they
    keep cosines), and to any monotone change of the distances (ranks); not to other linear
    maps. Symmetric."""
    check_pair(x, y)
    if x.shape[0] < 3:
        raise ConfigError(f"rsa needs at least 3 sentences (2 pairs), got {x.shape[0]}")
    return rsa_score(rsa_side(x), rsa_side(y))


def rsa_permuted(rx: torch.Tensor, ry: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """RSA between ``x`` and ``y[perm]`` per permutation: the ranks of a permuted ``y`` are its
    ranks relabelled (the Mantel test), so only the cross term changes."""
    den = float(torch.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return _permuted_cross(rx, ry, perms) / den


# --- mutual k nearest neighbours ---------------------------------------------------------------

def knn_side(x: torch.Tensor, k: int = KNN_K) -> torch.Tensor:
    """[n, k] indices of each row's k nearest other rows by cosine similarity (uncentred)."""
    n = x.shape[0]
    if n < k + 2:
        raise ConfigError(f"mutual_knn with k = {k} needs at least {k + 2} sentences (with fewer, "
                          f"every sentence's neighbours are all the others), got {n}")
    x64 = x.to(torch.float64)
    xn = x64 / torch.linalg.vector_norm(x64, dim=1, keepdim=True).clamp_min(_NORM_FLOOR)
    sim = xn @ xn.T
    sim.fill_diagonal_(-float("inf"))
    return torch.topk(sim, k, dim=1).indices


def _overlap(nx: torch.Tensor, ny: torch.Tensor) -> torch.Tensor:
    """Mean of ``|N_x(i) ∩ N_y(i)| / k`` over rows; batched over leading dimensions of ``ny``."""
    k = nx.shape[-1]
    hits = (nx.unsqueeze(-1) == ny.unsqueeze(-2)).sum((-1, -2))
    return hits.to(torch.float64).mean(-1) / k


def knn_score(nx: torch.Tensor, ny: torch.Tensor) -> float:
    """Mutual kNN alignment of two prepared neighbour lists."""
    return float(_overlap(nx, ny))


def mutual_knn(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024): for each sentence, the fraction
    of its k = 10 nearest neighbours (cosine similarity, uncentred) on one side that are also
    among its k nearest on the other; mean over sentences. In [0, 1]; chance level ~ k/(n-1).

    Invariant to isotropic scaling and orthogonal maps (cosines unchanged); not to translation
    (cosines of uncentred vectors change) nor other linear maps. Symmetric."""
    check_pair(x, y)
    return knn_score(knn_side(x), knn_side(y))


def knn_permuted(nx: torch.Tensor, ny: torch.Tensor, perms: torch.Tensor,
                 chunk: int = 32) -> torch.Tensor:
    """Mutual kNN between ``x`` and ``y[perm]`` per permutation: row i of ``y[perm]`` is
    ``y[perm[i]]``, whose neighbours ``j`` are rows ``perm^-1[j]`` of the permuted side (batched
    over ``chunk`` permutations: r x n x k x k comparisons)."""
    out = torch.empty(perms.shape[0], dtype=torch.float64)
    for start in range(0, perms.shape[0], chunk):
        p = perms[start:start + chunk]
        inv = torch.argsort(p, dim=1)
        moved = ny[p]  # [r, n, k]: neighbours of y[perm[i]], in y's numbering
        relabelled = torch.gather(inv, 1, moved.reshape(p.shape[0], -1)).reshape(moved.shape)
        out[start:start + p.shape[0]] = _overlap(nx, relabelled).cpu()
    return out
