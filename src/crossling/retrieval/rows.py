"""Retrieval rows: per-layer P@1 of source vs each target, from vectors or from an encoder.

Rows are `SimilarityRow`s (``kind = "retrieval"``) so the store, the CSV writers and the report
need no new schema. Vectors come from the similarity extraction cache: a language encoded once
serves `crossling similarity`, retrieval and every variant. Every analysed layer is checked
before any scoring; the resamples are drawn once and shared by every value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError, SettingError
from crossling.core.provenance import provenance
from crossling.data.parallel import ParallelCorpus
from crossling.models.encoder import Encoder
from crossling.models.naming import model_name
from crossling.results import RetrievalRow, SimilarityRow
from crossling.retrieval.metrics import KIND, metric_variants, min_sentences
from crossling.retrieval.resampling import Resamples, check_retrieval_memory, estimates
from crossling.retrieval.scoring import check_size, retrieve
from crossling.retrieval.settings import RetrievalSettings, check_targets
from crossling.similarity.checks import check_layers_of, check_max_length
from crossling.similarity.extract import (
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extract_cached,
    extraction_precision,
)
from crossling.similarity.pipeline import check_languages, check_layers
from crossling.similarity.uncertainty import Estimate


def _target_estimates(x: torch.Tensor, y: torch.Tensor, layers: Sequence[int],
                      s: RetrievalSettings, res: Resamples, bar: Any,
                      ) -> list[tuple[int, str, Estimate]]:
    """(layer, metric, estimate) of one target: every layer scored, then all resampled at once."""
    keys: list[tuple[int, str]] = []
    picks: list[torch.Tensor] = []
    dev = _scoring_device(s, x)
    for layer in layers:
        for metric, picked in retrieve(x[layer].to(dev), y[layer].to(dev), s.variants,
                                       s.k).items():
            keys.append((layer, metric))
            picks.append(picked)
        bar.update(1)
    return [(layer, metric, e) for (layer, metric), e
            in zip(keys, estimates(torch.stack(picks), res), strict=True)]


def _scoring_device(s: RetrievalSettings, x: torch.Tensor) -> torch.device:
    """Where scoring runs: the settings' device, else the vectors'."""
    return pick_device(s.device) if s.device is not None else x.device


def retrieval_rows(vectors: Mapping[str, torch.Tensor], source: str, targets: Sequence[str], *,
                   model: str, settings: RetrievalSettings | None = None,
                   prov: dict[str, Any] | None = None) -> list[SimilarityRow]:
    """Retrieval rows of ``source`` vs each target from per-layer vectors ``vectors[lang]``
    [layers, n, d] (rows are parallel sentences), for the settings' layers (all when None),
    one per (target, layer, variant, direction). ``model`` names the model in the rows and
    ``prov`` is their provenance."""
    s = settings if settings is not None else RetrievalSettings()
    targets = check_targets(source, targets) or []
    first = vectors[source]
    picked_layers = check_layers(s.layers, first.shape[0])
    n = first.shape[1]
    check_size(n, s)
    check_retrieval_memory(n, s.n_boot, s.n_null, len(picked_layers) * len(s.variants) * 2)
    for lang in [source, *targets]:
        check_layers_of(vectors[lang], picked_layers, lang)
    res = Resamples.draw(n, s.n_boot, s.n_null, s.seed, _scoring_device(s, first))
    rows: list[SimilarityRow] = []
    with tqdm(total=len(targets) * len(picked_layers), desc="retrieval", unit="layer",
              disable=not s.progress) as bar:
        for tgt in targets:
            if vectors[tgt].shape[:2] != first.shape[:2]:
                raise ValueError(f"{tgt}: vectors {tuple(vectors[tgt].shape)} do not pair with "
                                 f"{source}'s {tuple(first.shape)}")
            for layer, metric, e in _target_estimates(first, vectors[tgt], picked_layers, s,
                                                      res, bar):
                rows.append(RetrievalRow(
                    source=source, target=tgt, layer=layer, metric=metric,
                    value=e.value, ci_low=e.ci_low, ci_high=e.ci_high, null_mean=e.null_mean,
                    null_high=e.null_high, n=e.n, pooling=s.pooling, model=model,
                    provenance=dict(prov or {})))
    return rows


def check_corpus(corpus: ParallelCorpus, source: str, targets: Sequence[str],
                 settings: RetrievalSettings) -> ParallelCorpus:
    """The corpus's first ``settings.n`` sentences, checked before any model or encoding: the
    languages are in it, it has n sentences and at least as many as the variants need, and the
    resamples fit in memory."""
    languages = [source, *targets]
    check_languages(corpus, languages)
    n = settings.n
    if n is not None and len(corpus) < n:
        raise SettingError("n", f"must be <= {len(corpus)}, the parallel sentences of "
                                f"{', '.join(languages)}, got {n}")
    corpus = corpus.head(n)
    need = min_sentences(settings.variants, settings.k)
    if len(corpus) < need:
        raise ConfigError(f"{len(corpus)} parallel sentences: retrieval needs at least {need}")
    check_retrieval_memory(len(corpus), settings.n_boot, settings.n_null)
    return corpus


def _encode(encoder: Encoder, texts: Mapping[str, Sequence[str]], s: RetrievalSettings,
            cache_dir: str | Path | None, max_length: int, layers: Sequence[int],
            ) -> dict[str, torch.Tensor]:
    """Each language's per-layer vectors (cached), its ``layers`` checked once encoded."""
    vectors = {}
    for lang, sentences in texts.items():
        vectors[lang] = extract_cached(encoder, sentences, s.pooling, cache_dir,
                                       max_length=max_length, batch_tokens=s.batch_tokens,
                                       progress=s.progress, precision=s.precision,
                                       desc=f"encode {lang}")
        check_layers_of(vectors[lang], layers, lang)
    return vectors


