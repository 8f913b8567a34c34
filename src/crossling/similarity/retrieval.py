"""Parallel sentence retrieval per layer: can a translation actually be *found*?

CKA says that two languages' sentence vectors are similar as sets; retrieval asks the sharper
question a reader of "First Align, then Predict" asks next: given an English sentence, is its
French translation the nearest of the n French candidates? For the source and each target, per
layer, this module computes precision@1 (P@1, the share of queries whose best-scoring candidate
is their translation) in both directions -- source queries among target candidates (``s2t``) and
target queries among source candidates (``t2s``) -- for three scorings (:data:`VARIANTS`):

- ``cosine``: plain cosine similarity of the pooled vectors;
- ``centred``: cosine after subtracting each language's mean vector over the n sentences, the
  "language-neutral" representation of Libovický et al. (2020): a language-specific offset
  shared by all sentences of a language cannot decide the nearest neighbour any more;
- ``margin``: the ratio margin of Artetxe & Schwenk (2019) over plain cosine, with k = 4
  (:data:`MARGIN_K`) nearest neighbours in each direction::

      margin(x, y) = cos(x, y) / (sum_{z in NN_k(x)} cos(x, z) / 2k
                                  + sum_{z in NN_k(y)} cos(y, z) / 2k)

  where NN_k(x) are the k candidates of the other language nearest to x. It discounts "hubs",
  candidates that are close to every query. The score is symmetric, so one matrix serves both
  directions. (Its denominator is the neighbourhood's mean cosine, positive for real sentence
  vectors; the formula is used as published.)

Uncertainty, as for every number crossling reports:

- ``ci_low``/``ci_high``: a 95% percentile bootstrap interval over *query* sentences: the queries
  are resampled with replacement (``n_boot`` resamples), each keeps the retrieval result it had
  against the fixed pool of all n candidates, and P@1 is the mean over the resampled queries.
  The pool is not resampled: P@1 is defined for a pool of n candidates (a larger pool is a
  harder task), so the interval is the sampling uncertainty of the query set at that pool size.
  The same resamples (one ``seed``) serve every layer, target, variant and direction, so
  intervals are paired across them;
- ``null_mean``: the chance level 1/n. It is also the exact expectation of P@1 under shuffled
  pairs (each query's gold candidate replaced by a random permutation's: whatever a query
  retrieves, it hits a uniformly random gold with probability 1/n), so no permutation is
  needed for the mean;
- ``null_high``: the 95th percentile of P@1 under ``n_null`` shuffled pairings (the retrieved
  candidates compared with a permuted gold mapping: the same as retrieving against row-permuted
  candidates, since every scoring is permutation-equivariant). A P@1 above it is retrieval that
  non-parallel sentences do not produce.

Rows are :class:`~crossling.results.SimilarityRow` with ``kind = "retrieval"`` and one metric
id per (variant, direction) (:data:`RETRIEVAL_METRICS`, e.g. ``retrieval_p1_centred_t2s``), so
the store, the CSV writers and the report read them with no schema change; ``value`` is P@1 in
[0, 1]. Vectors come from :func:`~crossling.similarity.extract.extract_cached` (the same cache as
``crossling similarity``: a language encoded once serves both analyses and every variant).
Everything is vectorised torch on the [n, d] vectors of a layer (an n x n score matrix per
layer and variant).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from crossling.core.checks import check_count, check_integer, check_seed
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.core.provenance import provenance
from crossling.data.parallel import ParallelCorpus
from crossling.models.encoder import Encoder, load_encoder
from crossling.models.names import check_model_name
from crossling.results import RetrievalRow, SimilarityRow
from crossling.similarity.checks import (
    as_names,
    check_layers_of,
    check_max_length,
    check_memory,
    checked_pair,
)
from crossling.similarity.extract import (
    BATCH_TOKENS,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extract_cached,
    extraction_precision,
)
from crossling.similarity.null import Estimate, check_resampling
from crossling.similarity.pipeline import check_languages, check_layers
from crossling.similarity.service import parallel_corpus

KIND = "retrieval"
"""``SimilarityRow.kind`` of retrieval rows."""

VARIANTS = ("cosine", "centred", "margin")
"""Scorings, in display order; ``cosine`` is the default one (CLI table)."""

DIRECTIONS = ("s2t", "t2s")
"""``s2t``: source queries, target candidates; ``t2s``: target queries, source candidates."""

MARGIN_K = 4
"""Nearest neighbours per direction in the margin's denominator (Artetxe & Schwenk 2019)."""

