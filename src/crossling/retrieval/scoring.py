"""Scoring parallel sentence vectors: the n x n score matrix of each variant and P@1.

Three scorings of a query against its candidates (`docs/retrieval.md` has the formulas):
plain cosine; cosine after removing each language's mean vector (`centred`, Libovický et al.
2020: a language-wide offset cannot decide the nearest neighbour); and the ratio margin over
cosine (Artetxe & Schwenk 2019), which discounts hub candidates. Query i's translation is
candidate i. One n x n product per layer serves all three variants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.retrieval.metrics import MARGIN_K, VARIANTS, metric_id, min_sentences
from crossling.retrieval.resampling import Resamples, estimates
from crossling.retrieval.settings import ScoringSettings, variant_list
from crossling.similarity.checks import checked_pair
from crossling.similarity.null import Estimate

_EPS = 1e-12
"""Smallest norm a vector is divided by (as `torch.nn.functional.normalize`): a zero vector
scores 0 with everything instead of NaN."""


def cosine_scores(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[n_x, n_y] cosine similarities of the rows of ``x`` and ``y`` (a zero row scores 0), in
    float32 (the vectors' precision; float64 would double the time of the n x n product)."""
    xn = torch.nn.functional.normalize(x.float(), dim=-1, eps=_EPS)
    yn = torch.nn.functional.normalize(y.float(), dim=-1, eps=_EPS)
    return xn @ yn.T


def centre(x: torch.Tensor) -> torch.Tensor:
    """``x`` minus its mean row: the language's mean vector removed (Libovický et al. 2020)."""
    return x - x.mean(dim=0, keepdim=True)


def margin_scores(cos: torch.Tensor, k: int = MARGIN_K) -> torch.Tensor:
    """Ratio margin scores (Artetxe & Schwenk 2019) from a [n_x, n_y] cosine matrix.

    Row i's neighbourhood is its k highest cosines (the k nearest candidates of the other
    language), column j's its k highest; ``margin = cos / ((mean_row + mean_col) / 2)``, i.e.
    the published ``cos / (sum_NN(x) cos / 2k + sum_NN(y) cos / 2k)``.
    """
    if not 1 <= k <= min(cos.shape):
        raise ConfigError(f"margin k = {k}: must be in [1, {min(cos.shape)}] (the number of "
                          "candidates)")
    rx = cos.topk(k, dim=1).values.mean(dim=1)  # each query x: mean cos to its k nearest y
    ry = cos.T.contiguous().topk(k, dim=1).values.mean(dim=1)  # each y: its k nearest x
    return cos / ((rx[:, None] + ry[None, :]) / 2)


def score_matrices(x: torch.Tensor, y: torch.Tensor, variants: Sequence[str] = VARIANTS,
                   k: int = MARGIN_K) -> dict[str, torch.Tensor]:
    """The [n, n] score matrix of each variant (rows: ``x`` = source, columns: ``y`` = target).

    One n x n matrix product serves all three: the dot products of the centred vectors,
    ``Gc = (x - mx)(y - my)^T``, and the plain ones as ``Gc`` plus rank-one terms,
    ``x_i . y_j = Gc_ij + (x_i - mx) . my + mx . (y_j - my) + mx . my`` (computed this way
    round, large terms are added to small ones: no cancellation). The means are taken in
    float64, the product in float32. Plain cosine is shared by the margin.
    """
    chosen = variant_list("variants", variants)
    x64, y64 = x.double(), y.double()
    mx, my = x64.mean(dim=0), y64.mean(dim=0)
    xc, yc = (x64 - mx).float(), (y64 - my).float()
    gc = xc @ yc.T
    out: dict[str, torch.Tensor] = {}
    if "centred" in chosen:
        out["centred"] = gc / torch.outer(xc.norm(dim=1).clamp_min(_EPS),
                                          yc.norm(dim=1).clamp_min(_EPS))
    if {"cosine", "margin"} & set(chosen):
        dots = gc + (xc @ my.float())[:, None] + (yc @ mx.float())[None, :] + float(mx @ my)
        cos = dots / torch.outer(x.float().norm(dim=1).clamp_min(_EPS),
                                 y.float().norm(dim=1).clamp_min(_EPS))
        if "cosine" in chosen:
            out["cosine"] = cos
        if "margin" in chosen:
            out["margin"] = margin_scores(cos, k)
    return {v: out[v] for v in chosen}


def retrieved(scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """The index each query retrieves: ``s2t`` = best column of each row, ``t2s`` = best row
    of each column. Query i's translation is candidate i (rows of parallel sentences)."""
    return {"s2t": scores.argmax(dim=1), "t2s": scores.T.contiguous().argmax(dim=1)}


def retrieve(x: torch.Tensor, y: torch.Tensor, variants: Sequence[str] = VARIANTS,
             k: int = MARGIN_K) -> dict[str, torch.Tensor]:
    """The candidate each query retrieves, keyed by metric id (`metric_id`)."""
    return {metric_id(v, d): picked for v, scores in score_matrices(x, y, variants, k).items()
            for d, picked in retrieved(scores).items()}


def check_size(n: int, settings: ScoringSettings) -> None:
    """A one-line ConfigError when ``n`` sentences are too few for the variants."""
    need = min_sentences(settings.variants, settings.k)
    if n < need:
        raise ConfigError(f"retrieval needs at least {need} sentences, got {n}")


def precision_at_1(x: Any, y: Any, settings: ScoringSettings | None = None, *,
                   resamples: Resamples | None = None) -> dict[str, Estimate]:
    """P@1 of every (variant, direction) between paired rows ``x`` [n, d_x] and ``y`` [n, d_y],
    keyed by metric id, each with its interval and null.

    ``resamples`` (drawn by `Resamples.draw` for this n) lets many calls share one draw;
    otherwise it is drawn from the settings' seed. ``n_boot = 0`` / ``n_null = 0``: NaN
    interval / null percentile. ``x`` and ``y`` may be tensors, NumPy arrays or lists of rows;
    non-finite or (near-)constant vectors are refused with one line.
    """
    s = settings if settings is not None else ScoringSettings()
    x, y = checked_pair(x, y)
    n = x.shape[0]
    check_size(n, s)
    dev = pick_device(s.device) if s.device is not None else x.device
    res = resamples if resamples is not None else Resamples.draw(n, s.n_boot, s.n_null, s.seed,
                                                                 dev)
    if res.size not in (None, n):
        raise ValueError(f"resamples drawn for {res.size} sentences, not {n}")
    picks = retrieve(x.to(dev), y.to(dev), s.variants, s.k)
    return dict(zip(picks, estimates(torch.stack(list(picks.values())), res), strict=True))