def cross_lingual_retrieval(encoder: Encoder, corpus: ParallelCorpus, source: str, *,
                            targets: Sequence[str], settings: RetrievalSettings | None = None,
                            cache_dir: str | Path | None = None) -> list[SimilarityRow]:
    """Per-layer P@1 of retrieving each parallel sentence's translation, ``source`` vs each
    target, both directions, for each variant: one row per (target, layer, variant, direction).

    Each language is encoded once (the extraction cache, shared with `crossling similarity`
    when ``cache_dir`` is the same); every variant reuses those vectors. Scoring runs on the
    settings' device (default: the encoder's). Each language's vectors are checked once
    encoded, before any scoring.
    """
    s = settings if settings is not None else RetrievalSettings()
    targets = check_targets(source, targets) or []
    corpus = check_corpus(corpus, source, targets, s)
    layers = check_layers(s.layers, encoder.num_layers + 1)
    max_length = check_max_length(encoder.model, s.max_length, encoder.name)
    metric_device = pick_device(s.device) if s.device is not None else encoder.device
    languages = [source, *targets]
    vectors = _encode(encoder, {lang: corpus.texts[lang] for lang in languages}, s, cache_dir,
                      max_length, layers)
    chosen = list(s.variants)
    prov = provenance(
        data_files=[corpus.files[lang] for lang in languages], device=metric_device,
        analysis=KIND, model=model_name(encoder.name),
        model_fingerprint=encoder_fingerprint(encoder),
        tokenizer_fingerprint=encoder_tokenizer_fingerprint(encoder),
        extraction_precision=extraction_precision(encoder, s.precision), pooling=s.pooling,
        seed=s.seed, n_boot=s.n_boot, n_null=s.n_null, n_sentences=len(corpus),
        retrieval_variants=chosen, margin_k=s.k,
        metric_variants=metric_variants(chosen, s.k, s.n_boot), max_length=max_length)
    return retrieval_rows(vectors, source, targets, model=model_name(encoder.name),
                          settings=s.replace(device=str(metric_device)), prov=prov)