VARIANT_DESCRIPTIONS = {
    "cosine": "precision@1 of retrieving the translation among the n candidates by cosine "
              "similarity of the pooled vectors",
    "centred": "precision@1 by cosine after subtracting each language's mean vector over the n "
               "sentences (language-neutral centring, Libovický et al. 2020)",
    "margin": "precision@1 by ratio margin score over cosine, k nearest neighbours in each "
              "direction (Artetxe & Schwenk 2019)",
}

DIRECTION_DESCRIPTIONS = {
    "s2t": "queries: source sentences; candidates: all n target sentences",
    "t2s": "queries: target sentences; candidates: all n source sentences",
}

INTERVAL = ("95% percentile bootstrap over query sentences (queries resampled with "
            "replacement, candidate pool fixed at all n)")
NULL = ("null_mean: chance 1/n, the exact expectation of P@1 under shuffled pairs; null_high: "
        "95th percentile of P@1 under n_null random permutations of the gold pairing")


def metric_id(variant: str, direction: str) -> str:
    """The row metric of one (variant, direction): ``retrieval_p1[_<variant>]_<direction>``
    (plain cosine has no variant infix: ``retrieval_p1_s2t``)."""
    base = "retrieval_p1" if variant == "cosine" else f"retrieval_p1_{variant}"
    return f"{base}_{direction}"


RETRIEVAL_METRICS: Mapping[str, tuple[str, str]] = {
    metric_id(v, d): (v, d) for v in VARIANTS for d in DIRECTIONS}
"""Every retrieval metric id -> (variant, direction)."""


def parse_metric(metric: str) -> tuple[str, str]:
    """(variant, direction) of a retrieval metric id; ValueError for any other id."""
    try:
        return RETRIEVAL_METRICS[metric]
    except KeyError:
        raise ValueError(f"{metric!r} is not a retrieval metric") from None


def check_variants(variants: Sequence[str], option: str = "variants") -> list[str]:
    """The variants, validated: known, at least one, none twice (one-line ConfigError naming
    ``option``); a bare string is one variant."""
    chosen = as_names(variants, option) or []
    if not chosen:
        raise ConfigError(f"{option}: empty (available: {', '.join(VARIANTS)})")
    for v in chosen:
        if v not in VARIANTS:
            raise ConfigError(f"{option}: unknown retrieval variant {v!r} (available: "
                              f"{', '.join(VARIANTS)})")
    dupes = sorted({v for v in chosen if chosen.count(v) > 1})
    if dupes:
        raise ConfigError(f"{option}: {dupes[0]!r} given more than once")
    return chosen


def min_sentences(variants: Sequence[str], k: int = MARGIN_K) -> int:
    """Fewest sentences retrieval is defined on: 2 (one wrong candidate per query), and k for
    the margin (its neighbourhoods hold k candidates)."""
    return max(2, k) if "margin" in variants else 2


# --- scoring ---------------------------------------------------------------------------------

_EPS = 1e-12
"""Smallest norm a vector is divided by (as :func:`torch.nn.functional.normalize`): a zero
vector scores 0 with everything instead of NaN."""


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
    chosen = check_variants(variants)
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
    """The candidate each query retrieves, keyed by metric id (:func:`metric_id`)."""
    return {metric_id(v, d): picked for v, scores in score_matrices(x, y, variants, k).items()
            for d, picked in retrieved(scores).items()}


