"""Decoding arc scores into a well-formed dependency tree.

The maximum spanning arborescence is TurboParser's Chu-Liu-Edmonds (``ufal.chu_liu_edmonds``),
plus UD's single-root constraint: when the best tree has several root children, each is tried
with the other root arcs forbidden and the best tree wins (Stanza's and Dozat et al.'s exact
search: at most n MST runs of O(n^2) in C).
"""

from __future__ import annotations

import numpy as np
import ufal.chu_liu_edmonds as cle


def _mst(scores: np.ndarray) -> tuple[list[int], float]:
    heads, total = cle.chu_liu_edmonds(scores)
    return list(heads), float(total)


def decode_tree(scores: np.ndarray) -> list[int]:
    """Heads (1-based, 0 = root) of the best single-root tree.

    ``scores[d, h]`` is the log-score of word ``d`` taking ``h`` as head over the (n+1) x (n+1)
    matrix including the root at index 0; the root's own row and the diagonal are ignored.
    Returns a list of n heads: exactly one is 0, and following heads never cycles.
    """
    n = scores.shape[0] - 1
    if n <= 0:
        return []
    s = np.array(scores, dtype=np.float64, copy=True)
    s[~np.isfinite(s)] = -1e9  # the C code treats NaN as "no arc": keep forbidden arcs finite
    s = s - s.max() - 1.0  # all arcs < 0: the C code ignores scores within tol of zero
    np.fill_diagonal(s, np.nan)
    s[0, :] = np.nan
    heads, _ = _mst(s)
    words = heads[1:]
    if sum(1 for h in words if h == 0) == 1:
        return words
    best: tuple[float, list[int]] | None = None
    for root_child in range(1, n + 1):
        t = s.copy()
        t[1:, 0] = np.nan
        t[root_child, 0] = s[root_child, 0]
        cand, _ = _mst(t)
        total = sum(s[d, cand[d]] for d in range(1, n + 1))
        if best is None or total > best[0]:
            best = (total, cand[1:])
    if best is None:  # unreachable: n >= 1 root children were tried
        raise RuntimeError("decode_tree: no candidate tree")
    return best[1]


def is_tree(heads: list[int]) -> bool:
    """True if ``heads`` (1-based, 0 = root) form a tree with exactly one root child."""
    n = len(heads)
    if sum(1 for h in heads if h == 0) != 1 or any(not 0 <= h <= n for h in heads):
        return False
    for start in range(1, n + 1):
        seen, node = set(), start
        while node != 0:
            if node in seen:
                return False
            seen.add(node)
            node = heads[node - 1]
    return True
