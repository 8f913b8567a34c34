"""Procrustes, RSA and mutual kNN against implementations crossling did not write.

- Procrustes: ``scipy.linalg.orthogonal_procrustes`` finds the rotation, the residual is
  computed here (the narrower side zero-padded);
- RSA: ``scipy.spatial.distance.pdist(..., "cosine")`` of the centred rows and
  ``scipy.stats.spearmanr`` of the two condensed distance vectors;
- mutual kNN: a brute-force Python loop over sentences with numpy's argsort.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from crossling.core.errors import ConfigError
from crossling.similarity.checks import VectorError
from crossling.similarity.measures import cca, geometry


def _data(n: int, dx: int, dy: int, seed: int, noise: float = 1.0
          ) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dx, generator=g, dtype=torch.float64) + 0.5
    y = x @ torch.randn(dx, dy, generator=g, dtype=torch.float64) * 0.5 + \
        noise * torch.randn(n, dy, generator=g, dtype=torch.float64) - 1.0
    return x, y


def reference_procrustes(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = x - x.mean(0), y - y.mean(0)
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    d = max(xc.shape[1], yc.shape[1])
    xp = np.pad(xc, ((0, 0), (0, d - xc.shape[1])))
    yp = np.pad(yc, ((0, 0), (0, d - yc.shape[1])))
    r, _ = scipy.linalg.orthogonal_procrustes(yp, xp)  # argmin_R |Y R - X|_F
    return float(1.0 - np.linalg.norm(xp - yp @ r) ** 2 / 2.0)


def reference_rsa(x: np.ndarray, y: np.ndarray) -> float:
    # rounded as crossling does, so that a repeated sentence's distances tie exactly
    dx = np.round(pdist(x - x.mean(0), "cosine"), 12)
    dy = np.round(pdist(y - y.mean(0), "cosine"), 12)
    return float(spearmanr(dx, dy).statistic)


def reference_knn(x: np.ndarray, y: np.ndarray, k: int) -> float:
    def neighbours(z: np.ndarray, i: int) -> set[int]:
        unit = z / np.linalg.norm(z, axis=1, keepdims=True)
        sims = unit @ unit[i]
        order = [j for j in np.argsort(-sims, kind="stable") if j != i]
        return set(order[:k])

    total = 0.0
    for i in range(x.shape[0]):
        total += len(neighbours(x, i) & neighbours(y, i)) / k
    return total / x.shape[0]


@pytest.mark.parametrize(("n", "dx", "dy", "seed"), [(60, 8, 8, 0), (150, 20, 12, 1),
                                                     (40, 5, 30, 2)])
def test_values_equal_independent_implementations(n: int, dx: int, dy: int, seed: int) -> None:
    x, y = _data(n, dx, dy, seed)
    xn, yn = x.numpy(), y.numpy()
    assert geometry.procrustes(x, y) == pytest.approx(reference_procrustes(xn, yn), abs=1e-9)
    assert geometry.rsa(x, y) == pytest.approx(reference_rsa(xn, yn), abs=1e-9)
    assert geometry.mutual_knn(x, y) == pytest.approx(
        reference_knn(xn, yn, geometry.KNN_K), abs=1e-12)


def test_rsa_ties_use_average_ranks_as_spearman() -> None:
    """Repeated sentences (equal distances) are ties; average ranks as in scipy's spearmanr."""
    x, y = _data(30, 6, 6, seed=3)
    x, y = torch.cat([x, x[:5]]), torch.cat([y, y[:5]])
    assert geometry.rsa(x, y) == pytest.approx(reference_rsa(x.numpy(), y.numpy()), abs=1e-9)


def test_known_answers_and_chance_levels() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(400, 16, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=g, dtype=torch.float64))
    rotated = 2.0 * x @ q
    for fn in (geometry.procrustes, geometry.rsa, geometry.mutual_knn):
        assert fn(x, rotated) == pytest.approx(1.0, abs=1e-9), fn.__name__
    unrelated = torch.randn(400, 16, generator=g, dtype=torch.float64)
    assert abs(geometry.rsa(x, unrelated)) < 0.05
    # chance overlap of two random 10-neighbour sets among 399: k / (n - 1) = 0.025
    assert geometry.mutual_knn(x, unrelated) < 0.06
    assert geometry.procrustes(x, unrelated) < 0.35  # biased: ~ sqrt(d / n) scale, not 0


def test_permuted_forms_give_the_measure_of_permuted_rows() -> None:
    x, y = _data(80, 10, 7, seed=5)
    g = torch.Generator().manual_seed(6)
    perms = torch.stack([torch.randperm(80, generator=g) for _ in range(3)])
    for prepare, permuted, fn in (
            (cca.side, geometry.procrustes_permuted, geometry.procrustes),
            (geometry.rsa_side, geometry.rsa_permuted, geometry.rsa),
            (geometry.knn_side, geometry.knn_permuted, geometry.mutual_knn)):
        got = permuted(prepare(x), prepare(y), perms)
        want = [fn(x, y[p]) for p in perms]
        assert got.tolist() == pytest.approx(want, abs=1e-5), fn.__name__


def test_too_few_sentences_are_refused() -> None:
    x, y = _data(11, 4, 4, seed=7)
    with pytest.raises(ConfigError, match=r"mutual_knn with k = 10 needs at least 12 sentences"):
        geometry.mutual_knn(x, y)
    with pytest.raises(ConfigError, match="rsa needs at least 3 sentences"):
        geometry.rsa(x[:2], y[:2])
    assert 0 < geometry.mutual_knn(*_data(12, 4, 4, seed=7)) < 1
    with pytest.raises(VectorError, match=r"^x: vectors are all the same vector"):
        geometry.procrustes(torch.ones(5, 3), y[:5])


def test_knn_null_reuses_the_source_adjacency_and_chunks_when_too_large(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """x's permuted neighbour sets are built once for every target on the same permutations;
    a stack too large to keep is built in chunks and gives the same null."""
    x, y = _data(60, 8, 6, seed=9)
    g = torch.Generator().manual_seed(2)
    perms = torch.stack([torch.randperm(60, generator=g) for _ in range(5)])
    nx = geometry.knn_side(x)
    targets = [y, y + 0.5 * torch.randn(y.shape, generator=g, dtype=torch.float64)]
    got = [geometry.knn_permuted(nx, geometry.knn_side(t), perms) for t in targets]
    stack = nx.permuted._stack
    geometry.knn_permuted(nx, geometry.knn_side(targets[1]), perms)
    assert stack is not None and nx.permuted._stack is stack  # read, not rebuilt
    for t, values in zip(targets, got, strict=True):
        assert values.tolist() == pytest.approx([geometry.mutual_knn(x, t[p]) for p in perms],
                                                abs=1e-12)
    monkeypatch.setattr(geometry, "DEFAULT_MAX_BYTES", 2 * 60 * 60)
    monkeypatch.setattr("crossling.similarity.permuted._CHUNK_BYTES", 2 * 60 * 60)
    chunked = geometry.knn_permuted(geometry.knn_side(x), geometry.knn_side(y), perms)
    assert chunked.tolist() == got[0].tolist()