# --- uncertainty -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resamples:
    """Bootstrap multiplicities and shuffled gold mappings, drawn once for a seed and shared by
    every layer, target, variant and direction (paired intervals, and no redrawing)."""

    weights: torch.Tensor | None
    """[n, n_boot] how often each query is drawn in each resample (integer counts, so that a
    P@1 of hits @ counts / n is exact: all hits give 1.0, not 1.0000000000000002)."""
    perms: torch.Tensor | None
    """[n_null, n] random permutations: the shuffled gold candidate of each query."""

    @property
    def size(self) -> int | None:
        """The number of sentences the resamples were drawn for (None: neither was drawn)."""
        if self.weights is not None:
            return int(self.weights.shape[0])
        return int(self.perms.shape[1]) if self.perms is not None else None

    @classmethod
    def draw(cls, n: int, n_boot: int, n_null: int, seed: int,
             device: torch.device | None = None) -> Resamples:
        n_boot, n_null, seed = check_resampling(n_boot, n_null, seed)
        check_retrieval_memory(n, n_boot, n_null)
        gen = torch.Generator().manual_seed(seed)
        weights = perms = None
        if n_boot > 0:
            idx = torch.randint(0, n, (n_boot, n), generator=gen)
            counts = torch.zeros(n_boot, n, dtype=torch.float64)
            counts.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
            weights = counts.T.contiguous().to(device)
        if n_null > 0:
            perms = torch.rand(n_null, n, generator=gen).argsort(dim=1).to(device)
        return cls(weights, perms)


BOOT_BYTES = 32
"""Bytes per query sentence and bootstrap resample while the resamples are drawn and held
(int64 indices, float64 counts and their transposed copy; peak RSS measured: ~24)."""

NULL_BYTES = 24
"""Bytes per query sentence and shuffled pairing (float32 keys, int64 permutations, a copy;
measured: ~21)."""

ROW_BYTES = 40
"""Bytes per P@1 series (layer, variant, direction) and resample or pairing: the resampled
P@1 values in float64 and the sorted copies of their quantiles."""


def retrieval_bytes(n: int, n_boot: int, n_null: int, series: int = 0) -> float:
    """Estimated peak bytes of the resamples of ``n`` sentences and of ``series`` P@1 series'
    resampled values (:data:`BOOT_BYTES`, :data:`NULL_BYTES`, :data:`ROW_BYTES`)."""
    return (float(n) * (n_boot * BOOT_BYTES + n_null * NULL_BYTES)
            + float(series) * (n_boot + n_null) * ROW_BYTES)


def check_retrieval_memory(n: int, n_boot: int, n_null: int, series: int = 0,
                           limit: int | None = None) -> None:
    """A one-line ConfigError, before any resample is drawn, when :func:`retrieval_bytes`
    exceeds the available memory (:func:`~crossling.similarity.checks.check_memory`)."""
    check_memory(retrieval_bytes(n, n_boot, n_null, series),
                 f"n_boot = {n_boot}, n_null = {n_null}: the retrieval resamples of {n} "
                 "sentences", limit)


_NULL_CHUNK = 1 << 25
"""Most elements of the boolean mask compared at once for the shuffled-pairs null (32 MB)."""


