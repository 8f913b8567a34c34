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
from crossling.models.languages import language_codes
from crossling.models.naming import model_name
from crossling.results import RetrievalRow, SimilarityRow
from crossling.retrieval.metrics import KIND, metric_variants, min_sentences
from crossling.retrieval.resampling import Resamples, check_retrieval_memory, estimates
from crossling.retrieval.scoring import check_size, retrieve
from crossling.retrieval.settings import RetrievalSettings, check_targets
from crossling.similarity.checks import check_layers_of, check_max_length
from crossling.similarity.extract import (
    by_layer,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extract_cached,
    extraction_precision,
    frozen_precision,
    kept_layers,
)
from crossling.similarity.memory import estimate_for, report_memory
from crossling.similarity.pipeline import check_languages, check_layers
from crossling.similarity.uncertainty import Estimate


def _target_estimates(x: Mapping[int, torch.Tensor], y: Mapping[int, torch.Tensor],
                      layers: Sequence[int], s: RetrievalSettings, res: Resamples, bar: Any,
                      ) -> list[tuple[int, str, Estimate]]:
    """(layer, metric, estimate) of one target: every layer scored, then all resampled at once."""
    keys: list[tuple[int, str]] = []
    picks: list[torch.Tensor] = []
    dev = _scoring_device(s, x[layers[0]])
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


def _per_layer(v: torch.Tensor | Mapping[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    return {i: v[i] for i in range(v.shape[0])} if isinstance(v, torch.Tensor) else dict(v)


def _pick_layers(layers: Sequence[int] | None, held: Mapping[int, torch.Tensor]) -> list[int]:
    """The settings' layers among the states ``held`` (all when None)."""
    if set(held) == set(range(len(held))):
        return check_layers(layers, len(held))
    if layers is None:
        return sorted(held)
    missing = sorted(set(layers) - set(held))
    if missing:
        raise ConfigError(f"layer {missing[0]} was not extracted (extracted: "
                          f"{', '.join(str(k) for k in sorted(held))})")
    return sorted(set(layers))


def retrieval_rows(vectors: Mapping[str, torch.Tensor | Mapping[int, torch.Tensor]],
                   source: str, targets: Sequence[str], *, model: str,
                   settings: RetrievalSettings | None = None,
                   prov: dict[str, Any] | None = None) -> list[SimilarityRow]:
    """Retrieval rows of ``source`` vs each target from per-layer vectors ``vectors[lang]``
    ([layers, n, d], or ``{layer: [n, d]}`` for a subset; rows are parallel sentences), for the
    settings' layers (all held when None), one per (target, layer, variant, direction).
    ``model`` names the model in the rows and ``prov`` is their provenance."""
    s = settings if settings is not None else RetrievalSettings()
    targets = check_targets(source, targets) or []
    held = {lang: _per_layer(vectors[lang]) for lang in [source, *targets]}
    first = held[source]
    picked_layers = _pick_layers(s.layers, first)
    n = first[picked_layers[0]].shape[0]
    check_size(n, s)
    check_retrieval_memory(n, s.n_boot, s.n_null, len(picked_layers) * len(s.variants) * 2)
    for lang in [source, *targets]:
        check_layers_of(held[lang], picked_layers, lang)
    res = Resamples.draw(n, s.n_boot, s.n_null, s.seed,
                         _scoring_device(s, first[picked_layers[0]]))
    rows: list[SimilarityRow] = []
    with tqdm(total=len(targets) * len(picked_layers), desc="retrieval", unit="layer",
              disable=not s.progress) as bar:
        for tgt in targets:
            shape = (len(held[tgt]), held[tgt][picked_layers[0]].shape[0])
            if set(held[tgt]) != set(first) or shape[1] != n:
                raise ValueError(f"{tgt}: vectors of {shape[0]} layers x {shape[1]} sentences "
                                 f"do not pair with {source}'s {len(first)} x {n}")
            for layer, metric, e in _target_estimates(first, held[tgt], picked_layers, s,
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
            ) -> dict[str, dict[int, torch.Tensor]]:
    """Each language's vectors at ``layers`` (cached; only those computed unless all are),
    checked once encoded."""
    kept = kept_layers(layers, encoder.num_layers + 1)
    vectors = {}
    for lang, sentences in texts.items():
        vectors[lang] = by_layer(extract_cached(
            encoder, sentences, s.pooling, cache_dir, layers=kept, max_length=max_length,
            batch_tokens=s.batch_tokens, progress=s.progress, precision=s.precision,
            desc=f"encode {lang}", language=lang), kept)
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
    codes = language_codes(encoder.tokenizer, languages)  # a language without a code: now
    states = encoder.num_layers + 1
    report_memory(estimate_for(encoder.model, states, (len(languages), len(corpus), "sentences",
                                                       4), kept_layers(layers, states),
                               s.batch_tokens, frozen_precision(encoder, s.precision)),
                  encoder.device)
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
        metric_variants=metric_variants(chosen, s.k, s.n_boot), max_length=max_length,
        **({"language_codes": codes} if codes else {}))
    return retrieval_rows(vectors, source, targets, model=model_name(encoder.name),
                          settings=s.replace(device=str(metric_device)), prov=prov)
