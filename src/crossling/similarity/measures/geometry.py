"""Geometry-based similarity: orthogonal Procrustes, RSA and mutual k-nearest neighbours.

Three ways to ask "are the two sides' sentence spaces the same shape?" that CKA does not
(definitions: docs/similarity-measures.md). Each comes as a per-side ``prepare`` (the centred
SVD Procrustes shares with CCA, a rank matrix, a neighbour list), a ``score`` of two prepared
sides, and a ``*_permuted`` form giving the measure against each row permutation of ``y`` from
the prepared sides, so that the shuffled-pairs null costs little more than the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.stats import rankdata

from crossling.core.errors import ConfigError
from crossling.similarity.measures.cca import (
    CCA_SIDE,
    Side,
    cross_product,
    cross_products,
    side,
)
from crossling.similarity.measures.cka import check_pair
from crossling.similarity.measures.registry import (
    NO_BAND,
    Measure,
    PermutedForm,
    no_interval,
    register,
)
from crossling.similarity.permuted import DEFAULT_MAX_BYTES, PermutedMatrix, PermutedStack

KNN_K = 10
"""Neighbours per sentence in `mutual_knn` (Huh et al. 2024 use 10)."""

_NORM_FLOOR = 1e-12


# --- orthogonal Procrustes ---------------------------------------------------------------------

def procrustes_score(bx: Side, by: Side) -> float:
    """``||X^T Y||_*`` from the two sides' centred SVDs (`side`,
    shared with SVCCA and PWCCA): with ``x_c = U_x S_x V_x^T``, ``X^T Y = V_x S_x U_x^T U_y S_y
    V_y^T / (|s_x| |s_y|)`` has the singular values of ``S_x (U_x^T U_y) S_y / (|s_x| |s_y|)``
    (the V's have orthonormal columns). NaN when a side has no variance (as CKA)."""
    if bx.s.numel() == 0 or by.s.numel() == 0:
        return float("nan")
    m = bx.s[:, None] * cross_product(bx, by) * by.s[None, :]
    value = torch.linalg.svdvals(m).sum() / (torch.linalg.vector_norm(bx.s)
                                             * torch.linalg.vector_norm(by.s))
    return float(value.clamp(0.0, 1.0))


def procrustes(x: torch.Tensor, y: torch.Tensor) -> float:
    """Orthogonal Procrustes similarity ``1 - min_Q ||X - Y Q||_F^2 / 2`` of the centred,
    unit-Frobenius-norm sides; equals the nuclear norm of ``X^T Y`` (the optimal Q is
    ``U V^T`` from the SVD ``Y^T X = U S V^T``). In [0, 1]; 1 iff one side is a rotation (or
    reflection) of the other up to translation and scale. Invariant to translation, isotropic
    scaling and orthogonal maps of either side; not to other linear maps. Computed from each
    side's centred SVD (`procrustes_score`; directions of numerically null variance,
    below `VARIANCE_EPS` of the largest, dropped as for CCA)."""
    x, y = check_pair(x, y)
    return procrustes_score(side(x), side(y))


def procrustes_permuted(bx: Side, by: Side, perms: torch.Tensor) -> torch.Tensor:
    """Procrustes similarity between ``x`` and ``y[perm]`` per row of ``perms``: the nuclear
    norm as the sum of the square roots of the eigenvalues of the Gram matrix of
    ``S_x U_x^T U_y[perm] S_y / (|s_x| |s_y|)``, batched over the permutations. ``U_x^T
    U_y[perm]`` is the product the CCA nulls read too (`
    cross_products`, computed once per target); products and ``eigvalsh`` in float32 (several
    times faster than a float64 SVD; at most 5e-6 from float64 on e5-small's vectors, against a
    null spread of ~1e-3)."""
    sx = (bx.s / torch.linalg.vector_norm(bx.s)).to(torch.float32)
    sy = (by.s / torch.linalg.vector_norm(by.s)).to(torch.float32)
    m = sx[:, None] * cross_products(bx, by, perms) * sy[None, :]
    mt = m.transpose(-1, -2)
    gram = mt @ m if m.shape[-1] <= m.shape[-2] else m @ mt
    eig = torch.linalg.eigvalsh(gram).to(torch.float64)
    return eig.clamp_min(0.0).sqrt().sum(-1).clamp(0.0, 1.0).cpu()


# --- RSA ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RankSide:
    """One side of RSA: its centred rank matrix and that matrix under the null's permutations
    (`PermutedMatrix`: the source's stack is built once
    and read for every target)."""

    r: torch.Tensor
    """[n, n] float64 centred ranks of the pairwise dissimilarities, zero diagonal."""
    permuted: PermutedMatrix


def rsa_side(x: torch.Tensor) -> RankSide:
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
    r = r + r.T
    return RankSide(r, PermutedMatrix(r))


def rsa_score(rx: RankSide, ry: RankSide) -> float:
    """Spearman's rho of the two upper triangles = Pearson correlation of the centred ranks."""
    den = torch.sqrt((rx.r * rx.r).sum() * (ry.r * ry.r).sum())
    return float((rx.r * ry.r).sum() / den) if float(den) > 0 else float("nan")


def rsa(x: torch.Tensor, y: torch.Tensor) -> float:
    """RSA: Spearman correlation between the upper triangles of the two sides' dissimilarity
    matrices, dissimilarity = cosine distance of mean-centred sentence vectors.

    In [-1, 1]. Invariant to translation (centred), isotropic scaling and orthogonal maps (they
    keep cosines), and to any monotone change of the distances (ranks); not to other linear
    maps. Symmetric."""
    x, y = check_pair(x, y)
    if x.shape[0] < 3:
        raise ConfigError(f"rsa needs at least 3 sentences (2 pairs), got {x.shape[0]}")
    return rsa_score(rsa_side(x), rsa_side(y))


def rsa_permuted(rx: RankSide, ry: RankSide, perms: torch.Tensor) -> torch.Tensor:
    """RSA between ``x`` and ``y[perm]`` per permutation: the ranks of a permuted ``y`` are its
    ranks relabelled (the Mantel test), so only the cross term changes."""
    den = float(torch.sqrt((rx.r * rx.r).sum() * (ry.r * ry.r).sum()))
    return rx.permuted.cross(ry.r, perms) / den


# --- mutual k nearest neighbours ---------------------------------------------------------------

@dataclass(frozen=True)
class KnnSide:
    """One side of mutual kNN: each row's neighbours and, once a null asks for them, its
    neighbour sets under the null's permutations as a 0/1 adjacency stack (x's side: built once
    per source layer and read for every target; `knn_permuted`)."""

    nbrs: torch.Tensor
    """[n, k] indices of each row's k nearest other rows."""
    permuted: PermutedStack = field(compare=False, repr=False)
    """The adjacency rows of `_adjacency` under the null's permutations."""


def knn_side(x: torch.Tensor, k: int = KNN_K) -> KnnSide:
    """Each row's k nearest other rows by cosine similarity (uncentred)."""
    n = x.shape[0]
    if n < k + 2:
        raise ConfigError(f"mutual_knn with k = {k} needs at least {k + 2} sentences (with fewer, "
                          f"every sentence's neighbours are all the others), got {n}")
    x64 = x.to(torch.float64)
    xn = x64 / torch.linalg.vector_norm(x64, dim=1, keepdim=True).clamp_min(_NORM_FLOOR)
    sim = xn @ xn.T
    sim.fill_diagonal_(-float("inf"))
    nbrs = torch.topk(sim, k, dim=1).indices
    return KnnSide(nbrs, PermutedStack(lambda perms: _adjacency(nbrs, perms), n * n,
                                       DEFAULT_MAX_BYTES))


def _overlap(nx: torch.Tensor, ny: torch.Tensor) -> torch.Tensor:
    """Mean of ``|N_x(i) ∩ N_y(i)| / k`` over rows; batched over leading dimensions of ``ny``."""
    k = nx.shape[-1]
    hits = (nx.unsqueeze(-1) == ny.unsqueeze(-2)).sum((-1, -2))
    return hits.to(torch.float64).mean(-1) / k


def knn_score(nx: KnnSide, ny: KnnSide) -> float:
    """Mutual kNN alignment of two prepared neighbour lists."""
    return float(_overlap(nx.nbrs, ny.nbrs))


def mutual_knn(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024): for each sentence, the fraction
    of its k = 10 nearest neighbours (cosine similarity, uncentred) on one side that are also
    among its k nearest on the other; mean over sentences. In [0, 1]; chance level ~ k/(n-1).

    Invariant to isotropic scaling and orthogonal maps (cosines unchanged); not to translation
    (cosines of uncentred vectors change) nor other linear maps. Symmetric."""
    x, y = check_pair(x, y)
    return knn_score(knn_side(x), knn_side(y))


def _adjacency(nbrs: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """[P, n * n] uint8: row r is 1 at (a, j) iff ``j`` is among ``pi(N_x(pi^-1(a)))``, the
    neighbours ``nbrs`` of x's row ``pi^-1(a)`` relabelled by ``pi = perms[r]`` (x's side of
    the null in y's numbering; see `knn_permuted`)."""
    n, k = nbrs.shape
    inv = torch.argsort(perms, dim=1)
    moved = torch.gather(perms, 1, nbrs[inv].reshape(perms.shape[0], -1))  # pi(N_x(pi^-1 a))
    rows = torch.arange(n, device=perms.device).repeat_interleave(k)
    out = torch.zeros(perms.shape[0], n * n, dtype=torch.uint8, device=perms.device)
    out.scatter_(1, rows[None, :] * n + moved, 1)
    return out


def knn_permuted(nx: KnnSide, ny: KnnSide, perms: torch.Tensor) -> torch.Tensor:
    """Mutual kNN between ``x`` and ``y[perm]`` per permutation.

    Relabelled (a = pi(i)), the overlap of row i is ``|pi(N_x(pi^-1(a))) & N_y(a)|``: x's
    neighbour sets, permuted, against y's own. x's side becomes a 0/1 adjacency stack
    (`_adjacency`, built once per source layer and permutation set: P n^2 bytes, 100 MB
    for 100 permutations of 1,000 sentences) and each target reads it at its n k neighbour
    positions: one gather instead of P x n x k x k comparisons.
    """
    n, k = ny.nbrs.shape
    positions = (torch.arange(n, device=perms.device)[:, None] * n + ny.nbrs).reshape(-1)
    hits = nx.permuted.read(perms, lambda s: s.index_select(1, positions).sum(
        1, dtype=torch.float64))
    return (hits / (n * k)).cpu()


register(Measure(
    id="procrustes", fn=procrustes, label="orthogonal Procrustes",
    description="orthogonal Procrustes similarity 1 - min_Q |X - YQ|_F^2 / 2 = nuclear norm of "
                "X^T Y, X and Y centred and scaled to unit Frobenius norm",
    citation="Schönemann 1966; Ding et al. 2021; Williams et al. 2021",
    min_n=3,  # with 2 centred rows both sides are rank 1: the value is 1 whatever the data
    interval_kind=no_interval("each resample is a d x d eigendecomposition, too slow for every "
                               "layer and target; meaningful (a plug-in estimator's spread) if "
                               "a variant record allows it"),
    band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    permuted=PermutedForm(CCA_SIDE, side, procrustes_score,
                          procrustes_permuted),
    max_boot=0, max_null=10))

register(Measure(
    id="rsa", fn=rsa, label="RSA (Spearman)",
    description="RSA: Spearman correlation of the upper triangles of the two n x n "
                "dissimilarity matrices, cosine distance of mean-centred sentence vectors",
    citation="Kriegeskorte et al. 2008",
    min_n=4,  # 6 pairs: with 3 pairs Spearman's rho is +-1 for a third of the orderings
    interval_kind=no_interval("a repeated sentence has distance 0 to its copy on both sides, "
                               "which inflates the rank correlation"),
    band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "translation",
                           "permutation_of_features"}),
    value_range=(-1.0, 1.0),
    permuted=PermutedForm("rsa", rsa_side, rsa_score, rsa_permuted),
    max_boot=0, max_null=20))

register(Measure(
    id="mutual_knn", fn=mutual_knn, label=f"mutual {KNN_K}-NN",
    description=f"mutual k-nearest-neighbour alignment, k = {KNN_K}: mean over "
                "sentences of |kNN_x(i) & kNN_y(i)| / k, neighbours by cosine similarity of "
                "the uncentred vectors",
    citation="Huh et al. 2024 (The Platonic Representation Hypothesis)",
    min_n=KNN_K + 2,  # with n <= k + 1 every sentence's neighbours are all the others
    interval_kind=no_interval("a repeated sentence is its copy's nearest neighbour on both "
                               "sides, which inflates the overlap"),
    band_label=NO_BAND,
    invariances=frozenset({"orthogonal", "isotropic_scaling", "permutation_of_features"}),
    permuted=PermutedForm("knn", knn_side, knn_score, knn_permuted),
    max_boot=0))