def estimates(picked: torch.Tensor, res: Resamples) -> list[Estimate]:
    """P@1 of each row of retrieval results ``picked`` [m, n] (query i retrieved candidate
    ``picked[r, i]``), with its bootstrap interval over queries, chance and shuffled-pairs
    95th percentile: all m rows at once (one product with the resample counts, one comparison
    with the permutations)."""
    m, n = picked.shape
    hits = (picked == torch.arange(n, device=picked.device)).double()
    values = hits.mean(dim=1).tolist()
    lo = hi = null_high = [float("nan")] * m
    if res.weights is not None:
        boots = hits @ res.weights.to(hits.device) / n  # [m, n_boot]
        qs = torch.quantile(boots, torch.tensor([0.025, 0.975], dtype=torch.float64,
                                                device=boots.device), dim=1)
        lo, hi = qs[0].tolist(), qs[1].tolist()
    if res.perms is not None:
        perms = res.perms.to(picked.device)
        step = max(1, _NULL_CHUNK // (perms.numel() or 1))  # bounds the [rows, n_null, n] mask
        nulls = torch.cat([(perms[None] == part[:, None, :]).sum(dim=2)
                           for part in picked.split(step)]) / n
        null_high = torch.quantile(nulls.double(), 0.95, dim=1).tolist()
    label = INTERVAL if res.weights is not None else "no interval (n_boot = 0)"
    return [Estimate(values[r], lo[r], hi[r], 1.0 / n, null_high[r], n, label)
            for r in range(m)]


def precision_at_1(x: torch.Tensor, y: torch.Tensor, *, variants: Sequence[str] = VARIANTS,
                   n_boot: int = 1000, n_null: int = 200, seed: int = 0, k: int = MARGIN_K,
                   device: torch.device | str | None = None,
                   resamples: Resamples | None = None) -> dict[str, Estimate]:
    """P@1 of every (variant, direction) between paired rows ``x`` [n, d_x] and ``y`` [n, d_y],
    keyed by metric id (:func:`metric_id`), each with its interval and null.

    ``resamples`` (drawn by :meth:`Resamples.draw` for this n) lets many calls share one draw;
    otherwise it is drawn from ``seed``. ``n_boot = 0`` / ``n_null = 0``: NaN interval / null
    percentile. ``x`` and ``y`` may be tensors, NumPy arrays or lists of rows; non-finite or
    (near-)constant vectors are refused with one line
    (:func:`~crossling.similarity.checks.check_vectors`).
    """
    chosen = check_variants(variants)
    k = check_count("k", k, 1)
    x, y = checked_pair(x, y)
    n = x.shape[0]
    need = min_sentences(chosen, k)
    if n < need:
        raise ConfigError(f"retrieval needs at least {need} sentences, got {n}")
    dev = pick_device(str(device)) if device is not None else x.device
    res = resamples if resamples is not None else Resamples.draw(n, n_boot, n_null, seed, dev)
    if res.size not in (None, n):
        raise ValueError(f"resamples drawn for {res.size} sentences, not {n}")
    picks = retrieve(x.to(dev), y.to(dev), chosen, k)
    return dict(zip(picks, estimates(torch.stack(list(picks.values())), res), strict=True))


# --- rows ------------------------------------------------------------------------------------


def retrieval_rows(vectors: Mapping[str, torch.Tensor], source: str, targets: Sequence[str], *,
                   model: str, pooling: str = "mean", prov: dict[str, Any] | None = None,
                   layers: Sequence[int] | None = None, variants: Sequence[str] = VARIANTS,
                   n_boot: int = 1000, n_null: int = 200, seed: int = 0, k: int = MARGIN_K,
                   device: torch.device | str | None = None,
                   progress: bool = False) -> list[SimilarityRow]:
    """Retrieval rows of ``source`` vs each target from per-layer vectors
    ``vectors[lang]`` [layers, n, d] (rows are parallel sentences), for ``layers`` (all when
    None). The resamples are drawn once (``seed``) and shared by every value; the intervals of
    all layers, variants and directions of a target are computed together. The vectors of
    every analysed layer are checked first (non-finite or (near-)constant: one line naming the
    layer and the language, :func:`~crossling.similarity.checks.check_layers_of`)."""
    chosen = check_variants(variants)
    targets = as_names(targets, "targets") or []
    k = check_count("k", k, 1)
    first = vectors[source]
    picked_layers = check_layers(layers, first.shape[0])
    n = first.shape[1]
    if n < min_sentences(chosen, k):
        raise ConfigError(f"retrieval needs at least {min_sentences(chosen, k)} sentences, "
                          f"got {n}")
    n_boot, n_null, seed = check_resampling(n_boot, n_null, seed)
    check_retrieval_memory(n, n_boot, n_null, len(picked_layers) * len(chosen) * 2)
    for lang in [source, *targets]:
        check_layers_of(vectors[lang], picked_layers, lang)
    dev = pick_device(str(device)) if device is not None else first.device
    res = Resamples.draw(n, n_boot, n_null, seed, dev)
    rows: list[SimilarityRow] = []
    with tqdm(total=len(targets) * len(picked_layers), desc="retrieval", unit="layer",
              disable=not progress) as bar:
        for tgt in targets:
            if vectors[tgt].shape[:2] != first.shape[:2]:
                raise ValueError(f"{tgt}: vectors {tuple(vectors[tgt].shape)} do not pair with "
                                 f"{source}'s {tuple(first.shape)}")
            keys: list[tuple[int, str]] = []
            picks: list[torch.Tensor] = []
            for layer in picked_layers:
                for metric, picked in retrieve(first[layer].to(dev), vectors[tgt][layer].to(dev),
                                               chosen, k).items():
                    keys.append((layer, metric))
                    picks.append(picked)
                bar.update(1)
            for (layer, metric), e in zip(keys, estimates(torch.stack(picks), res),
                                          strict=True):
                rows.append(RetrievalRow(
                    source=source, target=tgt, layer=layer, metric=metric,
                    value=e.value, ci_low=e.ci_low, ci_high=e.ci_high, null_mean=e.null_mean,
                    null_high=e.null_high, n=e.n, pooling=pooling, model=model,
                    provenance=dict(prov or {})))
    return rows


def metric_variants(variants: Sequence[str], k: int, n_boot: int) -> dict[str, str]:
    """Provenance definitions of the metrics, the interval and the null."""
    out = {metric_id(v, d): f"{VARIANT_DESCRIPTIONS[v]}; {DIRECTION_DESCRIPTIONS[d]}"
           + (f"; k = {k}" if v == "margin" else "") for v in variants for d in DIRECTIONS}
    out["interval"] = INTERVAL if n_boot > 0 else "no interval (n_boot = 0)"
    out["null"] = NULL
    return out


def check_settings(corpus: ParallelCorpus, source: str, targets: Sequence[str],
                   variants: Sequence[str], n_boot: int, n_null: int, k: int,
                   batch_tokens: int) -> list[str]:
    """One-line ConfigErrors for settings that would give garbage instead of an error; the
    validated variants."""
    chosen = check_variants(variants)
    check_resampling(n_boot, n_null, 0)
    check_count("k", k, 1)
    check_count("batch_tokens", batch_tokens, 1)
    if source in targets:
        raise ConfigError(f"source language {source!r} is also a target")
    dupes = sorted({t for t in targets if list(targets).count(t) > 1})
    if dupes:
        raise ConfigError(f"language {dupes[0]!r} given more than once")
    check_languages(corpus, [source, *targets])
    need = min_sentences(chosen, k)
    if len(corpus) < need:
        raise ConfigError(f"{len(corpus)} parallel sentences: retrieval needs at least {need}")
    check_retrieval_memory(len(corpus), n_boot, n_null)
    return chosen


def cross_lingual_retrieval(encoder: Encoder, corpus: ParallelCorpus, source: str, *,
                            targets: Sequence[str], variants: Sequence[str] = VARIANTS,
                            pooling: str = "mean", n_boot: int = 1000, n_null: int = 200,
                            seed: int = 0, k: int = MARGIN_K,
                            cache_dir: str | Path | None = None,
                            layers: Sequence[int] | None = None, max_length: int | None = None,
                            batch_tokens: int = BATCH_TOKENS, progress: bool = True,
                            device: torch.device | str | None = None,
                            autocast: bool | None = None) -> list[SimilarityRow]:
    """Per-layer P@1 of retrieving each parallel sentence's translation, ``source`` vs each
    target, both directions, for each variant: one row per (target, layer, variant, direction).

    Each language is encoded once (:func:`~crossling.similarity.extract.extract_cached`, shared
    with ``crossling similarity`` when ``cache_dir`` is the same); every variant reuses those
    vectors. ``device`` runs the scoring (default: the encoder's device); ``autocast`` as in
    :func:`~crossling.similarity.extract.extract`; ``max_length`` as in
    :func:`~crossling.similarity.pipeline.cross_lingual_similarity`. Each language's vectors
    are checked once encoded, before any scoring.
    """
    targets = as_names(targets, "targets") or []
    chosen = check_settings(corpus, source, targets, variants, n_boot, n_null, k, batch_tokens)
    check_seed(seed)
    picked_layers = check_layers(layers, encoder.num_layers + 1)
    max_length = check_max_length(encoder.model, max_length, encoder.name)
    metric_device = pick_device(str(device)) if device is not None else encoder.device
    vectors = {}
    for lang in [source, *targets]:
        vectors[lang] = extract_cached(encoder, corpus.texts[lang], pooling, cache_dir,
                                       max_length=max_length, batch_tokens=batch_tokens,
                                       progress=progress, autocast=autocast,
                                       desc=f"encode {lang}")
        check_layers_of(vectors[lang], picked_layers, lang)
    prov = provenance(
        data_files=[corpus.files[lang] for lang in [source, *targets]], device=metric_device,
        analysis=KIND, model=encoder.name, model_fingerprint=encoder_fingerprint(encoder),
        tokenizer_fingerprint=encoder_tokenizer_fingerprint(encoder),
        extraction_precision=extraction_precision(encoder, autocast), pooling=pooling,
        seed=seed, n_boot=n_boot, n_null=n_null, n_sentences=len(corpus),
        retrieval_variants=chosen, margin_k=k,
        metric_variants=metric_variants(chosen, k, n_boot), max_length=max_length)
    return retrieval_rows(vectors, source, list(targets), model=encoder.name, pooling=pooling,
                          prov=prov, layers=layers, variants=chosen, n_boot=n_boot,
                          n_null=n_null, seed=seed, k=k, device=metric_device,
                          progress=progress)


def run_retrieval(*, model: str | Encoder, ud: str | Path, source: str,
                  targets: Sequence[str] | None = None, n: int | None = None,
                  variants: Sequence[str] = VARIANTS, pooling: str = "mean",
                  n_boot: int = 1000, n_null: int = 200, seed: int = 0, k: int = MARGIN_K,
                  layers: Sequence[int] | None = None, batch_tokens: int = BATCH_TOKENS,
                  device: str | None = None, cache_dir: str | Path | None = None,
                  n_option: str = "n", progress: bool = True) -> list[SimilarityRow]:
    """The retrieval workflow as one call (``crossling retrieval``, a study's ``retrieval``
    cell): validate the device and the variants, align the PUD files of ``source`` and
    ``targets`` (every other PUD language when None) by ``sent_id``, load ``model`` (a name or
    folder, or an :class:`~crossling.models.encoder.Encoder`), and return
    :func:`cross_lingual_retrieval`'s rows. ``targets``/``n``/``n_option`` as in
    :func:`crossling.similarity.service.parallel_corpus`.
    """
    pick_device(device)  # a bad --device fails before data and models are read
    variants = check_variants(variants)
    check_resampling(n_boot, n_null, seed)
    k = check_count("k", k, 1)
    check_count("batch_tokens", batch_tokens, 1)
    if n is not None and check_integer(n_option, n) < min_sentences(variants, k):
        raise ConfigError(f"{n_option} {n}: retrieval needs at least "
                          f"{min_sentences(variants, k)} parallel sentences")
    as_names(targets, "targets")
    if isinstance(model, str):
        check_model_name(model, hub=False)  # a missing folder, before the data is read
    corpus, langs = parallel_corpus(ud, source, targets, n, n_option)
    check_retrieval_memory(len(corpus), n_boot, n_null)  # before the model is loaded
    encoder = model if isinstance(model, Encoder) else load_encoder(model, device=device)
    return cross_lingual_retrieval(encoder, corpus, source, targets=langs, variants=variants,
                                   pooling=pooling, n_boot=n_boot, n_null=n_null, seed=seed,
                                   k=k, cache_dir=cache_dir, layers=layers,
                                   batch_tokens=batch_tokens, progress=progress)
